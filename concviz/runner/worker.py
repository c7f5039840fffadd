"""The traced task wrappers: what actually runs in worker threads and processes.

Standard library only. Every process of a run (the runner, and each worker
process through :func:`init_process`) holds one :class:`Recorder` and one
workload. The functions here are module-level so that process pools can pickle
them by reference under every start method.

The hot path per task is two record packs, two clock reads and the thread CPU
clock (``time.thread_time_ns``, ~0.6 µs): nothing that releases the GIL.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import heapq
import importlib
import os
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

from ..workloads import Workload, WorkloadParams
from ..workloads import load as load_workload
from .protocol import RECORD, START_COROUTINE, START_IN_PARTS, Kind, Status
from .recorder import Recorder

_pack = RECORD.pack
_mono = time.monotonic_ns
_cpu = time.thread_time_ns
# The hot path's kinds and statuses as plain ints: reading an IntEnum member
# costs ~70 ns on CPython 3.11, several times per task.
_QUEUED = int(Kind.TASK_QUEUED)
_START = int(Kind.TASK_START)
_FINISH = int(Kind.TASK_FINISH)
_CANCELLED = int(Kind.TASK_CANCELLED)
_SPAN_START = int(Kind.SPAN_START)
_SPAN_FINISH = int(Kind.SPAN_FINISH)
_OK = int(Status.OK)
_ERROR = int(Status.ERROR)
_STOPPED = int(Status.STOPPED)

_recorder: Recorder | None = None
_append: Callable[[bytes], None] = lambda _record: None  # noqa: E731  (replaced by connect())
_workload: Workload | None = None
_stopping = False
_tls = threading.local()
_pid = os.getpid()
#: In a process pool's worker: the shared task board (see :func:`task_board`) and
#: the index of this process's "task it runs now" entry in it.
_board: Any = None
_board_at = -1

MAX_MESSAGE = 300

#: What a task may raise and still be just a failed task. ``SystemExit`` and
#: ``KeyboardInterrupt`` from a task's own code (``sys.exit()`` in a helper,
#: ``raise KeyboardInterrupt``) fail that task, not the whole run: the runner
#: never sees a real Ctrl+C (it has a session of its own; the graceful model
#: takes SIGINT with a loop handler). CancelledError is not a failure.
TASK_ERRORS = (Exception, SystemExit, KeyboardInterrupt)


class TaskRaised(RuntimeError):
    """A task raised SystemExit or KeyboardInterrupt where its exception propagates."""


class TaskStopped(Exception):
    """The run was asked to stop before this task's CPU part started (hybrid model)."""


T = TypeVar("T")


# -- identity ----------------------------------------------------------------


class _ThreadExit:
    """Lives in a thread's locals; its finalizer reports the thread going away."""

    __slots__ = ("pid", "tid")

    def __init__(self, pid: int, tid: int) -> None:
        self.pid = pid
        self.tid = tid

    def __del__(self) -> None:
        # Runs while the thread state is torn down: touch nothing but the queue.
        if self.pid == _pid:
            _append(_pack(Kind.WORKER_DOWN, 0, 0, self.pid, self.tid, 0, _mono(), 0, 0))


#: This sub-interpreter's id (0: the main interpreter), sent with WORKER_UP.
_interp_id = 0
#: In a sub-interpreter (InterpreterPoolExecutor), thread-locals last one call:
#: each task is a fresh thread state. There, threads are remembered here instead,
#: by ``threading.get_ident()``, and go down when the interpreter closes.
_sub_threads: dict[int, tuple[int, int]] = {}


def _register_thread() -> tuple[int, int]:
    if _interp_id:
        known = _sub_threads.get(threading.get_ident())
        if known is not None:
            _tls.ident = known
            return known
    ident = (_pid, threading.get_native_id())
    _append(_pack(Kind.WORKER_UP, 0, 0, _pid, ident[1], 0, _mono(), _cpu(), _interp_id))
    _tls.ident = ident
    if _interp_id:
        _sub_threads[threading.get_ident()] = ident
    elif threading.current_thread() is not threading.main_thread():
        _tls.exit = _ThreadExit(*ident)
    return ident


