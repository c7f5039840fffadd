"""The panels' view models, from synthetic aggregates: no terminal, no processes."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest

from concviz.observer import aggregate as agg_mod
from concviz.observer import timeline
from concviz.observer.aggregate import RunAggregate, Sample
from concviz.observer.spans import SpanRing
from concviz.observer.timeline import BIN_NS
from concviz.runner.protocol import RECORD, START_COROUTINE, Kind, Status
from concviz.runner.spec import RunSpec
from concviz.tui.view import (
    DENSE_WALK,
    FAILED,
    LABEL_CHARS,
    SHADES,
    SPARKS,
    WAIT_SPARKS,
    TimelineCache,
    TimelineView,
    bar,
    cores_view,
    header_view,
    idle_header,
    queue_view,
    recent_events,
    spark,
    split_bar,
    timeline_view,
    workers_view,
)
from concviz.workloads import describe_size, task_source

MS = 1_000_000
RUNNER = 100


def rec(
    kind: Kind,
    t_ms: float,
    task: int = 0,
    tid: int = 1,
    slot: int = 0,
    flags: int = 0,
    aux: int = 0,
    pid: int = RUNNER,
) -> bytes:
    return RECORD.pack(kind, flags, slot, pid, tid, task, int(t_ms * MS), 0, aux)


def run(spec: dict[str, object] | None = None) -> RunAggregate:
    agg = RunAggregate(
        spec or {"model": "threads", "workload": "cpu", "workers": 2, "tasks": 4}, track_bins=True
    )
    agg.feed_text({"type": "run_start", "pid": RUNNER, "python": "3.11.7", "gil_enabled": True})
    agg.feed_records(rec(Kind.RUN_START, 0))
    return agg


def glyphs(row: object) -> str:
    return "".join(c.glyph for c in row.cells)  # type: ignore[attr-defined]


def test_each_lane_is_a_row_and_on_cpu_share_sets_the_glyph() -> None:
    agg = run()
    agg.feed_records(
        rec(Kind.TASK_START, 0, 0, tid=11)
        + rec(Kind.TASK_FINISH, 500, 0, tid=11, aux=500 * MS)
        + rec(Kind.TASK_START, 0, 1, tid=12)
        + rec(Kind.TASK_FINISH, 500, 1, tid=12, aux=20 * MS)
        + rec(Kind.RUN_END, 1000)
    )
    view = timeline_view(agg, 1000 * MS, columns=20, max_rows=10, window_s=1.0)
    assert [r.label for r in view.rows] == ["tid 11", "tid 12"]
    busy, waiting = glyphs(view.rows[0]), glyphs(view.rows[1])
    assert busy[:10] == SHADES[3] * 10  # all on CPU: solid
    assert waiting[:10] == SHADES[0] * 10  # 4 % on CPU: light
    assert busy[10:].strip() == ""  # idle after the task
    assert view.per_row == 1


def tones(row: object) -> str:
    return "".join(c.tone or "." for c in row.cells)  # type: ignore[attr-defined]


def test_a_cell_takes_the_tone_of_the_task_that_covers_most_of_it() -> None:
    """Consecutive tasks alternate tone where a task spans cells; where several
    tasks share a cell, one neutral tone (alternating would be stripes of noise)."""
    agg = run()
    long_tasks = b"".join(  # 5 tasks of 100 ms: 2 cells of 50 ms each
        rec(Kind.TASK_START, 100 * k, k, tid=11)
        + rec(Kind.TASK_FINISH, 100 * k + 100, k, tid=11, aux=100 * MS)
        for k in range(5)
    )
    short_tasks = b"".join(  # 50 tasks of 10 ms: 5 in each cell
        rec(Kind.TASK_START, 10 * k, 100 + k, tid=12)
        + rec(Kind.TASK_FINISH, 10 * k + 10, 100 + k, tid=12, aux=10 * MS)
        for k in range(50)
    )
    agg.feed_records(long_tasks + short_tasks + rec(Kind.RUN_END, 1000))
    view = timeline_view(agg, 1000 * MS, columns=20, max_rows=10, window_s=1.0)
    first, second = tones(view.rows[0])[:10], tones(view.rows[1])[:10]
    assert first in ("aabbaabbaa", "bbaabbaabb")  # each task's two cells, in turn
    assert second == "a" * 10


def test_failed_tasks_are_marked_by_a_glyph_not_only_a_colour() -> None:
    agg = run()
    agg.feed_records(rec(Kind.TASK_START, 0, 0) + rec(Kind.TASK_FINISH, 300, 0, flags=Status.ERROR))
    view = timeline_view(agg, 1000 * MS, columns=10, max_rows=5, window_s=1.0)
    assert FAILED in glyphs(view.rows[0])


def test_too_many_lanes_are_grouped_and_say_so() -> None:
    agg = run({"model": "asyncio", "workers": 100, "tasks": 100})
    agg.feed_records(
        b"".join(
            rec(Kind.TASK_START, 0, i, tid=7, slot=i, flags=START_COROUTINE) for i in range(100)
        )
    )
    view = timeline_view(agg, 100 * MS, columns=10, max_rows=10, window_s=0.1)
    assert len(view.rows) == 10
    assert view.per_row == 10
    assert "100 lanes" in view.note
    # Every slot busy (full height); their CPU is not known while they run: not claimed.
    assert all(glyphs(row) == WAIT_SPARKS[-1] * 10 for row in view.rows)


@pytest.mark.parametrize(
    ("slots", "first", "last"),
    [(100, "slots 0–4", "slots 95–99"), (20_000, "0–999", "19000–19999")],
)
def test_grouped_rows_are_labelled_with_their_whole_range(
    slots: int, first: str, last: str
) -> None:
    """10,000 slots once read "rows 1000-149": a label cut short names the wrong lanes."""
    agg = run({"model": "asyncio", "workers": slots, "tasks": slots})
    agg.feed_records(
        b"".join(
            rec(Kind.TASK_START, 0, i, tid=7, slot=i, flags=START_COROUTINE) for i in range(slots)
        )
    )
    view = timeline_view(agg, 100 * MS, columns=10, max_rows=20, window_s=0.1)
    labels = [row.label for row in view.rows]
    assert (labels[0], labels[-1]) == (first, last)
    assert all(len(label) <= LABEL_CHARS for label in labels)
    assert len({label.startswith("slots ") for label in labels}) == 1  # all name the unit, or none


def test_short_lived_threads_share_rows() -> None:
    agg = run({"model": "thread-per-task", "workers": 2, "tasks": 6})
    for i in range(6):  # two at a time, each on a new thread
        t = (i // 2) * 100
        agg.feed_records(
            rec(Kind.WORKER_UP, t, tid=50 + i)
            + rec(Kind.TASK_START, t, i, tid=50 + i)
            + rec(Kind.TASK_FINISH, t + 90, i, tid=50 + i)
            + rec(Kind.WORKER_DOWN, t + 95, tid=50 + i)
        )
    view = timeline_view(agg, 300 * MS, columns=30, max_rows=10, window_s=0.3)
    assert len(view.rows) == 2
    assert all(r.label == "3 threads" for r in view.rows)


@pytest.mark.parametrize("frame", [100, 4096])  # records per frame: the loop, the bulk path
def test_failures_long_gone_from_the_span_ring_are_still_marked(frame: int) -> None:
    """A dense run is drawn from the busy bins; its failures must still show."""
    agg = run()
    stream = b""
    for task in range(2000):  # 1 ms tasks back to back on one thread, over 2 s
        failed = task in (150, 151, 900)  # at about 150 ms and 900 ms
        stream += rec(Kind.TASK_START, task, task, tid=11) + rec(
            Kind.TASK_FINISH,
            task + 1,
            task,
            tid=11,
            aux=MS,
            flags=Status.ERROR if failed else Status.OK,
        )
    for cut in range(0, len(stream), frame * RECORD.size):
        agg.feed_records(stream[cut : cut + frame * RECORD.size])
    view = timeline_view(agg, 2000 * MS, columns=20, max_rows=4, window_s=2.0)
    # 20 cells of 100 ms; the ring walk covers only the newest ~20 tasks (the last cell).
    marked = [i for i, cell in enumerate(view.rows[0].cells) if cell.glyph == FAILED]
    assert marked == [1, 9]
    assert all(cell.tone == "fail" for i, cell in enumerate(view.rows[0].cells) if i in marked)


def test_a_dense_lane_is_drawn_from_its_bins_not_span_by_span() -> None:
    """Thousands of tiny tasks: walking the span ring further would only cost time."""

    class Counting(SpanRing):
        read = 0

        def __reversed__(self):  # type: ignore[no-untyped-def]
            for span in super().__reversed__():
                Counting.read += 1
                yield span

    agg = run()
    stream = b""
    for task in range(4000):  # 0.25 ms tasks back to back over 1 s
        stream += rec(Kind.TASK_START, task / 4, task, tid=11)
        stream += rec(Kind.TASK_FINISH, (task + 1) / 4, task, tid=11, aux=MS // 8)
    agg.feed_records(stream)
    lane = agg.lane_list[0]
    ring = Counting(lane.spans.maxlen)
    for span in reversed(list(islice(reversed(lane.spans), len(lane.spans)))):
        ring.append(span)
    lane.spans = ring
    whole = timeline_view(agg, 1000 * MS, columns=50, max_rows=4, window_s=1.0)
    assert Counting.read <= DENSE_WALK + 1
    assert all(cell.glyph == SHADES[2] for cell in whole.rows[0].cells)  # busy, half on CPU
    Counting.read = 0
    timeline_view(agg, 1000 * MS, columns=50, max_rows=4, window_s=0.1)  # 2 ms cells < bins
    assert Counting.read >= 50  # zoomed in finer than the bins: span by span, as before


def test_a_task_in_flight_runs_up_to_now() -> None:
    agg = run()
    agg.feed_records(rec(Kind.TASK_START, 500, 0, tid=11))
    view = timeline_view(agg, 1000 * MS, columns=10, max_rows=5, window_s=1.0)
    row = view.rows[0]
    assert glyphs(row)[:5].strip() == ""
    assert all(c.tone == "run" for c in row.cells[5:])


def test_header_progress_and_eta() -> None:
    agg = run({"model": "threads", "workload": "cpu", "workers": 2, "tasks": 4})
    agg.feed_records(rec(Kind.TASK_START, 0, 0) + rec(Kind.TASK_FINISH, 100, 0))
    head = header_view(agg, 200 * MS)
    assert (head.done, head.tasks, head.fraction) == (1, 4, 0.25)
    assert head.eta_s is not None
    assert abs(head.eta_s - 0.6) < 1e-9  # 0.2 s for one task, three to go
    assert head.gil == "GIL on"


def test_a_run_sized_in_iterations_says_so() -> None:
    """--iterations sizes the CPU workloads: the header must not claim --task-ms."""
    agg = run({"model": "threads", "workload": "cpu", "workers": 2, "tasks": 4, "iterations": 1500})
    head = header_view(agg, 0)
    assert head.size == "1,500 iterations"
    before = RunSpec(model="threads", workload="cpu", workers=2, tasks=4, iterations=1500)
    assert idle_header(before).size == "1,500 iterations"
    assert agg.summary(0).iterations == 1500
    assert describe_size("cpu", 20, None) == "20 ms"
    assert describe_size("sleep", 20, 1500) == "20 ms"  # it ignores --iterations
    assert describe_size("mixed", 20, 1500) == "20 ms, CPU part 1,500 iterations"


def test_your_own_functions_module_is_found_without_importing_it(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (package / "work.py").write_text("raise RuntimeError('imported')\n")
    (tmp_path / "flat.py").write_text("")
    assert task_source("pkg.work:f", str(tmp_path)) == package / "work.py"
    assert task_source("flat:f", str(tmp_path)) == tmp_path / "flat.py"
    assert task_source("missing:f", str(tmp_path)) is None
    assert task_source("pkg.missing:f", str(tmp_path)) is None
    assert task_source(None, str(tmp_path)) is None


def test_your_own_function_is_named_as_the_size_not_task_ms() -> None:
    """--task-ms does not size a custom task: the header names the function instead."""
    spec = {"model": "threads", "workload": "custom", "task": "mod:work", "task_ms": 100.0}
    agg = run(spec)
    assert header_view(agg, 0).size == "mod:work()"
    assert agg.summary(0).task == "mod:work"
    before = RunSpec(workload="custom", task="mod:work", task_ms=100.0)
    assert idle_header(before).size == "mod:work()"


def test_cores_workers_and_queue_from_samples() -> None:
    agg = run()
    agg.feed_records(rec(Kind.TASK_START, 0, 0, tid=11) + rec(Kind.TASK_START, 0, 1, tid=12))
    for k in range(3):
        agg.add_sample(
            Sample(
                (k + 1) * 100 * MS,
                (90.0, 20.0),
                {(RUNNER, 11): 60.0, (RUNNER, 12): 40.0},
                {RUNNER: 30 << 20},
                3 - k,
            ),
            k * 100 * MS,
            [0.09, 0.02],
            [0.1, 0.1],
        )
    cores = cores_view(agg, 10)
    assert [c.label for c in cores] == ["cpu0", "cpu1"]
    assert cores[0].history == [90.0, 90.0, 90.0]
    workers = workers_view(agg, 5, 10)
    assert [r.label for r in workers.rows] == ["tid 11", "tid 12"]
    assert workers.total == 100.0  # the GIL's picture: shares of one core
    queue = queue_view(agg, 10)
    assert queue.history == [3.0, 2.0, 1.0]


def test_a_workers_wait_for_a_core_follows_its_cpu_on_its_bar() -> None:
    agg = run()
    agg.feed_records(rec(Kind.TASK_START, 0, 0, tid=11))
    for k in range(2):
        agg.add_sample(
            Sample(
                (k + 1) * 100 * MS,
                (100.0, 100.0),
                {(RUNNER, 11): 30.0 + 10 * k},
                {},
                0,
                core_wait_ns=60 * MS,
                waits={(RUNNER, 11): 60.0 + 10 * k},
            ),
            k * 100 * MS,
            [0.1, 0.1],
            [0.1, 0.1],
        )
    (row,) = workers_view(agg, 5, 10, smooth=2).rows
    assert (row.percent, row.waiting) == (35.0, 65.0)  # means of the last two samples
    cpu, waiting, rest = split_bar(0.35, 0.65, 10)
    assert (cpu, waiting, rest) == ("███▌", "░░░░░░", "")  # 3.5 cells, then 6.5 rounded down
    assert split_bar(0.0, 0.0, 4) == ("", "", "    ")
    assert len("".join(split_bar(0.9, 0.9, 8))) == 8  # never wider than the bar


def test_panels_drawn_every_nth_sample_show_the_mean_of_those_samples() -> None:
    agg = run()
    agg.feed_records(rec(Kind.TASK_START, 0, 0, tid=11))
    for k, (core, thread) in enumerate([(10.0, 90.0), (30.0, 10.0), (50.0, 30.0), (70.0, 50.0)]):
        threads = {(RUNNER, 11): thread}
        if k >= 2:
            threads[(RUNNER, 12)] = 20.0  # a thread that appears later
        agg.add_sample(
            Sample((k + 1) * 100 * MS, (core,), threads, {}, 0),
            k * 100 * MS,
            [0.0],
            [0.1],
        )
    assert cores_view(agg, 10)[0].percent == 70.0  # the newest sample alone
    smoothed = cores_view(agg, 10, smooth=3)[0]
    assert smoothed.percent == 50.0  # (30 + 50 + 70) / 3
    assert smoothed.history == [10.0, 30.0, 50.0, 70.0]  # every sample still in the history
    view = workers_view(agg, 5, 10, smooth=3)
    percent = {r.label: r.percent for r in view.rows}
    assert percent["tid 11"] == 30.0  # (10 + 30 + 50) / 3
    assert percent["tid 12"] == 20.0  # averaged over the samples it was alive in only
    assert view.total == (10 + 50 + 70) / 3
    assert workers_view(agg, 5, 10).total == 70.0


def test_after_the_run_workers_show_their_mean_over_the_run() -> None:
    agg = run()
    agg.feed_records(
        rec(Kind.TASK_START, 0, 0, tid=11)
        + rec(Kind.TASK_FINISH, 1000, 0, tid=11, aux=250 * MS)
        + rec(Kind.RUN_END, 1000)
    )
    view = workers_view(agg, 5, 10)
    assert view.averaged
    assert [(r.label, r.percent) for r in view.rows] == [("tid 11", 25.0)]


def test_event_log_is_newest_first() -> None:
    agg = run()
    agg.feed_records(rec(Kind.TASK_START, 1, 7) + rec(Kind.TASK_FINISH, 2, 7, flags=Status.ERROR))
    events = recent_events(agg, 10)
    assert [(e.what, e.task) for e in events[:2]] == [("finish", 7), ("start", 7)]
    assert events[0].failed


def test_spark_and_bar() -> None:
    assert spark([0, 50, 100], 3, 100.0) == " ▄█"
    assert spark([1, 2], 4) == "  ▄█"
    assert bar(0.5, 4) == "██  "
    assert bar(1.5, 2) == "██"


def test_dense_short_tasks_fill_the_window_from_the_bins() -> None:
    """Far more tasks than the span ring holds: the older part comes from the bins."""
    agg = run()
    stream = b"".join(
        rec(Kind.TASK_START, i * 0.1, i, tid=11)
        + rec(Kind.TASK_FINISH, i * 0.1 + 0.1, i, tid=11, aux=100_000)
        for i in range(5000)  # 0.1 ms each, back to back, for 500 ms
    )
    agg.feed_records(stream + rec(Kind.RUN_END, 1000))
    view = timeline_view(agg, 1000 * MS, columns=10, max_rows=5, window_s=1.0)
    row = glyphs(view.rows[0])
    assert row[:5] == SHADES[3] * 5  # busy and on CPU for the first half
    assert row[5:].strip() == ""


def _lanes_of_tasks(
    seed: int,
    lanes: int,
    until_ms: float,
    first_ms: float,
    length: Callable[[random.Random], float],
    gap: Callable[[random.Random], float],
    failing: float = 0.0,
) -> list[list[tuple[float, bytes]]]:
    """Per lane, its records in order: tasks back to back, ``length`` long, ``gap`` apart."""
    rnd = random.Random(seed)
    out = []
    task = 0
    for lane in range(lanes):
        t = rnd.uniform(0, first_ms)
        recs: list[tuple[float, bytes]] = []
        while t < until_ms:
            span = length(rnd)
            status = Status.ERROR if failing and rnd.random() < failing else Status.OK
            tid = 10 + lane
            recs.append((t, rec(Kind.TASK_START, t, task, tid=tid)))
            end = t + span
            cpu = int(span * MS * rnd.random())
            recs.append((end, rec(Kind.TASK_FINISH, end, task, tid=tid, flags=status, aux=cpu)))
            task += 1
            t = end + gap(rnd)
        out.append(recs)
    return out


def _random_length(rnd: random.Random) -> float:
    kind = rnd.random()
    if kind < 0.6:
        return rnd.uniform(0.05, 0.5)
    if kind < 0.99:
        return rnd.uniform(5, 300)
    return rnd.uniform(3000, 4000)  # longer than the seal margin


def _random_lanes(seed: int, lanes: int, until_ms: float) -> list[list[tuple[float, bytes]]]:
    """Tasks from 50 µs to 4 s long, 2 % failing, mostly close together."""
    return _lanes_of_tasks(
        seed,
        lanes,
        until_ms,
        first_ms=50,
        length=_random_length,
        gap=lambda rnd: rnd.uniform(0, 2) if rnd.random() < 0.9 else rnd.uniform(50, 800),
        failing=0.02,
    )


def test_incremental_timeline_equals_one_drawn_from_scratch() -> None:
    """The cache of settled cells must never show what a fresh drawing would not.

    Each lane's records arrive in order but late (0-200 ms) and interleaved with
    the other lanes', the way they come from several threads and processes.
    """
    for seed in range(4):
        rnd = random.Random(seed)
        per_lane = _random_lanes(seed, lanes=4, until_ms=12_000)
        lag = [rnd.uniform(0, 200) for _ in per_lane]
        _cached_equals_fresh(run(), per_lane, lag, steps=130, size=(60, 8), seed=seed)


def _cached_equals_fresh(
    agg: RunAggregate,
    per_lane: list[list[tuple[float, bytes]]],
    lag: list[float],
    steps: int,
    size: tuple[int, int],
    seed: int,
    windows: tuple[float | None, ...] = (None, 2.0),
    every_ms: float = 100.0,
) -> tuple[int, dict[float | None, TimelineCache]]:
    """Feeds each lane's records late by its lag; at every refresh, cached must equal fresh.

    Returns how many of the drawings had grouped rows, and the caches.
    """
    caches: dict[float | None, TimelineCache] = {w: TimelineCache() for w in windows}
    sent = [0] * len(per_lane)
    grouped = 0
    for step in range(1, steps):
        now_ms = step * every_ms
        for lane, recs in enumerate(per_lane):
            while sent[lane] < len(recs) and recs[sent[lane]][0] <= now_ms - lag[lane]:
                agg.feed_records(recs[sent[lane]][1])
                sent[lane] += 1
        for window in windows:  # one cache per geometry
            args = (agg, int(now_ms * MS), *size)
            cached = timeline_view(*args, window_s=window, cache=caches[window])
            fresh = timeline_view(*args, window_s=window)
            grouped += cached.per_row > 1
            assert [r.cells for r in cached.rows] == [r.cells for r in fresh.rows], (
                f"seed {seed}, {now_ms} ms, window {window}"
            )
    return grouped, caches


def _short_tasks(seed: int, lanes: int, until_ms: float) -> list[list[tuple[float, bytes]]]:
    """Tasks of 1-40 ms with gaps of 0-15 ms: many start inside the 10 ms bin where the
    one before them ended."""
    return _lanes_of_tasks(
        seed,
        lanes,
        until_ms,
        first_ms=20,
        length=lambda rnd: rnd.uniform(1, 40),
        gap=lambda rnd: rnd.uniform(0, 15),
    )


@pytest.mark.parametrize("rows", [8, 3])
def test_cells_finer_than_the_bins_are_kept_only_once_their_bins_are_final(rows: int) -> None:
    """Zoomed in past the 10 ms bins, a cell reads a share of each bin it overlaps. It
    was kept once its own end was settled, though a task starting later in the same
    bin still changed it; and a grouped row left out a lane's share of the bin it last
    finished in until it finished again. Both showed a picture a redraw did not."""
    for seed in range(3):
        rnd = random.Random(seed)
        per_lane = _short_tasks(seed, lanes=6, until_ms=3_000)
        lag = [rnd.uniform(0, 60) for _ in per_lane]
        _cached_equals_fresh(
            run(),
            per_lane,
            lag,
            steps=90,
            size=(80, rows),
            seed=seed,
            windows=(0.5, 0.25),
            every_ms=37.0,
        )


def _random_threads(seed: int, until_ms: float) -> list[list[tuple[float, bytes]]]:
    """Thread-per-task: threads come up, run a task or three, and go down (WORKER_DOWN)."""
    rnd = random.Random(seed)
    out = []
    task = 1_000_000
    t = 0.0
    tid = 5_000
    while t < until_ms:
        t += rnd.uniform(5, 60)
        tid += 1
        at = t
        recs: list[tuple[float, bytes]] = [(at, rec(Kind.WORKER_UP, at, tid=tid))]
        for _ in range(rnd.randint(1, 3)):
            length = rnd.uniform(20, 400)
            recs.append((at, rec(Kind.TASK_START, at, task, tid=tid)))
            at += length
            status = Status.ERROR if rnd.random() < 0.03 else Status.OK
            cpu = int(length * MS * rnd.random())
            recs.append((at, rec(Kind.TASK_FINISH, at, task, tid=tid, flags=status, aux=cpu)))
            task += 1
            at += rnd.uniform(0, 30)
        recs.append((at, rec(Kind.WORKER_DOWN, at, tid=tid)))
        out.append(recs)
    return out


def test_incremental_grouped_rows_equal_ones_drawn_from_scratch() -> None:
    """Rows standing for many lanes keep their settled cells too: never a different picture.

    Long-lived lanes and short-lived threads, each arriving late by its own lag,
    under more lanes than rows; the kept sums must match a fresh drawing at every
    refresh, as threads join rows and go down.
    """
    for seed in range(3):
        rnd = random.Random(seed)
        per_lane = _random_lanes(seed, lanes=6, until_ms=8_000) + _random_threads(seed, 8_000)
        lag = [rnd.uniform(0, 200) for _ in per_lane]
        agg = run({"model": "thread-per-task", "workload": "sleep", "workers": 8, "tasks": 999})
        grouped, caches = _cached_equals_fresh(agg, per_lane, lag, 90, size=(50, 4), seed=seed)
        assert grouped > 100  # the grouped rows were what was compared
        assert caches[None].groups  # and their cells were kept


def test_past_the_bin_budget_old_history_folds_into_blocks_and_keeps_its_sums() -> None:
    """A thousand busy lanes kept ~1 MiB each a minute of 10 ms bins: the oldest fold."""
    agg = run({"model": "asyncio", "workers": 41, "tasks": 10_000})
    task = 0
    frames = []
    for slot in range(40):  # back-to-back 130 ms tasks on every slot for 20 s
        t = 0
        while t + 130 <= 20_000:
            frames.append(rec(Kind.TASK_START, t, task, tid=7, slot=slot, flags=START_COROUTINE))
            frames.append(rec(Kind.TASK_FINISH, t + 130, task, tid=7, slot=slot, aux=13 * MS))
            t += 130
            task += 1
    agg.feed_records(rec(Kind.TASK_START, 2_000, task, tid=7, slot=40, flags=START_COROUTINE))
    agg.feed_records(b"".join(frames))
    now = 21_000 * MS
    lanes = agg.lane_list
    seconds = [(k * 1000 * MS, (k + 1) * 1000 * MS) for k in range(20)]
    before = [x for lane in lanes for lo, hi in seconds for x in agg.busy_between(lane, lo, hi)]
    fine = agg.fine_bins()

    agg.fine_bins_max = fine // 4
    for _ in range(5):  # folding is spread over the dashboard's refreshes
        agg.prune_bins(now)

    assert agg.fine_bins() <= agg.fine_bins_max
    horizon = lanes[-1].fine_from
    assert 0 < horizon * BIN_NS <= now - 4000 * MS  # only sealed blocks fold
    after = [x for lane in lanes for lo, hi in seconds for x in agg.busy_between(lane, lo, hi)]
    assert after == pytest.approx(before)  # whole seconds: exactly what the bins summed
    # A task in flight since before the horizon reaches back into the folded blocks.
    agg.feed_records(rec(Kind.TASK_FINISH, 22_000, task, tid=7, slot=40, aux=MS))
    long_lane = agg.lanes[(RUNNER, 7, 40)]
    busy, cpu = agg.busy_between(long_lane, 0, 23_000 * MS)
    assert (busy, cpu) == pytest.approx((20_000 * MS, MS))
    assert min(long_lane.busy_bins) == horizon  # fine bins only where they still are
    # The folded past still draws: every slot busy, every row at full height, and
    # waiting (10 % on CPU), as the blocks' CPU sums say.
    view = timeline_view(
        agg, 23_000 * MS, columns=20, max_rows=4, window_s=20.0, end_ns=20_000 * MS
    )
    assert view.per_row > 1
    full = WAIT_SPARKS[-1] * 20
    assert all(glyphs(row) == full for row in view.rows[:3]), [glyphs(r) for r in view.rows]


def test_folding_is_spread_over_refreshes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding ten thousand lanes in one call held the screen for seconds."""
    agg = run({"model": "asyncio", "workers": 20, "tasks": 10_000})
    frames = []
    for slot in range(20):  # 99 ms tasks, one every 100 ms, for 10 s
        for k in range(100):
            task, t = 100 * slot + k, 100 * k
            frames.append(rec(Kind.TASK_START, t, task, tid=7, slot=slot, flags=START_COROUTINE))
            frames.append(rec(Kind.TASK_FINISH, t + 99, task, tid=7, slot=slot))
    agg.feed_records(b"".join(frames))
    agg.fine_bins_max = 1000
    monkeypatch.setattr(agg_mod, "FOLD_WORK_PER_CALL", 2000)
    now = 11_000 * MS
    agg.prune_bins(now)
    folded = [lane.fine_from > 0 for lane in agg.lane_list]
    assert any(folded)
    assert not all(folded)  # a share of the lanes, not all at once
    for _ in range(40):
        agg.prune_bins(now)
    assert all(lane.fine_from == agg.lane_list[0].fine_from > 0 for lane in agg.lane_list)


