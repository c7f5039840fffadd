"""The dashboard, driven headless with Pilot against real runs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psutil
import pytest
from rich.console import Group
from rich.syntax import Syntax
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, Input, OptionList, Select, SelectionList

from concviz.observer.session import RunSession, run_in_progress
from concviz.runner.spec import RunSpec
from concviz.scenario import load
from concviz.tui import app as app_module
from concviz.tui import frame as frame_module
from concviz.tui.app import ConcvizApp
from concviz.tui.options import OPTIONS
from concviz.tui.picker import ScenarioPicker
from concviz.tui.screens import HelpScreen
from concviz.tui.series import CompareScreen, Entry, SweepScreen
from concviz.tui.view import timeline_view, workers_view
from concviz.tui.widgets import Panel, RunHeader, TextPanel, Timeline
from tests.support import wait_pids_gone

FINAL = ("done", "stopped", "error", "crashed")


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


def why_not_done(app: ConcvizApp) -> str:
    """What a run that did not finish said (CI shows it when a run crashes)."""
    source = app.controller.source
    if not isinstance(source, RunSession):
        return f"no run session: {source!r}"
    return f"run_error={source.aggregate.run_error!r} log={source.stderr_tail[-800:]!r}"


def stop_refreshing(app: ConcvizApp) -> None:
    """Pauses the app's timers: only what a test calls redraws (no 10 Hz refresh_view)."""
    for timer in list(app._timers):
        timer.pause()


async def final_frame_shown(pilot: Pilot[None], app: ConcvizApp) -> None:
    """Waits for the run (or replay) to end, then has its last picture painted.

    A finished run's refresh draws every part of the frame (header, timeline, panels):
    one refresh after its session is done is the final picture, whatever the 10 Hz
    timer did or did not draw meanwhile.
    """
    await wait_for(pilot, lambda: _done(app.controller.source), 60)
    app.refresh_view()
    await pilot.pause()


def _done(source: object) -> bool:
    done = getattr(source, "done", None)
    return done is not None and done.is_set()


async def series_shown(pilot: Pilot[None], screen: CompareScreen | SweepScreen) -> None:
    """Waits for a series to end and for its screen to have drawn that (its status says so)."""
    await wait_for(pilot, lambda: screen.series is not None and screen.series.done.is_set(), 90)
    status = screen.query_one("#status")
    await wait_for(pilot, lambda: str(status.render()).startswith("done:"))
    # A timeline mounted for the last run is drawn at the first poll after its layout.
    await wait_for(pilot, lambda: all(t.view is not None for t in screen.query(Timeline)))
    await pilot.pause()


def explains(app: ConcvizApp, words: str) -> bool:
    return words in app.w_explain.text


def header_text(app: ConcvizApp) -> str:
    return str(app.query_one(RunHeader).render())


def children() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


def panel_text(app: ConcvizApp, panel_id: str) -> str:
    return str(app.query_one(panel_id, Panel).render())


async def test_select_run_finish_shows_every_panel() -> None:
    app = ConcvizApp(RunSpec(model="sequential", workload="sleep", workers=1, tasks=4, task_ms=20))
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)  # its fields come after frame 1
        # Choose the model and workload the way a user does, in the settings panel.
        app.query_one("#set-model", Select).value = "threads"
        app.query_one("#set-workload", Select).value = "cpu"
        workers = app.query_one("#set-workers", Input)
        workers.value = "3"
        tasks = app.query_one("#set-tasks", Input)
        tasks.value = "9"
        app.query_one("#set-task_ms", Input).value = "20"
        await pilot.pause()
        await pilot.press("r")
        await final_frame_shown(pilot, app)

        assert app.state == "done", why_not_done(app)
        session = app.controller.source
        assert isinstance(session, RunSession)
        assert (session.spec.model, session.spec.workload, session.spec.workers) == (
            "threads",
            "cpu",
            3,
        )
        timeline = app.query_one(Timeline)
        assert timeline.view is not None
        assert len(timeline.view.rows) == 3  # one lane per worker thread
        assert all(row.label.startswith("tid ") for row in timeline.view.rows)
        header = str(app.query_one(RunHeader).render())
        assert "9/9" in header  # progress reached 100 %
        assert "threads × 3" in header
        summary = panel_text(app, "#summary")
        for figure in ("9 ok", "parallelism", "on-CPU", "peak queue", "worker CPU"):
            assert figure in summary
        assert "tid " in panel_text(app, "#workers")
        assert "cpu0" in panel_text(app, "#cores")


async def test_the_first_frame_is_the_skeleton_and_the_panels_follow_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #21: frame 1 draws the header, the timeline and the footer; the figure
    panels, the side panels and the settings' fields are mounted after it."""
    app = ConcvizApp()
    at_first_frame: dict[str, bool] = {}
    fill = app._fill_settings

    async def noted() -> None:  # what the first frame had: the rest is mounted from here
        at_first_frame.update(
            header=app.w_header.is_attached,
            timeline=app.w_timeline.is_attached,
            cores=app.w_cores.is_attached,
            summary=app.w_summary.is_attached,
            code=app.w_code.is_attached,
            settings=app.w_settings.ready,
            footer_keys=bool(app.screen.query_one(Footer).children),
        )
        await fill()

    monkeypatch.setattr(app, "_fill_settings", noted)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        assert at_first_frame == {
            "header": True,
            "timeline": True,
            "cores": False,
            "summary": False,
            "code": False,
            "settings": False,
            "footer_keys": True,  # the keys are drawn before the rest is mounted
        }
        for panel in (app.w_cores, app.w_queue, app.w_workers, app.w_summary, app.w_code):
            assert panel.is_attached
        await wait_for(pilot, lambda: "sampled while a run goes" in panel_text(app, "#cores"))
        assert app.w_cores.size.width > 10  # laid out in the room the skeleton kept
        await pilot.press("c")  # a side panel mounted after frame 1 still opens
        await wait_for(pilot, lambda: str(app.w_code.border_title).startswith("Code: "))