def _ident() -> tuple[int, int]:
    try:
        ident: tuple[int, int] = _tls.ident
    except AttributeError:
        ident = _register_thread()
    return ident


def _subinterpreter_id() -> int:
    """This interpreter's id if it is a sub-interpreter, else 0 (the main one's id)."""
    try:
        interpreters: Any = importlib.import_module("concurrent.interpreters")  # 3.14+
    except ImportError:
        return 0
    return int(interpreters.get_current().id)


# -- set-up ------------------------------------------------------------------


def _after_fork_in_child() -> None:
    global _recorder, _append, _workload, _tls, _pid, _stopping, _board, _stop_hooks, _fetch_loop
    if _recorder is not None:
        _recorder.abandon()
    _recorder = None
    _append = lambda _record: None  # noqa: E731  (until init_process connects)
    _workload = None
    _tls = threading.local()
    _pid = os.getpid()
    _stopping = False
    _board = None
    # The parent's stop hooks act on its event loop and its pool, not this process's.
    _stop_hooks = []
    _fetch_loop = None


os.register_at_fork(after_in_child=_after_fork_in_child)


#: Called once the observer asks the run to stop (see :func:`on_stop`).
_stop_hooks: list[Callable[[], None]] = []


def request_stop() -> None:
    """Stops starting tasks: those not yet started are reported as cancelled."""
    global _stopping
    _stopping = True
    for hook in list(_stop_hooks):
        hook()


def on_stop(hook: Callable[[], None]) -> None:
    """Calls ``hook()`` when the run is asked to stop, or now if it has been.

    It is called from the recorder's control thread; rarely twice (a stop that
    comes while it is being added): a hook must not mind.
    """
    _stop_hooks.append(hook)
    if _stopping:
        hook()


def connect(path: str, role: str, on_lost: Callable[[], None]) -> Recorder:
    global _recorder, _append
    _recorder = Recorder(path, role, on_stop=request_stop, on_lost=on_lost)
    _append = _recorder.append
    return _recorder


def use_workload(params: WorkloadParams) -> Workload:
    global _workload
    _workload = load_workload(params)
    return _workload


def _worker_lost() -> None:
    os._exit(70)  # the observer is gone: nobody will ever read our results


def shared_state(context: Any) -> Any:
    """The loaded workload's state shared with worker processes (None: none)."""
    return None if _workload is None else _workload.shared_state(context)


def task_board(context: Any, workers: int) -> Any:
    """Shared memory in which each worker process notes the task it is running.

    Pairs of (pid, task id or -1). A worker that dies mid-task (a segfault,
    ``os._exit``, kill -9) takes its unsent events with it, the start of that
    task included; the board still says which task it was, so the runner can
    count it as failed (:func:`report_lost`). Writing it costs a task two stores
    to shared memory, no system call.
    """
    return context.Array("q", [0, -1] * (workers + 8))


def _claim(board: Any) -> None:
    global _board, _board_at
    with board.get_lock():
        raw = board.get_obj()
        for i in range(0, len(raw), 2):
            if raw[i] == 0:
                raw[i] = _pid
                raw[i + 1] = -1
                _board, _board_at = raw, i + 1
                return


def report_lost(board: Any) -> int:
    """Records each task a worker process was running when it ended as failed; how many."""
    with board.get_lock():
        entries = list(board.get_obj())
    lost = 0
    for i in range(0, len(entries), 2):
        pid, task_id = entries[i], entries[i + 1]
        if pid and task_id >= 0:
            lost += 1
            # On that process's lane: its main thread's id is its pid.
            _append(_pack(_FINISH, _ERROR, 0, pid, pid, task_id, _mono(), 0, 0))
            report(
                {
                    "type": "task_error",
                    "task": task_id,
                    "error": "WorkerLost",
                    "message": "its worker process ended while it ran (it crashed or was killed)",
                }
            )
    return lost


