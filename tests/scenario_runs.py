"""Every shipped scenario's runs, quicker, the lesson intact: for the findings' tests and tools.

Sizes shrink (fewer or shorter tasks) but each pitfall keeps what makes it one:
the queue still fills, the loop still blocks, more processes than cores still wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from concviz.findings import Shape, session_summary, shape_of
from concviz.observer.aggregate import Summary
from concviz.observer.session import LocalHttpServer, RunSession
from concviz.runner.spec import RunSpec
from concviz.scenario import load, shipped

#: Per scenario, the settings that make it quicker (applied to every run of it).
QUICKER: dict[str, dict[str, Any]] = {
    "race": {"iterations": 100_000},
    "semaphore": {"tasks": 15, "task_ms": 150.0},
    "token-bucket": {"tasks": 12, "rate": 40.0},
    "backpressure": {"tasks": 40, "task_ms": 60.0},
    "blocking-loop": {"task_ms": 100.0},
    "io-threads-vs-async": {"task_ms": 100.0},
    "shared-memory": {"iterations": 200_000},
    "graceful-shutdown": {"tasks": 60, "task_ms": 150.0},
}
#: graceful-shutdown's SIGINT comes this soon (the scenario waits 1.5 s).
STOP_AFTER_S = 0.5


@dataclass(frozen=True)
class ScenarioRun:
    scenario: str
    label: str
    spec: RunSpec
    stop_after_s: float | None


def scenario_runs(name: str) -> list[ScenarioRun]:
    scenario = load(name)
    changes = QUICKER.get(name, {})
    stop = STOP_AFTER_S if scenario.stop_after_s is not None else None

    def quick(spec: RunSpec) -> RunSpec:
        return replace(spec, **changes).validated()

    if scenario.variants:
        return [ScenarioRun(name, v.label, quick(v.spec), stop) for v in scenario.variants]
    if scenario.sweep:
        return [
            ScenarioRun(name, f"× {n}", quick(replace(scenario.spec, workers=n)), stop)
            for n in scenario.sweep
        ]
    return [ScenarioRun(name, scenario.spec.model, quick(scenario.spec), stop)]


def every_run() -> Iterator[ScenarioRun]:
    for name in shipped():
        yield from scenario_runs(name)


def run_one(run: ScenarioRun, http: LocalHttpServer | None) -> tuple[Summary, Shape]:
    with RunSession(run.spec, http=http) as session:
        if run.stop_after_s is not None:
            session.stop_after(run.stop_after_s)
        assert session.wait(120), f"{run.scenario} / {run.label} did not finish"
        summary = session_summary(session)
        with session.lock:
            shape = shape_of(session.aggregate, summary.wall_s)
    return summary, shape
