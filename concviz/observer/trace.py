"""Writes a run as Chrome Trace Event JSON, which Perfetto and chrome://tracing open.

One track per lane, on the OS thread it ran on: ``pid`` and ``tid`` are the real
process and thread ids, and the lane's label is the thread's name. Async task
slots share their event loop's thread, and overlapping tasks cannot share one
track, so each slot gets a track of its own with a made-up ``tid`` (at or above
``SYNTHETIC_TID_BASE``, no real thread's) named "slot N (tid T)" after the real one.

Tasks are complete ("X") slices whose args carry their CPU time and on-CPU
fraction. Counters ("C"): CPU % per core, the queue's depth and the run's memory
in the runner's process; each observed thread's CPU % in the process that owns
it. The Trace Event Format has no thread-scoped counters (Perfetto puts every
"C" event on a process track, named "<name> <arg key>"), so the names are chosen
to read right that way: "CPU % core 0", "queue depth", "memory MiB",
"thread CPU % tid 1234".

Timestamps are microseconds from the earliest thing in the trace (a sampler tick
may come just before the model starts): never negative, which Perfetto drops.
A global instant event marks the run's start (and its end); ``otherData`` says
where the run started, and which tool and version wrote the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

from .. import __version__
from ..runner.protocol import Status
from .aggregate import RunAggregate, Summary
from .timeline import Lane

_STATUS = {Status.OK: "ok", Status.ERROR: "error", Status.STOPPED: "cancelled"}

#: Made-up thread ids (for async slots) start here: above any Linux thread id
#: (pid_max is at most 2**22), below 2**31 for readers that take ids as int32.
SYNTHETIC_TID_BASE = 1 << 30


def _tracks(agg: RunAggregate) -> dict[int, tuple[int, int, str]]:
    """(pid, tid, thread name) for each lane index: the real thread where one lane
    had it alone (or lanes one after another), a made-up tid where lanes shared it."""
    real = {(lane.pid, lane.tid) for lane in agg.lane_list}
    used = {tid for _, tid in real}
    owner: dict[tuple[int, int], Lane] = {}
    tracks: dict[int, tuple[int, int, str]] = {}
    synthetic = SYNTHETIC_TID_BASE
    for lane in agg.lane_list:
        label = agg.lane_label(lane)
        key = (lane.pid, lane.tid)
        first = None if lane.coroutine else owner.setdefault(key, lane)
        if first is not None and (first is lane or _apart(first, lane)):
            tracks[lane.index] = (lane.pid, lane.tid, label)
            continue
        while synthetic in used:
            synthetic += 1
        used.add(synthetic)
        tracks[lane.index] = (lane.pid, synthetic, f"{label} (tid {lane.tid})")
    return tracks


def _apart(first: Lane, later: Lane) -> bool:
    """Two lanes on one thread id one after another (the OS reused the id)."""
    return first.down_ns is not None and first.down_ns <= later.up_ns


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as null: strict JSON, which Perfetto needs."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def trace_events(agg: RunAggregate) -> list[dict[str, Any]]:
    """The trace's events, their ``ts`` in µs from the earliest of them (never negative)."""
    events: list[dict[str, Any]] = []  # "ts" in absolute ns until the end
    runner = int(agg.meta.get("pid", 0))
    model = agg.spec.get("model", "?")
    pids = sorted({lane.pid for lane in agg.lane_list} | {runner})
    for pid in pids:
        label = f"runner ({model})" if pid == runner else f"worker process {pid}"
        events.append(
            {"ph": "M", "name": "process_name", "pid": pid, "tid": pid, "args": {"name": label}}
        )
        events.append(
            {
                "ph": "M",
                "name": "process_sort_index",
                "pid": pid,
                "tid": pid,
                "args": {"sort_index": 0 if pid == runner else 1},
            }
        )
    tracks = _tracks(agg)
    named: set[tuple[int, int]] = set()
    for lane in agg.lane_list:
        pid, tid, name = tracks[lane.index]
        if (pid, tid) in named:
            continue
        named.add((pid, tid))
        for meta, args in (
            ("thread_name", {"name": name}),
            ("thread_sort_index", {"sort_index": lane.index}),
        ):
            events.append({"ph": "M", "name": meta, "pid": pid, "tid": tid, "args": args})

    spans = (
        agg.all_spans
        if agg.keep_all_spans
        else [(lane.index, span) for lane in agg.lane_list for span in lane.spans]
    )
    for index, (task, start, end, cpu, status, part) in spans:
        pid, tid, _ = tracks.get(index, (runner, runner, ""))
        wall = max(end - start, 1)
        name = f"task {task}" if part == 0 else f"task {task} (cpu part)"
        outcome = _STATUS.get(Status(status), "?")
        events.append(
            {
                "ph": "X",
                "name": name,
                "cat": outcome,
                "pid": pid,
                "tid": tid,
                "ts": start,
                "dur": wall / 1000.0,
                "args": {
                    "task": task,
                    "status": outcome,
                    "cpu_ms": round(max(cpu, 0) / 1e6, 3),
                    "on_cpu": round(min(max(cpu, 0) / wall, 1.0), 3),
                },
            }
        )

    def counter(name: str, pid: int, t: int, args: dict[str, float]) -> None:
        values = {k: v for k, v in args.items() if _finite(v)}
        if values:
            events.append(
                {"ph": "C", "name": name, "pid": pid, "tid": pid, "ts": t, "args": values}
            )

    at_start = agg.meta.get("memory_at_start")
    if agg.run_start_ns is not None and isinstance(at_start, int) and at_start > 0:
        # The runner's own memory just before the model: all the run's memory then
        # (no worker exists yet), and a reading even for a run shorter than a tick.
        counter("memory", runner, agg.run_start_ns, {"MiB": round(at_start / 2**20, 2)})
    for sample in agg.samples:
        t = sample.t_ns
        if sample.cores:
            counter(
                "CPU %", runner, t, {f"core {i}": round(v, 1) for i, v in enumerate(sample.cores)}
            )
        counter("queue", runner, t, {"depth": sample.queue_depth})
        if sample.memory is not None:  # the run's processes together (PSS), in MiB
            counter("memory", runner, t, {"MiB": round(sample.memory / 2**20, 2)})
        per_process: dict[int, dict[str, float]] = {}
        for (pid, tid), pct in sorted(sample.threads.items()):
            per_process.setdefault(pid, {})[f"tid {tid}"] = round(pct, 1)
        for pid, values in per_process.items():  # in the thread's own process
            counter("thread CPU %", pid, t, values)

    if agg.run_start_ns is not None:
        events.append(_instant("run start", runner, agg.run_start_ns))
        if agg.run_end_ns is not None:
            events.append(_instant(f"run end ({agg.status})", runner, agg.run_end_ns))

    t0 = _origin(agg, events)
    for event in events:
        if "ts" in event:
            event["ts"] = (event["ts"] - t0) / 1000.0
    return events


