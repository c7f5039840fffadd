"""The last of the fault matrix: a graceful hybrid stop, the dashboard's folders,
Ctrl+C while the console script starts, and a SIGINT that must never be lost.

Real processes throughout; timings are compared with a bare Python measured in
the same test, never with absolute seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from concviz.observer.session import RunSession
from concviz.runner.protocol import RECORD, FrameType, Kind
from concviz.runner.spec import RunSpec
from tests.support import descendants, wait_pids_gone


def bare_python_s() -> float:
    """How long a bare Python takes to start and exit right now: the machine's pace."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - began


# -- hybrid: thousands of fetches in flight, then a stop -------------------------


def _started(session: RunSession) -> int:
    with session.lock:
        return session.aggregate.started


def _completed(session: RunSession) -> int:
    return session.progress()[0]


@pytest.mark.parametrize(
    ("moment", "until", "at_least"),
    [
        # Every task fetches at once (a TaskGroup makes them all), for 0.9 s each.
        ("fetches in flight", _started, 1000),
        # The fetches are back; the CPU parts (0.1 s each) queue for two processes.
        ("CPU parts queued", _completed, 2),
    ],
)
def test_hybrid_with_thousands_of_fetches_stops_within_the_grace(
    moment: str, until: Callable[[RunSession], int], at_least: int
) -> None:
    """The in-flight fetches are cancelled and the pool's queued work dropped: the
    runner ends the run itself (its RUN_END arrives) instead of being killed."""
    tasks = 3000
    ends: list[tuple[int, ...]] = []

    def tap(ftype: int, payload: bytes) -> None:
        if ftype == FrameType.RECORDS:
            ends.extend(r for r in RECORD.iter_unpack(payload) if r[0] == Kind.RUN_END)

    before = descendants(os.getpid())
    spec = RunSpec(
        model="hybrid", workload="mixed", workers=2, tasks=tasks, task_ms=1000, io_fraction=0.9
    )
    with RunSession(spec, tap=tap) as session:
        deadline = time.monotonic() + 30
        while until(session) < at_least:
            assert time.monotonic() < deadline, f"the run never got to {moment}"
            assert _completed(session) == 0 or moment != "fetches in flight"
            assert not session.done.is_set()
            time.sleep(0.01)
        seen = descendants(os.getpid()) - before
        assert len(seen) >= 2, seen  # the runner and the HTTP server (and any workers)
        pace = bare_python_s()
        # The CLI's and the dashboard's grace (0.6 s), stretched as a loaded
        # machine slows every process down (idle: a bare Python takes 30 ms).
        grace = 0.6 + 8 * pace
        sent = time.monotonic()
        session.stop(grace=grace)
        assert session.wait(10)
        took = time.monotonic() - sent
        summary = session.summary()
    where = f"{moment}: grace {grace:.2f} s, a bare Python took {pace:.2f} s"
    assert ends, f"killed at the grace ({where})"
    assert took < grace, where
    assert summary.status == "stopped"
    assert summary.cancelled > 0
    assert summary.failed == 0, summary.errors
    assert summary.completed + summary.failed + summary.cancelled == tasks
    assert wait_pids_gone(seen) == set()
