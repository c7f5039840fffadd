"""The last of the fault matrix: a graceful hybrid stop, the dashboard's folders,
Ctrl+C while the console script starts, and a SIGINT that must never be lost.

Real processes throughout; timings are compared with a bare Python measured in
the same test, never with absolute seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import concviz
from concviz.observer.session import RunSession
from concviz.runner.protocol import RECORD, FrameType, Kind
from concviz.runner.spec import RunSpec
from tests.support import CONSOLE_SCRIPT, descendants, wait_pids_gone


def bare_python_s() -> float:
    """How long a bare Python takes to start and exit right now: the machine's pace."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - began


# -- hybrid: thousands of fetches in flight, then a stop -------------------------


def _started(session: RunSession) -> int:
    with session.lock:
        return session.aggregate.started


def _completed(session: RunSession) -> int:
    return session.progress()[0]


@pytest.mark.parametrize(
    ("moment", "until", "at_least"),
    [
        # Every task fetches at once (a TaskGroup makes them all), for 0.9 s each.
        ("fetches in flight", _started, 1000),
        # The fetches are back; the CPU parts (0.1 s each) queue for two processes.
        ("CPU parts queued", _completed, 2),
    ],
)
def test_hybrid_with_thousands_of_fetches_stops_within_the_grace(
    moment: str, until: Callable[[RunSession], int], at_least: int
) -> None:
    """The in-flight fetches are cancelled and the pool's queued work dropped: the
    runner ends the run itself (its RUN_END arrives) instead of being killed."""
    tasks = 3000
    ends: list[tuple[int, ...]] = []

    def tap(ftype: int, payload: bytes) -> None:
        if ftype == FrameType.RECORDS:
            ends.extend(r for r in RECORD.iter_unpack(payload) if r[0] == Kind.RUN_END)

    before = descendants(os.getpid())
    spec = RunSpec(
        model="hybrid", workload="mixed", workers=2, tasks=tasks, task_ms=1000, io_fraction=0.9
    )
    with RunSession(spec, tap=tap) as session:
        deadline = time.monotonic() + 30
        while until(session) < at_least:
            assert time.monotonic() < deadline, f"the run never got to {moment}"
            assert _completed(session) == 0 or moment != "fetches in flight"
            assert not session.done.is_set()
            time.sleep(0.01)
        seen = descendants(os.getpid()) - before
        assert len(seen) >= 2, seen  # the runner and the HTTP server (and any workers)
        pace = bare_python_s()
        # The CLI's and the dashboard's grace (0.6 s), stretched as a loaded
        # machine slows every process down (idle: a bare Python takes 30 ms).
        grace = 0.6 + 8 * pace
        sent = time.monotonic()
        session.stop(grace=grace)
        assert session.wait(10)
        took = time.monotonic() - sent
        summary = session.summary()
    where = f"{moment}: grace {grace:.2f} s, a bare Python took {pace:.2f} s"
    assert ends, f"killed at the grace ({where})"
    assert took < grace, where
    assert summary.status == "stopped"
    assert summary.cancelled > 0
    assert summary.failed == 0, summary.errors
    assert summary.completed + summary.failed + summary.cancelled == tasks
    assert wait_pids_gone(seen) == set()


# -- the dashboard's folder after a kill -9 ---------------------------------------


def _take_terminal() -> None:  # runs in the child, between fork and exec
    import fcntl  # noqa: PLC0415
    import termios  # noqa: PLC0415

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _dashboard(tmp: Path) -> subprocess.Popen[bytes]:
    """The dashboard on a real pseudo-terminal (output thrown away), its TMPDIR ``tmp``."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "concviz"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(os.environ, TERM="xterm-256color", TMPDIR=str(tmp)),
        start_new_session=True,
        preexec_fn=_take_terminal,  # noqa: PLW1509
        close_fds=True,
    )
    os.close(slave)

    def drain() -> None:
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass
        os.close(master)

    threading.Thread(target=drain, daemon=True).start()
    return proc


def _folders_of(pid: int, tmp: Path) -> list[Path]:
    return list(tmp.glob(f"concviz-{pid}-*"))


def _wait_folder(proc: subprocess.Popen[bytes], tmp: Path) -> Path:
    deadline = time.monotonic() + 30
    while not (found := _folders_of(proc.pid, tmp)):
        assert time.monotonic() < deadline, "the dashboard made no folder named by its pid"
        assert proc.poll() is None, "the dashboard ended"
        time.sleep(0.05)
    (folder,) = found
    return folder


def test_the_folder_of_a_killed_dashboard_goes_at_the_next_start(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    first = _dashboard(tmp)
    try:
        left = _wait_folder(first, tmp)
        first.kill()  # kill -9: none of its clean-up runs
        first.wait(10)
    finally:
        first.kill()
    assert left.exists()
    # A dashboard still running (this very test process stands in for it) keeps its own.
    alive = tmp / f"concviz-{os.getpid()}-ui-live1234"
    alive.mkdir()
    second = _dashboard(tmp)
    try:
        mine = _wait_folder(second, tmp)
        deadline = time.monotonic() + 30
        while left.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left.exists(), "the killed dashboard's folder is still there"
        assert alive.exists()
        assert mine.exists()
    finally:
        second.kill()
        second.wait(10)


# -- Ctrl+C while the console script starts -----------------------------------------

PACKAGE = str(Path(concviz.__file__).parent)


def _in_cpython_start(returncode: int, err: str) -> bool:
    """SIGINT before the first line of concviz's code ran: before CPython had its
    handler (killed by the signal, silently), in its own start-up (site, .pth
    files), or while its import system looked for the package the script
    imports (no frame of the package's files). Nothing of concviz's could catch it."""
    if returncode == -signal.SIGINT and not err:
        return True
    if "KeyboardInterrupt" not in err:
        return False
    return "init_import_site" in err or f'File "{PACKAGE}' not in err


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="concviz is not installed as a script")
def test_ctrl_c_while_the_console_script_starts_is_exit_130_and_one_line() -> None:
    """SIGINT to the installed ``concviz`` script at moments from its first line on."""
    bare = bare_python_s()  # from about here on, the script's own code runs
    outcomes = []
    for delay_ms in (0, 3, 6, 10, 15, 20, 30, 45, 60, 80, 100, 125, 150):
        for _ in range(3):
            proc = subprocess.Popen(
                [str(CONSOLE_SCRIPT), "run", "-w", "sleep", "-t", "20", "--task-ms", "20"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(bare * 0.7 + delay_ms / 1000)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            if not _in_cpython_start(proc.returncode, err):
                break
        else:
            continue  # this moment kept landing in CPython's start-up: not concviz's
        outcomes.append(proc.returncode)
        where = f"SIGINT {delay_ms} ms after start-up: exit {proc.returncode}"
        assert "Traceback" not in err, f"{where}\n{err}"
        assert "Exception ignored" not in err, f"{where}\n{err}"
        if proc.returncode == 0:  # it finished first: a normal result
            assert '"completed"' in out or "completed" in out, where
            continue
        assert proc.returncode == 130, f"{where}\n{err}"
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines, f"{where}: an interrupted concviz says so"
        assert len(lines) <= 2, f"{where}\n{err}"
    assert 130 in outcomes, f"no SIGINT landed in concviz's start-up: {outcomes}"


#: concviz's front door with the command line swapped for one that, like the real
#: one, takes SIGINT as a KeyboardInterrupt and leaves a thread running: the SIGINT
#: lands after it returned, while the interpreter shuts down (joining that thread).
_AFTER_MAIN = """
import os, signal, threading, time
import concviz.cli
import concviz.entry

def main(argv=None, early=None):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    def later():
        while not done.is_set():
            time.sleep(0.01)
        time.sleep(0.05)  # main has returned: the interpreter is joining this thread
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)
    threading.Thread(target=later).start()
    done.set()
    return 0

