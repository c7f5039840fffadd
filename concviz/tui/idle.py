"""What the timeline says before a run: what r will run and what the picture should
show, or why the model cannot run under the chosen interpreter."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..models import CATALOG as MODELS
from ..observer.interpreters import Interpreter
from ..runner.spec import RunSpec
from ..workloads import CATALOG as WORKLOADS

if TYPE_CHECKING:  # scenarios come loaded (cli, the picker): tomllib & co. stay off start-up
    from ..scenario import Scenario


def expectation(spec: RunSpec) -> str:
    """One sentence on what the picture should show, before it is run."""
    model = MODELS[spec.model]
    nature = WORKLOADS[spec.workload].nature
    if spec.model == "sequential":
        return "One task at a time: the baseline every other model is compared with."
    if nature == "cpu":
        if model.processes:
            return "CPU work in processes: every core can fill up, one per worker."
        if model.style == "async" and spec.model != "to-thread":
            return (
                "CPU work in coroutines: the event loop runs one task at a time, nothing overlaps."
            )
        return (
            "CPU work in threads: on a GIL build they share one core; "
            "each task is on the CPU only part of its time."
        )
    if spec.workload == "blocking-async" and model.style == "async":
        return "Every few tasks block the event loop: watch every lane stall at once."
    if nature == "io":
        return "Waiting work: tasks overlap while they wait, and the CPU stays nearly idle."
    return "Mixed work: waits overlap, the CPU part competes for the GIL or spreads over processes."


def idle_message(
    spec: RunSpec, scenario: Scenario | None, why: str | None, refused: str | None = None
) -> str:
    """What r will run, before it is pressed: a scenario's variants, or one run.

    ``why``: the reason the model cannot run on this interpreter, if there is one;
    ``refused``: why the last run did not start (a --task that does not import,
    a run too big for memory...), which is about the settings, not the model.
    """
    if scenario is not None and scenario.kind == "compare":
        labels = " · ".join(v.label for v in scenario.variants)
        return (
            f"\nPress r to run its {len(scenario.variants)} variants in turn, "
            f"side by side on the compare screen: {labels}.\n\n"
            "page down: the next demo · i hides the explanation"
        )
    if scenario is not None and scenario.kind == "sweep":
        counts = ", ".join(map(str, scenario.sweep))
        return (
            f"\nPress r to run {spec.model} on {spec.tasks} {spec.workload} tasks "
            f"at {counts} workers in turn, on the sweep screen.\n\n"
            "page down: the next demo · i hides the explanation"
        )
    if why is not None:
        return (
            f"\n{spec.model} cannot run here: {why}.\n\n"
            "o opens the settings (Interpreter), m changes the model."
        )
    if refused is not None:
        return (
            f"\nThe run did not start: {refused}.\n\n"
            "o opens the settings; r tries again once they are changed."
        )
    return (
        f"\nPress r to run {spec.model} × {spec.workers} on {spec.tasks} "
        f"{spec.workload} tasks of {spec.size}.\n\n{expectation(spec)}\n\n"
        "m / w change the model / workload, + / - the workers, o opens all settings, "
        "? explains every panel."
    )


def unavailable(
    spec: RunSpec, python: str | None, interpreters: dict[str, Interpreter]
) -> str | None:
    """Why the chosen interpreter cannot run the model, naming one found that can."""
    info = MODELS[spec.model]
    if info.requires is None:
        return None
    if python is None:
        version: tuple[int, ...] = tuple(sys.version_info[:3])
    elif python in interpreters:
        version = interpreters[python].version
    else:
        return None  # not probed yet: the run's start says it if so
    reason = info.unavailable(version)
    if reason is None:
        return None
    able = next((i for i in interpreters.values() if info.unavailable(i.version) is None), None)
    return reason if able is None else f"{reason}; pick {able.short} ({able.path})"
