"""The run model, fed synthetic streams: no processes, no terminal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from concviz.observer import aggregate as agg_mod
from concviz.observer import timeline
from concviz.observer.aggregate import RunAggregate, Sample
from concviz.observer.timeline import BIN_HISTORY_NS, BIN_NS, Lane
from concviz.observer.trace import trace_events
from concviz.runner.protocol import RECORD, START_COROUTINE, Kind, Status

RUNNER = 100
MS = 1_000_000


def rec(
    kind: Kind,
    t_ms: float,
    task: int = 0,
    pid: int = RUNNER,
    tid: int = 1,
    slot: int = 0,
    flags: int = 0,
    cpu: int = 0,
    aux: int = 0,
) -> bytes:
    return RECORD.pack(kind, flags, slot, pid, tid, task, int(t_ms * MS), cpu, aux)


def started_run() -> RunAggregate:
    agg = RunAggregate({"model": "threads", "workload": "cpu", "workers": 2, "tasks": 4})
    agg.feed_text(
        {
            "type": "run_start",
            "pid": RUNNER,
            "cpu_count": 2,
            "python": "3.11.7",
            "gil_enabled": True,
            "spec": {
                "model": "threads",
                "workload": "cpu",
                "workers": 2,
                "tasks": 4,
                "task_ms": 100.0,
            },
        }
    )
    agg.feed_records(rec(Kind.RUN_START, 0))
    return agg


def test_two_threads_sharing_the_gil() -> None:
    """Four 100 ms tasks on two GIL-bound threads: each runs ~50 % of its wall time."""
    agg = started_run()
    stream = [rec(Kind.TASK_QUEUED, 0, t) for t in range(4)]
    for lane, tid in enumerate((11, 12)):
        for k in range(2):
            task = lane * 2 + k
            t0 = k * 200
            stream.append(rec(Kind.TASK_START, t0, task, tid=tid))
            stream.append(rec(Kind.TASK_FINISH, t0 + 200, task, tid=tid, aux=100 * MS))
    stream.append(rec(Kind.RUN_END, 400))
    agg.feed_records(b"".join(stream))

    s = agg.summary()
    assert (s.completed, s.failed, s.lanes) == (4, 0, 2)
    assert s.wall_s == 0.4
    assert s.cpu_s == 0.4
    assert s.parallelism == 1.0
    assert s.on_cpu_fraction == 0.5
    assert s.peak_queue_depth == 4
    assert s.status == "done"
    assert [len(lane.spans) for lane in agg.lane_list] == [2, 2]
    assert all(lane.down_ns == 400 * MS for lane in agg.lane_list)  # the run's end closes lanes
    assert agg.events == 4 + 8 + 2 + 1  # records fed, plus the run_start text


def test_failures_are_counted_and_their_messages_kept() -> None:
    agg = started_run()
    agg.feed_records(rec(Kind.TASK_START, 1, 0) + rec(Kind.TASK_FINISH, 2, 0, flags=Status.ERROR))
    agg.feed_text({"type": "task_error", "task": 0, "error": "ValueError", "message": "bad"})
    agg.feed_records(rec(Kind.TASK_START, 2, 1) + rec(Kind.TASK_FINISH, 3, 1))
    s = agg.summary()
    assert (s.completed, s.failed) == (1, 1)
    assert s.errors == {"ValueError: bad": 1}
    assert agg.lane_list[0].failed == 1


def test_warnings_are_counted_by_message_and_place_and_their_kinds_bounded() -> None:
    agg = started_run()

    def warn(message: str, where: str = "w.py:3") -> None:
        agg.feed_text(
            {"type": "warning", "category": "UserWarning", "message": message, "where": where}
        )

    warn("careful")
    warn("careful")
    warn("careful", where="w.py:9")
    for i in range(agg_mod.ERRORS_KEPT + 5):  # a flood of distinct ones is not kept whole
        warn(f"odd {i}")
    warn("careful")  # known kinds keep counting after the cap
    assert agg.warnings["UserWarning: careful (w.py:3)"] == 3
    assert agg.warnings["UserWarning: careful (w.py:9)"] == 1
    assert len(agg.warnings) == agg_mod.ERRORS_KEPT
    assert next(iter(agg.summary().warnings)) == "UserWarning: careful (w.py:3)"


def test_async_slots_are_lanes_and_share_one_thread() -> None:
    agg = started_run()
    stream = b"".join(
        rec(Kind.TASK_START, 0, task, tid=7, slot=task, flags=START_COROUTINE) for task in range(3)
    )
    agg.feed_records(stream)
    assert [agg.lane_kind(lane) for lane in agg.lane_list] == ["slot"] * 3
    assert [agg.lane_label(lane) for lane in agg.lane_list] == ["slot 0", "slot 1", "slot 2"]
    assert agg.observed()[0] == [(RUNNER, 7)]  # one OS thread to sample


def test_worker_processes_are_process_lanes() -> None:
    agg = started_run()
    agg.feed_records(
        rec(Kind.WORKER_UP, 0, pid=201, tid=201) + rec(Kind.TASK_START, 1, 0, pid=201, tid=201)
    )
    [lane] = agg.lane_list
    assert agg.lane_kind(lane) == "process"
    assert agg.observed() == ([(201, 201)], [RUNNER, 201])


def test_sub_interpreter_threads_are_interpreter_lanes() -> None:
    """WORKER_UP's aux names the sub-interpreter a pool thread runs (InterpreterPoolExecutor)."""
    agg = started_run()
    agg.feed_records(rec(Kind.RUN_START, 1))
    agg.feed_records(
        rec(Kind.WORKER_UP, 251, tid=7, aux=2)
        + rec(Kind.WORKER_UP, 261, tid=8, aux=3)
        + rec(Kind.WORKER_UP, 262, tid=9)  # an ordinary thread of the runner
    )
    kinds = [(agg.lane_kind(lane), agg.lane_label(lane)) for lane in agg.lane_list]
    assert kinds == [("interpreter", "interp 2"), ("interpreter", "interp 3"), ("thread", "tid 9")]
    # Their start-up (creating the interpreter, importing) is the workers' start-up time.
    assert agg.summary().worker_startup_s == pytest.approx(0.260, abs=0.011)


