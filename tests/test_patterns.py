"""Each pattern, run for real and small, shows what the picture must show."""

from __future__ import annotations

import sys
import textwrap
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from concviz.observer.session import LocalHttpServer, RunSession, SessionError
from concviz.report import describe_result
from concviz.runner.protocol import Kind, Status
from concviz.runner.spec import RunSpec
from tests.support import free_threaded_python, run_captured


def test_race_loses_updates_without_a_lock_and_none_with_one() -> None:
    base = RunSpec(model="threads", workload="counter", workers=4, tasks=8, iterations=200_000)
    # A 0.1 ms switch interval: at the default 5 ms a run this short sees few
    # switches, and now and then none lands inside the read-call-write window.
    racy = run_captured(replace(base, race="call", switch_interval=0.0001)).summary.result
    assert racy["expected"] == 8 * 200_000
    assert racy["actual"] + racy["lost_updates"] == racy["expected"]
    assert racy["lost_updates"] > 0
    locked = run_captured(replace(base, lock=True)).summary.result
    assert locked["expected"] == locked["actual"] == 8 * 200_000
    assert locked["lost_updates"] == 0


@pytest.mark.skipif(free_threaded_python() is None, reason="no free-threaded CPython built here")
def test_without_the_gil_even_counter_plus_equals_one_races() -> None:
    spec = RunSpec(
        model="threads", workload="counter", workers=4, tasks=8, iterations=200_000, race="inplace"
    )
    result = run_captured(spec, python=free_threaded_python()).summary.result
    assert result["lost_updates"] > 0


def test_counter_workload_refuses_process_models() -> None:
    with pytest.raises(ValueError, match="shares memory between threads"):
        RunSpec(model="processes", workload="counter").validated()


def test_opposite_lock_orders_deadlock_until_a_timeout_and_a_fixed_order_does_not() -> None:
    base = RunSpec(
        model="threads", workload="deadlock", workers=2, tasks=8, task_ms=80, timeout_ms=150
    )
    cap = run_captured(replace(base, lock_order="opposite"))
    stuck = cap.summary
    assert stuck.result == {"lock_order": "opposite", "lock_timeouts": stuck.failed}
    assert stuck.failed > 0  # two threads, each holding the lock the other waits for
    assert stuck.completed + stuck.failed == 8
    assert f"opposite order: {stuck.failed} gave up on a lock" in describe_result(stuck.result)
    errors = [t for t in cap.texts if t.get("type") == "task_error"]
    assert {e["error"] for e in errors} == {"LockTimeout"}
    assert all(" ms for " in e["message"] for e in errors)
    # A stuck transfer waits: its bar is long and uses next to no CPU.
    failed = [r for r in cap.of_kind(Kind.TASK_FINISH) if r[1] == Status.ERROR]
    assert all(r[8] < 20_000_000 for r in failed)  # < 20 ms of CPU in a >= 190 ms task
    fixed = run_captured(replace(base, lock_order="fixed")).summary
    assert fixed.result == {"lock_order": "fixed", "lock_timeouts": 0}
    assert (fixed.completed, fixed.failed) == (8, 0)
    assert "fixed order: none stuck" in describe_result(fixed.result)
    one_thread = run_captured(replace(base, model="sequential")).summary
    assert (one_thread.completed, one_thread.failed) == (8, 0)  # one thread cannot deadlock


def test_a_deadlock_without_a_timeout_hangs_until_stopped() -> None:
    spec = RunSpec(
        model="threads", workload="deadlock", workers=2, tasks=4, task_ms=40, timeout_ms=0
    )
    session = RunSession(spec).start()
    try:
        assert not session.wait(1.5)  # 4 tasks of 40 ms: stuck, not slow
        assert session.summary().completed == 0
        session.stop(grace=0.6)
        assert session.wait(5)
        assert session.summary().status == "stopped"
    finally:
        session.close()


def test_deadlock_workload_checks_its_lock_order_and_refuses_processes() -> None:
    with pytest.raises(
        ValueError, match=r"unknown lock order 'sideways' \(choose from opposite, fixed\)"
    ):
        RunSpec(workload="deadlock", lock_order="sideways").validated()
    with pytest.raises(ValueError, match="shares memory between threads"):
        RunSpec(model="processes", workload="deadlock").validated()


