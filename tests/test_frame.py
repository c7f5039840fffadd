"""The dashboard's frame: every view it paints, built from an aggregate at a chosen time.

No terminal, no Pilot, no child process: records are fed into a RunAggregate
(as the event reader would), frames are built at chosen times and geometries,
and what they hold is checked. Building a frame only reads the aggregate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import fields, is_dataclass

import pytest

from concviz.observer.aggregate import RunAggregate, Sample
from concviz.observer.spans import SpanRing
from concviz.runner.protocol import RECORD, Kind
from concviz.tui.frame import Geometry, Stamp, dashboard_frame
from concviz.tui.view import TimelineCache, timeline_view

MS = 1_000_000
RUNNER = 100


def rec(kind: Kind, t_ms: float, task: int = 0, tid: int = 1, aux: int = 0) -> bytes:
    return RECORD.pack(kind, 0, 0, RUNNER, tid, task, int(t_ms * MS), 0, aux)


def run(workers: int = 2, tasks: int = 40_000) -> RunAggregate:
    agg = RunAggregate(
        {"model": "threads", "workload": "cpu", "workers": workers, "tasks": tasks},
        track_bins=True,
    )
    agg.feed_text({"type": "run_start", "pid": RUNNER, "python": "3.11.7", "gil_enabled": True})
    agg.feed_records(rec(Kind.RUN_START, 0))
    return agg


def dense(agg: RunAggregate, tid: int, first: int, until_ms: int, task_ms: int = 5) -> None:
    """Back-to-back tasks on one lane, half on CPU: far more than its span ring keeps."""
    agg.feed_records(
        b"".join(
            rec(Kind.TASK_START, t, first + i, tid=tid)
            + rec(Kind.TASK_FINISH, t + task_ms, first + i, tid=tid, aux=task_ms * MS // 2)
            for i, t in enumerate(range(0, until_ms, task_ms))
        )
    )


def sample(agg: RunAggregate, t_ms: int, tids: tuple[int, ...]) -> None:
    agg.add_sample(
        Sample(t_ms * MS, (80.0, 30.0), {(RUNNER, t): 50.0 for t in tids}, {RUNNER: 30 << 20}, 2),
        (t_ms - 100) * MS,
        [0.08, 0.03],
        [0.1, 0.1],
    )


def state(obj: object) -> object:
    """Everything reachable from ``obj`` as plain values, for comparing before and after."""
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return obj
    if isinstance(obj, dict):
        return {k: state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, deque)):
        return (type(obj).__name__, [state(v) for v in obj])
    if isinstance(obj, (set, frozenset)):
        return sorted(map(repr, obj))
    if isinstance(obj, SpanRing):
        return [tuple(span) for span in obj]
    if is_dataclass(obj):
        return {f.name: state(getattr(obj, f.name)) for f in fields(obj)}
    if hasattr(obj, "__dict__"):
        return {k: state(v) for k, v in vars(obj).items()}
    return repr(obj)


@pytest.fixture
def long_run() -> RunAggregate:
    """Two lanes busy for 40 s in 5 ms tasks; their older history lives in bins only."""
    agg = run()
    dense(agg, 11, 0, 40_000)
    dense(agg, 12, 100_000, 40_000)
    for t in range(100, 40_001, 100):
        sample(agg, t, (11, 12))
    return agg


def test_drawing_a_long_run_zoomed_out_leaves_the_aggregate_as_it_was(
    long_run: RunAggregate,
) -> None:
    """Cells a second wide or more sum whole blocks of bins: reading them writes nothing."""
    before = state(long_run)
    view = timeline_view(long_run, 50_000 * MS, columns=20, max_rows=10, window_s=None)
    assert view.rows
    assert all(c.glyph != " " for c in view.rows[0].cells[:10])
    assert state(long_run) == before


def seconds(agg: RunAggregate, lane_index: int, first: int, last: int) -> list[float]:
    lane = agg.lane_list[lane_index]
    return [
        x
        for t in range(first * 1000 * MS, last * 1000 * MS, 1000 * MS)
        for x in agg.busy_between(lane, t, t + 1000 * MS)
    ]


@pytest.mark.parametrize("bulk", [False, True])
def test_sealed_seconds_are_summed_by_the_engine_and_read_the_same(bulk: bool) -> None:
    agg = run()
    agg.bulk = bulk
    dense(agg, 11, 0, 40_000)
    dense(agg, 12, 100_000, 40_000)
    read_before = seconds(agg, 0, 0, 40)
    assert not any(lane.blocks for lane in agg.lane_list)
    agg.maintain(50_000 * MS)
    assert len(agg.lane_list[0].blocks) == 40  # the engine's own step summed them
    assert seconds(agg, 0, 0, 40) == pytest.approx(read_before)
    # Late work landing in summed seconds counts: a long span, and short ones (each within
    # a bin: the bulk path sums those column-wise).
    agg.feed_records(
        rec(Kind.TASK_START, 40_000, 900_000, tid=12)
        + rec(Kind.TASK_FINISH, 48_000, 900_000, tid=12, aux=MS)
    )
    assert seconds(agg, 1, 40, 48) == pytest.approx([1000 * MS, MS / 8] * 8)
    agg.feed_records(
        b"".join(
            rec(Kind.TASK_START, 41_000 + i * 0.5, 800_000 + i, tid=11)
            + rec(Kind.TASK_FINISH, 41_000 + i * 0.5 + 0.4, 800_000 + i, tid=11, aux=0)
            for i in range(200)
        )
    )
    assert seconds(agg, 0, 41, 42) == pytest.approx([80 * MS, 0])
    agg.maintain(60_000 * MS)  # summed again, the same
    assert seconds(agg, 1, 40, 48) == pytest.approx([1000 * MS, MS / 8] * 8)
    assert seconds(agg, 0, 41, 42) == pytest.approx([80 * MS, 0])


def test_reading_a_summary_before_the_next_tick_leaves_the_aggregate_as_it_was() -> None:
    """Ticks taken before the run's start arrived count, without the read folding them in."""
    agg = RunAggregate({"model": "threads", "workload": "cpu", "workers": 2, "tasks": 4})
    agg.feed_text({"type": "run_start", "pid": RUNNER, "cpu_count": 2})
    sample(agg, 100, (11,))  # the run's events reach us after the tick that covers it
    agg.feed_records(rec(Kind.RUN_START, 20) + rec(Kind.RUN_END, 60))
    before = state(agg)
    assert agg.summary(100 * MS).core_utilisation == pytest.approx([80.0, 30.0])
    assert agg.core_utilisation() == pytest.approx([80.0, 30.0])
    assert state(agg) == before
    sample(agg, 200, (11,))  # the next tick folds it in for good: the same figures
    assert agg.summary(200 * MS).core_utilisation == pytest.approx([80.0, 30.0])


