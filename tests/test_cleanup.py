"""Nothing concviz starts outlives it: not after a run, not after Ctrl+C, not after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from concviz.observer.session import RunSession
from concviz.runner.spec import RunSpec
from tests.support import descendants as _descendants
from tests.support import wait_pids_gone


def _wait_descendants(
    pid: int, at_least: int, timeout: float = 20.0, ignore: frozenset[int] = frozenset()
) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(found := _descendants(pid) - ignore) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(found) >= at_least, f"only {found} started"
    return found


@pytest.mark.parametrize("model", ["processes", "mp-pool", "hybrid", "threads"])
def test_no_process_remains_after_a_run(model: str) -> None:
    before = frozenset(_descendants(os.getpid()))  # e.g. a shared HTTP server fixture
    spec = RunSpec(model=model, workload="cpu", workers=2, tasks=40, task_ms=20)
    processes = 3 if model != "threads" else 1  # the runner, and its two workers
    with RunSession(spec) as session:
        seen = _wait_descendants(os.getpid(), processes, ignore=before)
        assert session.wait(60)
    assert wait_pids_gone(seen) == set()


def test_stopping_a_session_mid_run_ends_every_process() -> None:
    before = frozenset(_descendants(os.getpid()))
    spec = RunSpec(model="processes", workload="cpu", workers=2, tasks=1000, task_ms=50)
    session = RunSession(spec).start()
    try:
        seen = _wait_descendants(os.getpid(), at_least=3, ignore=before)  # runner + 2 workers
        started = time.monotonic()
        session.stop(grace=0.6)
        assert session.wait(5)
        assert time.monotonic() - started < 2.0
        summary = session.summary()
        assert summary.status == "stopped"
        assert summary.completed < 1000
    finally:
        session.close()
    assert wait_pids_gone(seen) == set()


def _start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "concviz", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("model", ["processes", "threads", "hybrid"])
def test_ctrl_c_stops_within_a_second_prints_what_completed_and_leaves_nothing(model: str) -> None:
    proc = _start_cli(
        "-m", model, "-w", "mixed", "-n", "2", "-t", "10000", "--task-ms", "40", "--json"
    )
    try:
        # The runner and the HTTP server, plus two workers for the process models.
        seen = _wait_descendants(proc.pid, at_least=2 if model == "threads" else 4)
        if model == "threads":
            time.sleep(1.0)
        else:
            # Workers up is not tasks done: hybrid starts its pool before its 10,000
            # fetches, whose storm takes a while. Their CPU says tasks are finishing.
            _wait_worker_cpu(proc.pid, 0.2)
        seen |= _descendants(proc.pid)
        pace = _bare_python_s()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    # Stopped, summarised and exited within a second and a half on an idle machine;
    # a loaded one slows every process down, which a bare Python shows (idle: 30 ms).
    assert took < 1.5 + 8 * pace, f"{took:.2f} s to stop; a bare Python took {pace:.2f} s"
    assert proc.returncode == 130
    envelope = json.loads(out)
    assert envelope["interrupted"] is True
    (data,) = envelope["runs"]
    assert data["status"] == "stopped"
    assert 0 < data["completed"] < 10000
    assert data["completed"] + data["failed"] + data["cancelled"] == 10000
    assert wait_pids_gone(seen) == set()


def _wait_worker_cpu(pid: int, cpu_s: float, timeout: float = 60.0) -> None:
    """Waits until the run's worker processes (the runner's children) have computed ``cpu_s``."""
    deadline = time.monotonic() + timeout
    total = 0.0
    while time.monotonic() < deadline:
        total = 0.0
        for proc in psutil.Process(pid).children(recursive=True):
            try:
                if "concviz.runner" not in " ".join(proc.parent().cmdline()):
                    continue
                times = proc.cpu_times()
            except (psutil.Error, AttributeError):  # gone, or its parent gone
                continue
            total += times.user + times.system
        if total >= cpu_s:
            return
        time.sleep(0.02)
    raise AssertionError(f"the workers computed only {total:.2f} s in {timeout:g} s")


def _bare_python_s() -> float:
    """How long a bare Python takes to start and exit right now: the machine's pace."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - began


@pytest.mark.parametrize("model", ["processes", "mp-pool", "threads", "hybrid"])
def test_killing_the_parent_takes_the_run_down(model: str) -> None:
    proc = _start_cli(
        "-m", model, "-w", "mixed", "-n", "2", "-t", "10000", "--task-ms", "40", "--quiet"
    )
    try:
        seen = _wait_descendants(proc.pid, at_least=2 if model == "threads" else 4)
        time.sleep(0.8)
        seen |= _descendants(proc.pid)
        proc.kill()  # SIGKILL: no cleanup code runs in the parent
        proc.wait(5)
    finally:
        proc.kill()
    assert wait_pids_gone(seen, timeout=5.0) == set()


def _take_terminal() -> None:  # runs in the child, between fork and exec
    import fcntl  # noqa: PLC0415
    import termios  # noqa: PLC0415

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class _Terminal:
    """The dashboard on a real pseudo-terminal, whose output is read and thrown away."""

    def __init__(self, *args: str) -> None:
        import fcntl  # noqa: PLC0415
        import struct  # noqa: PLC0415
        import termios  # noqa: PLC0415
        import threading  # noqa: PLC0415

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = dict(os.environ, TERM="xterm-256color")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "concviz", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,  # its own session: the pty is its controlling terminal
            preexec_fn=_take_terminal,  # noqa: PLW1509
            close_fds=True,
        )
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output and time.monotonic() < deadline:
            time.sleep(0.05)
        assert text.encode() in self.output, f"{text!r} never shown"

    def hang_up(self) -> None:
        """Closes the terminal as tmux's kill-session does: SIGHUP to the group, then EOF."""
        os.killpg(self.proc.pid, signal.SIGHUP)
        os.close(self.master)


def _hang_up_and_expect_everything_gone(term: _Terminal, seen: set[int]) -> None:
    term.hang_up()
    try:
        term.proc.wait(8)
    except subprocess.TimeoutExpired:
        cpu = psutil.Process(term.proc.pid).cpu_percent(0.5)
        term.proc.kill()
        pytest.fail(f"the dashboard outlived its terminal (using {cpu:.0f}% of a core)")
    assert wait_pids_gone(seen | {term.proc.pid}, timeout=5.0) == set()


def test_closing_the_terminal_mid_run_ends_the_dashboard_and_its_run() -> None:
    term = _Terminal("-m", "processes", "-w", "sleep", "-n", "2", "-t", "8", "--task-ms", "10000")
    try:
        term.wait_for("Press r")
        term.type("r")
        seen = _wait_descendants(term.proc.pid, at_least=3)  # the runner and its 2 workers
        _hang_up_and_expect_everything_gone(term, seen)
    finally:
        term.proc.kill()


def test_closing_the_terminal_after_a_comparison_ends_the_dashboard() -> None:
    """Seen hanging before run_app: Textual's input thread spun on the dead terminal."""
    term = _Terminal("scenario", "memory-per-worker")  # many lanes: a busy screen
    try:
        time.sleep(4.0)  # the screen built (typed-ahead keys can be lost to start-up)
        term.type("r")
        term.wait_for("runs again", timeout=60)
        time.sleep(1.0)
        _hang_up_and_expect_everything_gone(term, _descendants(term.proc.pid))
    finally:
        term.proc.kill()
