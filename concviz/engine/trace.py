"""Writes a run as Chrome Trace Event JSON, which Perfetto and chrome://tracing open.

One track per lane (thread, worker process or async slot) grouped by process;
tasks as complete ("X") slices whose args carry their CPU time and on-CPU
fraction; per-core CPU, per-thread CPU, queue depth and the run's memory as
counter ("C") tracks.
Timestamps are microseconds since the run started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from .aggregate import RunAggregate
from .protocol import Status

_STATUS = {Status.OK: "ok", Status.ERROR: "error", Status.STOPPED: "cancelled"}


def trace_events(agg: RunAggregate) -> list[dict[str, Any]]:
    t0 = agg.run_start_ns or min((lane.up_ns for lane in agg.lane_list), default=0)

    def us(t: int) -> float:
        return (t - t0) / 1000.0

    events: list[dict[str, Any]] = []
    runner = agg.meta.get("pid", 0)
    model = agg.spec.get("model", "?")
    pids = sorted({lane.pid for lane in agg.lane_list} | {runner})
    for pid in pids:
        label = f"runner ({model})" if pid == runner else f"worker process {pid}"
        events.append(
            {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": label}}
        )
    track_of: dict[int, tuple[int, int]] = {}
    for lane in agg.lane_list:
        track = (lane.pid, lane.index + 1)
        track_of[lane.index] = track
        events.append(
            {
                "ph": "M",
                "name": "thread_name",
                "pid": track[0],
                "tid": track[1],
                "args": {"name": agg.lane_label(lane)},
            }
        )
        events.append(
            {
                "ph": "M",
                "name": "thread_sort_index",
                "pid": track[0],
                "tid": track[1],
                "args": {"sort_index": lane.index},
            }
        )

    spans = (
        agg.all_spans
        if agg.keep_all_spans
        else [(lane.index, span) for lane in agg.lane_list for span in lane.spans]
    )
    for index, (task, start, end, cpu, status, part) in spans:
        pid, tid = track_of.get(index, (runner, 0))
        wall = max(end - start, 1)
        name = f"task {task}" if part == 0 else f"task {task} (cpu part)"
        events.append(
            {
                "ph": "X",
                "name": name,
                "cat": _STATUS.get(Status(status), "?"),
                "pid": pid,
                "tid": tid,
                "ts": us(start),
                "dur": wall / 1000.0,
                "args": {
                    "task": task,
                    "status": _STATUS.get(Status(status), "?"),
                    "cpu_ms": round(cpu / 1e6, 3),
                    "on_cpu": round(min(cpu / wall, 1.0), 3),
                },
            }
        )

    at_start = agg.meta.get("memory_at_start")
    if agg.run_start_ns is not None and isinstance(at_start, int) and at_start > 0:
        # The runner's own memory just before the model: all the run's memory then
        # (no worker exists yet), and a reading even for a run shorter than a tick.
        events.append(
            {
                "ph": "C",
                "name": "memory, MiB",
                "pid": runner,
                "tid": 0,
                "ts": us(agg.run_start_ns),
                "args": {"memory": round(at_start / 2**20, 2)},
            }
        )
    for sample in agg.samples:
        ts = us(sample.t_ns)
        if sample.cores:
            events.append(
                {
                    "ph": "C",
                    "name": "CPU % per core",
                    "pid": runner,
                    "tid": 0,
                    "ts": ts,
                    "args": {f"cpu{i}": round(v, 1) for i, v in enumerate(sample.cores)},
                }
            )
        events.append(
            {
                "ph": "C",
                "name": "queue depth",
                "pid": runner,
                "tid": 0,
                "ts": ts,
                "args": {"depth": sample.queue_depth},
            }
        )
        if sample.memory is not None:  # the run's processes together (PSS), in MiB
            events.append(
                {
                    "ph": "C",
                    "name": "memory, MiB",
                    "pid": runner,
                    "tid": 0,
                    "ts": ts,
                    "args": {"memory": round(sample.memory / 2**20, 2)},
                }
            )
        for (pid, tid), pct in sample.threads.items():
            events.append(
                {
                    "ph": "C",
                    "name": f"CPU % thread {tid}",
                    "pid": pid,
                    "tid": 0,
                    "ts": ts,
                    "args": {"cpu": round(pct, 1)},
                }
            )
    return events


def write_trace(agg: RunAggregate, out: str | Path | IO[str]) -> None:
    doc = {
        "traceEvents": trace_events(agg),
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": "concviz",
            "summary": agg.summary().as_dict(),
        },
    }
    if isinstance(out, (str, Path)):
        with open(out, "w") as f:
            json.dump(doc, f)
    else:
        json.dump(doc, out)