def test_worker_start_up_is_the_median_workers_not_the_first() -> None:
    """One slow spawn among three: the figure is the typical worker's, not the quickest's."""
    agg = started_run()  # RUN_START at 0
    agg.feed_records(
        rec(Kind.WORKER_UP, 100, pid=201, tid=201)
        + rec(Kind.WORKER_UP, 300, pid=202, tid=202)
        + rec(Kind.WORKER_UP, 900, pid=203, tid=203)
    )
    assert agg.summary().worker_startup_s == pytest.approx(0.3)


def test_finish_without_start_from_another_connection_is_not_lost() -> None:
    """Across connections there is no ordering: a finish may be seen first."""
    agg = started_run()
    agg.feed_records(rec(Kind.TASK_FINISH, 5, 9, pid=300, tid=300, aux=MS))
    assert agg.summary().completed == 1


def test_queue_models_report_the_real_queue_size() -> None:
    agg = started_run()
    agg.feed_records(b"".join(rec(Kind.TASK_QUEUED, 0, t) for t in range(10)))
    assert agg.queue_depth() == 10  # submitted-but-not-started...
    agg.feed_records(rec(Kind.QUEUE_DEPTH, 1, 0, aux=3) + rec(Kind.QUEUE_DEPTH, 2, 0, aux=8))
    assert agg.queue_depth() == 8  # ...until the queue itself reports
    assert agg.summary().peak_queue_depth == 10


def test_dropped_events_are_summed() -> None:
    agg = started_run()
    agg.feed_records(rec(Kind.DROPPED, 1, aux=5) + rec(Kind.DROPPED, 2, aux=7))
    assert agg.summary().dropped_events == 12


