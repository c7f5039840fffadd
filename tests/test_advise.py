"""``concviz advise``: verdicts checked against ground truth, on real runs with small budgets.

Each verdict is about this machine as it is during the test: where the machine
is too busy to show parallelism at all (the advice's own sequential run waited
for a core most of its time), the test says so and skips rather than guess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import DataTable

from concviz.advise import SATURATED_WAIT, Advice, Advisor, Candidate, Point
from concviz.experiments import RunResult
from concviz.findings import session_summary
from concviz.observer.aggregate import Summary
from concviz.observer.interpreters import probe
from concviz.observer.session import RunSession
from concviz.runner.spec import RunSpec
from concviz.tui.advise_screen import AdviseScreen
from concviz.tui.app import ConcvizApp

from .support import free_threaded_python

WORK = """
import asyncio, hashlib

def crunch(n=200_000):
    return sum(i * i for i in range(n))

BUF = b"x" * (4 << 20)

def digest(rounds=6):
    h = hashlib.sha256()
    for _ in range(rounds):
        h.update(BUF)  # hashlib releases the GIL on buffers over 2 KiB
    return h.hexdigest()

async def wait(ms=80):
    await asyncio.sleep(ms / 1000)
    return ms

def blob(n):
    return b"x" * n
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "advwork.py").write_text(WORK)
    return tmp_path


def spec_for(work: Path, function: str, *args: object) -> RunSpec:
    return RunSpec(
        model="sequential",
        workload="custom",
        workers=1,
        task=f"advwork:{function}",
        task_args=list(args),
        task_path=str(work),
    ).validated()


def best_of(advice: Advice, label: str) -> Point:
    return max((p for p in advice.points if p.candidate.label == label), key=advice.speedup)


def skip_if_saturated(advice: Advice) -> None:
    sequential = advice.points[0].summary
    wait = sequential.core_wait_fraction or 0.0
    if wait >= SATURATED_WAIT:
        pytest.skip(f"the machine is saturated: one task alone waited {wait:.0%} for a core")


def test_cpu_bound_python_gets_processes_and_threads_are_blamed_on_the_gil(work: Path) -> None:
    advice = Advisor(spec_for(work, "crunch"), budget_s=25, interpreters=[]).run()
    skip_if_saturated(advice)
    if not advice.gil_enabled:  # pragma: no cover  (the test suite's own interpreter)
        pytest.skip("this interpreter has no GIL")
    assert advice.cpu_bound
    processes = best_of(advice, "processes")
    if advice.speedup(processes) < 1.3:
        pytest.skip(f"two processes ran only {advice.speedup(processes):.2f}× one: no free core")
    assert advice.best.candidate.model == "processes", advice.answer
    assert advice.answer.startswith(f"processes × {advice.best.workers}: ")
    gil = [loss for loss in advice.losses if loss.startswith("threads")]
    assert gil, advice.losses
    assert "the GIL" in gil[0]
    assert "threads gain nothing" in advice.answer
    threads = best_of(advice, "threads")
    assert threads.summary.parallelism < 1.4  # one core's worth between them


def test_a_function_that_releases_the_gil_is_fine_in_threads(work: Path) -> None:
    advice = Advisor(spec_for(work, "digest"), budget_s=25, interpreters=[]).run()
    skip_if_saturated(advice)
    threads = best_of(advice, "threads")
    if advice.speedup(threads) < 1.3:
        pytest.skip(f"two threads hashing ran only {advice.speedup(threads):.2f}× one here")
    fastest = max(advice.speedup(p) for p in advice.points)
    assert advice.speedup(threads) >= 0.85 * fastest  # as good as anything, give or take noise
    # Threads that kept about one core busy are what the GIL line names; a machine with
    # no core to spare (two busy loops on two cores) can hold hashing threads there too.
    cramped = [
        p
        for p in advice.points
        if p.candidate.model in ("threads", "to-thread") and p.summary.parallelism < 1.3
    ]
    if cramped:
        pytest.skip(f"{len(cramped)} thread runs kept under 1.3 cores busy: no core to spare")
    assert not any("the GIL" in loss for loss in advice.losses)
    assert advice.best.candidate.model in ("threads", "processes")


@pytest.fixture(scope="module")
def threads_summary() -> Summary:
    """A real run's figures: two threads on CPU work."""
    spec = RunSpec(model="threads", workload="cpu", workers=2, tasks=4, task_ms=5)
    with RunSession(spec) as session:
        assert session.wait(60)
        return session_summary(session)


@pytest.mark.parametrize(("parallelism", "blamed"), [(1.0, True), (1.8, False)])
def test_the_gil_is_blamed_only_where_threads_kept_about_one_core_busy(
    threads_summary: Summary, parallelism: float, blamed: bool
) -> None:
    """A busy suite run found it: threads hashing (the GIL released) ran 1.3x and more,
    lost to processes by more than 10 %, and the loss said "your function holds the
    GIL". Threads that kept more than one core busy did not wait on the GIL."""
    if not threads_summary.gil_enabled:  # pragma: no cover  (the suite's own interpreter)
        pytest.skip("this interpreter has no GIL")
    figures = replace(threads_summary, parallelism=parallelism, core_wait_fraction=0.0)
    point = Point(Candidate("threads", max_workers=8), 2, RunResult("threads", None, figures))
    advisor = Advisor(RunSpec(model="threads", workload="cpu"), interpreters=[])
    why = advisor._mechanism(point, cpu_bound=True, probe=None, cores=2, tasks=4)
    assert ("the GIL" in why) == blamed, why


