"""What a model is given: the tasks, the traced work, and the pool's settings.

Standard library only. Models are written as the textbook idiom they show; the
few places they touch concviz read as plain English (``job.tasks()``,
``job.work``) and every one of them is explained here.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..workloads import WorkloadParams
from . import worker
from .protocol import RECORD, Kind
from .spec import RunSpec


@dataclass
class Job:
    #: The run's settings and what the runner added to them (the local server, the
    #: calibration): sent to worker processes as they are by :attr:`initargs`.
    workload_params: WorkloadParams
    #: Sent to worker processes by :attr:`initargs`.
    connect_path: str = ""
    #: Process models: worker processes note their running task in shared memory,
    #: so a task lost with its process is still counted (see worker.task_board).
    track_lost: bool = False
    _watched: int = 0
    _board: Any = None

    def __post_init__(self) -> None:
        self.awork = worker.arun_for_workload()

    # -- the run's settings ---------------------------------------------------

    @property
    def spec(self) -> RunSpec:
        """The whole run's settings (patterns read their options here: rate, timeout_ms...)."""
        return self.workload_params.spec

    @property
    def workers(self) -> int:
        """Pool size / consumer count / concurrency cap, as the model interprets it."""
        return self.spec.workers

    @property
    def count(self) -> int:
        """How many tasks :meth:`tasks` yields."""
        return self.spec.tasks

    @property
    def queue_size(self) -> int:
        """``maxsize`` for the queue models (0 = unbounded)."""
        return self.spec.queue_size

    @property
    def start_method(self) -> str | None:
        """multiprocessing start method for process models (None: the interpreter's default)."""
        return self.spec.start_method

    @property
    def switch_interval(self) -> float | None:
        return self.spec.switch_interval

    # -- the tasks ------------------------------------------------------------

    def tasks(self) -> Iterator[int]:
        """Yields task ids 0..count-1, recording each as queued when it is handed out.

        Stops early once the observer asks the run to stop.
        """
        append = worker._append
        pack = RECORD.pack
        mono = time.monotonic_ns
        pid, tid = worker._pid, worker._native_tid()
        queued = int(Kind.TASK_QUEUED)  # a plain int: enum lookups cost ~70 ns each
        away = 0
        now = mono()
        for task_id in range(self.count):
            if worker._stopping:
                return
            # aux: how long the producer was away handing over the previous task
            # (blocked on a full queue: back-pressure shows up here).
            append(pack(queued, 0, 0, pid, tid, task_id, now, 0, away))
            yield task_id
            back = mono()  # one clock read serves as this hand-over's end and the next's start
            away = back - now
            now = back

    # -- the work, traced -----------------------------------------------------

    #: Runs one whole task (blocking). Picklable: process pools can submit it.
    work = staticmethod(worker.run_task)
    #: Runs one whole task as a coroutine (an instance attribute, set when the
    #: Job is made: a call fewer per task than a method).
    awork: Callable[[int], Awaitable[None]] = field(init=False, repr=False, compare=False)
    #: Like awork, but a task's exception propagates to the caller (failure semantics).
    awork_raising = staticmethod(worker.arun_task_raising)
    #: The I/O part of a task, awaited on the event loop (hybrid model).
    fetch = staticmethod(worker.fetch)
    #: The CPU part of a task, for a process pool (hybrid model).
    compute = staticmethod(worker.compute)

    @staticmethod
    def attempt(task_id: int, number: int) -> worker.Attempt:
        """``async with job.attempt(task_id, n):`` draws attempt n as its own bar."""
        return worker.Attempt(task_id, number)

    @staticmethod
    def cancelled(task_id: int) -> None:
        """Records that a queued task was cancelled before it started."""
        worker.cancelled(task_id)

    @staticmethod
    def on_stop(callback: Callable[[], object]) -> None:
        """Calls ``callback()`` on this event loop once the observer asks the run to stop.

        Call it from a coroutine: the callback runs on that loop's thread, between
        two steps of its tasks, so it may touch what they use (shut a pool down).
        """
        import asyncio  # noqa: PLC0415  (async models only: a thread's run never pays it)

        loop = asyncio.get_running_loop()

        def soon() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the run is over
                loop.call_soon_threadsafe(callback)

        worker.on_stop(soon)

    @staticmethod
    def report(**figures: Any) -> None:
        """Adds figures to the run's result (shown in the summary and in --json)."""
        worker.report({"type": "result", **figures})

    @staticmethod
    def traced(
        fn: Callable[[int], Coroutine[Any, Any, Any]],
    ) -> Callable[[int], Coroutine[Any, Any, None]]:
        """Decorator: records a coroutine function of a task id as that task."""
        return worker.traced(fn)

    @staticmethod
    def traced_attempts(
        fn: Callable[[int], Coroutine[Any, Any, Any]],
    ) -> Callable[[int], Coroutine[Any, Any, None]]:
        """Like :meth:`traced`, but the task is drawn as its attempts (retries)."""
        return worker.traced(fn, in_parts=True)

    # -- process pools --------------------------------------------------------

    @property
    def mp_context(self) -> Any:
        import multiprocessing  # noqa: PLC0415  (process models only: a thread's run never pays it)

        return multiprocessing.get_context(self.start_method)

    @property
    def initializer(self) -> Callable[..., None]:
        """Connects each worker process to the observer (it reports its own events)."""
        return worker.init_process

    @property
    def initargs(self) -> tuple[Any, ...]:
        shared = worker.shared_state(self.mp_context)  # e.g. a multiprocessing.Value
        if self.track_lost and self._board is None:
            self._board = worker.task_board(self.mp_context, self.workers)
        return (self.connect_path, self.workload_params, self.switch_interval, shared, self._board)

    def report_lost(self) -> int:
        """After the model: tasks whose worker process ended mid-task count as failed."""
        return 0 if self._board is None else worker.report_lost(self._board)

    def watch_workers(self, pool: Any) -> None:
        """Ends the run if a worker of this ``multiprocessing.Pool`` dies.

        The Pool replaces a dead worker but never notices that the task it was
        running is gone: ``imap_unordered`` would wait for it forever. A thread
        waits on the workers' sentinels instead and, when one dies while the
        pool is running, fails the pool's pending results with :class:`WorkerDied`.
        """
        threading.Thread(
            target=_watch_pool, args=(pool, self), name="concviz-pool-watch", daemon=True
        ).start()

    # -- queues ---------------------------------------------------------------

    def watch(self, queue: Any) -> None:
        """Reports ``queue.qsize()`` at every flush (20 Hz) as the run's queue depth."""
        recorder = worker._recorder
        if recorder is not None:
            recorder.watch(self._watched, queue)
            self._watched += 1