async def test_keys_change_settings_and_they_apply_to_the_next_run() -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=400, task_ms=50))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state == "running")
        first = app.controller.source
        await pilot.press("plus", "plus")
        assert app.spec.workers == 4
        await wait_for(pilot, lambda: "next run" in header_text(app))  # the header's next paint
        assert isinstance(first, RunSession)
        assert first.spec.workers == 2  # the running run is untouched
        await pilot.press("r")  # re-run: the first run is ended, never two at once
        await wait_for(pilot, lambda: app.controller.source is not first)
        assert first.done.is_set()
        second = app.controller.source
        assert isinstance(second, RunSession)
        assert second.spec.workers == 4
        await pilot.press("s")
        await final_frame_shown(pilot, app)
        assert app.state == "stopped"
        assert "r runs" not in str(app.query_one(RunHeader).render())  # the run shown is r's
        # A finished run stays on screen; the header says what r now starts instead.
        await pilot.press("m")
        await wait_for(pilot, lambda: "r runs" in str(app.query_one(RunHeader).render()))
        header = str(app.query_one(RunHeader).render())
        assert f"r runs {app.spec.model} × 4" in header
        assert "threads × 4" in header  # still the run on screen


async def test_model_and_workload_keys_cycle_through_the_catalogue() -> None:
    app = ConcvizApp(RunSpec(model="sequential", workload="cpu"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m", "w")  # perhaps before the settings' fields exist
        assert (app.spec.model, app.spec.workload) == ("threads", "factorize")
        await wait_for(pilot, lambda: app.w_settings.ready)
        assert app.query_one("#set-model", Select).value == "threads"
        assert app.query_one("#set-workload", Select).value == "factorize"


@pytest.mark.parametrize(
    ("workload", "field", "named"),
    [("cpu", "#set-workers", "workers"), ("counter", "#opt-iterations", "increments per task")],
)
async def test_bad_settings_become_a_notification_not_a_crash(
    workload: str, field: str, named: str
) -> None:
    """The fixed fields and a workload's own options alike."""
    app = ConcvizApp(RunSpec(workload=workload, workers=2, tasks=2))
    async with app.run_test(size=(120, 60)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        app.query_one(field, Input).value = "lots"
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert app.controller.source is None
        assert any(named in str(n.message) for n in app._notifications)


async def test_quitting_mid_run_leaves_no_child_process() -> None:
    before = children()
    app = ConcvizApp(RunSpec(model="processes", workload="cpu", workers=2, tasks=1000, task_ms=50))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: len(children() - before) >= 3)  # runner + 2 workers
        started = children() - before
        await pilot.press("q")
    assert wait_pids_gone(started, timeout=5) == set()


async def test_help_explains_panels_and_closes() -> None:
    app = ConcvizApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_code_panel_shows_the_models_source() -> None:
    app = ConcvizApp(RunSpec(model="processes"))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        stop_refreshing(app)  # the key alone must fill the panel
        await pilot.press("c")
        await pilot.pause()
        code = app.query_one("#code", TextPanel)
        assert code.display
        assert code.border_title is not None
        assert "processes.py" in code.border_title
        assert isinstance(code.content, Syntax)
        assert "with ProcessPoolExecutor(" in code.content.code


async def code_below_the_model(spec: RunSpec) -> tuple[str | None, str]:
    """Presses c on a dashboard set to ``spec``: the panel's title, and the second source."""
    app = ConcvizApp(spec)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        code = app.query_one("#code", TextPanel)
        assert isinstance(code.content, Group)
        model, _rule, below = code.content.renderables
        assert isinstance(model, Syntax)
        assert isinstance(below, Syntax)
        assert f"def {'run' if spec.model == 'threads' else 'main'}(job" in model.code
        title = code.border_title
        app.spec = RunSpec(model=spec.model, workload="cpu")  # plain work: the model alone
        app._refresh_code()
        assert isinstance(code.content, Syntax)
        return title, below.code


async def test_code_panel_adds_the_workloads_source_when_that_is_the_lesson() -> None:
    title, below = await code_below_the_model(RunSpec(model="threads", workload="deadlock"))
    assert title == "Code: threads.py + deadlock.py"
    assert "acquire(timeout=" in below


async def test_code_panel_shows_your_own_function_s_module(tmp_path: Path) -> None:
    (tmp_path / "mywork.py").write_text("def crunch():\n    return sum(range(10))\n")
    spec = RunSpec(workload="custom", task="mywork:crunch", task_path=str(tmp_path))
    title, below = await code_below_the_model(spec)
    assert title == "Code: threads.py + mywork.py"
    assert "def crunch():" in below


async def test_narrow_terminal_hides_settings_until_asked() -> None:
    app = ConcvizApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("narrow")
        assert not app.query_one("#settings").display
        await pilot.press("o")
        await pilot.pause()
        assert app.query_one("#settings").display


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_real_run_renders_in_dark_and_light(theme: str) -> None:
    app = ConcvizApp(RunSpec(model="asyncio", workload="sleep", workers=5, tasks=10, task_ms=30))
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state in FINAL)
        assert app.state == "done", why_not_done(app)
        timeline = app.query_one(Timeline)

        def final_picture() -> bool:  # the last events may land a refresh or two later
            view = timeline.view
            return view is not None and len(view.rows) == 5 and "asyncio task slots" in view.note

        await wait_for(pilot, final_picture, timeout=10)  # five asyncio task slots


async def open_compare(app: ConcvizApp, pilot: Pilot[None], models: list[str]) -> CompareScreen:
    """The compare screen, with just ``models`` picked."""
    await pilot.press("v")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    picks = screen.query_one(SelectionList)
    picks.deselect_all()
    for model in models:
        picks.select(model)
    return screen


async def test_compare_screen_runs_models_in_turn_and_stacks_their_timelines() -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=4, tasks=8, task_ms=30))
    async with app.run_test(size=(130, 42)) as pilot:
        screen = await open_compare(app, pilot, ["sequential", "threads", "asyncio"])
        await pilot.press("r")
        await series_shown(pilot, screen)
        assert screen.series is not None
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        labels = [str(table.get_row_at(i)[0]) for i in range(3)]
        assert labels == ["sequential", "threads", "asyncio"]
        timelines = list(screen.query(Timeline))
        assert len(timelines) == 3
        assert all(t.view is not None for t in timelines)
        # one time scale for all of them
        assert len({(t.view.start_s, t.view.end_s) for t in timelines if t.view}) == 1
        walls = [e.summary.wall_s for e in screen.series.entries if e.summary]
        assert walls[1] < walls[0] / 2  # four threads overlap the waits
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_screen_repeats_each_model_and_shows_its_median_run() -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=4, task_ms=20))
    async with app.run_test(size=(130, 42)) as pilot:
        screen = await open_compare(app, pilot, ["sequential", "threads"])
        await pilot.press("n")  # runs each: 1 -> 3
        assert screen.repeats == 3
        await pilot.press("r")
        await series_shown(pilot, screen)
        series = screen.series
        assert series is not None
        assert [len(e.runs) for e in series.entries] == [3, 3]
        for entry in series.entries:
            walls = sorted(run[1].wall_s for run in entry.runs)
            assert entry.summary is not None
            assert entry.summary.wall_s == walls[1]  # the median run, a real one
            assert entry.session is next(s for s, x in entry.runs if x is entry.summary)
        table = screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()][:3] == ["model", "wall", "±"]
        assert all(str(table.get_row_at(i)[2]).startswith("±") for i in range(2))
        assert "median of 3 runs each" in str(table.border_subtitle)
        assert "6 of 6 runs" in str(screen.query_one("#status").render())


