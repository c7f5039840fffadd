"""--task-ms delivers the CPU time per task it asks for (issue #17, point 1).

Real runs, sequential, measured by concviz's own figure (the median task CPU).
The tolerance here is +-15 %, not the +-5 % of benchmarks/task_sizes.py: on a
busy shared machine CPU time per task excludes waiting, but contention for
caches and a shared core (SMT) still makes the same work cost a few percent
more CPU now than at calibration time, or less; a miscalibration like the one
in the issue (1.4x at 10 ms, 0.4-0.7x under load) is far outside it. The +-5 %
verdict is the benchmark's, on a quiet machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from concviz.observer.aggregate import Summary
from concviz.report import summary_rows
from concviz.runner import calibrate
from concviz.runner.calibrate import Table
from concviz.tui.widgets import summary_content
from concviz.workloads.base import cost_ns, units_for
from tests.support import free_threaded_python

TOLERANCE = 0.15


def _pythons() -> list[object]:
    ft = free_threaded_python()
    return [
        pytest.param(sys.executable, id="this"),
        pytest.param(
            ft,
            id="free-threaded",
            marks=pytest.mark.skipif(ft is None, reason="no free-threaded CPython built here"),
        ),
    ]


def _run(
    python: str, workload: str, ms: float, tasks: int, cache: Path | None = None
) -> dict[str, object]:
    cmd = [sys.executable, "-m", "concviz", "run", "-m", "sequential", "-w", workload]
    cmd += ["-t", str(tasks), "--task-ms", f"{ms:g}", "--python", python, "--json", "--quiet"]
    env = dict(os.environ, CONCVIZ_CACHE_DIR=str(cache)) if cache else None
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    # The run's summary, whether --json prints it bare or in the envelope of later versions.
    summary: dict[str, object] = data["runs"][0] if "runs" in data else data
    return summary


@pytest.mark.parametrize("python", _pythons())
@pytest.mark.parametrize("workload", ["cpu", "factorize"])
def test_task_ms_delivers_the_cpu_time_asked(python: str, workload: str, tmp_path: Path) -> None:
    """Up to five fresh calibrations: the same work can cost ~10 % more or less CPU
    a few seconds later on a shared machine (a busy sibling core; up to ~17 % on
    2026-12-06), so unlucky calibrations may miss; a wrong conversion misses with
    every one."""
    misses = []
    for attempt in range(5):
        cache = tmp_path / f"cache{attempt}"
        ratios = []
        for ms, tasks in ((5.0, 9), (50.0, 5)):
            median = _run(python, workload, ms, tasks, cache)["task_cpu_ms_median"]
            assert isinstance(median, float)
            ratios.append(median / ms)
        if all(abs(r - 1.0) <= TOLERANCE for r in ratios):
            return
        misses.append(ratios)
    pytest.fail(f"{workload}: delivered/asked at 5 and 50 ms, per calibration: {misses}")


def test_json_and_summary_show_the_delivered_task_cpu() -> None:
    summary = _run(sys.executable, "cpu", 5.0, 3)
    assert summary["task_ms"] == 5.0
    median = summary["task_cpu_ms_median"]
    assert isinstance(median, float)
    assert median > 0
    rows = {label: (value, hint) for label, value, hint in summary_rows(Summary(**summary))}  # type: ignore[arg-type]
    value, hint = rows["Task CPU"]
    assert value == f"{median:.3g} ms"
    assert "asked: 5 ms" in hint
    # The dashboard's summary panel: on the worker CPU row, next to the asked size.
    panel = "\n".join(line.plain for line in summary_content(Summary(**summary), final=True))  # type: ignore[arg-type]
    assert f"{median:.3g} ms/task (asked 5)" in panel


def test_units_for_and_cost_ns_are_inverse() -> None:
    table = [[0.0, 1000.0], [1000.0, 11000.0], [5000.0, 91000.0]]
    for ms in (0.005, 0.05, 0.09, 0.2):
        assert cost_ns(table, units_for(table, ms)) == pytest.approx(ms * 1e6, rel=0.01)


def _with_table(tmp_path: Path, scale: float) -> list[list[float]]:
    """Calibrates into ``tmp_path``, then rewrites the cache with its costs times ``scale``."""
    os.environ["CONCVIZ_CACHE_DIR"] = str(tmp_path)
    _, measured = calibrate.calibration(("sum_of_squares",))
    assert measured
    path = calibrate.cache_path()
    data = json.loads(path.read_text())
    key = calibrate.interpreter_key()
    table = [[u, ns * scale] for u, ns in data["entries"][key]["sum_of_squares"]]
    data["entries"][key]["sum_of_squares"] = table
    path.write_text(json.dumps(data))
    return table


def test_a_cache_that_still_holds_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to three fresh caches: the check that follows one can itself land in a slow
    patch of a shared machine (CI saw it once); a check that never holds fails all three."""
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        monkeypatch.setenv("CONCVIZ_CACHE_DIR", str(cache))
        table = _with_table(cache, 1.0)
        tables, measured = calibrate.calibration(("sum_of_squares",))
        if not measured:
            assert tables["sum_of_squares"] == table
            return
    pytest.fail("a cache measured just now failed its check three times in a row")


