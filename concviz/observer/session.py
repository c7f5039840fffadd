"""One run, seen from the observer: start the runner, read its events, sample, clean up.

This is the observer side (it may import psutil and aiohttp; the runner side
may not). A :class:`RunSession` owns everything it starts: the runner's
process group (the runner and every worker process), the local HTTP server
when the workload needs one, and three threads (event reader, sampler,
supervisor). ``close()`` ends all of them, and so does the observer's death:
the runner sees its connection close and kills its group; the HTTP server sees
its stdin close and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psutil is imported where used: after the runner is spawned
    import psutil

from ..models import CATALOG as MODELS
from ..runner.protocol import VERSION, FrameDecoder, FrameType, ProtocolError
from ..runner.spec import RunSpec
from ..workloads import CATALOG as WORKLOADS
from .aggregate import RunAggregate, Summary, load_bulk
from .launch import FOLDER_PREFIX, EarlyRunner, child_env, run_folder, spawn_runner

if TYPE_CHECKING:  # imported where first needed: the runner starts before them (see start)
    from .recording import Recorder
    from .sampler import Sampler

RECV_BYTES = 1 << 20
#: Frames are read as they come but applied to the aggregate at most this often,
#: all that arrived in between at once (or as soon as APPLY_BYTES wait). Every
#: apply starts on cold caches: at 20 frames a second from each producer, half
#: as many applies cost the event reader ~15 % less. It adds at most this much
#: delay, which a view refreshed at 10 Hz does not show; a quiet stream's frames
#: are applied at once.
APPLY_EVERY_S = 0.09
APPLY_BYTES = 8 << 20

#: Sees every RECORDS and TEXT frame as it arrives (recording, tests).
Tap = Callable[[int, bytes], None]


class SessionError(RuntimeError):
    """The run could not be started (no interpreter, no server, ...)."""


#: Seconds the runner has to connect (its first act) before the session gives up
#: on it and kills its group: it takes ~0.2 s, seconds on a loaded machine. A
#: ``--python`` that passed the version probe and then hangs as the runner would
#: otherwise be waited for forever. The run then ends as an error saying so.
START_TIMEOUT_S = 20.0

#: Seconds a --task module has to import in the runner, once it connected: longer,
#: and it is waiting for something (a server, a lock, input) that will not come.
TASK_IMPORT_TIMEOUT_S = 10.0


# -- the event reader --------------------------------------------------------


class _Conn:
    __slots__ = ("decoder", "pid", "role", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()
        self.role = "?"
        self.pid = 0


#: The runner's first TEXT after its HELLO says whether the run began (see EventServer).
BEGINNINGS = frozenset({"run_start", "task_refused", "run_error"})


class EventServer:
    """Accepts the runner's and every worker process's connection; feeds the aggregate."""

    def __init__(
        self,
        path: str,
        aggregate: RunAggregate,
        lock: threading.Lock,
        tap: Tap | None = None,
    ) -> None:
        self.path = path
        self.tap = tap
        self.aggregate = aggregate
        self.lock = lock
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(512)
        self.listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a full wake buffer already wakes the reader
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "listen")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.conns: dict[socket.socket, _Conn] = {}
        self.accepted = 0
        self.protocol_errors: list[str] = []
        self._buf = bytearray(RECV_BYTES)
        self._stopping = False
        self._changed = threading.Condition()
        #: Set when the runner's HELLO arrives: it started and speaks our protocol.
        self.runner_connected = threading.Event()
        #: The runner's first word after it: "run_start", or why the run cannot start
        #: ("task_refused", "run_error"); set (with no word) if it hung up first.
        self.runner_began = threading.Event()
        self.runner_first_word: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._loop, name="concviz-reader", daemon=True)
        #: Seconds the reader spent decoding and aggregating (observer cost).
        self.busy_s = 0.0
        #: Frames read but not applied yet (see APPLY_EVERY_S), in arrival order:
        #: RECORDS payloads, and TEXT frames already parsed.
        self._held: list[tuple[_Conn, bytes | dict[str, Any]]] = []
        self._held_bytes = 0
        self._applied_at = 0.0
        #: Loop rounds finished; each round's select saw connections queued before it.
        self._rounds = 0

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping:
            timeout = 0.5
            if self._held:
                timeout = max(0.0, self._applied_at + APPLY_EVERY_S - time.monotonic())
            for key, _ in self.selector.select(timeout=timeout):
                if key.data == "listen":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    self._read(key.data)
            if self._held and (
                time.monotonic() - self._applied_at >= APPLY_EVERY_S
                or self._held_bytes >= APPLY_BYTES
            ):
                self._apply()
            with self._changed:
                self._rounds += 1
                self._changed.notify_all()
        self._apply()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            conn = _Conn(sock)
            self.conns[sock] = conn
            self.accepted += 1
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Conn) -> None:
        try:
            n = conn.sock.recv_into(self._buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        if n == 0:
            self._drop(conn)
            return
        began = time.perf_counter()
        bad: Exception | None = None
        try:
            for ftype, payload in conn.decoder.feed(memoryview(self._buf)[:n]):
                if ftype in (FrameType.RECORDS, FrameType.TEXT):
                    # A TEXT frame is parsed now: a bad one is refused at once.
                    frame = payload if ftype == FrameType.RECORDS else json.loads(payload)
                    if conn.role == "runner" and not self.runner_began.is_set():
                        self._first_word(frame)
                    if self.tap is not None:
                        self.tap(ftype, payload)
                    self._held.append((conn, frame))
                    self._held_bytes += len(payload)
                elif ftype == FrameType.HELLO:
                    hello = json.loads(payload)
                    if hello.get("version") != VERSION:
                        raise ProtocolError(
                            f"peer speaks protocol {hello.get('version')}, expected {VERSION}"
                        )
                    conn.role = str(hello.get("role"))
                    conn.pid = int(hello.get("pid", 0))
                    if conn.role == "runner":
                        self.runner_connected.set()
                else:
                    raise ProtocolError(f"unknown frame type {ftype}")
        except (ProtocolError, ValueError) as exc:
            bad = exc
        self.busy_s += time.perf_counter() - began
        if bad is not None:
            self._fail(conn, bad)  # what it sent before the bad frame still counts: see _drop

    def _first_word(self, frame: bytes | dict[str, Any]) -> None:
        if isinstance(frame, dict) and frame.get("type") in BEGINNINGS:
            self.runner_first_word = frame
            self.runner_began.set()

    def _apply(self) -> None:
        """Feeds every held frame to the aggregate, in arrival order, under one lock."""
        self._applied_at = time.monotonic()
        if not self._held:
            return
        began = time.perf_counter()
        held, self._held, self._held_bytes = self._held, [], 0
        failed: dict[_Conn, Exception] = {}
        with self.lock:
            for conn, frame in held:
                if conn in failed:
                    continue
                try:
                    if isinstance(frame, bytes):
                        self.aggregate.feed_records(frame)
                    else:
                        self.aggregate.feed_text(frame)
                except (ProtocolError, ValueError) as exc:
                    failed[conn] = exc
            self.aggregate.maintain(time.monotonic_ns())
        self.busy_s += time.perf_counter() - began
        for conn, error in failed.items():
            self._fail(conn, error)

    def _fail(self, conn: _Conn, exc: Exception) -> None:
        message = f"{conn.role} pid {conn.pid}: {exc}; its later events are lost"
        self.protocol_errors.append(message)
        with self.lock:
            self.aggregate.transport_errors.append(message)
        self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        self._apply()  # its frames are in the aggregate before it is seen gone
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn.sock)
        self.conns.pop(conn.sock, None)
        conn.sock.close()
        if conn.role == "runner":
            self.runner_began.set()  # whatever it said, it will say no more
        with self._changed:
            self._changed.notify_all()

    def open_connections(self) -> int:
        return len(self.conns)

    def wait_all_closed(self, timeout: float) -> bool:
        """Waits until every peer that connected before this call has closed.

        A short run can connect, send everything and exit before the reader
        accepted it: its connection is still in the listen backlog. The second
        round from now began its select after this call, so it saw the backlog.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = self._rounds + 2
            while self._rounds < seen and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                with contextlib.suppress(OSError):
                    self._wake_w.send(b"x")
                self._changed.wait(min(left, 0.05))
            while self.conns:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
        return True

    def broadcast(self, data: bytes) -> None:
        """Sends a command line ("stop") to the runner and every worker process."""
        for sock in list(self.conns):
            with contextlib.suppress(OSError):
                sock.setblocking(True)
                sock.settimeout(0.2)
                sock.sendall(data)
                sock.setblocking(False)

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        for sock in list(self.conns):
            sock.close()
        self.conns.clear()
        self.selector.close()
        for s in (self.listener, self._wake_r, self._wake_w):
            s.close()