@pytest.mark.parametrize("seed", range(5))
def test_runs_of_whole_bins_draw_as_the_bins_they_stand_for(seed: int) -> None:
    """A span's whole bins are kept as one run; a grouped row must not tell the difference."""
    rng = random.Random(seed)

    def build() -> RunAggregate:
        agg = run({"model": "asyncio", "workers": 60, "tasks": 10_000})
        frames = []
        task = 0
        for slot in range(60):
            t = rng.uniform(0, 50)
            while t < 4_000:
                length = rng.choice([0.5, 7, 23, 137, 611])
                frames.append(
                    rec(Kind.TASK_START, t, task, tid=7, slot=slot, flags=START_COROUTINE)
                )
                frames.append(rec(Kind.TASK_FINISH, t + length, task, tid=7, slot=slot))
                t += length + rng.choice([0.01, 3, 40])
                task += 1
        agg.feed_records(b"".join(frames))
        return agg

    state = rng.getstate()
    with_runs = build()
    rng.setstate(state)
    as_bins = build()
    assert any(lane.runs for lane in with_runs.lane_list)
    for lane in as_bins.lane_list:  # the same history, every bin its own entry
        lane.busy_bins, lane.cpu_bins = timeline.expanded_bins(lane)
        lane.runs = []
    now = 4_200 * MS
    for columns in (37, 130):
        views = [
            timeline_view(agg, now, columns=columns, max_rows=6, window_s=4.2)
            for agg in (with_runs, as_bins)
        ]
        assert views[0].per_row > 1
        assert [glyphs(r) for r in views[0].rows] == [glyphs(r) for r in views[1].rows]
        lane = with_runs.lane_list[3]
        twin = as_bins.lane_list[3]
        for lo in range(0, 4_000, 333):
            got = with_runs.busy_between(lane, lo * MS, (lo + 333) * MS)
            assert got == pytest.approx(as_bins.busy_between(twin, lo * MS, (lo + 333) * MS))