def test_a_frame_holds_every_view_the_dashboard_paints(long_run: RunAggregate) -> None:
    long_run.feed_records(rec(Kind.TASK_START, 40_000, 999_999, tid=11))  # one in flight
    long_run.maintain(41_000 * MS)
    frame = dashboard_frame(long_run, 41_000 * MS, Geometry(columns=30, rows=8), smooth=4)
    assert frame.now_ns == 41_000 * MS
    assert frame.stamp == Stamp(events=long_run.events, samples=400, status="running")
    header = frame.header
    assert (header.done, header.tasks, header.elapsed_s) == (16_000, 40_000, 41.0)
    assert header.eta_s == pytest.approx(41.0 / 16_000 * 24_000)
    timeline = frame.timeline
    assert timeline is not None
    assert (timeline.start_s, timeline.end_s, timeline.lanes) == (0.0, 45.0, 2)
    assert [row.label for row in timeline.rows] == ["tid 11", "tid 12"]
    assert all(len(row.cells) == 30 for row in timeline.rows)
    assert frame.panels is not None
    assert [c.label for c in frame.panels.cores] == ["cpu0", "cpu1"]
    assert frame.panels.cores[0].history[-1] == 80.0
    assert frame.panels.queue.history[-1] == 2.0
    assert [r.label for r in frame.panels.workers.rows] == ["tid 11", "tid 12"]
    assert frame.panels.has_figures
    assert frame.panels.summary.completed == 16_000
    assert frame.panels.summary.core_utilisation == [80.0, 30.0]
    assert frame.events is not None
    assert frame.events[0].task == 999_999  # newest first