# -- the local HTTP server ---------------------------------------------------


class LocalHttpServer:
    """concviz's own aiohttp server on 127.0.0.1, in a process of its own."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "concviz.observer.httpd"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            start_new_session=True,
        )
        _LIVE.add(self)
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout)
        sel.close()
        line = self.proc.stdout.readline() if ready else b""
        try:
            self.port = int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            err = b""
            self.close()
            if self.proc.stderr is not None:
                err = self.proc.stderr.read()[-500:]
            raise SessionError(
                f"the local HTTP server did not start: {err.decode(errors='replace').strip()}"
            ) from None
        self.base_url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
        _LIVE.discard(self)

    def __enter__(self) -> LocalHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the session -------------------------------------------------------------


class RunSession:
    """Runs one spec in a child runner and keeps its aggregate up to date.

    Read ``aggregate`` only while holding ``lock``.
    """

    def __init__(
        self,
        spec: RunSpec,
        python: str | None = None,
        http: LocalHttpServer | None = None,
        keep_all_spans: bool = False,
        sample_hz: float = 10.0,
        tap: Tap | None = None,
        record_to: str | Path | None = None,
        track_bins: bool = False,
        start_timeout: float = START_TIMEOUT_S,
        import_timeout: float = TASK_IMPORT_TIMEOUT_S,
        early: EarlyRunner | None = None,
    ) -> None:
        #: A runner started ahead of this run (see EarlyRunner): used by start() if
        #: it runs this session's interpreter, discarded otherwise.
        self._early = early
        self.spec = spec.validated()
        self.start_timeout = start_timeout
        self.import_timeout = import_timeout
        self.recording: Recorder | None = None
        if record_to is not None:
            from .recording import Recorder  # noqa: PLC0415

            self.recording = Recorder(record_to, self.spec.__dict__)
        self._tap = _chain(tap, self.recording.frame if self.recording else None)
        self.python = python or sys.executable
        self.lock = threading.Lock()
        self.aggregate = RunAggregate(
            self.spec, keep_all_spans=keep_all_spans, track_bins=track_bins
        )
        self.done = threading.Event()
        self.returncode: int | None = None
        self.stderr_tail = ""
        self._http = http
        self._own_http: LocalHttpServer | None = None
        self._sample_hz = sample_hz
        self._tmp: str | None = None
        self._server: EventServer | None = None
        self._sampler: Sampler | None = None
        self._runner: subprocess.Popen[bytes] | None = None
        self._stop_requested = False
        self._killed = False
        self._start_timed_out = False
        self._closed = False
        self._supervisor: threading.Thread | None = None
        #: The runner's descendants when it was last killed: the group's kill
        #: misses those that left it (setsid), see _kill_escaped.
        self._escapees: list[psutil.Process] = []

    # -- lifecycle ------------------------------------------------------------

    def start(self, meanwhile: Callable[[], object] | None = None) -> RunSession:
        """Starts the run. ``meanwhile`` is called once the runner is spawned, before a
        ``--task``'s import is waited for: what the caller loads there costs no time."""
        early, self._early = self._early, None
        if early is not None and not (early.ready and early.python == self.python):
            early.discard()
            early = None
        try:
            reason = self._unavailable() or _too_big(self.spec)
            if reason is not None:
                raise SessionError(reason)
            _LIVE.add(self)
            if self.aggregate.may_take_bulk():  # a few tasks never make a long frame
                load_bulk()
            # The owner's pid in the name: a folder left by a kill -9 is removed by a
            # later run once that pid is provably gone (remove_stale_folders, once the
            # runner is started: scanning the temporary folder does not delay it).
            self._tmp = early.folder if early is not None else run_folder()
        except BaseException:
            if early is not None:
                early.discard()
            raise
        assert self._tmp is not None
        path = os.path.join(self._tmp, "events.sock")
        self._server = EventServer(path, self.aggregate, self.lock, self._tap)
        self._server.start()
        base_url = None
        try:
            if WORKLOADS[self.spec.workload].needs_server:
                if self._http is None:
                    self._own_http = self._http = LocalHttpServer()
                base_url = self._http.base_url
            args = ["--connect", path, "--spec", self.spec.to_json()]
            if base_url:
                args += ["--base-url", base_url]
            # The sampler's first look (its baseline) comes before the run can begin: a
            # runner started ahead begins the moment it has its arguments, and even one
            # spawned now may beat psutil's import (~15 ms) on a busy machine.
            sampler = self._new_sampler()
            if early is not None:
                self._runner = early.take(args)
                early = None
            else:
                self._runner = spawn_runner(self.python, args, self._tmp, subprocess.DEVNULL)
        except BaseException as exc:
            if early is not None:
                early.discard()  # its folder is self._tmp: close() below finds it gone
            if not isinstance(exc, OSError):
                raise
            self.close()
            raise SessionError(f"cannot start {self.python}: {exc.strerror or exc}") from None
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException:  # Ctrl+C, or a failed import: nothing is left running
                self._abandon_runner()
                raise
        problem = self._task_refused()
        if problem is not None:
            raise SessionError(problem)
        remove_stale_folders()
        self._sampler = sampler
        sampler.start()
        self._supervisor = threading.Thread(
            target=self._supervise, name="concviz-supervisor", daemon=True
        )
        self._supervisor.start()
        return self

    def _new_sampler(self) -> Sampler:
        from .sampler import Sampler  # noqa: PLC0415  (psutil: only once a run starts)

        return Sampler(
            self.aggregate,
            self.lock,
            self._sample_hz,
            on_sample=self.recording.sample if self.recording else None,
        )

    def _await_runner(self, runner: subprocess.Popen[bytes], server: EventServer) -> int:
        """Waits for the runner to exit; kills its group if it never connects in time."""
        deadline = time.monotonic() + self.start_timeout
        while not server.runner_connected.wait(0.05):
            if runner.poll() is not None:
                break
            if time.monotonic() >= deadline:
                self._start_timed_out = True
                self._escapees = _descendants(runner.pid)
                self._kill_group(signal.SIGKILL)
                break
        return runner.wait()

    def _unavailable(self) -> str | None:
        """Why the model cannot run on the chosen interpreter (checked before starting)."""
        info = MODELS[self.spec.model]
        if info.requires is None:
            return None  # most models: nothing to probe, nothing to import at start-up
        from .interpreters import unavailable_reason  # noqa: PLC0415

        python = None if self.python == sys.executable else self.python
        return unavailable_reason(info, python, suggest=False)

    def _task_refused(self) -> str | None:
        """Waits for the runner to import a --task (and pickle it, for a process model):
        None once its run began, else one line saying why it cannot, the runner ended.

        The runner imports the function anyway; its verdict arrives before any task
        runs, so a bad --task is a one-line error, not a failed run. A module whose
        import waits for something is given up on after ``import_timeout`` seconds.
        """
        spec, server, runner = self.spec, self._server, self._runner
        if spec.task is None or server is None or runner is None:
            return None
        target = spec.task
        module = target.partition(":")[0]
        connect_by = time.monotonic() + self.start_timeout
        import_by: float | None = None
        try:
            while not server.runner_began.wait(0.02):
                now = time.monotonic()
                if import_by is None and server.runner_connected.is_set():
                    import_by = now + self.import_timeout
                if runner.poll() is not None:
                    # What it sent before it exited is read before it is judged.
                    server.wait_all_closed(timeout=1.0)
                    break
                if import_by is None and now >= connect_by:
                    self._start_timed_out = True  # the supervisor says so, as for any run
                    self._escapees = _descendants(runner.pid)
                    self._kill_group(signal.SIGKILL)
                    return None
                if import_by is not None and now >= import_by:
                    self._abandon_runner()
                    return (
                        f"--task {target}: importing {module} did not finish within "
                        f"{self.import_timeout:g} s (does it wait for something at import?)"
                    )
        except BaseException:  # Ctrl+C while waiting: nothing may be left running
            self._abandon_runner()
            raise
        word = server.runner_first_word or {}
        if word.get("type") == "run_start" or not server.runner_connected.is_set():
            return None  # began; or it never started (the run ends saying why, as any run)
        if word.get("type") == "task_refused":
            problem = str(word.get("message"))
        elif word.get("type") == "run_error":
            return None  # a failed set-up, not the task's: the run ends as an error
        else:
            code = runner.wait()
            said = self._read_log().strip().splitlines()
            if said:
                line = said[-1]
                problem = line if target in line else f"--task {target}: {line}"
            else:
                problem = (
                    f"--task {target}: importing {module} ended the process "
                    f"(exit code {code}) without a word"
                )
        self._abandon_runner()
        return problem

    def _abandon_runner(self) -> None:
        """Ends a runner whose run will not go on (before the supervisor watches it)."""
        if self._runner is not None:
            self._escapees = _descendants(self._runner.pid)
            self._kill_group(signal.SIGKILL)
            self._runner.wait()
            self.done.set()
        self.close()

    def _supervise(self) -> None:
        runner = self._runner
        server = self._server
        assert runner is not None
        assert server is not None
        self.returncode = self._await_runner(runner, server)
        # Workers flushed before the runner's pool shut down, and the runner
        # flushed before exiting: what is still in flight is in the socket buffers.
        server.wait_all_closed(timeout=3.0)
        self._kill_group(signal.SIGKILL)  # anything left in the group is a straggler
        self._kill_escaped()
        server.wait_all_closed(timeout=1.0)  # the stragglers' last events, before counting
        self._finish()
        self.done.set()

    def _finish(self) -> None:
        self.stderr_tail = self._read_log()
        with self.lock:
            agg = self.aggregate
            if agg.run_end_ns is None:
                agg.run_end_ns = time.monotonic_ns() if agg.run_start_ns is not None else None
                if self._start_timed_out:
                    agg.status = "error"
                    agg.run_error = {
                        "error": "SessionError",
                        "message": f"{self.python} did not start concviz's runner within "
                        f"{self.start_timeout:g} s (it hangs, or is not the CPython it claims)",
                    }
                elif self._stop_requested or self._killed:
                    agg.status = "stopped"
                else:
                    agg.status = "crashed"
                    last = self.stderr_tail.strip().splitlines()[-1:] or ["no output"]
                    agg.run_error = agg.run_error or {
                        "error": "RunnerCrashed",
                        "message": f"runner exited with code {self.returncode}: {last[0]}",
                    }
            _settle(agg, self.spec.tasks)
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler.tick()  # the run's last moments, up to its end
        if self.recording is not None:
            with self.lock:
                agg = self.aggregate
                self.recording.end(
                    {
                        "status": agg.status,
                        "run_error": agg.run_error,
                        "returncode": self.returncode,
                    }
                )
            self.recording.close()

    def _read_log(self) -> str:
        if not self._tmp:
            return ""
        try:
            return Path(self._tmp, "runner.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def stop(self, grace: float = 0.6) -> None:
        """Asks every process to stop starting tasks; kills the group after ``grace`` seconds.

        A model that handles signals itself (graceful shutdown) gets a real SIGINT
        instead, and its own deadline before anything is killed.
        """
        if self.done.is_set():
            return
        self._stop_requested = True
        if MODELS[self.spec.model].stops_by_signal and self._runner is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._runner.pid, signal.SIGINT)
            grace = max(grace, self.spec.deadline_ms / 1000 + 1.0)
        elif self._server is not None:
            self._server.broadcast(b"stop\n")
        if not self.done.wait(grace):
            self.kill()

    def stop_after(self, seconds: float) -> None:
        """Stops the run after ``seconds`` (a scenario that shows a shutdown)."""

        def later() -> None:
            if not self.done.wait(seconds):
                self.stop()

        threading.Thread(target=later, name="concviz-stop-after", daemon=True).start()

    def kill(self) -> None:
        self._killed = True
        self._escapees = _descendants(self._runner.pid if self._runner else None)
        self._kill_group(signal.SIGTERM)
        if not self.done.wait(0.3):
            self._kill_group(signal.SIGKILL)
            self.done.wait(3.5)

    def _kill_escaped(self) -> None:
        """Kills what the runner had started outside its group, if it could not itself.

        The runner ends every descendant when it ends (it is their subreaper,
        see runner/run.py); a runner killed outright cannot, so :meth:`kill` notes
        its descendants first and they are ended here (psutil checks each is
        still the process noted, not a new one with a reused pid).
        """
        import psutil  # noqa: PLC0415

        for proc in self._escapees:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self._escapees = []

    def _kill_group(self, sig: int) -> None:
        if self._runner is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._runner.pid, sig)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._early is not None:  # never started
            self._early.discard()
            self._early = None
        if self._runner is not None and not self.done.is_set():
            self.kill()
        self._kill_escaped()
        if self._sampler is not None:
            self._sampler.stop()
        if self._server is not None:
            self._server.close()
        if self.recording is not None:
            self.recording.close()
        if self._own_http is not None:
            self._own_http.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> RunSession:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading --------------------------------------------------------------

    def now_ns(self) -> int:
        """The clock the run's events use (a replay has its own)."""
        return time.monotonic_ns()

    @property
    def pgid(self) -> int | None:
        return self._runner.pid if self._runner is not None else None

    def summary(self) -> Summary:
        with self.lock:
            return self.aggregate.summary(time.monotonic_ns())

    def progress(self) -> tuple[int, int]:
        with self.lock:
            agg = self.aggregate
            return agg.completed + agg.failed + agg.cancelled + agg.stopped, self.spec.tasks

    def observer_cost(self) -> dict[str, Any]:
        """CPU seconds the observer's own threads spent, for the overhead report."""
        return {
            "reader_s": self._server.busy_s if self._server else 0.0,
            "sampler_s": self._sampler.busy_s if self._sampler else 0.0,
            "sampler_ticks": self._sampler.ticks if self._sampler else 0,
            "sampler_late_ticks": self._sampler.late_ticks if self._sampler else 0,
        }