async def test_sweep_screen_reports_speedup_per_worker_count() -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=1, tasks=8, task_ms=30))
    async with app.run_test(size=(130, 42)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        screen.query_one(Input).value = "1,2,4"
        await pilot.press("n")  # each count three times: a ± column
        await pilot.press("r")
        await series_shown(pilot, screen)
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        assert all(str(table.get_row_at(i)[2]).startswith("±") for i in range(3))
        speedups = [float(str(table.get_row_at(i)[3]).split("×")[0]) for i in range(3)]
        assert speedups[0] == 1.0
        assert speedups[2] > 2.5
        assert "Amdahl fit" in str(screen.query_one("#fit").render())


async def test_a_talk_steps_through_scenarios_and_explains_each() -> None:
    app = ConcvizApp(playlist=[load("semaphore"), load("gil"), load("blocking-loop")])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.scenario is not None
        assert app.scenario.name == "semaphore"
        assert app.spec.model == "asyncio"
        assert app.spec.workers == 5
        explain = app.w_explain.text
        assert "semaphore" in explain.lower()
        assert "1/3" in explain
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.scenario.name == "gil"
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        assert app.scenario.name == "blocking-loop"  # wraps around
        await pilot.press("i")
        assert not app.w_explain.display


async def test_the_picker_loads_a_scenario() -> None:
    app = ConcvizApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ScenarioPicker)
        options = app.screen.query_one(OptionList)
        index = next(
            i
            for i in range(options.option_count)
            if options.get_option_at_index(i).id == "backpressure"
        )
        options.highlighted = index
        await pilot.press("enter")
        await pilot.pause()
        assert app.scenario is not None
        assert app.scenario.name == "backpressure"
        assert app.spec.model == "async-queue"


