"""Snapshots of the dashboard, fed from recorded runs so they are deterministic.

Regenerate after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the SVGs in ``tests/__snapshots__`` before committing them.

What is drawn comes from recordings (replayed at once) or from a scenario before
it runs: no real run's timing reaches a snapshot. The compare and sweep screens
get a finished series made of replayed recordings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from concviz.observer.recording import Replay
from concviz.runner.spec import RunSpec
from concviz.scenario import load
from concviz.tui.app import ConcvizApp
from concviz.tui.series import CompareScreen, Entry, Series, SeriesScreen, SweepScreen

DATA = Path(__file__).parent / "data"
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])


def replayed(name: str, theme: str = "textual-dark") -> ConcvizApp:
    app = ConcvizApp(replay=DATA / name, replay_speed=float("inf"))
    app.theme = theme
    return app


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    pilot.app.refresh_view()  # type: ignore[attr-defined]
    await pilot.pause()


@pytest.mark.parametrize(
    "size", [(80, 24), (140, 42), (160, 50)], ids=["80x24", "140x42", "160x50"]
)
def test_threads_on_a_gil_build(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed("threads-cpu.cvrec"), terminal_size=size, run_before=settle)


def test_processes_fill_both_cores_light_theme(snap_compare: Any) -> None:
    app = replayed("processes-cpu.cvrec", theme="textual-light")
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_grouped_sleeping_coroutines_do_not_look_like_cpu(snap_compare: Any, theme: str) -> None:
    """Issue #17.2: 40 sleeping coroutines, 3 slots a row: dotted, muted bars (waiting)."""
    app = replayed("asyncio-sleep-40.cvrec", theme=theme)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


@SIZES
def test_a_talk_opens_on_a_compare_scenario(snap_compare: Any, size: tuple[int, int]) -> None:
    app = ConcvizApp(playlist=[load("gil"), load("race")])
    assert snap_compare(app, terminal_size=size, run_before=settle)


def finished_series(workers: tuple[int, ...] | None = None) -> Series:
    """A finished series whose runs are the recordings, replayed (no timing of this run)."""
    entries = []
    for i, name in enumerate(("threads-cpu", "processes-cpu")):
        replay = Replay(DATA / f"{name}.cvrec").play_all()
        spec = RunSpec(**replay.spec).validated()
        if workers is not None:
            spec = replace(spec, workers=workers[i])
        summary = replay.aggregate.summary(replay.end_ns)
        label = spec.model if workers is None else f"{spec.model} × {spec.workers}"
        entry = Entry(label, spec)
        entry.runs.append((replay, summary))  # type: ignore[arg-type]
        entry.session, entry.summary = replay, summary  # type: ignore[assignment]
        entry.aggregate = replay.aggregate
        entries.append(entry)
    series = Series(entries)
    series.current, series.position = len(entries) - 1, len(entries)
    series.done.set()
    return series


def showing(screen: SeriesScreen, series: Series) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.app.push_screen(screen)
        await pilot.pause()
        for timer in list(screen._timers):
            timer.pause()  # only this test's poll draws
        screen.series = series
        screen.poll()
        await pilot.pause()
        screen.poll()
        await pilot.pause()

    return run_before


@SIZES
def test_compare_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    series = finished_series()
    app = ConcvizApp()
    screen = CompareScreen(
        series.entries[0].spec,
        None,
        preset=[Entry(e.label, e.spec) for e in series.entries],
        title="Threads or processes",
        explanation="The same CPU-bound tasks in threads, then in processes.",
    )
    assert snap_compare(app, terminal_size=size, run_before=showing(screen, series))


@SIZES
def test_sweep_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    series = finished_series(workers=(1, 2))
    app = ConcvizApp()
    screen = SweepScreen(series.entries[0].spec, None, counts=[1, 2])
    assert snap_compare(app, terminal_size=size, run_before=showing(screen, series))
