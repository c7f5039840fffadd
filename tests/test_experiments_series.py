"""The series loop the command line and the dashboard share (experiments.run_series).

Real runs, small ones: a sleeping workload, so a busy machine changes only how
long they take, never what the loop does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from concviz.experiments import SeriesListener, SeriesRun, run_order, run_series
from concviz.observer.aggregate import Summary
from concviz.observer.session import SessionError
from concviz.runner.spec import RunSpec
from concviz.tui.series import Entry, Series
from tests.support import wait_pids_gone

QUICK = RunSpec(model="sequential", workload="sleep", workers=1, tasks=2, task_ms=10)
#: Long enough to be stopped part way (20 sleeps of 50 ms, one after another).
LONG = RunSpec(model="sequential", workload="sleep", workers=1, tasks=20, task_ms=50)


class Heard(SeriesListener):
    """Notes what the loop said, in order; stops when ``stop_when`` says so."""

    def __init__(self, stop_when: Callable[[SeriesRun], bool] | None = None) -> None:
        self.heard: list[tuple[str, int, int, int]] = []
        self.finished_runs: list[SeriesRun] = []
        self.errors: list[str] = []
        self.stop_when = stop_when
        self.stop = False

    def stopping(self) -> bool:
        return self.stop

    def started(self, run: SeriesRun) -> None:
        self.heard.append(("started", run.index, run.round, run.position))

    def waiting(self, run: SeriesRun) -> None:
        if self.stop_when is not None and self.stop_when(run):
            self.stop = True

    def finished(self, run: SeriesRun, summary: Summary) -> None:
        assert run.session.aggregate.completed == summary.completed  # still readable
        self.heard.append(("finished", run.index, run.round, run.position))
        self.finished_runs.append(run)

    def failed(self, run: SeriesRun, error: SessionError) -> None:
        self.errors.append(str(error))


def tasks_done(at_least: int, position: int) -> Callable[[SeriesRun], bool]:
    return lambda run: run.position == position and run.session.progress()[0] >= at_least


def test_every_entry_runs_in_alternating_rounds_and_keeps_its_median_run() -> None:
    heard = Heard()
    entries = [("sequential", QUICK, None), ("threads", replace(QUICK, model="threads"), None)]
    outcome = run_series(entries, heard, repeats=2)

    order = run_order(2, 2)
    assert [h for h in heard.heard if h[0] == "started"] == [
        ("started", i, r, position) for position, (r, i) in enumerate(order, 1)
    ]
    # each run finishes before the next starts: never two at once
    assert [h[0] for h in heard.heard] == ["started", "finished"] * 4
    assert not outcome.interrupted
    assert [r.label for r in outcome.results] == ["sequential", "threads"]
    for result in outcome.results:
        assert len(result.walls) == 2
        assert result.summary.completed == 2
        assert result.summary.wall_s in result.walls
    assert all(run.kept and not run.cut_short for run in heard.finished_runs)


def test_a_stop_keeps_a_cut_short_run_only_where_the_entry_has_no_other() -> None:
    # Stopped in its second run: the entry's result is its whole first run.
    heard = Heard(stop_when=tasks_done(2, position=2))
    outcome = run_series([("sequential", LONG, None)], heard, repeats=2)
    assert outcome.interrupted
    first, second = heard.finished_runs
    assert (first.kept, first.cut_short) == (True, False)
    assert (second.kept, second.cut_short) == (False, True)
    (result,) = outcome.results
    assert result.walls == [result.summary.wall_s]
    assert result.summary.completed == LONG.tasks

    # Stopped in its only run: that run is all there is, and it is shown.
    heard = Heard(stop_when=tasks_done(2, position=1))
    outcome = run_series([("sequential", LONG, None)], heard, repeats=2)
    assert outcome.interrupted
    ((run,), (result,)) = heard.finished_runs, outcome.results
    assert (run.kept, run.cut_short) == (True, True)
    assert 2 <= result.summary.completed < LONG.tasks
    assert ("started", 0, 1, 2) not in heard.heard  # the series ended there


def test_a_run_that_cannot_start_ends_the_series_unless_the_listener_skips_it() -> None:
    entries = [("nowhere", QUICK, "/nonexistent/python3"), ("sequential", QUICK, None)]
    with pytest.raises(SessionError, match="cannot start /nonexistent/python3"):
        run_series(entries, SeriesListener(), repeats=2)

    heard = Heard()
    outcome = run_series(entries, heard, repeats=2)
    assert len(heard.errors) == 1  # its second round is skipped, not tried again
    assert [h[1] for h in heard.heard if h[0] == "started"] == [0, 1, 1]
    assert [r.label for r in outcome.results] == ["sequential"]
    assert not outcome.interrupted


def test_the_dashboards_series_shows_a_whole_run_when_stopped_in_a_later_round() -> None:
    """A stop in round two used to put the cut-short run in the median: of two runs
    the lower wall time, so the table showed the cut-short run's figures."""
    series = Series([Entry("sequential", LONG)], repeats=2)
    worker = threading.Thread(target=series.run)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            session = series.entries[0].session
            if series.position == 2 and session is not None and session.progress()[0] >= 2:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the second run never got going")
        series.stop()
    finally:
        worker.join(60)
    assert series.done.is_set()
    entry = series.entries[0]
    assert len(entry.runs) == 1
    assert entry.summary is not None
    assert entry.summary.completed == LONG.tasks
    assert entry.session is entry.runs[0][0]  # its timeline too, not the cut-short run's


def _runners_waiting() -> set[int]:
    """This process's children that are runners started ahead of their arguments."""
    import psutil  # noqa: PLC0415

    found = set()
    for child in psutil.Process().children():
        try:
            if child.cmdline()[-2:] == ["concviz.runner", "--await-args"]:
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


class Ahead(Heard):
    """Notes, as each run ends, the runner started for the next one; stops after ``runs``."""

    def __init__(self, runs: int) -> None:
        super().__init__()
        self.runs = runs
        self.ahead: list[set[int]] = []
        self.pgids: list[int | None] = []

    def finished(self, run: SeriesRun, summary: Summary) -> None:
        super().finished(run, summary)
        self.pgids.append(run.session.pgid)
        self.ahead.append(_runners_waiting())
        self.stop = len(self.finished_runs) >= self.runs


def test_each_run_uses_the_runner_started_as_the_one_before_it_ended() -> None:
    heard = Ahead(runs=3)
    run_series([("a", QUICK, None), ("b", QUICK, None)], heard, repeats=2)
    assert len(heard.pgids) == 3
    for before, pgid in zip(heard.ahead, heard.pgids[1:], strict=False):
        assert before == {pgid}, (heard.ahead, heard.pgids)
    # Stopped after the third run: the fourth's runner was started, and is gone.
    assert len(heard.ahead[2]) == 1
    assert not _runners_waiting()
    assert not wait_pids_gone(heard.ahead[2])