def test_grouped_rows_open_cells_show_finished_and_running_tasks_exactly() -> None:
    """Open cells come from the bins plus the task in flight: the same shares spans give."""
    rng = random.Random(7)
    agg = run({"model": "asyncio", "workers": 40, "tasks": 10_000})
    spans: dict[int, list[tuple[float, float]]] = {}
    frames = [
        rec(Kind.TASK_START, 0, 10_000 + slot, tid=7, slot=slot, flags=START_COROUTINE)
        for slot in range(40)
    ]
    frames += [rec(Kind.TASK_FINISH, 1, 10_000 + slot, tid=7, slot=slot) for slot in range(40)]
    task = 0
    for slot in range(40):
        t = 1.0 + rng.uniform(0, 30)
        spans[slot] = [(0.0, 1.0)]
        while t < 1_900:
            length = rng.choice([3, 40, 170, 650])
            frames.append(rec(Kind.TASK_START, t, task, tid=7, slot=slot, flags=START_COROUTINE))
            if t + length < 1_950:
                frames.append(rec(Kind.TASK_FINISH, t + length, task, tid=7, slot=slot))
                spans[slot].append((t, t + length))
            else:  # still running at the moment drawn
                spans[slot].append((t, 1_950.0))
                break
            t += length + rng.choice([0.5, 25, 90])
            task += 1
    # One record stream in time order, as a run sends it.
    frames.sort(key=lambda r: RECORD.unpack(r)[6])
    agg.feed_records(b"".join(frames))
    now = 1_950 * MS
    view = timeline_view(agg, now, columns=20, max_rows=4, window_s=2.0, end_ns=2_000 * MS)
    assert view.per_row == 10
    for r, row in enumerate(view.rows):
        expected = ""
        for cell in range(20):
            lo, hi = cell * 100.0, cell * 100.0 + 100.0
            share = (
                sum(
                    min(sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in spans[slot]) / 100.0, 1.0)
                    for slot in range(10 * r, 10 * r + 10)
                )
                / 10
            )
            level = min(7, max(0, math.ceil(share * 8) - 1))
            expected += " " if share < 0.02 else WAIT_SPARKS[level]  # no CPU: waiting
        assert glyphs(row) == expected, (r, glyphs(row), expected)