def test_hybrid_offloaded_parts_count_as_cpu() -> None:
    agg = started_run()
    agg.feed_records(
        rec(Kind.TASK_START, 0, 0, tid=7, flags=START_COROUTINE)
        + rec(Kind.SPAN_START, 10, 0, pid=201, tid=201)
        + rec(Kind.SPAN_FINISH, 60, 0, pid=201, tid=201, aux=50 * MS)
        + rec(Kind.TASK_FINISH, 61, 0, tid=7, aux=MS)
    )
    s = agg.summary()
    assert s.completed == 1
    assert agg.cpu_ns == 51 * MS
    process_lane = agg.lanes[(201, 201, 0)]
    assert process_lane.spans[0][5] == 1  # the offloaded part


def test_memory_stays_bounded(monkeypatch: object) -> None:
    agg = started_run()
    many = timeline.SPANS_PER_LANE * 3
    stream = b"".join(
        rec(Kind.TASK_START, i, i, tid=5) + rec(Kind.TASK_FINISH, i + 0.5, i, tid=5)
        for i in range(many)
    )
    agg.feed_records(stream)
    assert len(agg.lane_list[0].spans) == timeline.SPANS_PER_LANE
    assert agg.summary().completed == many  # the totals are exact all the same


def test_down_lanes_are_forgotten_beyond_the_cap() -> None:
    agg = started_run()
    n = agg_mod.DOWN_LANES_KEPT + 10
    for tid in range(1000, 1000 + n):  # thread-per-task: a thread per task, each gone after it
        agg.feed_records(
            rec(Kind.TASK_START, 0, tid, tid=tid)
            + rec(Kind.TASK_FINISH, 1, tid, tid=tid)
            + rec(Kind.WORKER_DOWN, 2, tid=tid)
        )
    assert len(agg.lane_list) <= agg_mod.DOWN_LANES_KEPT
    assert [lane.index for lane in agg.lane_list] == list(range(len(agg.lane_list)))
    assert agg.summary().completed == n


def test_core_utilisation_counts_only_the_run_window() -> None:
    agg = RunAggregate({"model": "threads"})
    agg.feed_records(rec(Kind.RUN_START, 100))
    # 0..100 ms: before the run (ignored); 100..200 ms: core 0 busy, core 1 idle.
    agg.add_sample(Sample(100 * MS, (50.0, 50.0), {}, {}, 0), 0, [0.05, 0.05], [0.1, 0.1])
    agg.add_sample(Sample(200 * MS, (100.0, 0.0), {}, {1: 10}, 0), 100 * MS, [0.1, 0.0], [0.1, 0.1])
    agg.feed_records(rec(Kind.RUN_END, 200))
    # 200..300 ms: after the run (ignored).
    agg.add_sample(Sample(300 * MS, (0.0, 100.0), {}, {}, 0), 200 * MS, [0.0, 0.1], [0.1, 0.1])
    assert agg.core_utilisation() == [100.0, 0.0]
    assert agg.peak_rss == 10


def test_ticks_taken_before_the_run_events_arrive_still_count() -> None:
    """A 40 ms run on a busy machine: its events reach the observer after the
    sampler's ticks that covered it (CI saw ``core_utilisation == []``)."""
    agg = RunAggregate({"model": "threads"})
    agg.add_sample(Sample(100 * MS, (50.0, 50.0), {}, {}, 0), 0, [0.05, 0.0], [0.1, 0.1])
    agg.add_sample(Sample(200 * MS, (0.0, 0.0), {}, {}, 0), 100 * MS, [0.0, 0.0], [0.1, 0.1])
    assert agg.core_utilisation() == []  # nothing is known about the run yet
    agg.feed_records(rec(Kind.RUN_START, 40) + rec(Kind.RUN_END, 80))
    assert agg.core_utilisation() == [50.0, 0.0]
    assert agg.summary().core_utilisation == [50.0, 0.0]


