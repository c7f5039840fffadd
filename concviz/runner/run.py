"""The runner: the child process in which a model really runs.

Standard library only, so it runs under any CPython >= 3.11 the user points at
(free-threaded builds included) without concviz being installed there: the
observer puts concviz on ``PYTHONPATH`` and starts
``python -m concviz.runner --connect SOCKET --spec JSON``.

It is started in a session of its own, so its worker processes share its
process group and the observer can end all of them with one ``killpg``. If the
observer dies, the connection's EOF makes the runner kill that group itself.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import time
from typing import Any

from ..models import CATALOG as MODELS
from ..workloads import CATALOG as WORKLOADS
from ..workloads import Workload, WorkloadParams
from . import worker
from .calibrate import calibration
from .job import Job
from .memory import MEASURE, footprint, high_water_rss
from .protocol import RECORD, VERSION, Kind, Status
from .spec import RunSpec


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


#: prctl(2) option: orphaned descendants are reparented to this process, not to init.
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Keeps every process the run starts below the runner, even one that leaves its
    session (``setsid``) or whose parent exits: see :func:`end_descendants`. Linux only."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _descendants(root: int) -> tuple[list[int], list[int]]:
    """Every process below ``root``, from /proc: those that run, and zombies.

    A zombie is walked through, never stopped at: ``/proc/PID/stat`` gives the
    state of a process's *main thread*, which reads "Z" while its other threads
    still run and its children are still its own (a worker that called
    ``os._exit`` from a thread, for a moment; longer on a busy machine).
    """
    children: dict[int, list[int]] = {}
    zombies: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return [], []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            state, ppid = stat[stat.rindex(b")") + 2 :].split()[:2]
        except (OSError, ValueError):
            continue
        children.setdefault(int(ppid), []).append(int(entry))
        if state == b"Z":
            zombies.add(int(entry))
    running: list[int] = []
    dead: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            (dead if child in zombies else running).append(child)
            todo.append(child)
    return running, dead


def _multiprocessing_helpers() -> set[int]:
    """The pids of multiprocessing's resource tracker and fork server, if started."""
    pids: set[int] = set()
    for module, attr, pid_attr in (
        ("multiprocessing.resource_tracker", "_resource_tracker", "_pid"),
        ("multiprocessing.forkserver", "_forkserver", "_forkserver_pid"),
    ):
        helper = getattr(sys.modules.get(module), attr, None)
        pid = getattr(helper, pid_attr, None)
        if isinstance(pid, int):
            pids.add(pid)
    return pids


def end_descendants() -> None:
    """Kills every process still below the runner once its run is over.

    The model's pools have shut down by now, so whatever is left is something a
    task started and left running. As the runner is their subreaper, that
    includes processes that called ``setsid()`` and whose parents exited.
    """
    # multiprocessing's helpers leave on their own once the runner exits, and the
    # resource tracker is still needed then (it unlinks what the run left behind).
    helpers = _multiprocessing_helpers()
    for _ in range(3):  # one may fork while the others are killed
        running, zombies = (
            [pid for pid in pids if pid not in helpers] for pids in _descendants(os.getpid())
        )
        # A "zombie" may be a main thread whose process still runs: a kill ends the
        # rest of it (and is a no-op for a zombie that is one).
        for pid in running + zombies:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if not running:
            return


def _observer_lost() -> None:
    """The observer died: take the whole run down with us, workers included."""
    end_descendants()
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(70)


def _emit(kind: Kind, flags: int = 0, aux: int = 0, t_ns: int | None = None) -> None:
    t = time.monotonic_ns() if t_ns is None else t_ns
    worker._append(RECORD.pack(kind, flags, 0, os.getpid(), 0, 0, t, time.thread_time_ns(), aux))


def _failure(exc: BaseException) -> dict[str, Any]:
    return {
        "type": "run_error",
        "error": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(_format_exception(exc))[-4000:],
    }