def test_folded_history_is_forgotten_after_two_minutes_like_the_bins() -> None:
    """Blocks were pruned only alongside old fine bins, which folding had removed."""
    agg = run({"model": "asyncio", "workers": 4, "tasks": 10_000})
    frames = []
    for slot in range(4):  # 30 ms tasks back to back for 20 s
        for k in range(650):
            t = 30.0 * k
            frames.append(
                rec(Kind.TASK_START, t, 1000 * slot + k, tid=7, slot=slot, flags=START_COROUTINE)
            )
            frames.append(
                rec(
                    Kind.TASK_FINISH,
                    t + 29,
                    1000 * slot + k,
                    tid=7,
                    slot=slot,
                    flags=Status.ERROR * (k % 50 == 0),
                )
            )
    agg.feed_records(b"".join(frames))
    agg.fine_bins_max = agg.fine_bins() // 4
    for _ in range(3):
        agg.prune_bins(21_000 * MS)
    lane = agg.lane_list[0]
    assert lane.fine_from > 0
    assert lane.blocks
    assert lane.fail_bins
    # Two minutes after second 10: the blocks before it go, the fine bins (all
    # newer, above the horizon) stay, as a busy lane's always are.
    horizon_s = lane.fine_from * timeline.BIN_NS // 1_000_000_000
    assert horizon_s > 10
    agg.prune_bins(10_000 * MS + timeline.BIN_HISTORY_NS)
    assert lane.busy_bins
    assert min(lane.blocks) == 10
    assert min(lane.fail_bins) * timeline.BIN_NS >= 10_000 * MS