def test_processes_sharing_a_value_lose_updates_unless_they_hold_its_lock() -> None:
    base = RunSpec(model="processes", workload="shared-counter", workers=2, tasks=4)
    n = 100_000
    for _attempt in range(3):  # the race needs both processes on a core at once
        racy = run_captured(replace(base, iterations=n)).summary.result
        if racy["lost_updates"] > 0:
            break
    assert racy["expected"] == 4 * n
    assert racy["actual"] + racy["lost_updates"] == racy["expected"]
    assert racy["lost_updates"] > 0
    # spawn: the Value reaches the workers only as an initializer argument; the
    # count is in the runner's copy, so it is exact only if they really share it.
    locked = run_captured(replace(base, iterations=20_000, lock=True, start_method="spawn"))
    assert locked.summary.result["actual"] == locked.summary.result["expected"] == 4 * 20_000
    assert "lost" in describe_result(racy)


def test_shared_counter_stays_out_of_sub_interpreters() -> None:
    with pytest.raises(ValueError, match="cannot enter a sub-interpreter"):
        RunSpec(model="interpreters", workload="shared-counter").validated()


def test_semaphore_caps_tasks_in_flight() -> None:
    summary = run_captured(
        RunSpec(model="asyncio", workload="sleep", workers=3, tasks=12, task_ms=40)
    ).summary
    assert summary.peak_in_flight == 3
    assert summary.lanes == 3


def test_token_bucket_holds_the_rate_after_the_burst(http_server: LocalHttpServer) -> None:
    spec = RunSpec(
        model="token-bucket", workload="sleep", workers=30, tasks=23, task_ms=10, rate=20.0, burst=3
    )
    cap = run_captured(spec)
    result = cap.summary.result
    assert result["rate_limit"] == 20.0
    assert abs(result["achieved_rate"] - 20.0) <= 0.25 * 20.0
    starts = sorted(r[6] for r in cap.of_kind(Kind.TASK_START))
    burst_span = (starts[2] - starts[0]) / 1e9
    steady_span = (starts[-1] - starts[3]) / 1e9
    assert burst_span < 0.02  # the burst starts at once...
    assert steady_span > 0.8  # ...the rest one per 50 ms


def test_retry_draws_each_attempt_and_backs_off(http_server: LocalHttpServer) -> None:
    spec = RunSpec(
        model="retry", workload="http", workers=8, tasks=16, task_ms=20, flaky=0.5, attempts=4
    )
    cap = run_captured(spec, http=http_server)
    s = cap.summary
    assert s.completed + s.failed == 16
    attempts = Counter(r[5] for r in cap.of_kind(Kind.SPAN_FINISH))
    assert set(attempts) == set(range(16))  # every task made at least one attempt
    assert max(attempts.values()) > 1  # some were retried
    assert max(attempts.values()) <= 4
    failed_attempts = [r for r in cap.of_kind(Kind.SPAN_FINISH) if r[1] == Status.ERROR]
    assert len(failed_attempts) == s.result["failed_attempts"] > 0
    # a task's bar is its attempts: the whole-task span is not drawn
    assert all(
        span[5] >= 1
        for lane in (cap.session.aggregate.lane_list if cap.session else [])
        for span in lane.spans
    )


def test_timeout_cancels_the_slow_tasks() -> None:
    spec = RunSpec(
        model="timeout",
        workload="sleep",
        workers=8,
        tasks=16,
        task_ms=100,
        jitter=0.6,
        timeout_ms=100,
    )
    cap = run_captured(spec)
    s = cap.summary
    timed_out = s.result["timed_out"]
    assert 0 < timed_out < 16
    stopped = [r for r in cap.of_kind(Kind.TASK_FINISH) if r[1] == Status.STOPPED]
    assert len(stopped) == timed_out == s.cancelled
    assert s.completed == 16 - timed_out


def failure_run(model: str) -> tuple[object, object]:
    spec = RunSpec(model=model, workload="sleep", workers=8, tasks=8, task_ms=300, fail_task=2)
    summary = run_captured(spec).summary
    return summary, summary.result


def test_taskgroup_cancels_the_siblings_of_a_failed_task() -> None:
    summary, result = failure_run("taskgroup")
    assert summary.failed == 1  # type: ignore[attr-defined]
    assert summary.cancelled == 7  # type: ignore[attr-defined]
    assert "ExceptionGroup" in result["outcome"]  # type: ignore[index]


def test_gather_propagates_the_error_but_the_others_run_on() -> None:
    summary, result = failure_run("gather")
    assert summary.failed == 1  # type: ignore[attr-defined]
    assert summary.completed == 7  # type: ignore[attr-defined]
    assert result["still_running"] == 7  # type: ignore[index]


