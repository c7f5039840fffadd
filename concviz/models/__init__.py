"""The concurrency models: one small module each, written as the idiom it shows.

Every module exposes ``run(job)`` (sync models) or ``async main(job)`` (async
models). The catalogue is what the command line and the dashboard list; the
modules themselves are imported only by the runner.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pathlib is ~4 ms of the runner's start, and the runner never needs it
    from pathlib import Path

#: Workers beyond these are refused as "absurdly large": they would exhaust
#: memory or PIDs long before they showed anything.
MAX_THREADS = 4096
MAX_COROUTINES = 100_000
MAX_PROCESSES = 512


@dataclass(frozen=True)
class ModelInfo:
    name: str
    summary: str
    module: str
    #: "sync" (``run(job)``) or "async" (``await main(job)``).
    style: str
    #: Starts worker processes (start method applies, lanes are processes).
    processes: bool = False
    #: Reports a real queue's size as its queue depth.
    queue: bool = False
    max_workers: int = MAX_THREADS
    #: The oldest Python that has what the model needs (None: any >= 3.11).
    requires: tuple[int, int] | None = None
    #: What it needs, for the message when it is unavailable.
    needs: str = ""
    #: A production pattern (listed apart from the basic models).
    pattern: bool = False
    #: Asked to stop with a real SIGINT (the model handles it), not a stop command.
    stops_by_signal: bool = False
    #: Creates every task (an asyncio Task and its coroutine) before any runs, so
    #: a task waiting its turn holds memory as a running one does: the memory per
    #: task is divided among the tasks alive, not only those in flight.
    tasks_upfront: bool = False

    def unavailable(self, version: tuple[int, ...]) -> str | None:
        """Why this model cannot run on a Python of ``version``, or None if it can."""
        if self.requires is None or tuple(version[:2]) >= self.requires:
            return None
        have = ".".join(map(str, version[:3]))
        want = ".".join(map(str, self.requires))
        return f"{self.name} needs Python {want}+ ({self.needs}); this interpreter is {have}"

    @property
    def source_path(self) -> Path:
        """The model's source file, for the dashboard's code panel (no import needed)."""
        from pathlib import Path  # noqa: PLC0415

        return Path(__file__).with_name(self.module.rsplit(".", 1)[1] + ".py")

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


CATALOG: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "sequential",
            "one task after another: the baseline",
            "concviz.models.sequential",
            "sync",
        ),
        ModelInfo(
            "threads",
            "ThreadPoolExecutor(max_workers=N), submit + as_completed",
            "concviz.models.threads",
            "sync",
        ),
        ModelInfo(
            "thread-per-task",
            "a threading.Thread per task, at most N alive at once",
            "concviz.models.thread_per_task",
            "sync",
        ),
        ModelInfo(
            "thread-queue",
            "producer + N consumer threads over queue.Queue, poison pills",
            "concviz.models.thread_queue",
            "sync",
            queue=True,
        ),
        ModelInfo(
            "processes",
            "ProcessPoolExecutor(max_workers=N): one GIL per process",
            "concviz.models.processes",
            "sync",
            processes=True,
            max_workers=MAX_PROCESSES,
        ),
        ModelInfo(
            "mp-pool",
            "multiprocessing.Pool(N) with imap_unordered",
            "concviz.models.mp_pool",
            "sync",
            processes=True,
            max_workers=MAX_PROCESSES,
        ),
        ModelInfo(
            "asyncio",
            "asyncio tasks in a TaskGroup, capped by Semaphore(N)",
            "concviz.models.asyncio_tasks",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
        ),
        ModelInfo(
            "async-queue",
            "asyncio.Queue(maxsize) producer + N consumers: back-pressure",
            "concviz.models.async_queue",
            "async",
            queue=True,
            max_workers=MAX_COROUTINES,
        ),
        ModelInfo(
            "to-thread",
            "coroutines that await asyncio.to_thread(task) on N threads",
            "concviz.models.to_thread",
            "async",
            tasks_upfront=True,
        ),
        ModelInfo(
            "hybrid",
            "asyncio for I/O, CPU part in ProcessPoolExecutor(N) via run_in_executor",
            "concviz.models.hybrid",
            "async",
            tasks_upfront=True,
            processes=True,
            max_workers=MAX_PROCESSES,
        ),
        ModelInfo(
            "interpreters",
            "InterpreterPoolExecutor(N): sub-interpreters, one GIL each (Python 3.14+)",
            "concviz.models.interpreters",
            "sync",
            requires=(3, 14),
            needs="concurrent.futures.InterpreterPoolExecutor",
        ),
        ModelInfo(
            "token-bucket",
            "asyncio tasks that start no faster than --rate per second, after a --burst",
            "concviz.models.token_bucket",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
            pattern=True,
        ),
        ModelInfo(
            "retry",
            "asyncio GETs retried --attempts times with exponential back-off and jitter",
            "concviz.models.retry",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
            pattern=True,
        ),
        ModelInfo(
            "timeout",
            "asyncio.wait_for(task, --timeout-ms): slow tasks are cancelled",
            "concviz.models.timeout",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
            pattern=True,
        ),
        ModelInfo(
            "thread-timeout",
            "future.result(timeout=--timeout-ms) on a thread pool: the thread runs on",
            "concviz.models.thread_timeout",
            "sync",
            pattern=True,
        ),
        ModelInfo(
            "taskgroup",
            "asyncio.TaskGroup: one failure cancels the siblings, raises an ExceptionGroup",
            "concviz.models.taskgroup",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
            pattern=True,
        ),
        ModelInfo(
            "gather",
            "asyncio.gather: the first error propagates, the other tasks run on",
            "concviz.models.gather",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
            pattern=True,
        ),
        ModelInfo(
            "gather-results",
            "asyncio.gather(return_exceptions=True): every task runs, errors are values",
            "concviz.models.gather_results",
            "async",
            tasks_upfront=True,
            max_workers=MAX_COROUTINES,
            pattern=True,
        ),
        ModelInfo(
            "graceful-shutdown",
            "SIGINT/SIGTERM: stop taking work, finish in-flight (--deadline-ms), cancel the rest",
            "concviz.models.graceful",
            "async",
            max_workers=MAX_COROUTINES,
            pattern=True,
            stops_by_signal=True,
        ),
    )
}