def init_process(
    path: str,
    params: WorkloadParams,
    switch_interval: float | None,
    shared: Any = None,
    board: Any = None,
) -> None:
    """Pool initializer: connects this worker process (or sub-interpreter) to the observer."""
    global _interp_id
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    if board is not None:
        _claim(board)
    _interp_id = _subinterpreter_id()
    recorder = connect(path, "worker", on_lost=_worker_lost)
    report_warnings()
    workload = use_workload(params)
    if shared is not None:
        workload.adopt(shared)
    _ident()  # WORKER_UP now, so the lane appears when the process does
    if _interp_id:
        # A sub-interpreter's threading shutdown runs these newest first: the
        # worker's WORKER_DOWN, then the recorder's own close (a no-op by then).
        threading._register_atexit(_worker_exit)  # type: ignore[attr-defined]
    else:
        # Pool workers leave through multiprocessing's exit path, which runs
        # finalizers (not atexit): flush there, or the last tasks' events are lost.
        import multiprocessing.util  # noqa: PLC0415  (loaded already: this is a pool's worker)

        multiprocessing.util.Finalize(recorder, _worker_exit, exitpriority=100)
    # As the runner does before the model: concviz's objects are not the collector's
    # to walk while tasks run (a forked worker inherits the runner's freeze already).
    gc.freeze()


def _worker_exit() -> None:
    recorder = _recorder
    if recorder is None:
        return
    _append(_pack(Kind.WORKER_DOWN, 0, 0, _pid, threading.get_native_id(), 0, _mono(), _cpu(), 0))
    recorder.close()


def report(obj: dict[str, Any]) -> None:
    if _recorder is not None:
        _recorder.text(obj)


def report_warnings() -> None:
    """Sends each warning Python shows (as its filters decide) to the observer too.

    A warning printed on the runner's stderr is seen by nobody: the dashboard
    and the summary show these (a forgotten ``await`` is a RuntimeWarning).
    Installed once per process: a forked worker inherits the runner's (which
    reports through whichever recorder this process has).
    """
    shown = warnings.showwarning
    if getattr(shown, "concviz", False):
        return

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        text = str(message)
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 1] + "…"
        where = f"{os.path.basename(filename)}:{lineno}"
        report({"type": "warning", "category": category.__name__, "message": text, "where": where})
        shown(message, category, filename, lineno, file, line)

    showwarning.concviz = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


def _report_error(task_id: int, exc: BaseException) -> None:
    error, message = type(exc).__name__, str(exc)
    if isinstance(exc, TaskRaised):  # said as what the task raised: "SystemExit: 4"
        error, _, message = message.partition(": ")
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    report({"type": "task_error", "task": task_id, "error": error, "message": message})


# -- the producer side -------------------------------------------------------


def _native_tid() -> int:
    """The calling thread's native id, cached (get_native_id is a system call)."""
    try:
        tid: int = _tls.native
    except AttributeError:
        tid = _tls.native = threading.get_native_id()
    return tid


def queued(task_id: int) -> None:
    _append(_pack(_QUEUED, 0, 0, _pid, _native_tid(), task_id, _mono(), 0, 0))


def stopping() -> bool:
    return _stopping


def cancelled(task_id: int) -> None:
    """A queued task that was cancelled before it started (it gets no bar)."""
    _append(_pack(_CANCELLED, 0, 0, _pid, _native_tid(), task_id, _mono(), 0, 0))


# -- sync tasks --------------------------------------------------------------


