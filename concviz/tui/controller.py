"""Owns the dashboard's run: at most one at a time, never an orphan process.

Plain Python (no Textual), so its guarantees are tested directly. The app calls
it from worker threads, because stopping a run or starting the HTTP server can
take a moment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..observer.launch import FOLDER_PREFIX
from ..observer.recording import Replay
from ..observer.session import LocalHttpServer, RunSession, remove_stale_folders
from ..runner.spec import RunSpec
from ..workloads import CATALOG as WORKLOADS

#: Where ctrl+s saves runs, under the working folder: not loose among the user's files.
RECORDINGS_DIR = "concviz-recordings"


class RunController:
    def __init__(self, sample_hz: float = 10.0) -> None:
        self.sample_hz = sample_hz
        self.source: RunSession | Replay | None = None
        self._http: LocalHttpServer | None = None
        self._lock = threading.Lock()
        # Named as a run's folder is (its owner's pid first): one left by a kill -9
        # of the dashboard is removed at a later start, once that pid is gone.
        remove_stale_folders()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-ui-"))
        self._runs = 0
        self._recording: Path | None = None
        self.closed = False

    # -- live runs --------------------------------------------------------------

    def start(self, spec: RunSpec, python: str | None = None) -> RunSession:
        """Ends the current run (if any), then starts ``spec``."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the controller is closed")
            self._end_current()
            spec = spec.validated()
            if WORKLOADS[spec.workload].needs_server and self._http is None:
                self._http = LocalHttpServer()
            self._runs += 1
            self._recording = self._tmp / f"run-{self._runs}.cvrec"
            session = RunSession(
                spec,
                python=python,
                http=self._http,
                sample_hz=self.sample_hz,
                record_to=self._recording,
                track_bins=True,
            )
            session.start()  # refused (a model this Python cannot run): nothing to show
            self.source = session
            return session

    def forget(self) -> None:
        """Ends the current run or replay and shows nothing (a new scenario is loaded)."""
        with self._lock:
            self._end_current()
            self.source = None
            self._recording = None

    def stop(self) -> None:
        """Stops the live run: running tasks may finish (0.6 s), then the group is killed."""
        source = self.source
        if isinstance(source, RunSession) and not source.done.is_set():
            source.stop(grace=0.6)

    @property
    def running(self) -> bool:
        source = self.source
        if isinstance(source, RunSession):
            return not source.done.is_set()
        if isinstance(source, Replay):
            return not source.done.is_set()
        return False

    # -- replays ------------------------------------------------------------------

    def replay(self, path: str | Path, speed: float = 1.0) -> Replay:
        with self._lock:
            self._end_current()
            replay = Replay(path, speed=speed)
            self.source = replay
            self._recording = Path(path)
            if speed == float("inf"):
                replay.play_all()
            else:
                replay.start()
            return replay

    # -- recordings ------------------------------------------------------------------

    def save_recording(self, directory: Path | None = None) -> Path:
        """Copies the current run's recording to RECORDINGS_DIR (under the working folder)."""
        source = self.source
        if self._recording is None or source is None or not self._recording.exists():
            raise FileNotFoundError("nothing has been recorded yet: run something first")
        if isinstance(source, RunSession) and not source.done.is_set():
            raise RuntimeError("the run is still going: save it when it has finished")
        spec = source.spec if isinstance(source, RunSession) else None
        name = f"{spec.model}-{spec.workload}" if spec else self._recording.stem
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = directory or Path.cwd() / RECORDINGS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"concviz-{name}-{stamp}.cvrec"
        shutil.copyfile(self._recording, dest)
        return dest

    # -- teardown ------------------------------------------------------------------------

    def _end_current(self) -> None:
        source = self.source
        if isinstance(source, RunSession):
            source.close()
        elif isinstance(source, Replay):
            source.stop()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._end_current()
            if self._http is not None:
                self._http.close()
                self._http = None
            shutil.rmtree(self._tmp, ignore_errors=True)