def test_a_sleeping_coroutine_gets_asyncio(work: Path) -> None:
    advice = Advisor(spec_for(work, "wait"), budget_s=25, interpreters=[]).run()
    assert advice.probe is not None
    assert advice.probe.coroutine
    assert not advice.cpu_bound
    assert advice.best.candidate.model == "asyncio", advice.answer
    assert advice.speedup(advice.best) >= 3  # the waits overlap
    assert advice.machine.startswith("Waiting code does not depend on the cores")


def test_a_huge_result_names_pickling_as_the_cost(work: Path) -> None:
    # A huge result, not argument: the runner takes its spec (arguments included) on
    # its command line, which the kernel caps at 128 KiB an argument. The cost is the
    # same: a process pool pickles it through a pipe on every task.
    advice = Advisor(spec_for(work, "blob", 8 << 20), budget_s=20, interpreters=[]).run()
    assert advice.probe is not None
    assert advice.probe.result_bytes >= 8 << 20
    processes = best_of(advice, "processes")
    assert processes.ship_s > 0
    assert advice.best.candidate.model != "processes"
    (loss,) = [loss for loss in advice.losses if loss.startswith("processes")]
    assert "pickling: " in loss
    assert "8.0 MiB of result" in loss


def test_the_free_threaded_build_is_named_where_it_exists(work: Path) -> None:
    free = free_threaded_python()
    if free is None:
        pytest.skip("no free-threaded CPython here")
    interp = probe(free)
    advice = Advisor(spec_for(work, "crunch"), budget_s=30, interpreters=[interp]).run()
    skip_if_saturated(advice)
    free_threads = best_of(advice, f"threads@{interp.short}")
    gil_threads = best_of(advice, "threads")
    if advice.speedup(free_threads) < 1.3:
        pytest.skip(f"free-threaded threads ran {advice.speedup(free_threads):.2f}×: no free core")
    assert free_threads.summary.gil_enabled is False
    assert advice.speedup(free_threads) > 1.2 * advice.speedup(gil_threads)
    assert f"on the free-threaded {interp.short} here, threads × " in advice.answer


def concviz(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "concviz", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "either --task"),
        (["--task", "advwork:crunch", "--workload", "cpu"], "either --task"),
        (["--workload", "cpu", "--budget", "1"], "--budget must be"),
        (["--task", "nosuchmodule:f"], "cannot import"),
        (["--task", "advwork:crunch", "--task-args", "[1"], "must be JSON"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(work: Path, args: list[str], says: str) -> None:
    done = concviz("advise", *args, cwd=work)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert says in done.stderr


def test_json_has_the_answer_first_and_every_run(work: Path) -> None:
    done = concviz("advise", "--workload", "sleep", "--budget", "12", "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    assert envelope["command"] == "advise"  # the envelope every --json prints
    data = {**envelope["advise"], "runs": envelope["runs"]}
    assert next(iter(data)) == "answer"
    assert data["answer"].startswith(f"{data['model']} × {data['workers']}: ")
    assert data["cpu_bound"] is False
    labels = {run["label"] for run in data["runs"]}
    assert {"sequential", "threads", "asyncio"} <= labels
    for run in data["runs"]:
        assert run["walls"]
        assert set(run) >= {"workers", "throughput", "speedup", "efficiency", "on_cpu_fraction"}


def running(screen: AdviseScreen) -> bool:
    return screen.running


def outcome(screen: AdviseScreen) -> tuple[Advice | None, str | None]:
    """What the worker thread wrote (read through a call: it changes under the test)."""
    return screen.advice, screen.error


async def test_the_dashboard_advises_on_its_workload_and_shows_the_verdict(tmp_path: Path) -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=4, tasks=8, task_ms=60))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AdviseScreen)
        deadline = time.monotonic() + 60
        while not running(screen):  # it starts at once, on the dashboard's workload
            assert time.monotonic() < deadline, "advice did not start"
            await pilot.pause(0.05)
        assert screen.spec.workload == "sleep"
        await pilot.press("s")  # stop it; again with a budget small enough for a test
        while running(screen):
            assert time.monotonic() < deadline, "s did not stop it"
            await pilot.pause(0.1)
        assert screen.error == "stopped"
        screen.budget_s = 12
        await pilot.press("r")
        deadline = time.monotonic() + 120
        while outcome(screen) == (None, None):
            assert time.monotonic() < deadline, "no advice in 120 s"
            await pilot.pause(0.2)
        screen.poll()  # what the screen's 0.1 s timer does: draws the advice
        await pilot.pause()
        advice, error = outcome(screen)
        assert error is None
        assert advice is not None
        answer = str(screen.query_one("#answer").render())
        assert answer == advice.answer
        assert answer.startswith(f"{advice.best.candidate.model} × {advice.best.workers}: ")
        table = screen.query_one("#evidence", DataTable)
        assert table.row_count == len(advice.points)
        app.save_screenshot(str(tmp_path / "advise.svg"))
        app.save_screenshot("/tmp/advise_screen.svg")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AdviseScreen)