async def test_a_compare_scenario_runs_its_variants_in_the_compare_screen(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny-gil.toml"
    scenario.write_text(
        load("gil")
        .path.read_text()
        .replace("tasks = 8", "tasks = 2")
        .replace("task_ms = 100", "task_ms = 20")
    )
    app = ConcvizApp(playlist=[load(str(scenario))])
    warnings: list[str] = []
    async with app.run_test(size=(130, 42)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await series_shown(pilot, screen)
        labels = [str(screen.query_one(DataTable).get_row_at(i)[0]) for i in range(4)]
        assert labels == ["sequential", "threads", "processes", "asyncio"]
        warnings = [n.message for n in app._notifications]
    # one key, one series: the screen must not try to start it twice
    assert not any("running" in w for w in warnings), warnings


async def test_served_app_starts_focused_but_honours_a_later_blur(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """textual-serve's web driver blurs the app at start, before any click.

    Blurred, the footer stops following binding changes (and can stay empty);
    a presenter's first frame must show its keys. A real blur after a focus stays.
    """
    monkeypatch.setattr(ConcvizApp, "is_web", property(lambda self: True))
    app = ConcvizApp(RunSpec(model="sequential", workload="sleep", tasks=2, task_ms=5))
    async with app.run_test(size=(140, 45)) as pilot:
        app.post_message(events.AppBlur())  # what the web driver does at start
        await pilot.pause()
        assert app.app_focus
        app.post_message(events.AppFocus())  # the page got the keyboard
        await pilot.pause()
        app.post_message(events.AppBlur())  # and then lost it: that is real
        await pilot.pause()
        assert not app.app_focus


async def test_on_a_short_screen_the_explanation_scrolls_and_the_timeline_keeps_room() -> None:
    """A big font on a 1280x720 projector leaves about 91 x 22 cells."""
    heights = {}
    for size in ((91, 22), (140, 45)):
        app = ConcvizApp(playlist=[load("gil")])
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, partial(explains, app, "The GIL"))
            await pilot.pause()  # laid out with it
            heights[size] = (app.w_explain.size.height, app.w_timeline.size.height)
            assert "The GIL" in app.w_explain.text
    short_explain, short_timeline = heights[(91, 22)]
    assert short_explain <= 4
    assert heights[(140, 45)][0] > short_explain  # room enough: the whole explanation
    assert short_timeline >= 4


async def test_timeline_bars_follow_a_theme_change() -> None:
    """The bars' styles are cached; a new theme must still recolour them at once."""
    replay = Path(__file__).parent / "data" / "threads-cpu.cvrec"
    app = ConcvizApp(replay=str(replay), replay_speed=float("inf"))
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "textual-dark"
        timeline = app.query_one(Timeline)
        await final_frame_shown(pilot, app)
        assert timeline.view is not None
        dark = timeline._styles()["a"]
        dark_bars = {seg.style for strip in timeline._build() for seg in strip}
        assert dark in dark_bars
        app.theme = "textual-light"
        await wait_for(pilot, lambda: timeline._styles()["a"] != dark)
        light = timeline._styles()["a"]
        assert light != dark
        expected = timeline.rich_style + timeline.get_component_rich_style(
            "timeline--a", partial=True
        )
        assert light == expected
        light_bars = {seg.style for strip in timeline._build() for seg in strip}
        assert light in light_bars
        assert dark not in light_bars


async def test_the_header_sits_beside_the_settings_not_above_them() -> None:
    """Textual redraws the bounding box of a frame's changes: a full-width header
    ticking with the timeline would redraw the settings sidebar's twenty widgets
    at 10 Hz (~0.8 % of a core in benchmarks/README.md)."""
    app = ConcvizApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        settings = app.query_one("#settings")
        header = app.query_one(RunHeader)
        assert settings.display
        assert header.region.x >= settings.region.right
        assert header.region.y == settings.region.y == 0


async def test_the_idle_header_says_whether_the_gil_is_on() -> None:
    """Before the first run, the header already names the interpreter and its GIL."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    app = ConcvizApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = app.query_one(RunHeader).render().plain
        assert f"Python {'.'.join(map(str, sys.version_info[:3]))}" in text
        assert ("GIL on" if gil else "GIL off") in text


async def test_the_first_figures_are_drawn_as_soon_as_they_are_sampled() -> None:
    """The figure panels redraw at 2.5 Hz, but not while they still have nothing to show.

    The app's own timer is paused and the tick set so that the 2.5 Hz rule would not
    draw: the workers' first figures must appear at the next refresh all the same.
    """
    app = ConcvizApp(RunSpec(model="processes", workload="cpu", workers=2, tasks=40, task_ms=100))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        stop_refreshing(app)
        # The run starts in a worker thread: wait for its session, then draw once.
        await wait_for(pilot, lambda: isinstance(app.controller.source, RunSession))
        app.refresh_view()  # drawn from the run, with nothing (or little) sampled yet
        assert "one row per worker" not in app.w_workers.render().plain

        def sampled() -> bool:
            session = app.controller.source
            if not isinstance(session, RunSession):
                return False
            with session.lock:
                return bool(workers_view(session.aggregate, 6, 60).rows)

        await wait_for(pilot, sampled)
        app._tick = 0  # the next refresh is not one of the 2.5 Hz ones
        app.refresh_view()
        assert "pid " in app.w_workers.render().plain, app.w_workers.render().plain
        await pilot.press("s")


async def test_a_workloads_own_options_are_shown_set_and_used() -> None:
    """The deadlock's lock order, set in the sidebar, is what the next run gets."""
    app = ConcvizApp(RunSpec(model="threads", workload="deadlock", workers=2, tasks=4, task_ms=20))
    async with app.run_test(size=(120, 60)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        order = app.query_one("#opt-lock_order", Select)
        assert order.value == "opposite"
        assert app.query_one("#opt-timeout_ms", Input).value == "150"
        assert not app.query("#opt-lock")  # the counter's option is not offered here
        order.value = "fixed"
        app.query_one("#opt-timeout_ms", Input).value = "0"
        await pilot.pause()
        assert (app.spec.lock_order, app.spec.timeout_ms) == ("fixed", 0.0)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state in FINAL)
        source = app.controller.source
        assert isinstance(source, RunSession)
        assert source.spec.lock_order == "fixed"
        summary = source.summary()
        assert summary.completed == 4  # locks taken in one order: no transfer ever waits out

        await pilot.press("w")  # the next workload: its options replace the deadlock's
        await wait_for(pilot, lambda: not app.query("#opt-lock_order"))
        app.query_one("#set-model", Select).value = "retry"  # as picked in the list
        await wait_for(pilot, lambda: bool(app.query("#opt-attempts")))
        assert app.query_one("#opt-attempts", Input).value == "4"


def test_every_option_label_fits_the_settings_panel() -> None:
    assert all(len(option.label) <= 28 for option in OPTIONS)


async def test_the_timeline_keeps_its_height_through_a_run() -> None:
    """Figures appearing in the panels below must not take rows from the timeline."""
    app = ConcvizApp(RunSpec(model="processes", workload="cpu", workers=2, tasks=4, task_ms=20))
    async with app.run_test(size=(140, 42)) as pilot:
        # The figure panels are mounted after the first frame (a skeleton), then the
        # settings' fields: CI once queried #summary before it was there.
        await wait_for(pilot, lambda: app.w_settings.ready)
        await pilot.pause()
        box = app.query_one("#timeline-box")
        idle = box.size.height
        summary_idle = len(panel_text(app, "#summary").splitlines())
        await pilot.press("r")
        await final_frame_shown(pilot, app)
        assert app.state == "done", why_not_done(app)
        assert len(panel_text(app, "#summary").splitlines()) > summary_idle + 5
        assert box.size.height == idle


async def test_start_up_chores_wait_until_no_run_is_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Probing interpreters starts subprocesses: never while a run's CPU is being measured."""
    probes: list[bool] = []

    def probe() -> list[object]:
        probes.append(run_in_progress())
        return []

    monkeypatch.setattr(app_module, "discover", probe)
    spec = RunSpec(model="sequential", workload="sleep", workers=1, tasks=1, task_ms=1500)
    app = ConcvizApp(spec, autorun=True)  # concviz --run
    async with app.run_test(size=(140, 42)) as pilot:
        await wait_for(pilot, lambda: app.state in FINAL)
        assert app.state == "done", why_not_done(app)
        assert app.w_settings.ready  # the run waited for the settings' fields
        await wait_for(pilot, lambda: bool(probes), timeout=5)
    assert probes == [False]  # probed once, after the run


@pytest.mark.parametrize(("rows", "panels"), [(42, 14), (50, 18), (24, 10)])
async def test_the_figure_panels_take_more_rows_on_a_tall_screen(rows: int, panels: int) -> None:
    data = Path(__file__).parent / "data" / "threads-cpu.cvrec"
    app = ConcvizApp(replay=data, replay_speed=float("inf"))
    async with app.run_test(size=(160, rows)) as pilot:
        await wait_for(pilot, lambda: app.state in FINAL)
        app.refresh_view()
        await pilot.pause()
        assert app.query_one("#panels").size.height == panels
        summary = app.query_one("#summary", Panel)
        lines = panel_text(app, "#summary").splitlines()
        if rows >= 44:  # every row of the summary in view, the last ones included
            assert len(lines) <= summary.size.height - 2
            assert lines[-1].startswith("cores")


async def test_a_costly_refresh_makes_the_next_ones_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand lanes cost tens of ms a refresh: the view then refreshes less often.

    The app's timer is paused and each refresh called here, so what is counted is
    what the app decides, not how many timer ticks a busy machine managed.
    """
    calls: list[float] = []
    real = timeline_view

    def costly(*args: object, **kwargs: object) -> object:
        calls.append(time.perf_counter())
        time.sleep(0.04)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(frame_module, "timeline_view", costly)
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=400, task_ms=100))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state == "running")
        stop_refreshing(app)

        async def drawn_after(refreshes_since: int) -> None:
            """Refreshes (the timer's job) until one draws the timeline again."""
            deadline = time.monotonic() + 30
            app.refresh_view()
            while len(calls) == refreshes_since:
                assert time.monotonic() < deadline, "the timeline was never drawn again"
                await pilot.pause()
                app.refresh_view()

        await drawn_after(len(calls))
        first = calls[-1]
        app.refresh_view()  # at once: the costly one holds it back
        assert calls[-1] == first
        await drawn_after(len(calls))
        # 40 ms at REFRESH_BUDGET (15 %): not before ~0.27 s, where 10 Hz would be 0.1 s.
        assert calls[-1] - first >= 0.04 / app_module.REFRESH_BUDGET * 0.9
        seen = len(calls)
        await pilot.press("z")  # a new view is drawn at the next refresh, whatever the cost
        app.refresh_view()
        assert len(calls) == seen + 1


async def test_a_refresh_while_the_app_is_taken_down_does_nothing() -> None:
    """Textual can fire the refresh timer between removing widgets and stopping it."""
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=40, task_ms=100))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state == "running")
        stop_refreshing(app)
        await app.w_header.remove()  # as during shutdown: a widget with no screen
        app.refresh_view()  # raised NoScreen before
        app.exit()
        app.refresh_view()  # and once quitting, it draws nothing at all


