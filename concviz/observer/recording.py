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
import math
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..runner.protocol import MAX_FRAME, RECORD, RECORD_SIZE, FrameType, Kind
from .aggregate import RunAggregate, Sample

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
    #: What the payload says, decoded and checked when it was read (None: RECORDS).
    body: Any = None


#: The largest frame a reader accepts: a wire frame's bound (a recorded frame is one).
MAX_FRAME_BYTES = MAX_FRAME
#: The header frame is a few hundred bytes of JSON.
MAX_HEADER_BYTES = 1024 * 1024
#: A reader stops past this: no recorder writes more (the last END frame included).
MAX_FILE_BYTES = MAX_BYTES + MAX_HEADER_BYTES + MAX_FRAME_BYTES
#: Clocks of the recorded events may lead or trail the arrival stamps by this much.
CLOCK_SLACK_NS = 1_000_000_000
#: Longest plausible silence between two frames (a damaged stamp would stall a replay).
MAX_GAP_NS = 600 * 1_000_000_000
_KINDS = frozenset(int(k) for k in Kind)


@dataclass(frozen=True)
class Recording:
    """A recording as read: its header, its frames up to any damage, and the damage."""

    header: dict[str, Any]
    frames: list[Frame]
    #: Where the file stops being readable and why (None: the whole file is sound).
    damage: str | None = None


def read_frames(path: str | Path) -> tuple[dict[str, Any], list[Frame]]:
    """Returns the header and every sound frame after it (see :func:`read_recording`)."""
    recording = read_recording(path)
    return recording.header, recording.frames


def read_recording(path: str | Path) -> Recording:
    """Reads and checks a recording, frame by frame.

    Raises :class:`RecordingError` if the file is not a recording (or its header
    is damaged). Damage further on ends the frames there: the rest is dropped and
    ``damage`` says where and why. Every length is bounded before it is read, so
    a huge or endless file (``/dev/zero``) costs no more than a real recording.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from None
    try:
        with f:
            return _read(f, str(path))
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from None


def _read(f: IO[bytes], path: str) -> Recording:
    head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        raise RecordingError(f"{path}: not a concviz recording (too short)")
    length, ftype, start_ns = HEADER.unpack(head)
    if ftype != FileFrame.HEADER or length > MAX_HEADER_BYTES:
        raise RecordingError(f"{path}: not a concviz recording")
    payload = f.read(length)
    if len(payload) < length:
        raise RecordingError(f"{path}: not a concviz recording (truncated header)")
    try:
        header = json.loads(payload)
    except ValueError:
        raise RecordingError(f"{path}: not a concviz recording (damaged header)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a concviz recording")
    if header.get("version") != VERSION:
        raise RecordingError(
            f"{path}: recording format {header.get('version')!r}, expected {VERSION}"
        )
    if not isinstance(header.get("spec", {}), dict):
        raise RecordingError(f"{path}: damaged header (its spec is not an object)")
    frames: list[Frame] = []
    pos = HEADER.size + length
    last_ns = start_ns
    damage: str | None = None
    while True:
        head = f.read(HEADER.size)
        if not head:
            break
        where = f"{path}: damaged at byte {pos} (frame {len(frames) + 1})"
        if len(head) < HEADER.size:
            damage = f"{where}: truncated frame header"
            break
        length, ftype, arrival_ns = HEADER.unpack(head)
        if ftype not in _FRAME_TYPES:
            damage = f"{where}: unknown frame type {ftype}"
            break
        if length > MAX_FRAME_BYTES or pos + HEADER.size + length > MAX_FILE_BYTES:
            damage = f"{where}: a frame of {length:,} bytes, larger than any recorded"
            break
        if not last_ns <= arrival_ns <= last_ns + MAX_GAP_NS:
            damage = f"{where}: its time stamp is out of order"
            break
        payload = f.read(length)
        if len(payload) < length:
            damage = f"{where}: truncated frame ({len(payload)} of {length} bytes)"
            break
        try:
            body = _decode(ftype, payload, start_ns - CLOCK_SLACK_NS, arrival_ns + CLOCK_SLACK_NS)
        except KeyError as exc:
            damage = f"{where}: a {_NAMES.get(ftype, 'frame')} without its {exc} field"
            break
        except (ValueError, TypeError, OverflowError) as exc:
            damage = f"{where}: {_NAMES.get(ftype, 'frame')}: {exc}"
            break
        frames.append(Frame(ftype, arrival_ns, payload, body))
        pos += HEADER.size + length
        last_ns = arrival_ns
    if damage is not None and not frames:
        raise RecordingError(damage)
    return Recording(header, frames, damage)


_FRAME_TYPES = frozenset({FrameType.RECORDS, FrameType.TEXT, FileFrame.SAMPLE, FileFrame.END})


_NAMES = {
    FrameType.RECORDS: "RECORDS frame",
    FrameType.TEXT: "TEXT frame",
    FileFrame.SAMPLE: "SAMPLE frame",
    FileFrame.END: "END frame",
}


def _decode(ftype: int, payload: bytes, lo_ns: int, hi_ns: int) -> Any:
    """Checks a frame's payload; returns what it says (raises ValueError if it is damaged)."""
    if ftype == FrameType.RECORDS:
        if len(payload) % RECORD_SIZE:
            raise ValueError(f"{len(payload)} bytes of records, not a multiple of {RECORD_SIZE}")
        for kind, *_, t_ns, _cpu, _aux in RECORD.iter_unpack(payload):
            if kind not in _KINDS:
                raise ValueError(f"an event of unknown kind {kind}")
            if not lo_ns <= t_ns <= hi_ns:
                raise ValueError("an event's time lies outside the recording")
        return None
    body = json.loads(payload)
    if not isinstance(body, dict):
        raise ValueError("its JSON is not an object")
    if ftype == FrameType.TEXT:
        if "spec" in body and not isinstance(body["spec"], dict):
            raise ValueError("a run_start whose spec is not an object")
        return body
    if ftype == FileFrame.SAMPLE:
        return _sample(body, lo_ns, hi_ns)
    if not isinstance(body.get("run_error") or {}, dict):
        raise ValueError("its run_error is not an object")
    return body  # END: how the run ended, read with .get()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _optional(value: Any) -> int | None:
    return None if value is None else int(_number(value))