def run_task(task_id: int) -> None:
    """One whole task, bracketed by TASK_START and TASK_FINISH.

    Exceptions are recorded and swallowed, so one failing task never ends a run.
    """
    pid, tid = _ident()
    if _stopping:
        _append(_pack(_CANCELLED, 0, 0, pid, tid, task_id, _mono(), 0, 0))
        return
    assert _workload is not None
    board = _board  # a process pool's worker notes its task (see task_board)
    if board is not None:
        board[_board_at] = task_id
    # Wall clock outside, CPU clock inside: a task's CPU time can never exceed its wall.
    t0 = _mono()
    cpu0 = _cpu()
    _append(_pack(_START, 0, 0, pid, tid, task_id, t0, cpu0, 0))
    try:
        _workload.run(task_id)
    except TASK_ERRORS as exc:
        cpu1 = _cpu()
        t1 = _mono()
        if board is not None:  # cleared before the finish is recorded: never counted twice
            board[_board_at] = -1
        _append(_pack(_FINISH, _ERROR, 0, pid, tid, task_id, t1, cpu1, cpu1 - cpu0))
        _report_error(task_id, exc)
    else:
        cpu1 = _cpu()
        t1 = _mono()
        if board is not None:
            board[_board_at] = -1
        _append(_pack(_FINISH, _OK, 0, pid, tid, task_id, t1, cpu1, cpu1 - cpu0))


def compute(task_id: int) -> None:
    """The CPU part of a hybrid task, in a worker process: a SPAN on that process's lane."""
    pid, tid = _ident()
    assert _workload is not None
    if _stopping:  # queued in the pool when the stop came: it never starts
        raise TaskStopped
    t0 = _mono()
    cpu0 = _cpu()
    _append(_pack(_SPAN_START, 0, 0, pid, tid, task_id, t0, cpu0, 0))
    status = _OK
    try:
        _workload.compute(task_id)
    except TASK_ERRORS as exc:
        status = _ERROR
        if not isinstance(exc, Exception):  # it crosses to the runner: keep it a failure
            raise TaskRaised(f"{type(exc).__name__}: {exc}") from None
        raise
    except BaseException:
        status = _ERROR
        raise
    finally:
        cpu1 = _cpu()
        _append(_pack(_SPAN_FINISH, status, 0, pid, tid, task_id, _mono(), cpu1, cpu1 - cpu0))


# -- async tasks -------------------------------------------------------------

_free_slots: list[int] = []
_slots_used = 0


def _take_slot() -> int:
    """The lowest free slot: N concurrent coroutines occupy lanes 0..N-1."""
    global _slots_used
    if _free_slots:
        return heapq.heappop(_free_slots)
    _slots_used += 1
    return _slots_used - 1


def _cancelled_error() -> type[BaseException]:
    """asyncio's CancelledError, asked for only by coroutines, on a loop (so asyncio is loaded).

    The runner side imports asyncio only for async models: ~40 ms of a sync
    model's start saved. An ``except`` clause evaluates this only when a
    coroutine raised, never per step.
    """
    import asyncio  # noqa: PLC0415

    return asyncio.CancelledError


_slot_var: contextvars.ContextVar[int] = contextvars.ContextVar("concviz_slot", default=0)


