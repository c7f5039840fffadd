"""What a task computes or waits for.

The catalogue below is all that the command line and the dashboard need (names
and one-line summaries); a workload's module is imported only where it runs.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Workload, WorkloadParams

if TYPE_CHECKING:  # pathlib is ~4 ms of the runner's start, and the runner never needs it
    from pathlib import Path


@dataclass(frozen=True)
class WorkloadInfo:
    name: str
    summary: str
    #: "cpu", "io" or "mixed": tells the dashboard what picture to expect.
    nature: str
    target: str  # "module:Class"
    #: The runner starts the local HTTP server for these.
    needs_server: bool = False
    #: Kernels to time on the runner's interpreter (see concviz.runner.calibrate).
    calibrations: tuple[str, ...] = ()
    #: Its tasks share state in memory, so they need threads (or coroutines).
    threads_only: bool = False
    #: Its tasks share a multiprocessing object, which cannot enter a sub-interpreter.
    no_interpreters: bool = False
    #: What --iterations sizes instead of --task-ms: "task" (all of it), "cpu part"
    #: (mixed: the fetch still takes --task-ms), or "" (nothing: it is ignored).
    iterations_size: str = ""
    #: Its own code is the lesson (a race, a pitfall): the dashboard's code panel
    #: shows it under the model's.
    shows_code: bool = False

    @property
    def source_path(self) -> Path:
        """The module that holds its code (read as text: nothing is imported)."""
        from pathlib import Path  # noqa: PLC0415

        module = self.target.partition(":")[0]
        return Path(__file__).with_name(module.rsplit(".", 1)[1] + ".py")


CATALOG: dict[str, WorkloadInfo] = {
    info.name: info
    for info in (
        WorkloadInfo(
            "cpu",
            "sum of squares in pure Python: holds the GIL the whole time",
            "cpu",
            "concviz.workloads.cpu:CpuWorkload",
            calibrations=("sum_of_squares",),
            iterations_size="task",
        ),
        WorkloadInfo(
            "factorize",
            "trial division of 15-digit numbers: CPU-bound, holds the GIL",
            "cpu",
            "concviz.workloads.factorize:FactorizeWorkload",
            calibrations=("trial_division",),
            iterations_size="task",
        ),
        WorkloadInfo(
            "sleep",
            "pure waiting: time.sleep in sync models, asyncio.sleep in async ones",
            "io",
            "concviz.workloads.sleep:SleepWorkload",
        ),
        WorkloadInfo(
            "http",
            "real HTTP GETs to a local aiohttp server that answers after --task-ms",
            "io",
            "concviz.workloads.http:HttpWorkload",
            needs_server=True,
        ),
        WorkloadInfo(
            "mixed",
            "an HTTP fetch followed by CPU work; --io-fraction sets the split",
            "mixed",
            "concviz.workloads.http:MixedWorkload",
            needs_server=True,
            calibrations=("sum_of_squares",),
            iterations_size="cpu part",
        ),
        WorkloadInfo(
            "counter",
            "race: every task adds 1 to a shared counter --iterations times (--lock guards it)",
            "cpu",
            "concviz.workloads.counter:CounterWorkload",
            threads_only=True,
            iterations_size="task",
            shows_code=True,
        ),
        WorkloadInfo(
            "forgot-await",
            "pitfall: every Nth coroutine calls asyncio.sleep without await: no wait, a warning",
            "io",
            "concviz.workloads.async_pitfalls:ForgotAwaitWorkload",
            shows_code=True,
        ),
        WorkloadInfo(
            "deadlock",
            "pitfall: transfers lock two accounts in opposite orders (--lock-order fixed fixes it)",
            "io",
            "concviz.workloads.deadlock:DeadlockWorkload",
            threads_only=True,
            shows_code=True,
        ),
        WorkloadInfo(
            "shared-counter",
            "race across processes: a multiprocessing.Value counter (--lock: get_lock())",
            "cpu",
            "concviz.workloads.shared_counter:SharedCounterWorkload",
            no_interpreters=True,
            iterations_size="task",
            shows_code=True,
        ),
        WorkloadInfo(
            "custom",
            "your own function as the task: --task module:function (--task-args JSON)",
            "custom",
            "concviz.workloads.custom:CustomWorkload",
        ),
        WorkloadInfo(
            "blocking-async",
            "pitfall: every Nth coroutine calls time.sleep and freezes the event loop",
            "io",
            "concviz.workloads.async_pitfalls:BlockingAsyncWorkload",
            shows_code=True,
        ),
    )
}


def describe_size(
    workload: str, task_ms: float, iterations: int | None, task: str | None = None
) -> str:
    """A task's size as the run was asked for it: '20 ms', '150 iterations', ...

    Your own function (the custom workload) is as big as it is: it is named.
    """
    if workload == "custom" and task:
        return f"{task}()"
    info = CATALOG.get(workload)
    kind = info.iterations_size if info is not None else ""
    if iterations is None or not kind:
        return f"{task_ms:g} ms"
    if kind == "cpu part":
        return f"{task_ms:g} ms, CPU part {iterations:,} iterations"
    return f"{iterations:,} iterations"


def task_source(task: str | None, task_path: str | None) -> Path | None:
    """The file of your own function's module (--task), found without importing it.

    Looked for in ``task_path`` (else the current folder), as the runner would
    import it; None if it is not a plain ``.py`` file found there.
    """
    if not task:
        return None
    locations: list[str] | None = [task_path or os.getcwd()]
    found = None
    for part in task.partition(":")[0].split("."):
        found = importlib.machinery.PathFinder.find_spec(part, locations)
        if found is None:
            return None
        locations = list(found.submodule_search_locations or [])
    origin = found.origin if found is not None else None
    from pathlib import Path  # noqa: PLC0415

    return Path(origin) if origin and origin.endswith(".py") else None


def load(params: WorkloadParams) -> Workload:
    module_name, _, class_name = CATALOG[params.spec.workload].target.partition(":")
    cls: type[Workload] = getattr(importlib.import_module(module_name), class_name)
    return cls(params)


__all__ = [
    "CATALOG",
    "Workload",
    "WorkloadInfo",
    "WorkloadParams",
    "describe_size",
    "load",
    "task_source",
]
