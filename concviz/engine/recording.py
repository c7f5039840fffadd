"""Records a run's stream to a file, and plays it back into a fresh aggregate.

A recording holds exactly what the observer saw, in the order it saw it: the
event frames from every connection and the sampler's readings, each stamped
with its arrival time. Played back at any speed it rebuilds the same run model
(so a replayed dashboard shows what the live one showed), and played back at
once it makes UI tests deterministic.

File format (version 1): a sequence of frames, each a 13-byte header
``<IBq`` (payload length, frame type, arrival time in monotonic ns) and the
payload. The first frame is ``HEADER`` (JSON: format, version, spec); then
``RECORDS`` and ``TEXT`` frames exactly as on the wire (see
``docs/transport.md``), ``SAMPLE`` frames (JSON of one sampler tick), and a
final ``END`` frame (JSON: how the run ended).
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .aggregate import RunAggregate, Sample
from .protocol import FrameType

FORMAT = "concviz-recording"
VERSION = 1
HEADER = struct.Struct("<IBq")
#: A live recording stops growing past this (the run goes on; the file says so).
MAX_BYTES = 512 * 1024 * 1024


class FileFrame:
    HEADER = 20
    SAMPLE = 21
    END = 22


class RecordingError(ValueError):
    """The file is not a concviz recording, or is damaged; the message says which."""


class Recorder:
    """Writes frames as they arrive. Thread-safe: the reader and sampler both write."""

    def __init__(self, out: str | Path | IO[bytes], spec: dict[str, Any]) -> None:
        self._f: IO[bytes] = open(out, "wb") if isinstance(out, (str, Path)) else out  # noqa: SIM115
        self._lock = threading.Lock()
        self.bytes = 0
        self.truncated = False
        self._write(
            FileFrame.HEADER,
            json.dumps({"format": FORMAT, "version": VERSION, "spec": spec}).encode(),
        )

    def _write(self, ftype: int, payload: bytes) -> None:
        with self._lock:
            if self._f.closed:
                return
            if self.bytes + len(payload) > MAX_BYTES and ftype != FileFrame.END:
                self.truncated = True
                return
            self._f.write(HEADER.pack(len(payload), ftype, time.monotonic_ns()))
            self._f.write(payload)
            self.bytes += HEADER.size + len(payload)

    def frame(self, ftype: int, payload: bytes) -> None:
        """A RECORDS or TEXT frame from the wire (a RunSession ``tap``)."""
        self._write(ftype, payload)

    def sample(self, sample: Sample, since_ns: int, busy: list[float], total: list[float]) -> None:
        body = {
            "t": sample.t_ns,
            "since": since_ns,
            "cores": sample.cores,
            "threads": [[pid, tid, pct] for (pid, tid), pct in sample.threads.items()],
            "rss": [[pid, rss] for pid, rss in sample.rss.items()],
            "depth": sample.queue_depth,
            "memory": sample.memory,
            "wait": sample.core_wait_ns,
            "waits": [[pid, tid, pct] for (pid, tid), pct in sample.waits.items()],
            "observer": sample.observer_ns,
            "busy": busy,
            "total": total,
        }
        self._write(FileFrame.SAMPLE, json.dumps(body, separators=(",", ":")).encode())

    def end(self, info: dict[str, Any]) -> None:
        self._write(FileFrame.END, json.dumps({**info, "truncated": self.truncated}).encode())

    def close(self) -> None:
        with self._lock:
            if not self._f.closed:
                self._f.close()


@dataclass(frozen=True)
class Frame:
    ftype: int
    arrival_ns: int
    payload: bytes


def read_frames(path: str | Path) -> tuple[dict[str, Any], list[Frame]]:
    """Returns the header and every frame after it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from None
    frames: list[Frame] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            raise RecordingError(f"{path}: truncated frame header at byte {pos}")
        length, ftype, arrival = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        if len(data) - pos < length:
            raise RecordingError(f"{path}: truncated frame at byte {pos - HEADER.size}")
        frames.append(Frame(ftype, arrival, data[pos : pos + length]))
        pos += length
    if not frames or frames[0].ftype != FileFrame.HEADER:
        raise RecordingError(f"{path}: not a concviz recording")
    try:
        header = json.loads(frames[0].payload)
    except ValueError:
        raise RecordingError(f"{path}: damaged header") from None
    if header.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a concviz recording")
    if header.get("version") != VERSION:
        raise RecordingError(
            f"{path}: recording format {header.get('version')}, expected {VERSION}"
        )
    return header, frames[1:]