#: How a task that started and never finished is counted, once its run is over.
LOST_IN_FLIGHT = "WorkerLost: it was running when its process ended"


def _settle(agg: RunAggregate, tasks: int) -> None:
    """Counts every task of an ended run: ``completed + failed + cancelled == tasks``.

    When a run is cut short (stopped, a worker or the runner killed, a pool
    broken), some tasks never report an end. One that started and never
    finished was lost mid-way: failed if the run failed, cancelled if it was
    stopped. One that never started (or whose start was lost with its process)
    is cancelled.
    """
    ended = agg.completed + agg.failed + agg.stopped
    missing = tasks - ended - agg.cancelled
    if missing <= 0:
        return
    in_flight = min(missing, max(0, agg.started - ended))
    if agg.status == "stopped":
        agg.stopped += in_flight
    elif in_flight:
        agg.failed += in_flight
        agg.error_total += in_flight
        agg.errors[LOST_IN_FLIGHT] += in_flight
    agg.cancelled += missing - in_flight


def _chain(*taps: Tap | None) -> Tap | None:
    present = [tap for tap in taps if tap is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def both(ftype: int, payload: bytes) -> None:
        for tap in present:
            tap(ftype, payload)

    return both


def _descendants(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        return []
    import psutil  # noqa: PLC0415

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


#: A folder of an older concviz (``concviz-`` and mkdtemp's 8 characters, no pid)
#: is only judged once this old: its socket is bound within milliseconds of it.
LEGACY_AGE_S = 60.0


def remove_stale_folders(where: str | None = None) -> list[str]:
    """Removes the run folders whose owner is provably dead; returns their paths.

    A concviz killed outright (SIGKILL) leaves its folder behind. Only this
    user's folders are considered: ``concviz-<pid>-<random>`` when that pid is
    not running (a live pid, a live concviz or another process that took the
    pid over, keeps its folder); and an older concviz's ``concviz-<random>``
    when nothing listens on its socket any more (connecting is refused: a live
    run listens from its first milliseconds to its removal) and it is older
    than LEGACY_AGE_S.
    """
    where = where or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        name = entry.name
        if not name.startswith(FOLDER_PREFIX):
            continue
        owner, dash, _rest = name[len(FOLDER_PREFIX) :].partition("-")
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or info.st_uid != uid:
            continue
        if dash and owner.isdigit():
            dead = not _pid_exists(int(owner))
        elif not dash and len(owner) == 8:
            dead = time.time() - info.st_mtime > LEGACY_AGE_S and _nobody_listens(entry.path)
        else:
            continue
        if dead:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def _nobody_listens(folder: str) -> bool:
    path = os.path.join(folder, "events.sock")
    if not os.path.exists(path):
        return True
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False  # not provably dead
    return False  # a live run accepted (and now sees the probe close)


#: Bytes each task holds when a model makes every task before any runs (a
#: TaskGroup's Tasks and coroutines, a pool's submitted futures). Measured with
#: benchmarks/upfront_memory.py (200,000 waiting tasks, the growth of the run's
#: PSS divided by them), 2026-12-05 on this project's machine; the larger of
#: CPython 3.11.7 and 3.13t, rounded up:
#:   asyncio 1,664 / 1,759 B   taskgroup 1,536 / 1,571   gather 1,301 / 1,383
#:   gather-results 1,021 / 1,097   to-thread 1,366 / 2,107   hybrid 1,268 / 1,478
#:   timeout 1,436 / 1,721   threads 2,135 / 2,303   processes 2,256 / 2,464
#:   token-bucket 1,756 / 2,072   retry 1,561 / 1,473   thread-timeout 2,049 / 2,172
UPFRONT_BYTES: dict[str, int] = {
    "asyncio": 1800,
    "taskgroup": 1600,
    "gather": 1400,
    "gather-results": 1100,
    "to-thread": 2200,
    "hybrid": 1500,
    "timeout": 1800,
    "threads": 2400,
    "processes": 2500,
    "token-bucket": 2100,
    "retry": 1600,
    "thread-timeout": 2200,
}
#: The share of the memory available now that a run may plan to take up front.
MEMORY_SHARE = 0.5


def _pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (ours or not): signal 0 checks without sending."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _available_memory() -> int:
    """MemAvailable from /proc/meminfo (no psutil before the runner starts), else psutil's."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import psutil  # noqa: PLC0415

    return int(psutil.virtual_memory().available)


def _too_big(spec: RunSpec) -> str | None:
    """Why a run would not fit in memory (its tasks all made up front), or None."""
    per_task = UPFRONT_BYTES.get(spec.model)
    if per_task is None:
        return None
    need = per_task * spec.tasks
    available = _available_memory()
    if need <= MEMORY_SHARE * available:
        return None
    return (
        f"{spec.model} makes all {spec.tasks:,} tasks before any runs: "
        f"~{_size(need)} up front, more than half the {_size(available)} available; "
        "use fewer tasks, or -m async-queue, which streams them"
    )


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} GiB"


_LIVE: weakref.WeakSet[RunSession | LocalHttpServer] = weakref.WeakSet()


def run_in_progress() -> bool:
    """Whether a run of this process is being measured (its runner started, not done)."""
    return any(
        isinstance(item, RunSession) and item._runner is not None and not item.done.is_set()
        for item in list(_LIVE)
    )


@atexit.register
def close_all() -> None:
    """However the observer leaves (short of SIGKILL), nothing it started stays."""
    for item in list(_LIVE):
        with contextlib.suppress(Exception):
            item.close()