def _instant(name: str, pid: int, t: int) -> dict[str, Any]:
    return {"ph": "i", "s": "g", "name": name, "pid": pid, "tid": pid, "ts": t}


def _origin(agg: RunAggregate, events: list[dict[str, Any]]) -> int:
    """The trace's time zero, in monotonic ns: its earliest event (else the run's start)."""
    stamps = [e["ts"] for e in events if "ts" in e]
    if stamps:
        return int(min(stamps))
    return agg.run_start_ns or min((lane.up_ns for lane in agg.lane_list), default=0)


def trace_document(agg: RunAggregate, summary: Summary | None = None) -> dict[str, Any]:
    """The whole JSON document: events and ``otherData``.

    ``summary``: the run's as shown, findings and all (None: the aggregate's figures).

    No ``displayTimeUnit``: chrome://tracing shows ms without it, and Perfetto
    ignores it and says so in its stats (json_display_time_unit).
    """
    events = trace_events(agg)
    start = next((e["ts"] for e in events if e.get("name") == "run start"), None)
    return {
        "traceEvents": events,
        "otherData": _json_safe(
            {
                "tool": "concviz",
                "version": __version__,
                "generator": f"concviz {__version__}",
                "run_start_us": start,
                "spec": agg.spec,
                "summary": (summary or agg.summary()).as_dict(),
            }
        ),
    }


def write_trace(
    agg: RunAggregate, out: str | Path | IO[str], summary: Summary | None = None
) -> None:
    doc = trace_document(agg, summary)
    if isinstance(out, (str, Path)):
        with open(out, "w") as f:
            json.dump(doc, f, allow_nan=False)
    else:
        json.dump(doc, out, allow_nan=False)


def recording_aggregate(path: str | Path) -> RunAggregate:
    """A recording played back at once into an aggregate that keeps every span."""
    from .recording import apply, damage_note, read_recording  # noqa: PLC0415

    recording = read_recording(path)
    agg = RunAggregate(recording.header.get("spec", {}), keep_all_spans=True)
    for frame in recording.frames:
        apply(agg, frame)
    if recording.damage is not None:
        agg.transport_errors.append(damage_note(recording.damage))
    return agg