def test_gather_with_return_exceptions_runs_everything() -> None:
    summary, result = failure_run("gather-results")
    assert (summary.completed, summary.failed, summary.cancelled) == (7, 1, 0)  # type: ignore[attr-defined]
    assert "1 of them exceptions" in result["outcome"]  # type: ignore[index]


def test_backpressure_pins_the_queue_and_makes_the_producer_wait() -> None:
    spec = RunSpec(
        model="async-queue", workload="sleep", workers=2, tasks=20, task_ms=30, queue_size=4
    )
    summary = run_captured(spec).summary
    assert summary.peak_queue_depth == 4
    assert summary.producer_wait_s > 0.1  # 16 tasks waited for a free slot


def test_graceful_shutdown_on_sigint_finishes_in_flight_work_and_counts() -> None:
    spec = RunSpec(
        model="graceful-shutdown",
        workload="sleep",
        workers=3,
        tasks=200,
        task_ms=100,
        deadline_ms=500,
    )
    with RunSession(spec) as session:
        session.stop_after(0.6)
        assert session.wait(15)
        summary = session.summary()
    result = summary.result
    assert result["signalled"] is True
    assert result["finished_in_time"] is True
    assert 0 < summary.completed < 200
    assert summary.completed + result["never_started"] < 200  # the rest were never handed out


def test_start_up_cost_fork_vs_spawn_and_tiny_tasks() -> None:
    tiny = RunSpec(workload="cpu", workers=2, tasks=100, iterations=100)
    sequential = run_captured(replace(tiny, model="sequential")).summary
    fork = run_captured(replace(tiny, model="processes", start_method="fork")).summary
    spawn = run_captured(replace(tiny, model="processes", start_method="spawn")).summary
    assert fork.wall_s > sequential.wall_s  # pickling and pipes cost more than the work
    assert fork.worker_startup_s is not None
    assert spawn.worker_startup_s is not None
    assert spawn.worker_startup_s > fork.worker_startup_s
    assert sequential.worker_startup_s is None


def test_a_forgotten_await_skips_the_wait_and_its_warning_reaches_the_summary() -> None:
    spec = RunSpec(
        model="asyncio", workload="forgot-await", workers=12, tasks=12, task_ms=300, block_every=4
    )
    cap = run_captured(spec)
    starts = {r[5]: r[6] for r in cap.of_kind(Kind.TASK_START)}
    took_ms = {r[5]: (r[6] - starts[r[5]]) / 1e6 for r in cap.of_kind(Kind.TASK_FINISH)}
    forgot = {t for t in took_ms if t % 4 == 0}
    assert forgot == {0, 4, 8}
    assert all(took_ms[t] < 100 for t in forgot)  # no wait at all, and no error either
    assert all(took_ms[t] >= 250 for t in took_ms if t not in forgot)
    assert cap.summary.completed == 12
    (warning,) = cap.summary.warnings
    assert warning.startswith(
        "RuntimeWarning: coroutine 'sleep' was never awaited (async_pitfalls.py:"
    )


# -- your own code ------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path: Path) -> Path:
    (tmp_path / "userwork.py").write_text(
        textwrap.dedent("""
        import asyncio
        calls = []

        def crunch(n, scale=1):
            return sum(i * i for i in range(n * scale))

        async def wait(ms):
            await asyncio.sleep(ms / 1000)

        not_picklable = lambda n: n

        def careful(n):
            import warnings
            warnings.warn(f"deprecated size {n}", DeprecationWarning, stacklevel=1)

        def careful_loud(n):
            import warnings
            warnings.warn(f"size {n} is large", UserWarning, stacklevel=1)

        def frozen_before(n):
            import gc
            if not gc.get_freeze_count():
                raise RuntimeError("concviz's own objects are still the collector's to walk")
    """)
    )
    return tmp_path


def custom(user_module: Path, task: str, **settings: Any) -> RunSpec:
    """A run of one of ``user_module``'s functions as the task."""
    return RunSpec(
        workload="custom", task=f"userwork:{task}", task_path=str(user_module), **settings
    )


def four_tasks(
    user_module: Path, task: str, model: str, start_method: str | None, arg: int
) -> RunSpec:
    """Four calls of ``task(arg)`` on two workers of ``model``."""
    return custom(
        user_module,
        task,
        model=model,
        start_method=start_method,
        workers=2,
        tasks=4,
        task_args=[arg],
    )


