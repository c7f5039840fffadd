"""Every model, run for real: every task exactly once, from the worker that ran it."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from concviz.models import CATALOG
from concviz.observer.session import LocalHttpServer
from concviz.runner.protocol import Kind, Status
from concviz.runner.spec import RunSpec
from tests.support import run_captured

#: The models this interpreter can run (``interpreters`` needs Python 3.14+).
ALL_MODELS = [m for m, info in CATALOG.items() if info.unavailable(sys.version_info[:3]) is None]
TASKS = 12


def _assert_each_task_once(cap_records: list[tuple[int, ...]], kinds: tuple[Kind, ...]) -> None:
    for kind in kinds:
        counts = Counter(r[5] for r in cap_records if r[0] == kind)
        assert counts == dict.fromkeys(range(TASKS), 1), f"{kind.name}: {counts}"


@pytest.mark.parametrize("model", ALL_MODELS)
def test_every_task_queued_started_and_finished_exactly_once(model: str) -> None:
    cap = run_captured(RunSpec(model=model, workload="sleep", workers=3, tasks=TASKS, task_ms=20))
    assert cap.summary.status == "done", cap.summary.run_error
    assert cap.summary.completed == TASKS
    _assert_each_task_once(cap.records, (Kind.TASK_QUEUED, Kind.TASK_START, Kind.TASK_FINISH))
    assert all(r[1] == Status.OK for r in cap.of_kind(Kind.TASK_FINISH))
    assert len(cap.of_kind(Kind.RUN_START)) == len(cap.of_kind(Kind.RUN_END)) == 1
    # Timestamps are one clock: every task finishes after it starts.
    starts = {r[5]: r[6] for r in cap.of_kind(Kind.TASK_START)}
    assert all(r[6] >= starts[r[5]] for r in cap.of_kind(Kind.TASK_FINISH))


@pytest.mark.parametrize("model", ALL_MODELS)
def test_cpu_tasks_report_their_cpu_time(model: str) -> None:
    cap = run_captured(RunSpec(model=model, workload="cpu", workers=2, tasks=TASKS, task_ms=5))
    assert cap.summary.completed == TASKS
    _assert_each_task_once(cap.records, (Kind.TASK_START, Kind.TASK_FINISH))
    # Each finish carries the CPU its task used; CPU-bound tasks used some.
    assert cap.summary.cpu_s > 0
    assert cap.summary.on_cpu_fraction > 0


@pytest.mark.parametrize("model", ["threads", "thread-per-task", "thread-queue", "to-thread"])
def test_thread_models_run_on_distinct_worker_threads(model: str) -> None:
    cap = run_captured(RunSpec(model=model, workload="sleep", workers=3, tasks=TASKS, task_ms=30))
    runner = cap.texts[0]["pid"]
    tids = {r[4] for r in cap.of_kind(Kind.TASK_START)}
    pids = {r[3] for r in cap.of_kind(Kind.TASK_START)}
    assert pids == {runner}
    expected = TASKS if model == "thread-per-task" else 3
    assert len(tids) == expected
    ups = {r[4] for r in cap.of_kind(Kind.WORKER_UP)}
    downs = {r[4] for r in cap.of_kind(Kind.WORKER_DOWN)}
    assert tids <= ups
    assert tids <= downs  # every worker thread reported going away


@pytest.mark.parametrize("model", ["asyncio", "async-queue"])
def test_async_models_use_slots_on_one_thread(model: str) -> None:
    cap = run_captured(RunSpec(model=model, workload="sleep", workers=4, tasks=TASKS, task_ms=30))
    starts = cap.of_kind(Kind.TASK_START)
    assert len({(r[3], r[4]) for r in starts}) == 1  # one thread...
    assert {r[2] for r in starts} == {0, 1, 2, 3}  # ...four concurrent slots


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize("model", ["processes", "mp-pool"])
def test_worker_processes_report_directly_with_every_start_method(
    model: str, start_method: str
) -> None:
    cap = run_captured(
        RunSpec(
            model=model,
            workload="cpu",
            workers=2,
            tasks=TASKS,
            task_ms=5,
            start_method=start_method,
        )
    )
    assert cap.summary.status == "done", cap.summary.run_error
    assert cap.summary.start_method == start_method
    runner = cap.texts[0]["pid"]
    workers = {r[3] for r in cap.of_kind(Kind.TASK_START)}
    assert runner not in workers
    assert 1 <= len(workers) <= 2
    _assert_each_task_once(cap.records, (Kind.TASK_START, Kind.TASK_FINISH))
    assert workers <= {r[3] for r in cap.of_kind(Kind.WORKER_DOWN)}  # flushed on the way out


def test_hybrid_offloads_the_cpu_part_to_processes(http_server: LocalHttpServer) -> None:
    cap = run_captured(
        RunSpec(model="hybrid", workload="mixed", workers=2, tasks=TASKS, task_ms=20),
        http=http_server,
    )
    assert cap.summary.completed == TASKS
    runner = cap.texts[0]["pid"]
    assert {r[3] for r in cap.of_kind(Kind.TASK_START)} == {runner}  # whole tasks: on the loop
    span_pids = {r[3] for r in cap.of_kind(Kind.SPAN_START)}
    assert span_pids
    assert runner not in span_pids
    assert Counter(r[5] for r in cap.of_kind(Kind.SPAN_FINISH)) == dict.fromkeys(range(TASKS), 1)


@pytest.mark.parametrize("model", ["threads", "asyncio", "sequential"])
def test_http_workload_does_real_requests(model: str, http_server: LocalHttpServer) -> None:
    cap = run_captured(
        RunSpec(model=model, workload="http", workers=4, tasks=8, task_ms=50, payload_bytes=10_000),
        http=http_server,
    )
    assert cap.summary.completed == 8, cap.summary.errors or cap.summary.run_error
    # The server held every response ~50 ms: tasks mostly wait.
    assert cap.summary.on_cpu_fraction < 0.5
    if model == "asyncio":
        assert cap.texts[0]["http_client"] == "aiohttp"


def test_failing_tasks_are_counted_and_the_run_goes_on() -> None:
    cap = run_captured(
        RunSpec(model="threads", workload="sleep", workers=2, tasks=20, task_ms=5, fail_rate=0.3)
    )
    s = cap.summary
    assert s.status == "done"
    assert s.failed > 0
    assert s.completed + s.failed == 20
    errors = [t for t in cap.texts if t["type"] == "task_error"]
    assert len(errors) == s.failed
    assert all(e["error"] == "InjectedFailure" and "--fail-rate" in e["message"] for e in errors)
    assert sum(s.errors.values()) == s.failed


def test_blocking_call_freezes_the_event_loop() -> None:
    """With every task blocking, asyncio degrades to one task at a time."""
    spec = RunSpec(
        model="asyncio", workload="blocking-async", workers=8, tasks=8, task_ms=40, block_every=1
    )
    blocked = run_captured(spec).summary
    free = run_captured(
        RunSpec(model="asyncio", workload="sleep", workers=8, tasks=8, task_ms=40)
    ).summary
    assert blocked.wall_s > 3 * free.wall_s