def test_settled_before_is_the_oldest_open_task_or_the_last_finish() -> None:
    """Before this time a lane's bins can no longer change (so drawn cells can be kept)."""
    agg = started_run()
    agg.feed_records(
        rec(Kind.TASK_START, 0, 1, tid=11)
        + rec(Kind.TASK_FINISH, 100, 1, tid=11)
        + rec(Kind.TASK_START, 4000, 2, tid=11)  # in flight on lane 11
        + rec(Kind.TASK_START, 0, 3, tid=12)
        + rec(Kind.TASK_FINISH, 7000, 3, tid=12)  # idle since 7 s on lane 12
        + rec(Kind.TASK_START, 0, 4, tid=13)
        + rec(Kind.TASK_FINISH, 10, 4, tid=13)  # idle since long ago on lane 13
    )
    lanes = {lane.tid: lane.index for lane in agg.lane_list}
    settled = agg.settled_before(9000 * MS)
    assert settled[lanes[11]] == 4000 * MS  # its task may still finish and reach back
    assert settled[lanes[12]] == 7000 * MS  # its next task starts after its last finish
    assert settled[lanes[13]] == 6000 * MS  # nothing is taken to arrive over 3 s late


def test_memory_per_task_is_the_growth_over_the_tasks_in_flight() -> None:
    agg = started_run()
    agg.feed_text(
        {"type": "run_start", "pid": RUNNER, "memory_at_start": 20 << 20, "memory_measure": "PSS"}
    )
    for task in range(4):  # four tasks in flight at once, on four threads
        agg.feed_records(rec(Kind.TASK_START, 1, task, tid=10 + task))
    agg.add_sample(Sample(50 * MS, (0.0,), {}, {}, 0, memory=26 << 20), 0, [0.0], [0.1])
    agg.add_sample(Sample(60 * MS, (0.0,), {}, {}, 0, memory=None), 50 * MS, [0.0], [0.1])
    agg.add_sample(Sample(70 * MS, (0.0,), {}, {}, 0, memory=28 << 20), 60 * MS, [0.0], [0.1])
    agg.add_sample(Sample(80 * MS, (0.0,), {}, {}, 0, memory=27 << 20), 70 * MS, [0.0], [0.1])
    s = agg.summary()
    assert s.peak_in_flight == 4
    assert (s.peak_memory, s.memory_at_start, s.memory_measure) == (28 << 20, 20 << 20, "PSS")
    assert s.memory_per_task == 2 << 20  # (28 - 20) MiB over 4 tasks


def test_memory_per_task_counts_waiting_tasks_where_the_model_made_them_all_first() -> None:
    """asyncio's TaskGroup: 40 Tasks exist, 4 run; a pool's 36 waiting items cost little."""

    def per_task(upfront: bool) -> tuple[float | None, int, str]:
        agg = started_run()
        model = "asyncio" if upfront else "threads"
        agg.feed_text(
            {
                "type": "run_start",
                "pid": RUNNER,
                "memory_at_start": 20 << 20,
                "spec": {"model": model, "workload": "sleep", "workers": 4, "tasks": 40},
                "tasks_upfront": upfront,
            }
        )
        agg.feed_records(b"".join(rec(Kind.TASK_QUEUED, 0, task) for task in range(40)))
        for task in range(4):
            agg.feed_records(rec(Kind.TASK_START, 1, task, tid=10 + task))
        agg.add_sample(Sample(50 * MS, (0.0,), {}, {}, 0, memory=30 << 20), 0, [0.0], [0.1])
        s = agg.summary()
        assert s.peak_in_flight == 4
        return s.memory_per_task, s.memory_tasks, s.memory_tasks_basis

    assert per_task(upfront=False) == (10 / 4 * 2**20, 4, "in flight")
    assert per_task(upfront=True) == (10 / 40 * 2**20, 40, "alive")