done = threading.Event()
concviz.cli.main = main
concviz.entry.main()
"""


def test_ctrl_c_after_the_command_returned_is_exit_130_and_one_line() -> None:
    """Before: ``Exception ignored in: <module 'threading'>`` and a traceback, exit 0."""
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_MAIN], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done.stderr
    assert done.stderr == "concviz: interrupted\n"


# -- a SIGINT that must never be lost ------------------------------------------------

#: In a process of its own: SIGINT after ``delay`` s while the observer loads its
#: bulk path (NumPy), as ``RunSession.start()`` does before every run.
_LOAD_BULK = """
import os, signal, sys, threading, time
from concviz.observer import aggregate
delay = float(sys.argv[1])
began = time.monotonic()
try:
    threading.Thread(
        target=lambda: (time.sleep(delay), os.kill(os.getpid(), signal.SIGINT)), daemon=True
    ).start()
    aggregate.load_bulk()
    loaded = time.monotonic() - began
    time.sleep(float(sys.argv[2]))  # the signal comes while this waits, if not before
    print("lost", loaded, aggregate._bulk is not None)
except KeyboardInterrupt:
    print("interrupted", time.monotonic() - began)
"""


def test_a_sigint_while_numpy_loads_is_never_lost() -> None:
    """Found by a hammer of ``concviz run`` with SIGINT at random moments: 2 runs in
    150 exited 0 after finishing. NumPy's C start imports ``datetime`` through
    ``PyCapsule_Import``, which turns a KeyboardInterrupt raised meanwhile into
    an ImportError; the observer took that as "no NumPy" and went on with the run."""
    pytest.importorskip("numpy")
    probe = subprocess.run(
        [sys.executable, "-c", _LOAD_BULK, "60", "0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.startswith("lost"), probe.stdout + probe.stderr  # no signal meanwhile
    took = float(probe.stdout.split()[1])  # how long NumPy takes to load here, now
    # Denser early on: NumPy imports datetime in the first milliseconds of its load.
    moments = [took * (i / 20) ** 2 for i in range(21)]
    for batch in range(0, len(moments), 4):  # four at a time: the test stays short
        procs = [
            (
                delay,
                subprocess.Popen(
                    [sys.executable, "-c", _LOAD_BULK, f"{delay:.6f}", "5"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for delay in moments[batch : batch + 4]
        ]
        for delay, proc in procs:
            out, err = proc.communicate(timeout=60)
            where = f"SIGINT {delay * 1000:.1f} ms into a {took * 1000:.0f} ms load"
            assert out.startswith("interrupted"), f"{where}: {out}{err}"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the point
def test_a_sigint_python_swallows_during_the_bulk_load_is_raised_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hammer above, 1 run in ~5 under load: the SIGINT came while the import
    system ran a weakref callback, where an exception is printed ("Exception ignored
    in") and dropped; the load went on, and the run with it. Made to happen here."""
    import weakref  # noqa: PLC0415

    from concviz.observer import aggregate  # noqa: PLC0415

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT has a handler of this process's own")

    @contextlib.contextmanager
    def swallowed_ctrl_c() -> Iterator[None]:
        class Referent:
            pass

        referent = Referent()
        ref = weakref.ref(referent, lambda _ref: signal.raise_signal(signal.SIGINT))
        del referent  # the callback runs now: its KeyboardInterrupt is printed, not raised
        assert ref() is None
        yield

    monkeypatch.setattr(aggregate, "_bulk_tried", False)
    monkeypatch.setattr(aggregate, "_bulk", None)
    monkeypatch.setattr(aggregate, "_one_blas_thread", swallowed_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        aggregate._bulk_module()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