def test_a_new_table_is_measured_again_until_its_own_check_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A measurement taken in a slow patch (here: the first, 40 % high) is not the one kept."""
    from concviz.workloads import cpu  # noqa: PLC0415

    cpu.warm_up()
    true_table = cpu.cost_table()
    measured: list[Table] = []

    def measure() -> Table:
        table = true_table if measured else [[u, ns * 1.4] for u, ns in true_table]
        measured.append(table)
        return table

    kept = calibrate.measure_checked(measure, cpu.probe_ns)
    assert len(measured) >= 2
    assert kept is not measured[0]


def test_where_no_try_holds_each_point_is_the_median_of_the_tries() -> None:
    tries = iter(
        [[[0.0, 10.0], [5.0, 90.0]], [[0.0, 30.0], [5.0, 50.0]], [[0.0, 20.0], [5.0, 70.0]]]
    )
    kept = calibrate.measure_checked(lambda: next(tries), lambda units: 10**12)
    assert kept == [[0.0, 20.0], [5.0, 70.0]]


def test_a_stale_cache_is_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache that says the kernel is twice as fast as it is (another machine,
    a faster clock then) fails the probe at run start and is replaced."""
    monkeypatch.setenv("CONCVIZ_CACHE_DIR", str(tmp_path))
    stale = _with_table(tmp_path, 0.5)
    tables, measured = calibrate.calibration(("sum_of_squares",))
    assert measured
    fresh = tables["sum_of_squares"]
    assert fresh != stale
    # ... in the cache too, for the next run.
    data = json.loads(calibrate.cache_path().read_text())
    assert data["entries"][calibrate.interpreter_key()]["sum_of_squares"] == fresh


def test_the_cache_key_names_the_scheme_and_the_interpreter() -> None:
    key = calibrate.interpreter_key()
    assert key.startswith(f"v{calibrate.CACHE_VERSION}|{sys.executable}|")
    assert sys.version in key


#: Run in a fresh interpreter: a workload's first tasks against its later ones.
_FIRST_TASKS = """
import json, statistics, sys, time
from concviz.runner.spec import RunSpec
from concviz.workloads import WorkloadParams, load
spec = RunSpec(workload=sys.argv[1], iterations=int(sys.argv[2]))
workload = load(WorkloadParams(spec))
times = []
for task in range(30):
    began = time.thread_time_ns()
    workload.compute(task)
    times.append(time.thread_time_ns() - began)
late = statistics.median(times[20:])
# First tasks against late ones; and, as a probe of the machine, warm ones against late ones.
print(json.dumps([statistics.median(times[:6]) / late, statistics.median(times[8:14]) / late]))
"""


@pytest.mark.parametrize(("workload", "iterations"), [("factorize", 30_000), ("cpu", 60_000)])
def test_a_fresh_processs_first_tasks_cost_what_its_later_ones_do(
    workload: str, iterations: int
) -> None:
    """CPython 3.11 specialises a function only after ~8 calls: before, a factorize
    task cost ~17 % more. So a fresh runner or worker process, reading a cached
    calibration (measured warm), ran its first tasks too long: sequential
    factorize 400 ms × 8 delivered its cold median. The workload warms its
    kernel when it is set up. (Early and late tasks are milliseconds apart: the
    machine's drift does not come between them; three fresh processes, one must
    agree, so one disturbed by other load does not fail the test. A process whose
    warm tasks disagree with each other measured the machine, not its tasks: it
    does not count.)"""
    ratios, noisy = [], []
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", _FIRST_TASKS, workload, str(iterations)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        first, warm = json.loads(done.stdout)
        if abs(warm - 1.0) > 0.07:
            # Warm tasks against warm tasks disagreed: this process's figures are the
            # machine's noise (a busy sibling core), not its tasks' cost.
            noisy.append(warm)
            continue
        ratios.append(first)
        if abs(first - 1.0) <= 0.07:
            return
        if len(ratios) == 3:
            break
    if not ratios:
        pytest.skip(f"the same warm task's CPU time varied by more than 7 % here: {noisy}")
    pytest.fail(f"{workload}: first tasks / later ones, per process: {ratios}")