class WorkerDied(RuntimeError):
    """A worker process of a ``multiprocessing.Pool`` died (its task is lost)."""


def _exitcode(process: Any) -> int | None:
    """The exit code of a dead worker, once whichever thread reaps it has read it."""
    for _ in range(100):  # the Pool's thread reaps it within its next 0.1 s turn
        if (code := process.exitcode) is not None:
            return code  # type: ignore[no-any-return]
        time.sleep(0.01)
    return None


def _how(exitcode: int | None) -> str:
    if exitcode is None:
        return "its exit code was not seen"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def _watch_pool(pool: Any, job: Job) -> None:
    from multiprocessing.connection import wait  # noqa: PLC0415
    from multiprocessing.pool import RUN  # noqa: PLC0415

    # Pool's internals (_pool, _state, _cache, and each result's _set) are the
    # same from 3.11 to 3.14; they are the only way to reach a pending result.
    known: list[Any] = []
    while pool._state == RUN:
        processes = list(pool._pool)
        # A worker the Pool took out of its list exited (without maxtasksperchild,
        # only a death does that): it may have died and been replaced between two looks.
        dead = [p for p in known if p not in processes]
        known = processes
        if not dead:
            try:
                ready = wait([p.sentinel for p in processes], timeout=0.1)
            except (OSError, ValueError):  # a process closed meanwhile: look again
                continue
            # A ready sentinel is the death itself. Not ``exitcode``: the Pool's own
            # thread wakes on the same sentinel and may reap the process first, and
            # then our ``exitcode`` (a waitpid of a reaped pid) says None for a while.
            dead = [p for p in processes if p.sentinel in ready]
        if pool._state != RUN:
            return  # closed or terminated: its workers exit on purpose
        if not dead:
            continue
        died = WorkerDied(
            f"a worker process (pid {dead[0].pid}) died ({_how(_exitcode(dead[0]))}); "
            "multiprocessing.Pool would wait for its task forever"
        )
        for result in list(pool._cache.values()):
            result._set(0, (False, died))
        return