class _Traced:
    """Awaits one task's coroutine as a traced task on the lowest free async slot.

    Coroutines share one thread, so the thread's CPU clock cannot say which
    task used it; timing each step (every ``send``/``throw`` into the
    coroutine) can. One generator does the stepping and the recording, which
    keeps the cost per task to two CPU-clock reads per step and two records.
    """

    __slots__ = ("coro", "flags", "reraise", "task_id")

    def __init__(
        self,
        task_id: int,
        coro: Coroutine[Any, Any, Any],
        reraise: bool = False,
        in_parts: bool = False,
    ) -> None:
        self.task_id = task_id
        self.coro = coro
        self.reraise = reraise
        self.flags = START_COROUTINE | (START_IN_PARTS if in_parts else 0)

    def __await__(self) -> Generator[Any, Any, None]:
        task_id = self.task_id
        coro = self.coro
        pid, tid = _ident()
        slot = _take_slot()
        _slot_var.set(slot)  # the task's context: its attempts find their lane here
        try:
            if _stopping:
                coro.close()
                _append(_pack(_CANCELLED, 0, slot, pid, tid, task_id, _mono(), 0, 0))
                return
            _append(_pack(_START, self.flags, slot, pid, tid, task_id, _mono(), 0, 0))
            send = coro.send
            throw = coro.throw
            value: Any = None
            error: BaseException | None = None
            cpu = 0
            while True:
                start = _cpu()
                try:
                    step = send(value) if error is None else throw(error)
                except StopIteration:
                    cpu += _cpu() - start
                    status = _OK
                    break
                except TaskStopped:  # its CPU part was never started: a stop came
                    cpu += _cpu() - start
                    _append(_pack(_FINISH, _STOPPED, slot, pid, tid, task_id, _mono(), 0, cpu))
                    return
                except _cancelled_error():
                    cpu += _cpu() - start
                    _append(
                        _pack(
                            _FINISH,
                            _STOPPED,
                            slot,
                            pid,
                            tid,
                            task_id,
                            _mono(),
                            0,
                            cpu,
                        )
                    )
                    raise
                except TASK_ERRORS as exc:
                    cpu += _cpu() - start
                    _append(_pack(_FINISH, _ERROR, slot, pid, tid, task_id, _mono(), 0, cpu))
                    _report_error(task_id, exc)
                    if self.reraise:
                        if not isinstance(exc, Exception):  # asyncio would end the loop
                            raise TaskRaised(f"{type(exc).__name__}: {exc}") from exc
                        raise
                    return
                cpu += _cpu() - start
                try:
                    value = yield step
                    error = None
                except BaseException as exc:  # cancellation is thrown in here
                    value = None
                    error = exc
            _append(_pack(_FINISH, status, slot, pid, tid, task_id, _mono(), 0, cpu))
        finally:
            heapq.heappush(_free_slots, slot)


async def _traced_blocking(task_id: int) -> None:
    """A task with no I/O part, awaited from a coroutine: it runs in one step.

    Awaiting it blocks the event loop for the whole computation, exactly as a
    coroutine doing CPU work does. With 20 µs tasks every 0.1 µs here is 0.5 %
    of the run, so this path is spelled out: a plain coroutine function (~0.5 µs
    a task less than a class whose ``__await__`` is a generator), the thread's
    identity read inline, and its slot read rather than taken (below).
    """
    try:
        pid, tid = _tls.ident
    except AttributeError:
        pid, tid = _register_thread()
    # One step: no other coroutine of this loop can start meanwhile, so the
    # lowest free slot stays free for the whole task and needs no bookkeeping.
    slot = _free_slots[0] if _free_slots else _slots_used
    if _stopping:
        _append(_pack(_CANCELLED, 0, slot, pid, tid, task_id, _mono(), 0, 0))
        return
    workload = _workload
    assert workload is not None
    _append(_pack(_START, START_COROUTINE, slot, pid, tid, task_id, _mono(), 0, 0))
    cpu0 = _cpu()
    try:
        workload.compute(task_id)
        if workload.fails:
            workload.maybe_fail(task_id)
    except TASK_ERRORS as exc:
        cpu = _cpu() - cpu0
        _append(_pack(_FINISH, _ERROR, slot, pid, tid, task_id, _mono(), 0, cpu))
        _report_error(task_id, exc)
        return
    cpu = _cpu() - cpu0
    _append(_pack(_FINISH, _OK, slot, pid, tid, task_id, _mono(), 0, cpu))


def arun_task(task_id: int) -> Awaitable[None]:
    """One whole task as an awaitable, on the lane of the async slot it occupies."""
    assert _workload is not None
    if not _workload.has_io:
        return _traced_blocking(task_id)
    return _Traced(task_id, _workload.arun(task_id))


