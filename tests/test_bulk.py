"""The bulk (NumPy) path against the record-by-record loop: same stream, same run model.

The loop in :meth:`RunAggregate.feed_loop` is the reference. Random streams,
realistic and hostile (duplicate ids, finishes without starts, finishes before
their starts, other processes, rare kinds mid-frame, tasks across bins and
blocks), are fed to one aggregate in bulk and to another through the loop, cut
into the same frames; every field of the two must then be equal.
"""

from __future__ import annotations

from dataclasses import fields
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from concviz.observer import aggregate as agg_mod
from concviz.observer import bulk
from concviz.observer.aggregate import RunAggregate
from concviz.observer.timeline import BIN_NS, BLOCK_SEALED_NS, Lane
from concviz.runner.protocol import RECORD, START_COROUTINE, START_IN_PARTS, Kind, Status

RUNNER = 100
SPEC = {"model": "threads", "workload": "cpu", "workers": 4, "tasks": 100}


def lane_state(lane: Lane) -> dict[str, Any]:
    state = {f.name: getattr(lane, f.name) for f in fields(lane)}
    state["spans"] = list(lane.spans)
    return state


def state(agg: RunAggregate) -> dict[str, Any]:
    skip = {"lanes", "lane_list", "_inflight", "_span_inflight", "recent_frames", "bulk"}
    skip.add("_live_threads")
    out = {k: v for k, v in vars(agg).items() if k not in skip}
    out["lanes"] = [lane_state(lane) for lane in agg.lane_list]
    out["lane_keys"] = sorted((key, lane.index) for key, lane in agg.lanes.items())
    out["inflight"] = {k: (v[0].index, v[1], v[2]) for k, v in agg.inflight.items()}
    out["span_inflight"] = {k: (v[0].index, v[1], v[2]) for k, v in agg._span_inflight.items()}
    out["recent_frames"] = list(agg.recent_frames)
    out["live_threads"] = {k: [lane.index for lane in v] for k, v in agg._live_threads.items()}
    return out


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    """Records as a run might send them (and some it should not), and where frames end."""
    lanes = [(RUNNER, 1, 0), (RUNNER, 2, 0), (RUNNER, 1, 1), (RUNNER, 1, 2), (RUNNER + 1, 7, 0)]
    t = 10**12
    records: list[bytes] = []
    running: dict[tuple[int, int, int], tuple[int, int]] = {}  # lane -> (task, flags)
    next_task = 0
    finished: list[int] = []
    for _ in range(draw(st.integers(0, 160))):
        t += draw(st.sampled_from([1_000, 20_000, BIN_NS // 3, BIN_NS * 2, BLOCK_SEALED_NS + 1]))
        lane = draw(st.sampled_from(lanes))
        pid, tid, slot = lane
        what = draw(
            st.sampled_from(
                ["queued"] * 3 + ["start"] * 4 + ["finish"] * 4 + ["odd", "rare", "orphan"]
            )
        )
        if what == "queued":
            records.append(RECORD.pack(Kind.TASK_QUEUED, 0, 0, RUNNER, 1, next_task, t, 0, 5))
        elif what == "start" and lane not in running:
            flags = draw(st.sampled_from([0, 0, START_COROUTINE, START_IN_PARTS]))
            running[lane] = (next_task, flags)
            records.append(RECORD.pack(Kind.TASK_START, flags, slot, pid, tid, next_task, t, 0, 0))
            next_task += 1
        elif what == "finish" and lane in running:
            task, _ = running.pop(lane)
            status = draw(st.sampled_from([Status.OK, Status.OK, Status.ERROR, Status.STOPPED]))
            cpu = draw(st.integers(0, 50_000))
            records.append(RECORD.pack(Kind.TASK_FINISH, status, slot, pid, tid, task, t, cpu, cpu))
            finished.append(task)
        elif what == "orphan":  # a finish whose start never came (or came on another connection)
            task = draw(st.integers(1000, 1010))
            records.append(RECORD.pack(Kind.TASK_FINISH, 0, slot, pid, tid, task, t, 0, 9))
        elif what == "odd":  # an id seen before: started again, or finished twice
            task = draw(st.sampled_from([*finished, 0, 1]))
            kind = draw(st.sampled_from([Kind.TASK_START, Kind.TASK_FINISH]))
            records.append(RECORD.pack(kind, 0, slot, pid, tid, task, t, 0, 3))
        elif what == "rare":
            kind = draw(
                st.sampled_from(
                    [
                        Kind.WORKER_UP,
                        Kind.WORKER_DOWN,
                        Kind.TASK_CANCELLED,
                        Kind.QUEUE_DEPTH,
                        Kind.DROPPED,
                        Kind.SPAN_START,
                        Kind.SPAN_FINISH,
                    ]
                )
            )
            records.append(RECORD.pack(kind, 0, slot, pid, tid, next_task, t, 0, 2))
    cuts = sorted(draw(st.lists(st.integers(0, len(records)), max_size=6)))
    return records, cuts


def feed_both(records: list[bytes], cuts: list[int], real_queue: bool) -> tuple[Any, Any]:
    aggs = []
    for use_bulk in (True, False):
        agg = RunAggregate(SPEC, track_bins=True, bulk=use_bulk)
        agg.real_queue = real_queue
        agg.feed_records(RECORD.pack(Kind.RUN_START, 0, 0, RUNNER, 1, 0, 10**12, 0, 0))
        bounds = [0, *cuts, len(records)]
        for lo, hi in pairwise(bounds):
            if hi > lo:
                agg.feed_records(b"".join(records[lo:hi]))
        aggs.append(agg)
    return state(aggs[0]), state(aggs[1])


@pytest.fixture
def tiny_segments(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Bulk from the first record on, and a log of what each segment did."""
    monkeypatch.setattr(agg_mod, "_BULK_BYTES", RECORD.size)
    monkeypatch.setattr(bulk, "MIN_SEGMENT", 1)
    outcomes: list[bool] = []
    segment = bulk._segment

    def logged(agg: RunAggregate, seg: Any) -> bool:
        outcomes.append(segment(agg, seg))
        return outcomes[-1]

    monkeypatch.setattr(bulk, "_segment", logged)
    return outcomes


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(stream=streams(), real_queue=st.booleans())
def test_bulk_matches_the_loop_exactly(
    tiny_segments: list[bool], stream: tuple[list[bytes], list[int]], real_queue: bool
) -> None:
    records, cuts = stream
    with_bulk, with_loop = feed_both(records, cuts, real_queue)
    assert with_bulk == with_loop


def test_random_streams_do_take_the_bulk_path(tiny_segments: list[bool]) -> None:
    """The comparison above means nothing if every segment fell back to the loop."""
    records: list[bytes] = []
    t = 10**12
    for task in range(600):  # four threads, tasks of 0.2 ms, some across bin edges
        tid = 1 + task % 4
        records.append(RECORD.pack(Kind.TASK_QUEUED, 0, 0, RUNNER, 1, task, t, 0, 0))
        records.append(RECORD.pack(Kind.TASK_START, 0, 0, RUNNER, tid, task, t + 1, 0, 0))
        t += 200_000
        records.append(RECORD.pack(Kind.TASK_FINISH, 0, 0, RUNNER, tid, task, t, 0, 90_000))
    records.insert(900, RECORD.pack(Kind.QUEUE_DEPTH, 0, 0, RUNNER, 1, 0, t, 0, 3))
    with_bulk, with_loop = feed_both(records, [700, 1200], real_queue=False)
    assert with_bulk == with_loop
    assert with_bulk["completed"] == 600
    assert all(tiny_segments)
    assert len(tiny_segments) == 4  # three frames, one split by the QUEUE_DEPTH record


def test_frames_the_bulk_path_cannot_match_fall_back(tiny_segments: list[bool]) -> None:
    start = RECORD.pack(Kind.TASK_START, 0, 0, RUNNER, 1, 5, 10**12, 0, 0)
    finish = RECORD.pack(Kind.TASK_FINISH, 0, 0, RUNNER, 1, 5, 10**12 + 9, 0, 0)
    with_bulk, with_loop = feed_both([start, finish, start, finish], [], real_queue=False)
    assert with_bulk == with_loop
    assert tiny_segments == [False]  # task 5 twice in one frame: the loop's job


def test_several_failures_in_one_bin_are_counted_each(tiny_segments: list[bool]) -> None:
    """Random streams seldom fail twice in one 10 ms bin of one lane; this one does."""
    records: list[bytes] = []
    t = 10**12
    for task in range(40):  # two threads, tasks of 0.1 ms, every third one failing
        tid = 1 + task % 2
        status = Status.ERROR if task % 3 == 0 else Status.OK
        records.append(RECORD.pack(Kind.TASK_START, 0, 0, RUNNER, tid, task, t, 0, 0))
        t += 100_000
        records.append(RECORD.pack(Kind.TASK_FINISH, status, 0, RUNNER, tid, task, t, 0, 50_000))
    with_bulk, with_loop = feed_both(records, [], real_queue=False)
    assert tiny_segments == [True]
    assert with_bulk == with_loop
    fail_counts = [n for lane in with_bulk["lanes"] for n in lane["fail_bins"].values()]
    assert sum(fail_counts) == 14
    assert max(fail_counts) > 1