def _grouped(cpu_share: float) -> TimelineView:
    """100 coroutine slots, each busy for the whole 100 ms with ``cpu_share`` of it on CPU."""
    agg = run({"model": "asyncio", "workers": 100, "tasks": 100})
    agg.feed_records(
        b"".join(
            rec(Kind.TASK_START, 0, i, tid=7, slot=i, flags=START_COROUTINE)
            + rec(Kind.TASK_FINISH, 100, i, tid=7, slot=i, aux=int(100 * MS * cpu_share))
            for i in range(100)
        )
        + rec(Kind.RUN_END, 100)
    )
    return timeline_view(agg, 100 * MS, columns=10, max_rows=10, window_s=0.1)


def test_grouped_rows_of_waiting_lanes_do_not_claim_the_cpu() -> None:
    """Issue #17.2: sleeping coroutines were drawn as full CPU bars."""
    waiting, computing = _grouped(0.01), _grouped(1.0)
    assert waiting.per_row == computing.per_row == 10
    for row in waiting.rows:
        assert glyphs(row) == WAIT_SPARKS[-1] * 10  # all busy: full height, waiting glyphs
        assert {c.tone for c in row.cells} == {"wait"}
    for row in computing.rows:
        assert glyphs(row) == SPARKS[-1] * 10  # all busy on CPU: solid, CPU colour
        assert {c.tone for c in row.cells} == {"group"}
    assert waiting.legend == computing.legend == "group"