async def test_sweep_screen_says_the_machine_ceiling_for_cpu_work() -> None:
    """Issue #17.3: after a CPU-bound sweep the dashboard says what the machine allows.
    The measurement is injected (its own tests measure real processes)."""
    app = ConcvizApp(RunSpec(model="processes", workload="cpu", workers=1, tasks=4, task_ms=20))
    async with app.run_test(size=(130, 42)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        asked: list[list[int]] = []

        def measure(counts: list[int]) -> dict[int, float | None]:
            asked.append(counts)
            return {n: min(n, 1.56) for n in counts}

        screen.measure_ceilings = measure
        screen.query_one(Input).value = "1,2"
        await pilot.press("r")
        await series_shown(pilot, screen)
        assert asked == [[1, 2]]
        fit = str(screen.query_one("#fit").render())
        assert "machine ceiling (bare CPU kernel vs one process): 2 processes 1.56×" in fit


async def test_the_palette_offers_the_keys_and_each_model_and_choosing_one_sets_it() -> None:
    app = ConcvizApp(RunSpec(model="sequential", workload="sleep"))
    async with app.run_test(size=(140, 40)) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Run", "Stop", "Compare models", "Sweep workers", "Advise"} <= set(commands)
        assert {"Model: threads", "Workload: cpu"} <= set(commands)
        commands["Model: threads"].callback()
        commands["Workload: cpu"].callback()
        await pilot.pause()
        assert (app.spec.model, app.spec.workload) == ("threads", "cpu")


async def test_f_freezes_the_timeline_while_the_run_goes_on() -> None:
    """A frozen view stays put: its window does not follow the clock until unfrozen."""
    spec = RunSpec(model="threads", workload="sleep", workers=2, tasks=40, task_ms=50)
    app = ConcvizApp(spec)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        await pilot.press("r")
        session_started = lambda: isinstance(app.controller.source, RunSession)  # noqa: E731
        await wait_for(pilot, session_started)
        source = app.controller.source
        assert source is not None
        await wait_for(pilot, lambda: source.aggregate.run_start_ns is not None)
        await pilot.press("z", "z", "f")
        app.refresh_view()
        frozen = app.w_timeline.view
        assert frozen is not None
        moved_from = source.now_ns()
        # The clock moves on (half a second, however busy the machine is) ...
        await wait_for(pilot, lambda: source.now_ns() - moved_from > 500_000_000)
        app.refresh_view()
        later = app.w_timeline.view
        assert later is not None
        # ... the frozen window does not.
        assert (later.start_s, later.end_s) == (frozen.start_s, frozen.end_s)
        await pilot.press("f")  # following again: the window catches up with the run
        app.refresh_view()
        following = app.w_timeline.view
        assert following is not None
        if not _finished_run(app):
            assert following.end_s > frozen.end_s
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state in FINAL)


