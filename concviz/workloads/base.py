"""What every workload offers the models, and the parameters that size it.

Standard library only (workloads run inside the runner and its worker processes,
under any CPython >= 3.11). A task has an I/O part and a CPU part; most
workloads use only one of them. Sync models call :meth:`Workload.run`, async
models await :meth:`Workload.arun`, and the hybrid model awaits the I/O part on
the event loop and ships the CPU part to a process with :meth:`Workload.compute`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the spec imports the catalogue, which imports this module
    from ..runner.spec import RunSpec


@dataclass(frozen=True)
class WorkloadParams:
    """What a workload is given: the run's settings as asked for, and what the runner adds.

    Picklable (it goes to each worker process, and into each sub-interpreter, as it is).
    """

    #: The run's settings (its task size, pattern options...): see runner/spec.py.
    spec: RunSpec
    #: The local HTTP server the http workloads ask (None: not started).
    base_url: str | None = None
    #: Filled in by the runner from the calibration cache: per kernel, its cost
    #: table ``[[units, CPU ns], ...]`` (see :func:`units_for`).
    calibration: dict[str, list[list[float]]] = field(default_factory=dict)


#: How many calls warm a kernel up. CPython 3.11 specialises a function's code (its
#: adaptive interpreter) only after 8 calls, so a fresh process's first factorize
#: calls cost ~17 % more CPU than the rest: the cost tables are measured warm, and
#: so must the tasks be. A few tiny calls suffice (well under a millisecond).
WARM_CALLS = 16


def units_for(table: list[list[float]], ms: float) -> int:
    """How many units of a kernel (iterations, divisions) cost ``ms`` of CPU time.

    ``table`` holds ``[units, CPU ns]`` points of the kernel's measured cost,
    both increasing: read between two points linearly, below the first in
    proportion, above the last along the last segment's slope.
    """
    target = ms * 1e6
    prev_u, prev_ns = 0.0, 0.0
    for units, ns in table:
        if ns >= target and ns > prev_ns:
            return max(1, round(prev_u + (units - prev_u) * (target - prev_ns) / (ns - prev_ns)))
        prev_u, prev_ns = units, ns
    (u0, ns0), (u1, ns1) = table[-2], table[-1]
    return max(1, round(u1 + (target - ns1) * (u1 - u0) / (ns1 - ns0)))


def cost_ns(table: list[list[float]], units: int) -> float:
    """The CPU ns ``table`` predicts for ``units`` (the inverse of :func:`units_for`)."""
    prev_u, prev_ns = 0.0, 0.0
    for u, ns in table:
        if u >= units and u > prev_u:
            return prev_ns + (ns - prev_ns) * (units - prev_u) / (u - prev_u)
        prev_u, prev_ns = u, ns
    (u0, ns0), (u1, ns1) = table[-2], table[-1]
    return ns1 + (units - u1) * (ns1 - ns0) / (u1 - u0)


class InjectedFailure(RuntimeError):
    """Raised by tasks chosen by ``--fail-rate`` so failures can be shown on demand."""


class Workload:
    """A workload's code; its name, summary and needs live in :data:`CATALOG`."""

    #: Whether tasks have an I/O part (False skips awaiting a no-op ``fetch``).
    has_io = True

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        #: The run's settings (task size, pattern options).
        self.spec = params.spec
        #: Whether any task is made to fail: callers on hot paths skip maybe_fail if not.
        self.fails = bool(self.spec.fail_rate) or self.spec.fail_task >= 0

    # The parts ------------------------------------------------------------------

    def run_io(self, task_id: int) -> None:
        """The blocking I/O part (sync models)."""

    async def fetch(self, task_id: int) -> None:
        """The awaitable I/O part (async models, and the hybrid's event loop)."""

    def compute(self, task_id: int) -> None:
        """The CPU part (inline, or in a worker process for the hybrid model)."""

    # Whole tasks ----------------------------------------------------------------

    def run(self, task_id: int) -> None:
        self.run_io(task_id)
        self.compute(task_id)
        self.maybe_fail(task_id)

    async def arun(self, task_id: int) -> None:
        if self.has_io:
            await self.fetch(task_id)
        self.compute(task_id)  # CPU work in a coroutine holds the event loop: that is the point
        self.maybe_fail(task_id)

    async def aclose(self) -> None:
        """Releases per-event-loop resources (HTTP sessions)."""

    # Shared memory --------------------------------------------------------------

    def shared_state(self, context: Any = None) -> Any:
        """What worker processes must share with the runner (None: nothing).

        Handed to each worker process at its start (pool initializer arguments)
        and given to its copy of the workload with :meth:`adopt`.
        """
        return None

    def adopt(self, shared: Any) -> None:
        """Takes the runner's :meth:`shared_state` (in a worker process)."""

    # Helpers --------------------------------------------------------------------

    def maybe_fail(self, task_id: int) -> None:
        rate = self.spec.fail_rate
        if rate and random.Random(self.spec.seed * 1_000_003 + task_id).random() < rate:
            raise InjectedFailure("injected by --fail-rate")
        if task_id == self.spec.fail_task:
            raise InjectedFailure(f"task {task_id} fails on purpose (--fail-task)")

    def scale(self, task_id: int) -> float:
        """This task's size relative to --task-ms (1.0 unless --jitter spreads them)."""
        jitter = self.spec.jitter
        if not jitter:
            return 1.0
        u = random.Random(self.spec.seed * 7_919 + task_id).random()
        return 1.0 + jitter * (2.0 * u - 1.0)

    def seconds_for(self, task_id: int) -> float:
        seconds = self.spec.task_ms / 1000.0 * self.scale(task_id)
        if task_id == self.spec.fail_task:
            seconds /= 2  # the failing task fails early, while its siblings still run
        return seconds

    @property
    def seconds(self) -> float:
        return self.spec.task_ms / 1000.0

    def result(self) -> dict[str, Any]:
        """Figures the run reports at its end (the race's expected and actual count)."""
        return {}
