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
from concviz.tui.view import timeline_view

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