def _finished_run(app: ConcvizApp) -> bool:
    source = app.controller.source
    return source is not None and source.aggregate.run_end_ns is not None


async def test_after_a_run_a_frozen_zoomed_view_ends_at_the_runs_end() -> None:
    spec = RunSpec(model="threads", workload="sleep", workers=2, tasks=8, task_ms=50)
    app = ConcvizApp(spec)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state in FINAL)
        assert app.state == "done", why_not_done(app)
        source = app.controller.source
        assert source is not None
        end = source.aggregate.run_end_ns
        origin = source.aggregate.run_start_ns
        assert end is not None
        assert origin is not None
        # Some time passes after the run, as when a speaker talks over it.
        await wait_for(pilot, lambda: source.now_ns() - end > 500_000_000)
        await pilot.press("f", "z")
        app.refresh_view()
        view = app.w_timeline.view
        assert view is not None
        run_s = (end - origin) / 1e9
        assert view.end_s == pytest.approx(run_s, abs=0.01)  # not the empty time after it
        assert view.start_s < run_s
        await pilot.press("Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z")  # back to the whole run
        app.refresh_view()
        whole = app.w_timeline.view
        assert whole is not None
        assert whole.start_s == 0
        # Fitted to the run (at least a second wide), not to the clock now.
        assert whole.end_s < max(run_s * 1.05, 1.0) + 0.01