def apply(agg: RunAggregate, frame: Frame) -> None:
    """Feeds one recorded frame to an aggregate, as the live observer did."""
    if frame.ftype == FrameType.RECORDS:
        agg.feed_records(frame.payload)
    elif frame.ftype == FrameType.TEXT:
        agg.feed_text(json.loads(frame.payload))
    elif frame.ftype == FileFrame.SAMPLE:
        body = json.loads(frame.payload)
        sample = Sample(
            t_ns=body["t"],
            cores=tuple(body["cores"]),
            threads={(pid, tid): pct for pid, tid, pct in body["threads"]},
            rss={pid: rss for pid, rss in body["rss"]},
            queue_depth=body["depth"],
            memory=body.get("memory"),  # recordings made before concviz measured it have none
            core_wait_ns=body.get("wait"),
            waits={(pid, tid): pct for pid, tid, pct in body.get("waits", [])},
            observer_ns=body.get("observer"),
        )
        agg.add_sample(sample, body["since"], body["busy"], body["total"])
    elif frame.ftype == FileFrame.END:
        info = json.loads(frame.payload)
        if agg.run_end_ns is None and info.get("status"):
            agg.status = str(info["status"])
            agg.run_end_ns = frame.arrival_ns if agg.run_start_ns is not None else None
        if info.get("run_error") and agg.run_error is None:
            agg.run_error = info["run_error"]


class Replay:
    """Plays a recording into its own aggregate on a virtual clock.

    ``advance_to(t)`` applies every frame that arrived up to virtual time ``t``;
    a player thread (``start``) does that in real time times ``speed``. Read
    ``aggregate`` under ``lock``, like a live session's.
    """

    def __init__(self, path: str | Path, speed: float = 1.0) -> None:
        self.path = Path(path)
        self.header, self.frames = read_frames(path)
        self.spec: dict[str, Any] = self.header.get("spec", {})
        self.speed = speed
        self.lock = threading.Lock()
        self.aggregate = RunAggregate(self.spec, track_bins=True)
        self.done = threading.Event()
        self.meta: dict[str, Any] = next(
            (
                obj
                for obj in (json.loads(f.payload) for f in self.frames if f.ftype == FrameType.TEXT)
                if obj.get("type") == "run_start"
            ),
            {},
        )
        self.start_ns = self.frames[0].arrival_ns if self.frames else 0
        self.end_ns = self.frames[-1].arrival_ns if self.frames else 0
        self._next = 0
        self._now = self.start_ns
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, t_ns: int) -> None:
        with self.lock:
            frames = self.frames
            i = self._next
            while i < len(frames) and frames[i].arrival_ns <= t_ns:
                apply(self.aggregate, frames[i])
                i += 1
            self._next = i
            self._now = max(self._now, min(t_ns, self.end_ns))
            self.aggregate.maintain(self._now)
        if self._next >= len(self.frames):
            self.done.set()

    def play_all(self) -> Replay:
        self.advance_to(self.end_ns)
        return self

    def start(self) -> Replay:
        self._thread = threading.Thread(target=self._play, name="concviz-replay", daemon=True)
        self._thread.start()
        return self

    def _play(self) -> None:
        began = time.monotonic_ns()
        while not self._stop.is_set() and not self.done.is_set():
            elapsed = (time.monotonic_ns() - began) * self.speed
            self.advance_to(self.start_ns + int(elapsed))
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)