def _format_exception(exc: BaseException) -> list[str]:
    import traceback  # noqa: PLC0415  (only a failed run formats one: start-up is spared it)

    return traceback.format_exception(exc)


class TaskRefused(Exception):
    """A --task that cannot run here: its import failed, or a process model cannot pickle it."""


def _use_workload(params: WorkloadParams, processes: bool) -> Workload:
    """The run's workload. A --task is imported here, where it will run, before any task
    does: the observer waits for this verdict (its ``run_start``, or ``task_refused``)."""
    spec = params.spec
    if spec.task is None:
        return worker.use_workload(params)
    from ..workloads.custom import CustomWorkload, TaskImportError  # noqa: PLC0415

    try:
        workload = worker.use_workload(params)
    except TaskImportError as exc:
        raise TaskRefused(str(exc)) from None
    if processes:
        import pickle  # noqa: PLC0415

        assert isinstance(workload, CustomWorkload)
        try:
            pickle.dumps(workload.fn)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise TaskRefused(
                f"--task {spec.task} cannot be pickled for {spec.model}: {exc}"
            ) from None
    return workload


async def _drive(module: Any, job: Job) -> None:
    try:
        await module.main(job)
    finally:
        await worker.close_workload()


def interpreter_facts() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],  # platform.python_version(), without importing platform
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "gil_enabled": gil_enabled(),
        "free_threaded_build": bool(getattr(sys, "_is_gil_enabled", None))
        and "t" in getattr(sys, "abiflags", ""),
        "cpu_count": os.cpu_count() or 1,
        "switch_interval": sys.getswitchinterval(),
    }


def run(spec: RunSpec, connect_path: str, base_url: str | None) -> int:
    if spec.switch_interval is not None:
        sys.setswitchinterval(spec.switch_interval)
    become_subreaper()
    recorder = worker.connect(connect_path, "runner", on_lost=_observer_lost)
    worker.report_warnings()
    status = Status.OK
    try:
        model = MODELS[spec.model]
        wl = WORKLOADS[spec.workload]
        calib, measured = calibration(wl.calibrations)
        # The one form the settings take from here on, in every process of the run.
        params = WorkloadParams(spec, base_url=base_url, calibration=calib)
        workload = _use_workload(params, model.processes)
        job = Job(params, connect_path=connect_path, track_lost=model.processes)
        module = model.load()
        meta: dict[str, Any] = {
            "type": "run_start",
            "protocol": VERSION,
            "pid": os.getpid(),
            "spec": spec.__dict__,
            # What the observer's figures need to know of the model (see RunAggregate).
            "queue": model.queue,
            "tasks_upfront": model.tasks_upfront,
            "calibration": calib,
            "calibrated_now": measured,
            **interpreter_facts(),
        }
        if model.processes:
            meta["start_method"] = job.mp_context.get_start_method()
        if wl.needs_server and model.style == "async":
            from ..workloads.http import async_client_name  # noqa: PLC0415

            meta["http_client"] = async_client_name()
        # Last before the model: what the run's memory grows from (see memory.py).
        meta["memory_at_start"] = footprint()
        meta["memory_measure"] = MEASURE
        recorder.text(meta)
        # The garbage collector's older passes walk every live object. concviz's own
        # (its modules, the recorder's, the calibration's) are not the workload's and a
        # bare script would not have them: set aside, they cost the run nothing. With
        # 20 µs asyncio tasks that was 7 % of the run (a TaskGroup's Tasks set off
        # many passes): observer overhead 1.148x -> 1.077x, benchmarks/README.md.
        gc.freeze()
        _emit(Kind.RUN_START)
        try:
            if model.style == "async":
                import asyncio  # noqa: PLC0415  (~40 ms: a sync model's run never pays it)

                asyncio.run(_drive(module, job))
            else:
                module.run(job)
        except BaseException as exc:
            ended_ns = time.monotonic_ns()
            status = Status.ERROR
            recorder.text(_failure(exc))
            if not isinstance(exc, Exception):
                raise
        else:
            # The run's wall time ends here: the reports below are concviz's own work.
            ended_ns = time.monotonic_ns()
        job.report_lost()
        if status is Status.OK and worker.stopping():
            status = Status.STOPPED
        result = workload.result()
        if result:
            recorder.text({"type": "result", **result})
        recorder.text(_memory())
        _emit(Kind.RUN_END, status, t_ns=ended_ns)
    except TaskRefused as exc:  # the run never began: the observer says why in one line
        status = Status.ERROR
        recorder.text({"type": "task_refused", "message": str(exc)})
    except Exception as exc:  # set-up failed (bad calibration cache, import error, ...)
        status = Status.ERROR
        recorder.text(_failure(exc))
        _emit(Kind.RUN_END, status)
    finally:
        end_descendants()
        recorder.close()
    return 0 if status is not Status.ERROR else 1