async def test_z_narrows_the_window_and_Z_widens_it() -> None:
    data = Path(__file__).parent / "data" / "threads-cpu.cvrec"
    app = ConcvizApp(replay=data, replay_speed=float("inf"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state != "replay" and app.w_timeline.view is not None)
        app.refresh_view()
        assert app.w_timeline.view is not None
        spans = [app.w_timeline.view.end_s - app.w_timeline.view.start_s]
        for _ in range(3):
            await pilot.press("z")
            app.refresh_view()
            view = app.w_timeline.view
            assert view is not None
            spans.append(view.end_s - view.start_s)
            labels = [label for _, label in view.ticks]
            assert len(labels) == len(set(labels)), labels  # every tick says another time
            assert len(labels) >= 2
        assert spans == sorted(spans, reverse=True), spans
        assert len(set(spans)) == len(spans), spans
        for _ in range(3):
            await pilot.press("Z")
            app.refresh_view()
            view = app.w_timeline.view
            assert view is not None
            spans.append(view.end_s - view.start_s)
        assert spans[3:] == sorted(spans[3:]), spans
        assert spans[-1] == pytest.approx(spans[0])  # back to the whole run


def test_tick_labels_are_distinct_at_a_quarter_second_late_in_a_run() -> None:
    from concviz.tui.view import _axis  # noqa: PLC0415

    origin = 0
    for start_s in (3.2, 15.6, 61.0):
        t0 = origin + int(start_s * 1e9)
        _, ticks = _axis(t0, t0 + 250_000_000, 80, origin)
        labels = [label for _, label in ticks]
        assert len(labels) >= 3, labels
        assert len(set(labels)) == len(labels), labels


async def test_talk_keys_work_on_the_compare_screen(tmp_path: Path) -> None:
    """PageDown and i on the screen a compare scenario opens: no Esc needed first."""
    scenario = tmp_path / "tiny-gil.toml"
    scenario.write_text(
        load("gil")
        .path.read_text()
        .replace("tasks = 8", "tasks = 40")
        .replace("task_ms = 100", "task_ms = 50")
    )
    app = ConcvizApp(playlist=[load(str(scenario)), load("retry"), load("backpressure")])
    async with app.run_test(size=(130, 42)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        explain = screen.query_one("#explain")
        shown = [explain.display]
        await pilot.press("i")  # hides the compare screen's explanation
        shown.append(explain.display)
        await pilot.press("i")
        shown.append(explain.display)
        assert shown == [True, False, True]
        await wait_for(pilot, lambda: screen.series is not None)
        await pilot.press("pagedown")  # the next demo, from here
        await wait_for(pilot, lambda: app.screen is app.w_header.screen)
        assert app.scenario is not None
        assert app.scenario.name == "retry"
        series = screen.series
        assert series is not None
        await wait_for(pilot, series.done.is_set)  # leaving stops the series it ran
        await pilot.press("pageup")
        assert scenario_name(app) == "tiny-gil"


def scenario_name(app: ConcvizApp) -> str | None:
    return app.scenario.name if app.scenario is not None else None


@pytest.mark.parametrize("name", ["gil", "race"])
async def test_a_scenario_with_variants_announces_what_r_runs(name: str) -> None:
    scenario = load(name)
    app = ConcvizApp(playlist=[scenario])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.refresh_view()
        message = app.w_timeline.message
        assert f"{len(scenario.variants)} variants" in message
        for variant in scenario.variants:
            assert variant.label in message
        assert "Press r to run threads ×" not in message  # not the one run r does not do
        if name == "race":
            assert "GIL" not in message
        # What r does comes first in the strip: a short screen shows its first line.
        first_line = app.w_explain.text.splitlines()[0]
        assert f"r runs its {len(scenario.variants)} variants" in first_line


needs_older_python = pytest.mark.skipif(
    sys.version_info >= (3, 14), reason="the interpreters model runs on this Python"
)


@needs_older_python
def test_the_dashboard_refuses_a_model_this_python_cannot_run_up_front() -> None:
    from tests.support import concviz  # noqa: PLC0415

    out = concviz("-m", "interpreters", timeout=20)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "interpreters needs Python 3.14+" in lines[0]
    assert "Traceback" not in out.stderr


@needs_older_python
async def test_r_on_a_model_this_python_cannot_run_says_why_and_stays_said() -> None:
    app = ConcvizApp(RunSpec(model="interpreters", workload="sleep", tasks=4, task_ms=10))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        app.refresh_view()
        assert "needs Python 3.14+" in app.w_timeline.message  # said before r
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state == "error")
        await app.workers.wait_for_complete()  # the start that failed is over
        app.refresh_view()
        assert app.state == "error"  # not "starting" for good
        assert app.controller.source is None
        assert "needs Python 3.14+" in app.w_timeline.message  # not only in a toast


async def test_at_80_columns_every_footer_key_fits_and_resizing_keeps_it_so() -> None:
    from textual.widgets._footer import FooterKey  # noqa: PLC0415

    app = ConcvizApp()

    def shown(width: int) -> list[str]:
        keys = list(app.screen.query(FooterKey))
        cut = [k.key_display for k in keys if k.region.right > width or k.region.width == 0]
        assert not cut, f"cut off at {width} columns: {cut}"
        return [k.key_display for k in keys]

    def laid_out() -> bool:
        keys = list(app.screen.query(FooterKey))
        return bool(keys) and all(k.region.width > 0 for k in keys)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, laid_out)  # the footer recomposes after the first frame
        narrow = shown(80)
        assert {"r", "s", "?", "q", "o", "p", "v", "x", "c", "e"} <= set(narrow), narrow
        await pilot.resize_terminal(160, 50)
        await wait_for(
            pilot,
            lambda: laid_out() and "m" in [k.key_display for k in app.screen.query(FooterKey)],
        )
        assert {"m", "w"} <= set(shown(160))
        assert app.w_settings.has_class("-shown")  # docked beside the dashboard
        await pilot.resize_terminal(80, 24)
        await wait_for(
            pilot,
            lambda: laid_out() and "m" not in [k.key_display for k in app.screen.query(FooterKey)],
        )
        assert shown(80) == narrow
        assert not app.w_settings.has_class("-shown")  # no longer covering the lanes