def _triples(rows: Any) -> dict[tuple[int, int], float]:
    if not isinstance(rows, list):
        raise ValueError("a sample's per-thread list is not a list")
    out: dict[tuple[int, int], float] = {}
    for row in rows:
        if not isinstance(row, list) or len(row) != 3:
            raise ValueError("a sample's per-thread entry is not [pid, tid, %]")
        out[(_int(row[0]), _int(row[1]))] = _number(row[2])
    return out


def _numbers(rows: Any) -> list[float]:
    if not isinstance(rows, list):
        raise ValueError("a sample's per-core list is not a list")
    return [_number(x) for x in rows]


def _sample(
    body: dict[str, Any], lo_ns: int, hi_ns: int
) -> tuple[Sample, int, list[float], list[float]]:
    t_ns = _int(body["t"])
    since = _int(body["since"])
    if not lo_ns <= t_ns <= hi_ns or not since <= t_ns:
        raise ValueError("a sample's time lies outside the recording")
    rss = body["rss"]
    if not isinstance(rss, list) or not all(isinstance(r, list) and len(r) == 2 for r in rss):
        raise ValueError("a sample's memory list is not [[pid, bytes], ...]")
    sample = Sample(
        t_ns=t_ns,
        cores=tuple(_numbers(body["cores"])),
        threads=_triples(body["threads"]),
        rss={_int(pid): _int(size) for pid, size in rss},
        queue_depth=_int(body["depth"]),
        memory=_optional(
            body.get("memory")
        ),  # recordings made before concviz measured it have none
        core_wait_ns=_optional(body.get("wait")),
        waits=_triples(body.get("waits", [])),
        observer_ns=_optional(body.get("observer")),
    )
    return sample, since, _numbers(body["busy"]), _numbers(body["total"])


def apply(agg: RunAggregate, frame: Frame) -> None:
    """Feeds one recorded frame (as read by :func:`read_recording`) to an aggregate."""
    body = frame.body
    if frame.ftype == FrameType.RECORDS:
        agg.feed_records(frame.payload)
    elif frame.ftype == FrameType.TEXT:
        agg.feed_text(body)
    elif frame.ftype == FileFrame.SAMPLE:
        sample, since, busy, total = body
        agg.add_sample(sample, since, busy, total)
    elif frame.ftype == FileFrame.END:
        if agg.run_end_ns is None and body.get("status"):
            agg.status = str(body["status"])
            agg.run_end_ns = frame.arrival_ns if agg.run_start_ns is not None else None
        if body.get("run_error") and agg.run_error is None:
            agg.run_error = body["run_error"]


def damage_note(damage: str) -> str:
    """What a replay of a damaged file says where it stops (one line)."""
    return f"replay stopped: {damage}; the rest of the file is lost"


class Replay:
    """Plays a recording into its own aggregate on a virtual clock.

    ``advance_to(t)`` applies every frame that arrived up to virtual time ``t``;
    a player thread (``start``) does that in real time times ``speed``. Read
    ``aggregate`` under ``lock``, like a live session's.
    """

    def __init__(self, path: str | Path, speed: float = 1.0) -> None:
        self.path = Path(path)
        recording = read_recording(path)
        self.header, self.frames = recording.header, recording.frames
        #: Where the file is damaged (it plays up to there and then says so), or None.
        self.damage = recording.damage
        self.spec: dict[str, Any] = self.header.get("spec", {})
        self.speed = speed
        self.lock = threading.Lock()
        self.aggregate = RunAggregate(self.spec, track_bins=True)
        self.done = threading.Event()
        self.meta: dict[str, Any] = next(
            (
                obj
                for obj in (f.body for f in self.frames if f.ftype == FrameType.TEXT)
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
            if i >= len(frames) and not self.done.is_set():
                if self.damage is not None:  # on screen where transport faults go
                    self.aggregate.transport_errors.append(damage_note(self.damage))
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
