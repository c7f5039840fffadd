"""Findings: each rule on its own figures (no processes), then every shipped scenario for real.

The scenario test is the one that matters: each pitfall scenario raises exactly
its findings and every healthy run none, on this busy machine.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from concviz.findings import Finding, Shape, findings, shape_of
from concviz.observer.aggregate import RunAggregate, Summary
from concviz.observer.session import LocalHttpServer
from concviz.runner.protocol import RECORD, START_COROUTINE, Kind, Status
from concviz.scenario import shipped

from .scenario_runs import ScenarioRun, run_one, scenario_runs
from .support import concviz

DATA = Path(__file__).parent / "data"


def summary(**changes: Any) -> Summary:
    """A healthy finished run of 2 workers on 2 cores; ``changes`` make it otherwise."""
    base = Summary(
        model="threads",
        workload="sleep",
        workers=2,
        tasks=8,
        status="done",
        completed=8,
        failed=0,
        cancelled=0,
        wall_s=1.0,
        cpu_s=0.01,
        throughput=8.0,
        parallelism=0.01,
        on_cpu_fraction=0.01,
        peak_queue_depth=6,
        cores=2,
        core_utilisation=[5.0, 5.0],
        peak_rss=0,
        python="3.11.2",
        gil_enabled=True,
        events=20,
        dropped_events=0,
        start_method=None,
        task_ms=100.0,
        lanes=2,
        errors={},
        run_error=None,
        transport_errors=[],
        peak_in_flight=2,
        core_wait_fraction=0.0,
    )
    return replace(base, **changes)


THREADS = Shape(lane_kinds=frozenset({"thread"}), nature="io", busy_share=0.9)
PROCESSES = Shape(lane_kinds=frozenset({"process"}), nature="cpu", busy_share=0.9)


def codes(found: list[Finding]) -> list[str]:
    return [f.code for f in found]


def test_a_healthy_run_has_no_findings() -> None:
    assert findings(summary(), THREADS) == []
    assert findings(summary(completed=0), THREADS) == []  # nothing finished: nothing to say


def test_gil_bound_threads_name_the_figure_and_the_scenario() -> None:
    s = summary(parallelism=0.95, on_cpu_fraction=0.25, core_wait_fraction=0.05, workers=4)
    s = replace(s, peak_in_flight=4)
    (found,) = findings(s, replace(THREADS, nature="cpu"))
    assert found.code == "gil-bound"
    assert "4 threads kept 0.95 cores busy" in found.figure
    assert "70%" in found.figure
    assert found.scenario == "gil"
    assert "processes" in found.suggestion
    # Not on a free-threaded build, not for I/O threads, not for a race's shared counter.
    assert findings(replace(s, gil_enabled=False), THREADS) == []
    assert findings(replace(s, parallelism=0.03), THREADS) == []
    assert findings(s, replace(THREADS, threads_only=True)) == []


def test_oversubscribed_needs_more_workers_than_cores_that_compute() -> None:
    s = summary(
        model="processes",
        peak_in_flight=8,
        parallelism=1.9,
        on_cpu_fraction=0.25,
        core_wait_fraction=0.74,
    )
    assert codes(findings(s, PROCESSES)) == ["oversubscribed"]
    assert "8 workers on 2 cores waited for a core 74%" in findings(s, PROCESSES)[0].figure
    # A neighbour's load makes two workers on two cores wait too: not oversubscription.
    assert findings(replace(s, peak_in_flight=2), PROCESSES) == []
    # Sleeping tasks whose pool was starting: no CPU, no finding.
    assert findings(replace(s, on_cpu_fraction=0.0, core_wait_fraction=1.0), PROCESSES) == []


def test_loop_blocked_from_tasks_that_held_the_loop_with_others_in_flight() -> None:
    s = summary(model="asyncio", peak_in_flight=20)
    slots = Shape(lane_kinds=frozenset({"slot"}), loop_held_s=0.4, longest_hold_s=0.1)
    (found,) = findings(s, slots)
    assert found.code == "loop-blocked"
    assert "400 ms of 1.00 s" in found.figure
    assert "longest 100 ms" in found.figure
    assert found.scenario == "blocking-loop"
    assert findings(s, replace(slots, loop_held_s=0.05)) == []


def _agg_of(records: list[tuple[int, ...]]) -> RunAggregate:
    agg = RunAggregate({"model": "asyncio", "workload": "sleep", "tasks": 3, "workers": 3})
    ms = 1_000_000
    payload = b"".join(
        RECORD.pack(kind, flags, slot, 100, 1, task, int(t * ms), 0, 0)
        for kind, flags, slot, task, t in records
    )
    agg.feed_text({"type": "run_start", "pid": 100, "spec": agg.spec})
    agg.feed_records(RECORD.pack(Kind.RUN_START, 0, 0, 100, 1, 0, 0, 0, 0))
    agg.feed_records(payload)
    agg.feed_records(RECORD.pack(Kind.RUN_END, Status.OK, 0, 100, 1, 0, 400 * ms, 0, 0))
    return agg


def test_shape_sees_a_coroutine_that_never_yielded_while_others_waited() -> None:
    c = START_COROUTINE
    # Task 0 waits 300 ms (awaits); task 1 starts and finishes 200 ms later with nothing
    # in between: it held the loop while task 0 was in flight. Task 2 then runs.
    blocked = _agg_of(
        [
            (Kind.TASK_START, c, 0, 0, 0),
            (Kind.TASK_START, c, 1, 1, 1),
            (Kind.TASK_FINISH, Status.OK, 1, 1, 201),
            (Kind.TASK_START, c, 1, 2, 202),
            (Kind.TASK_FINISH, Status.OK, 0, 0, 300),
            (Kind.TASK_FINISH, Status.OK, 1, 2, 302),
        ]
    )
    shape = shape_of(blocked, 0.4)
    assert shape.lane_kinds == {"slot"}
    assert shape.loop_held_s == pytest.approx(0.2)
    assert shape.longest_hold_s == pytest.approx(0.2)
    # The same tasks overlapping (each awaits): every task's interval has others' events.
    healthy = _agg_of(
        [
            (Kind.TASK_START, c, 0, 0, 0),
            (Kind.TASK_START, c, 1, 1, 1),
            (Kind.TASK_START, c, 2, 2, 2),
            (Kind.TASK_FINISH, Status.OK, 0, 0, 300),
            (Kind.TASK_FINISH, Status.OK, 1, 1, 301),
            (Kind.TASK_FINISH, Status.OK, 2, 2, 302),
        ]
    )
    assert shape_of(healthy, 0.4).loop_held_s == 0.0


def test_startup_dominates_by_its_share_or_by_an_idle_pool() -> None:
    s = summary(model="processes", worker_startup_s=0.9)
    (found,) = findings(s, PROCESSES)
    assert found.code == "startup"
    assert "900 ms into a 1.00 s run" in found.figure
    assert findings(replace(s, worker_startup_s=0.1), PROCESSES) == []
    idle = findings(replace(s, worker_startup_s=0.1), replace(PROCESSES, busy_share=0.03))
    assert codes(idle) == ["startup"]
    assert "3% of it" in idle[0].figure


def test_back_pressure_and_starvation_from_the_queue() -> None:
    s = summary(model="async-queue", producer_wait_s=0.8)
    queue = Shape(
        lane_kinds=frozenset({"slot"}),
        real_queue=True,
        queue_size=8,
        queue_full_share=0.9,
        busy_share=0.95,
    )
    (found,) = findings(s, queue)
    assert found.code == "back-pressure"
    assert "maxsize 8 in 90%" in found.figure
    assert findings(replace(s, producer_wait_s=0.0), queue) == []
    starved = replace(queue, queue_full_share=0.0, queue_empty_share=0.9, busy_share=0.2)
    assert codes(findings(replace(s, producer_wait_s=0.0), starved)) == ["starvation"]


def test_lock_serialised_only_where_workers_could_run_in_parallel_and_lock() -> None:
    s = summary(
        model="processes",
        workload="shared-counter",
        peak_in_flight=2,
        parallelism=0.7,
        on_cpu_fraction=0.35,
        core_wait_fraction=0.05,
    )
    locking = replace(PROCESSES, lock=True)
    assert codes(findings(s, locking)) == ["lock-serialised"]
    assert findings(s, PROCESSES) == []  # no lock: something else blocked them
    assert findings(replace(s, parallelism=1.8), locking) == []  # no collapse


def test_a_straggler_is_a_long_last_task_alone_at_the_end() -> None:
    s = summary(model="processes")
    shape = replace(PROCESSES, tail_s=0.5, last_task_s=0.6, median_task_s=0.1)
    (found,) = findings(s, shape)
    assert found.code == "stragglers"
    assert "ran alone for 500 ms" in found.figure
    assert findings(s, replace(shape, last_task_s=0.12)) == []  # uneven counts, equal tasks
    assert findings(replace(s, cancelled=3), shape) == []  # a stopped run ends unevenly anyway


def test_lost_updates_from_the_race_result() -> None:
    s = summary(result={"expected": 800_000, "actual": 612_345, "lost_updates": 187_655})
    (found,) = findings(s, replace(THREADS, nature="cpu"))
    assert found.code == "lost-updates"
    assert found.figure == "expected 800,000, got 612,345: 187,655 updates lost"
    assert findings(replace(s, result={"lost_updates": 0}), THREADS) == []


# -- every shipped scenario, for real --------------------------------------------------


def expected(run: ScenarioRun, s: Summary) -> set[str]:
    """What each shipped run must raise, and nothing else."""
    label = (run.scenario, run.label)
    want: set[str] = set()
    lost = s.result.get("lost_updates")
    if isinstance(lost, int) and lost > 0:  # how often a race shows varies: when it does
        want.add("lost-updates")
    if label == ("gil", "threads"):
        want.add("gil-bound")
    if label == ("gil", "processes") and run.spec.workers > s.cores:  # 4 on 2 cores here
        want.add("oversubscribed")
    if label == ("oversubscribed", "four per core"):
        want.add("oversubscribed")
    if run.scenario == "blocking-loop":
        want.add("loop-blocked")
    if run.scenario == "backpressure":
        want.add("back-pressure")
    if run.scenario == "startup-cost" and run.spec.model == "processes":
        want.add("startup")
    if run.scenario == "main-guard" and run.spec.start_method == "spawn":
        want.add("startup")  # spawn's start-up is most of eight small tasks' run
    return want


@pytest.mark.parametrize("name", sorted(shipped()))
def test_each_shipped_scenario_raises_exactly_its_findings(
    name: str, http_server: LocalHttpServer
) -> None:
    for run in scenario_runs(name):
        s, _shape = run_one(run, http_server)
        got = {f["code"] for f in s.findings}
        assert got == expected(run, s), (name, run.label, s.findings)
        for f in s.findings:  # each names its figure, a suggestion, a real scenario or none
            assert f["figure"]
            assert f["suggestion"]
            assert f["scenario"] in ("", *shipped())


# -- where findings reach the user ------------------------------------------------------


def test_a_recordings_json_and_trace_carry_its_findings(tmp_path: Path) -> None:
    """The layer above the aggregate attaches the findings: replay's JSON and trace keep them."""
    trace = tmp_path / "gil.json"
    out = concviz("replay", str(DATA / "threads-cpu.cvrec"), "--json", "--trace", str(trace))
    assert out.returncode == 0, out.stderr
    (run,) = json.loads(out.stdout)["runs"]
    assert [f["code"] for f in run["findings"]] == ["gil-bound"]
    assert "4 threads kept 0.99 cores busy" in run["findings"][0]["figure"]
    in_trace = json.loads(trace.read_text())["otherData"]["summary"]["findings"]
    assert in_trace == run["findings"]
    # a healthy run: the key is there, empty
    out = concviz("replay", str(DATA / "processes-cpu.cvrec"), "--json")
    assert json.loads(out.stdout)["runs"][0]["findings"] == []


def test_the_observer_leaves_findings_to_the_layer_above() -> None:
    """The aggregate's own summary has none; concviz.findings.summarise attaches them."""
    from concviz.findings import summarise  # noqa: PLC0415
    from concviz.observer.trace import recording_aggregate  # noqa: PLC0415

    agg = recording_aggregate(DATA / "threads-cpu.cvrec")
    assert agg.summary().findings == []
    shown = summarise(agg)
    assert [f["code"] for f in shown.findings] == ["gil-bound"]
    assert replace(shown, findings=[]) == agg.summary()  # the figures themselves unchanged