def test_tasks_alive_go_down_as_they_finish_or_are_cancelled() -> None:
    agg = started_run()
    agg.feed_records(
        b"".join(rec(Kind.TASK_QUEUED, 0, task) for task in range(3))  # 3 alive
        + rec(Kind.TASK_START, 1, 0)
        + rec(Kind.TASK_FINISH, 2, 0)  # 2
        + rec(Kind.TASK_CANCELLED, 3, 1)  # 1
        + rec(Kind.TASK_QUEUED, 4, 3)  # 2
        + rec(Kind.TASK_QUEUED, 5, 4)  # 3
        + rec(Kind.TASK_QUEUED, 6, 5)  # 4: the most
        + rec(Kind.TASK_START, 7, 2)
        + rec(Kind.TASK_FINISH, 8, 2, flags=Status.ERROR)  # 3
        + rec(Kind.TASK_QUEUED, 9, 6)  # 4
    )
    assert agg.peak_alive == 4


def test_memory_per_task_is_not_worked_out_from_allocator_noise() -> None:
    agg = started_run()
    agg.feed_text({"type": "run_start", "pid": RUNNER, "memory_at_start": 20 << 20})
    agg.feed_records(rec(Kind.TASK_START, 1, 0))
    grown = (20 << 20) + agg_mod.MEMORY_RESOLUTION // 2
    agg.add_sample(Sample(50 * MS, (0.0,), {}, {}, 0, memory=grown), 0, [0.0], [0.1])
    s = agg.summary()
    assert s.peak_memory == grown
    assert s.memory_per_task is None  # half a MiB over one task says nothing about a task
    assert RunAggregate({}).summary().memory_per_task is None  # nothing measured


def test_memory_per_task_starts_at_exactly_the_allocators_granularity() -> None:
    agg = started_run()
    agg.feed_text({"type": "run_start", "pid": RUNNER, "memory_at_start": 20 << 20})
    agg.feed_records(rec(Kind.TASK_START, 1, 0))
    grown = (20 << 20) + agg_mod.MEMORY_RESOLUTION
    agg.add_sample(Sample(50 * MS, (0.0,), {}, {}, 0, memory=grown), 0, [0.0], [0.1])
    assert agg.summary().memory_per_task == agg_mod.MEMORY_RESOLUTION  # one task grew it so


def test_core_wait_is_never_more_than_the_tasks_time() -> None:
    """The sampler's 100 ms window can hold more run-queue wait than the tasks' own time."""
    agg = started_run()
    agg.feed_records(rec(Kind.TASK_START, 0, 0, tid=10) + rec(Kind.TASK_FINISH, 50, 0, tid=10))
    agg.add_sample(Sample(100 * MS, (0.0,), {}, {}, 0, core_wait_ns=90 * MS), 0, [0.0], [0.1])
    assert agg.summary().core_wait_fraction == 1.0


def test_core_wait_counts_within_the_run_against_the_tasks_time() -> None:
    agg = started_run()  # RUN_START at 0
    agg.feed_records(
        rec(Kind.TASK_START, 0, 0, tid=10)
        + rec(Kind.TASK_FINISH, 200, 0, tid=10)
        + rec(Kind.TASK_START, 0, 1, tid=11)
        + rec(Kind.TASK_FINISH, 200, 1, tid=11)
    )
    assert agg.summary().core_wait_fraction is None  # nothing measured yet
    # -100..100 ms: half of it before the run, so half of its 80 ms of waiting counts.
    agg.add_sample(
        Sample(100 * MS, (0.0,), {}, {}, 0, core_wait_ns=80 * MS), -100 * MS, [0.0], [0.1]
    )
    agg.add_sample(
        Sample(200 * MS, (0.0,), {}, {}, 0, core_wait_ns=60 * MS), 100 * MS, [0.0], [0.1]
    )
    s = agg.summary()
    assert s.core_wait_fraction == pytest.approx((40 + 60) / 400)  # two tasks of 200 ms


