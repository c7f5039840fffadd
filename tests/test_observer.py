"""concviz's own cost, measured where it is paid: the observing process's CPU during a run."""

from __future__ import annotations

import time

from concviz.engine.session import RunSession
from concviz.engine.spec import RunSpec


def observed_cpu(busy_s: float) -> float:
    """A 1 s wait observed, while this (the observing) process computes for ``busy_s``."""
    spec = RunSpec(model="sequential", workload="sleep", workers=1, tasks=1, task_ms=1000)
    with RunSession(spec) as session:
        deadline = time.monotonic() + 0.3  # let the run start, then keep a core busy
        while time.monotonic() < deadline:
            time.sleep(0.01)
        end = time.monotonic() + busy_s
        while time.monotonic() < end:
            sum(i * i for i in range(1000))
        assert session.wait(60)
        summary = session.summary()
    assert summary.status == "done"
    assert summary.observer_cpu is not None
    return summary.observer_cpu


def test_the_observers_own_cpu_is_measured_and_shows_work_done_in_it() -> None:
    quiet = observed_cpu(0.0)
    busy = observed_cpu(0.5)
    assert 0.0 <= quiet < 0.2  # reading the stream and sampling: a few % of a core
    assert busy > quiet + 0.2  # ~0.5 s of CPU in a ~1 s run