def test_geometry_and_parts_shape_the_frame() -> None:
    agg = run(workers=8, tasks=100)
    agg.feed_records(
        b"".join(
            rec(Kind.TASK_START, 0, tid, tid=tid) + rec(Kind.TASK_FINISH, 500, tid, tid=tid)
            for tid in range(20, 28)
        )
    )
    for t in range(100, 1001, 100):
        sample(agg, t, tuple(range(20, 28)))
    now = 1_000 * MS
    wide = dashboard_frame(agg, now, Geometry(columns=50, rows=10, window_s=0.5, end_ns=600 * MS))
    narrow = dashboard_frame(agg, now, Geometry(columns=20, rows=3, narrow=True))
    assert wide.timeline is not None
    assert narrow.timeline is not None
    assert (wide.timeline.start_s, wide.timeline.end_s) == pytest.approx((0.1, 0.6))
    assert len(wide.timeline.rows[0].cells) == 50
    assert len(narrow.timeline.rows[0].cells) == 20
    assert (wide.timeline.per_row, narrow.timeline.per_row) == (1, 3)  # too many: grouped
    assert wide.panels is not None
    assert narrow.panels is not None
    assert len(wide.panels.workers.rows) > len(narrow.panels.workers.rows)
    header_only = dashboard_frame(
        agg, now, Geometry(columns=20, rows=3), timeline=False, panels=False, events=False
    )
    assert (header_only.timeline, header_only.panels, header_only.events) == (None, None, None)
    assert header_only.header == wide.header


def test_building_frames_leaves_the_aggregate_as_it_was(long_run: RunAggregate) -> None:
    long_run.maintain(41_000 * MS)
    before = state(long_run)
    cache = TimelineCache()
    for now_ms, geometry in [
        (41_000, Geometry(columns=40, rows=10)),
        (50_000, Geometry(columns=20, rows=10)),
        (50_000, Geometry(columns=20, rows=10, window_s=5.0, end_ns=20_000 * MS)),
        (60_000, Geometry(columns=7, rows=1, narrow=True)),
    ]:
        dashboard_frame(long_run, now_ms * MS, geometry, cache=cache)
    assert state(long_run) == before


def test_a_frame_stays_as_it_was_built_while_the_run_goes_on() -> None:
    """What is painted outside the lock shares nothing the reader goes on writing."""
    agg = run()
    dense(agg, 11, 0, 2_000)
    for t in range(100, 2_001, 100):
        sample(agg, t, (11,))
    cache = TimelineCache()
    geometry = Geometry(columns=20, rows=4, window_s=5.0)
    frame = dashboard_frame(agg, 2_000 * MS, geometry, cache=cache)
    painted = state(frame)
    dense(agg, 11, 100_000, 4_000)
    agg.feed_records(rec(Kind.TASK_START, 4_000, 7, tid=12) + rec(Kind.RUN_END, 4_100))
    for t in range(2_100, 4_101, 100):
        sample(agg, t, (11, 12))
    agg.maintain(4_100 * MS)
    assert state(frame) == painted
    later = dashboard_frame(agg, 4_100 * MS, geometry, cache=cache)  # the same memo, added to
    assert state(frame) == painted
    assert later.timeline != frame.timeline


def test_a_cached_timeline_frame_is_the_frame_drawn_from_scratch(long_run: RunAggregate) -> None:
    cache = TimelineCache()
    geometry = Geometry(columns=33, rows=10, window_s=10.0)
    for now_ms in range(30_000, 40_001, 1_000):  # the dashboard's refreshes, a second apart
        long_run.maintain(now_ms * MS)
        cached = dashboard_frame(long_run, now_ms * MS, geometry, cache=cache)
        fresh = dashboard_frame(long_run, now_ms * MS, geometry)
        assert cached == fresh