def _memory() -> dict[str, Any]:
    """The kernel's high-water marks of resident memory: this process, and its largest child.

    A sampler ten times a second can miss a run shorter than its tick, and a
    peak between two ticks; the kernel keeps the exact maximum. Children count
    once waited for: a pool's worker processes, by the time the run ends. (A
    child inherits its parent's peak, through fork and exec alike; here that
    parent is this runner, whose own true peak is in the maximum anyway.)
    """
    try:
        import resource  # noqa: PLC0415  (Unix only; the runner needs AF_UNIX anyway)
    except ImportError:  # pragma: no cover
        return {"type": "memory"}
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    own = high_water_rss()
    if own is None:  # pragma: no cover  (not Linux: the best there is)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    return {
        "type": "memory",
        "maxrss": own,
        "children_maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit,
    }


#: The runner's options, each with a value: the observer is its only caller (no
#: argparse: importing it is a few ms of every run's start-up, #21).
OPTIONS = ("--connect", "--spec", "--base-url")
USAGE = (
    "usage: python -m concviz.runner --connect SOCKET --spec JSON [--base-url URL]"
    " | --await-args (the same, as a JSON list on stdin)"
)


def parse_args(argv: list[str]) -> dict[str, str]:
    """``--name value`` pairs (or ``--name=value``); raises ValueError on anything else."""
    found: dict[str, str] = {}
    items = iter(argv)
    for item in items:
        name, eq, value = item.partition("=")
        if name not in OPTIONS:
            raise ValueError(f"unknown argument {item!r}")
        if not eq:
            following = next(items, None)
            if following is None:
                raise ValueError(f"{name} needs a value")
            value = following
        found[name] = value
    missing = [name for name in OPTIONS[:2] if name not in found]
    if missing:
        raise ValueError(f"{' and '.join(missing)} required")
    return found


#: Started ahead of its run (the observer's EarlyRunner): the arguments come as
#: one line of JSON, a list of strings, on stdin, once the run is known.
AWAIT_ARGS = "--await-args"


def await_args() -> list[str] | None:
    """The arguments from stdin; None when the observer closed it without a run.

    stdin is then /dev/null again, as for a runner started with its arguments:
    the run's tasks and worker processes inherit it.
    """
    line = sys.stdin.buffer.readline()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if not line.strip():
        return None
    args = json.loads(line)
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError(f"{AWAIT_ARGS}: expected a JSON list of strings on stdin")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv == [AWAIT_ARGS]:
            given = await_args()
            if given is None:
                return 0  # the run never came: nothing was started
            argv = given
        args = parse_args(argv)
    except ValueError as exc:
        print(f"concviz-runner: {exc} ({USAGE})", file=sys.stderr)
        return 2
    return run(RunSpec.from_json(args["--spec"]), args["--connect"], args.get("--base-url"))


if __name__ == "__main__":
    sys.exit(main())