def test_core_wait_while_running_counts_the_running_tasks_time_so_far() -> None:
    agg = started_run()
    agg.feed_records(rec(Kind.TASK_START, 0, 0, tid=10) + rec(Kind.TASK_START, 0, 1, tid=11))
    agg.add_sample(Sample(100 * MS, (0.0,), {}, {}, 0, core_wait_ns=100 * MS), 0, [0.0], [0.1])
    # No task has finished, but 2 x 100 ms of task time have passed: half of it waiting.
    assert agg.summary(now_ns=100 * MS).core_wait_fraction == pytest.approx(0.5)


def test_the_observers_own_cpu_counts_within_the_run_as_cores() -> None:
    agg = started_run()  # RUN_START at 0
    assert agg.summary().observer_cpu is None  # nothing sampled yet
    # -100..100 ms: half of it before the run, so half of its 40 ms counts, over 100 ms.
    agg.add_sample(
        Sample(100 * MS, (0.0,), {}, {}, 0, observer_ns=40 * MS), -100 * MS, [0.0], [0.1]
    )
    agg.add_sample(Sample(200 * MS, (0.0,), {}, {}, 0, observer_ns=10 * MS), 100 * MS, [0.0], [0.1])
    assert agg.summary().observer_cpu == pytest.approx((20 + 10) / 200)
    agg.add_sample(Sample(300 * MS, (0.0,), {}, {}, 0), 200 * MS, [0.0], [0.1])  # not measured
    assert agg.summary().observer_cpu == pytest.approx((20 + 10) / 200)


def test_a_trace_starts_its_memory_track_with_the_runners_memory_at_start() -> None:
    """A run shorter than a sampler tick still has a memory reading: the one it began with."""
    agg = RunAggregate({"model": "threads", "workload": "cpu", "workers": 2, "tasks": 1})
    agg.feed_text({"type": "run_start", "pid": RUNNER, "memory_at_start": 24 << 20})
    agg.feed_records(
        rec(Kind.RUN_START, 5)
        + rec(Kind.TASK_START, 5, 0, tid=11)
        + rec(Kind.TASK_FINISH, 30, 0, tid=11)
    )
    memory = [e for e in trace_events(agg) if e["name"] == "memory"]
    assert [(e["ts"], e["args"]["MiB"]) for e in memory] == [(0.0, 24.0)]  # ts: from run start


def _spread_reference(lane: Lane, start: int, end: int, cpu: int) -> None:
    """_spread as plainly as it can be said: each bin gets its clipped share."""
    wall = max(end - start, 1)
    b, last = start // BIN_NS, end // BIN_NS
    if last - b > BIN_HISTORY_NS // BIN_NS:
        b = last - BIN_HISTORY_NS // BIN_NS
        start = b * BIN_NS
    while b <= last:
        lo, hi = max(start, b * BIN_NS), min(end, (b + 1) * BIN_NS)
        if hi > lo or start == end:
            lane.busy_bins[b] = lane.busy_bins.get(b, 0) + hi - lo
            lane.cpu_bins[b] = lane.cpu_bins.get(b, 0) + cpu * (hi - lo) // wall
        b += 1


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**11),
            st.sampled_from([0, 1, BIN_NS - 1, BIN_NS, 3 * BIN_NS, 10**9, 10**10, -1]),
            st.integers(0, 10**9),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_spreading_a_span_into_bins_matches_the_plain_clipping(
    spans: list[tuple[int, int, int, float]],
) -> None:
    """The fast path (whole bins in between kept as one run) changes no bin."""
    fast, plain = Lane(0, 1, 2, 0, 0), Lane(0, 1, 2, 0, 0)
    for start, length, other, share in spans:
        end = start + (length if length >= 0 else other)  # -1: an arbitrary length
        cpu = int((end - start) * share)
        timeline.spread(fast, start, end, cpu)
        _spread_reference(plain, start, end, cpu)
    assert timeline.expanded_bins(fast) == (plain.busy_bins, plain.cpu_bins)
    # Bins covered whole are one run each, not an entry each.
    assert len(fast.busy_bins) <= 2 * len(spans)