@pytest.mark.parametrize("bins", [True, False], ids=["from-bins", "from-spans"])
def test_grouped_rows_mark_a_failure_of_any_of_their_lanes(bins: bool) -> None:
    """Issue #18 item 9: the retry scenario's 503s (✗) vanished once its lanes were
    grouped two to a row; a single lane marks the cell where its task failed."""
    agg = run({"model": "asyncio", "workers": 100, "tasks": 200})
    agg.track_bins = bins  # the dashboard keeps bins; without them, the spans say it
    frames = b""
    for i in range(100):  # every slot busy for 100 ms; slot 23 fails at 55 ms, 71 at 98 ms
        ends = {23: 55, 71: 98}.get(i, 100)
        failed = Status.ERROR if i in (23, 71) else Status.OK
        frames += rec(Kind.TASK_START, 0, i, tid=7, slot=i, flags=START_COROUTINE)
        frames += rec(Kind.TASK_FINISH, ends, i, tid=7, slot=i, flags=failed)
    agg.feed_records(frames + rec(Kind.RUN_END, 100))
    view = timeline_view(agg, 100 * MS, columns=10, max_rows=10, window_s=0.1)
    assert view.per_row == 10
    marked = {
        (r, i)
        for r, row in enumerate(view.rows)
        for i, cell in enumerate(row.cells)
        if cell.glyph == FAILED
    }
    assert marked == {(2, 5), (7, 9)}  # slots 20–29 at 50–60 ms, slots 70–79 at 90–100 ms
    assert all(view.rows[r].cells[i].tone == "fail" for r, i in marked)
    # The other cells keep their height (all busy: full), only the failed cell changes.
    assert glyphs(view.rows[2]).replace(FAILED, "") == WAIT_SPARKS[-1] * 9
