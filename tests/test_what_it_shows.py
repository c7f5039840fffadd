"""The pictures the tool exists to show, measured for real (2 cores, wide margins).

Every comparison is between runs of the same test, never against a constant time.
"""

from __future__ import annotations

import pytest

from concviz.engine.spec import RunSpec
from tests.support import best_of, free_threaded_python, run_captured


def cpu(model: str, python: str | None = None) -> float:
    spec = RunSpec(model=model, workload="cpu", workers=2, tasks=8, task_ms=100)
    summary = run_captured(spec, python=python).summary
    assert summary.completed == 8
    return summary.parallelism


def test_processes_use_both_cores_for_cpu_work() -> None:
    assert best_of(3, lambda: cpu("processes"), enough=1.6) >= 1.6


def test_threads_do_not_run_cpu_work_in_parallel_under_the_gil() -> None:
    assert cpu("threads") <= 1.2


def test_sequential_keeps_one_core_busy() -> None:
    assert 0.8 <= cpu("sequential") <= 1.2


def test_threads_on_a_gil_build_each_get_a_share_of_one_core() -> None:
    """Two CPU-bound threads: each task is on the CPU about half of its time."""
    spec = RunSpec(model="threads", workload="cpu", workers=2, tasks=8, task_ms=100)
    summary = run_captured(spec).summary
    assert summary.gil_enabled
    assert 0.3 <= summary.on_cpu_fraction <= 0.7


@pytest.mark.skipif(
    free_threaded_python() is None,
    reason="no free-threaded CPython built here "
    "(run ../shared/tools/free-threaded-python or set CONCVIZ_FT_PYTHON)",
)
def test_threads_run_cpu_work_in_parallel_without_the_gil() -> None:
    python = free_threaded_python()
    spec = RunSpec(model="threads", workload="cpu", workers=2, tasks=8, task_ms=100)
    summary = run_captured(spec, python=python).summary
    assert summary.gil_enabled is False
    assert summary.completed == 8
    assert best_of(3, lambda: cpu("threads", python), enough=1.5) >= 1.5


def test_threads_and_asyncio_overlap_io_waits() -> None:
    def wall(model: str, workers: int) -> float:
        spec = RunSpec(model=model, workload="sleep", workers=workers, tasks=40, task_ms=100)
        summary = run_captured(spec).summary
        assert summary.completed == 40
        return summary.wall_s

    sequential = wall("sequential", 1)
    assert wall("asyncio", 40) < sequential / 4
    assert wall("threads", 40) < sequential / 4