async def test_at_80_columns_the_compare_table_keeps_the_scenarios_focus() -> None:
    from tests.test_snapshots import finished_series  # noqa: PLC0415

    series = finished_series()
    app = ConcvizApp()
    screen = CompareScreen(
        series.entries[0].spec,
        None,
        preset=[Entry(e.label, e.spec) for e in series.entries],
        focus=load("gil").focus,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen)
        await pilot.pause()
        screen.series = series
        screen.poll()
        await pilot.pause()
        table = screen.query_one(DataTable)
        right = 0
        visible = []
        for column in table.ordered_columns:
            right += column.get_render_width(table)
            if right <= table.size.width:
                visible.append(str(column.label))
        assert {"model", "wall", "speedup", "parallel", "on-CPU"} <= set(visible), visible


async def test_at_80_columns_the_sweep_table_shows_every_column_whole() -> None:
    from tests.test_snapshots import finished_series  # noqa: PLC0415

    series = finished_series(workers=(1, 2))
    app = ConcvizApp()
    screen = SweepScreen(series.entries[0].spec, None, counts=[1, 2])
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen)
        await pilot.pause()
        screen.series = series
        screen.poll()
        await pilot.pause()
        table = screen.query_one(DataTable)
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert sum(widths) <= table.size.width, (widths, table.size.width)
        assert "ideal" in [str(column.label) for column in table.ordered_columns]


async def test_with_settings_and_code_open_the_header_keeps_its_progress_line() -> None:
    data = Path(__file__).parent / "data" / "threads-cpu.cvrec"
    app = ConcvizApp(replay=data, replay_speed=float("inf"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        header = app.w_header
        drawn = [line.plain for line in header._lines]
        assert len(drawn) > 2  # the first line wrapped beside the two side panels
        assert header.size.height >= len(drawn), drawn  # ... and no line is cut off
        assert any("12/12" in line for line in drawn), drawn


async def test_resizing_to_80x24_keeps_a_lane_per_thread() -> None:
    data = Path(__file__).parent / "data" / "threads-cpu.cvrec"
    app = ConcvizApp(replay=data, replay_speed=float("inf"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        app.refresh_view()
        view = app.w_timeline.view
        assert view is not None
        assert view.per_row == 1  # not "rows 0–1 / rows 2–3"
        assert [row.label for row in view.rows] == [f"tid {t}" for t in range(1647, 1651)]
        assert app.has_class("-short")


async def test_a_stopped_run_s_header_counts_only_the_tasks_that_ran() -> None:
    spec = RunSpec(model="threads", workload="sleep", workers=2, tasks=40, task_ms=100)
    app = ConcvizApp(spec)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.controller.source, RunSession))
        source = app.controller.source
        assert source is not None
        await wait_for(pilot, lambda: source.aggregate.completed >= 2)
        await pilot.press("s")
        await final_frame_shown(pilot, app)
        agg = source.aggregate
        ran = agg.completed + agg.failed
        if ran == 40:
            pytest.skip("every task finished before the stop took effect")
        header = str(app.query_one(RunHeader).render())
        assert f"{ran}/40" in header, header
        assert "40/40" not in header


async def test_ctrl_s_saves_into_a_recordings_folder_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = ConcvizApp(RunSpec(model="sequential", workload="sleep", workers=1, tasks=2, task_ms=5))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state in FINAL)
        await pilot.press("ctrl+s")
        folder = tmp_path / "concviz-recordings"
        await wait_for(pilot, lambda: folder.is_dir() and any(folder.glob("*.cvrec")))
        saved = next(folder.glob("*.cvrec"))
        assert not list(tmp_path.glob("*.cvrec"))  # not loose in the working folder

        def said_where() -> bool:
            said = [f"{n.title} {n.message}" for n in app._notifications]
            return any(saved.name in m and str(folder) in m for m in said)

        await wait_for(pilot, said_where)


async def test_at_80x24_the_settings_leave_the_lane_labels_in_view() -> None:
    data = Path(__file__).parent / "data" / "threads-cpu.cvrec"
    app = ConcvizApp(replay=data, replay_speed=float("inf"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        settings, timeline = app.w_settings.region, app.w_timeline.region
        assert settings.width > 0
        labels = timeline.x + Timeline.LABEL_WIDTH
        assert settings.x >= labels, (settings, timeline)  # over the newest cells, not the names


def test_a_narrow_queue_panel_keeps_room_for_its_sparkline() -> None:
    from concviz.tui.view import SPARKS, QueueView  # noqa: PLC0415
    from concviz.tui.widgets import queue_content  # noqa: PLC0415

    pinned = QueueView(depth=8, peak=8, history=[8.0] * 60, real_queue=True)
    for width in (19, 24, 34):  # the panel's inner width at 80, 100 and 120 columns
        line = queue_content(pinned, width)[0].plain
        assert len(line) <= width
        cells = sum(line.count(s) for s in SPARKS)
        assert cells >= 8, (width, line)  # enough samples to see it stay pinned
