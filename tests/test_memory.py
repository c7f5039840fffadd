"""A process's memory as concviz measures it: PSS where Linux offers it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from concviz.observer.aggregate import MEMORY_RESOLUTION, RunAggregate
from concviz.observer.session import RunSession
from concviz.report import fmt_memory_per_task, memory_per_task_basis
from concviz.runner import memory
from concviz.runner.spec import RunSpec


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS is Linux's")
def test_linux_gives_pss_and_it_grows_with_what_the_process_touches() -> None:
    assert memory.MEASURE == "PSS"
    before = memory.footprint()
    assert before is not None
    assert before > 1 << 20  # a Python process: megabytes
    block = bytearray(64 << 20)  # zero-filled: every page written
    after = memory.footprint()
    assert after is not None
    assert after - before >= 48 << 20
    del block


def test_a_process_that_has_gone_has_no_footprint() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert memory.footprint(child.pid) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_a_runs_peak_rss_is_its_own_not_the_process_that_started_it() -> None:
    # Linux carries getrusage's ru_maxrss across exec: a runner started by a big
    # dashboard once reported the dashboard's peak as its own.
    big = bytearray(256 << 20)  # zero-filled: every page written, so resident
    spec = RunSpec(model="sequential", workload="sleep", workers=1, tasks=1, task_ms=10)
    with RunSession(spec) as session:
        assert session.wait(60)
        summary = session.summary()
    del big
    assert summary.status == "done"
    assert 5 << 20 < summary.peak_rss < 160 << 20  # a lean runner: tens of MiB, not 256+


def test_a_growth_too_small_to_divide_is_said_not_left_blank() -> None:
    """Two tiny tasks grow a run by less than the allocator's step: say so, with the figure."""
    base = RunAggregate({"model": "threads", "workload": "cpu", "workers": 2, "tasks": 2}).summary()
    small = replace(base, memory_at_start=20 << 20, peak_memory=(20 << 20) + 300 * 1024)
    assert fmt_memory_per_task(small) == "-"
    assert "grew 300.0 KiB" in memory_per_task_basis(small)
    assert "too little" in memory_per_task_basis(small)
    unknown = replace(base, memory_at_start=None, peak_memory=20 << 20)
    assert "grew" not in memory_per_task_basis(unknown)
    grown = replace(
        small, peak_memory=(20 << 20) + 4 * MEMORY_RESOLUTION, memory_per_task=2e6, memory_tasks=2
    )
    assert "tasks in flight" in memory_per_task_basis(grown)