@pytest.mark.parametrize(
    ("model", "start_method"), [("threads", None), ("processes", "fork"), ("processes", "spawn")]
)
def test_warnings_your_code_raises_are_in_the_summary(
    user_module: Path, model: str, start_method: str | None
) -> None:
    # spawn: a worker process that did not inherit the runner's set-up
    spec = four_tasks(user_module, "careful", model, start_method, 7)
    summary = run_captured(spec).summary
    assert summary.completed == 4
    # Python's default filters show a DeprecationWarning only when raised in __main__:
    # concviz reports what Python shows, and no more.
    assert summary.warnings == {}
    noisy = run_captured(replace(spec, task="userwork:careful_loud"))
    ((message, count),) = noisy.summary.warnings.items()
    assert message.startswith("UserWarning: size 7 is large (userwork.py:")
    # Python's 'default' action shows it once per process: once per process that
    # ran a task, and reported once each time it is shown.
    assert count == len({r[3] for r in noisy.of_kind(Kind.TASK_START)})


@pytest.mark.parametrize("model", ["threads", "processes", "asyncio"])
def test_your_own_function_runs_in_any_model(user_module: Path, model: str) -> None:
    spec = custom(
        user_module,
        "crunch",
        model=model,
        workers=2,
        tasks=4,
        task_args=[20_000],
        task_kwargs={"scale": 2},
    )
    summary = run_captured(spec).summary
    assert summary.completed == 4
    assert summary.cpu_s > 0


def test_an_async_function_is_awaited(user_module: Path) -> None:
    spec = custom(user_module, "wait", model="asyncio", workers=8, tasks=8, task_args=[100])
    summary = run_captured(spec).summary
    assert summary.completed == 8
    assert summary.wall_s < 0.5  # awaited together, not one after another


@pytest.mark.parametrize(
    ("target", "model", "needle"),
    [
        ("nosuchmodule:f", "threads", "cannot import 'nosuchmodule'"),
        ("userwork:missing", "threads", "has no 'missing'"),
        ("userwork:not_picklable", "processes", "cannot be pickled"),
    ],
)
def test_your_own_function_errors_are_clear(
    user_module: Path, target: str, model: str, needle: str
) -> None:
    spec = RunSpec(model=model, workload="custom", task=target, task_path=str(user_module))
    with pytest.raises(SessionError, match=needle):
        RunSession(spec).start()


def test_blocking_the_loop_is_still_a_pattern() -> None:
    assert sys.version_info >= (3, 11)  # (blocking-async is covered in test_models)


def test_a_thread_timeout_stops_the_waiting_not_the_thread() -> None:
    # 2 threads, 400 ms tasks, 80 ms per wait: the two running tasks time out
    # (and run on), the two queued ones time out before a thread frees up.
    spec = RunSpec(model="thread-timeout", workload="sleep", workers=2, tasks=4, task_ms=400)
    spec = replace(spec, timeout_ms=80)
    cap = run_captured(spec)
    s = cap.summary
    result = s.result
    assert result["ran_on_after_timeout"] >= 1
    assert result["gave_up"] >= result["ran_on_after_timeout"]
    assert s.cancelled == result["gave_up"] - result["ran_on_after_timeout"]
    assert s.completed + s.cancelled == 4
    assert s.failed == 0
    # a task the caller gave up on still ran its whole length: no thread is stopped
    lanes = cap.session.aggregate.lane_list if cap.session else []
    durations = [span[2] - span[1] for lane in lanes for span in lane.spans]
    assert len(durations) == s.completed
    assert min(durations) >= 3 * 80 * 1_000_000


def test_pattern_results_read_as_words() -> None:
    assert (
        describe_result({"timeout_ms": 80.0, "gave_up": 3, "ran_on_after_timeout": 2})
        == "gave up on 3 after 80 ms: 2 ran on anyway, 1 cancelled while queued"
    )
    assert describe_result({"timed_out": 4, "timeout_ms": 120.0}) == "4 timed out after 120 ms"
    race = describe_result({"expected": 10, "actual": 7, "lost_updates": 3, "lock": False})
    assert race == "7 of 10: 3 lost"
    assert describe_result({"surprise": 1}) == "surprise=1"


@pytest.mark.parametrize(
    ("model", "start_method"),
    [("threads", None), ("asyncio", None), ("processes", "fork"), ("processes", "spawn")],
)
def test_concviz_s_own_objects_are_set_aside_from_the_collector(
    user_module: Path, model: str, start_method: str | None
) -> None:
    """Older GC passes walked concviz's modules too: 7 % of a run of 20 µs asyncio tasks."""
    spec = four_tasks(user_module, "frozen_before", model, start_method, 1)
    summary = run_captured(spec).summary
    assert (summary.completed, summary.failed) == (4, 0), summary.errors