def arun_for_workload() -> Callable[[int], Awaitable[None]]:
    """:func:`arun_task`, or the one path it would always take for the loaded workload."""
    if _workload is not None and not _workload.has_io:
        return _traced_blocking
    return arun_task


async def arun_task_raising(task_id: int) -> None:
    """A whole task as a coroutine whose exception propagates (TaskGroup, gather)."""
    assert _workload is not None
    await _Traced(task_id, _workload.arun(task_id), reraise=True)


def traced(
    fn: Callable[[int], Coroutine[Any, Any, Any]],
    in_parts: bool = False,
) -> Callable[[int], Coroutine[Any, Any, None]]:
    """Decorator: makes a coroutine function of a task id into a traced task.

    ``in_parts``: the task's own bar is not drawn, its :class:`Attempt` parts are.
    """

    @functools.wraps(fn)
    async def wrapper(task_id: int) -> None:
        await _Traced(task_id, fn(task_id), in_parts=in_parts)

    return wrapper


class Attempt:
    """One attempt of the current task (retries): its own bar on the task's lane."""

    __slots__ = ("number", "task_id")

    def __init__(self, task_id: int, number: int) -> None:
        self.task_id = task_id
        self.number = number

    async def __aenter__(self) -> Attempt:
        pid, tid = _ident()
        flags = min(self.number, 255)
        _append(_pack(_SPAN_START, flags, _slot_var.get(), pid, tid, self.task_id, _mono(), 0, 0))
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        if kind is None:
            status = _OK
        elif issubclass(kind, _cancelled_error()):
            status = _STOPPED
        else:
            status = _ERROR
        pid, tid = _ident()
        _append(_pack(_SPAN_FINISH, status, _slot_var.get(), pid, tid, self.task_id, _mono(), 0, 0))


#: The tasks awaiting their I/O part (:func:`fetch`) now; and those that a stop cancelled.
_fetching: set[Any] = set()
_fetches_stopped: set[Any] = set()
#: The event loop whose fetches a stop cancels (hooked once per loop).
_fetch_loop: Any = None


def _stop_fetches() -> None:
    """On the event loop: cancels every fetch in flight (each then raises TaskStopped)."""
    for task in list(_fetching):
        _fetches_stopped.add(task)
        task.cancel()


def _hook_fetches(loop: Any) -> None:
    global _fetch_loop
    _fetch_loop = loop

    def soon() -> None:
        with contextlib.suppress(RuntimeError):  # that loop has closed: nothing in flight
            loop.call_soon_threadsafe(_stop_fetches)

    on_stop(soon)


async def fetch(task_id: int) -> None:
    """The I/O part alone (the hybrid model awaits it on the event loop).

    A stop cancels the fetches in flight: with thousands of them (every task of
    a TaskGroup fetches at once) waiting for their answers would outlast the
    grace the observer gives. A fetch that was stopped, or that ends after the
    stop came, raises :class:`TaskStopped`: its CPU part is never sent.
    """
    import asyncio  # noqa: PLC0415  (loaded already: this runs on an event loop)

    assert _workload is not None
    if _stopping:
        raise TaskStopped
    task = asyncio.current_task()
    if _fetch_loop is not asyncio.get_running_loop():
        _hook_fetches(asyncio.get_running_loop())
    _fetching.add(task)
    try:
        await _workload.fetch(task_id)
    except asyncio.CancelledError:
        if task not in _fetches_stopped or task is None:
            raise
        _fetches_stopped.discard(task)
        if task.uncancel() > 0:  # cancelled by someone else as well: that one stands
            raise
        raise TaskStopped from None
    finally:
        _fetching.discard(task)
    if _stopping:
        raise TaskStopped


async def close_workload() -> None:
    if _workload is not None:
        await _workload.aclose()
