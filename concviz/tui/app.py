"""The dashboard: pick a model, run it for real, watch it.

Data flows one way: the engine's reader and sampler threads update the run's
aggregate; a 10 Hz timer here builds view models from it (under its lock) and
hands them to thin widgets. Nothing is repainted per event, and no thread but
the app's touches a widget.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Select

from ..models import CATALOG as MODELS
from ..observer.interpreters import Interpreter, discover
from ..observer.recording import RecordingError, Replay
from ..observer.session import RunSession, SessionError, run_in_progress
from ..runner.spec import BY_NAME, RunSpec, SpecError
from ..startup import release_collector
from ..workloads import CATALOG as WORKLOADS
from . import talk
from .code_panel import shown_code
from .commands import dashboard_commands
from .controller import RunController
from .frame import Frame, Geometry, Panels, dashboard_frame, stamp
from .idle import idle_message, unavailable
from .navigation import TimelineNav
from .paint import TightScreen, tighten
from .served import watch_server
from .settings import SettingsPanel, clamp
from .view import TimelineCache, idle_header
from .widgets import (
    Explanation,
    Panel,
    RunHeader,
    TextPanel,
    Timeline,
    code_renderable,
    cores_content,
    events_content,
    findings_subtitle,
    queue_content,
    summary_content,
    workers_content,
)

if TYPE_CHECKING:  # scenarios come loaded (cli, the picker): tomllib & co. stay off start-up
    from ..scenario import Scenario

REFRESH_HZ = 10
#: The timeline moves at every refresh; the header (progress, elapsed time) at every
#: 2nd, the figure panels at every 4th (2.5 Hz, still faster than top's or btop's
#: default), showing the mean of the samples since they were last drawn. Each panel
#: redrawn costs the UI process CPU that the run it shows would otherwise have.
HEADER_EVERY = 2
PANELS_EVERY = 4
#: The share of one core the timeline may take: with a thousand lanes a redraw
#: costs tens of ms, and the timeline then moves less often rather than take that
#: CPU from the run it shows (at 25 ms a redraw, about 6 times a second; the
#: header and the panels keep their pace). The median of the last few costs
#: counts, so one costly redraw (a new time scale) is no stall.
REFRESH_BUDGET = 0.15
REFRESH_COSTS_KEPT = 5
NARROW = 110
#: Fewer rows than this (a big font on a projector): the explanation strip shrinks.
SHORT = 30
#: From this many rows the figure panels are tall enough for every summary row.
TALL = 44
#: Refreshes the rest of start-up waits at most for the footer's keys (see _first_frame).
FIRST_FRAME_WAITS = 5


class ConcvizApp(App[None]):
    CSS_PATH = "concviz.tcss"
    TITLE = "concviz"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run"),
        Binding("s", "stop", "Stop"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("o", "toggle_settings", "Settings"),
        Binding("m", "next_model", "Model"),
        Binding("w", "next_workload", "Workload"),
        Binding("plus,equals_sign", "workers(1)", "+Worker", key_display="+", show=False),
        Binding("minus", "workers(-1)", "-Worker", key_display="-", show=False),
        Binding("right_square_bracket", "tasks(2)", "More tasks", show=False),
        Binding("left_square_bracket", "tasks(0.5)", "Fewer tasks", show=False),
        Binding("z", "zoom(1)", "Zoom in", show=False),
        Binding("Z", "zoom(-1)", "Zoom out", show=False),
        Binding("f", "follow", "Freeze", show=False),
        Binding("left", "scroll_time(-1)", "Earlier", show=False),
        Binding("right", "scroll_time(1)", "Later", show=False),
        Binding("p", "pick_scenario", "Demos"),
        Binding("pagedown", "next_scenario(1)", "Next demo", show=False, priority=True),
        Binding("pageup", "next_scenario(-1)", "Previous demo", show=False, priority=True),
        Binding("i", "toggle_explanation", "About", show=False),
        Binding("v", "compare", "Compare"),
        Binding("x", "sweep", "Sweep"),
        Binding("a", "advise", "Advise", show=False),
        Binding("c", "toggle_code", "Code"),
        Binding("e", "toggle_events", "Events"),
        Binding("ctrl+s", "save_recording", "Save run", show=False),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def get_default_screen(self) -> Screen[Any]:
        """The dashboard's screen renders only what a partial update touches (``paint.py``)."""
        return TightScreen(id="_default")

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        """Writes only the cells that changed (``paint.py``), not whole lines up to them."""
        super()._display(screen, tighten(renderable))

    def __init__(
        self,
        spec: RunSpec | None = None,
        python: str | None = None,
        replay: str | Path | None = None,
        replay_speed: float = 1.0,
        autorun: bool = False,
        playlist: list[Scenario] | None = None,
    ) -> None:
        super().__init__()
        #: Scenarios to step through (a talk); the current one sets the run up.
        self.playlist = playlist or []
        self.scenario_index = 0
        self.scenario: Scenario | None = None
        self.python_given = python
        self.spec = (spec or RunSpec()).validated()
        self.python = python
        self.replay_path = Path(replay) if replay else None
        self.replay_speed = replay_speed
        self.autorun = autorun
        self.controller = RunController(sample_hz=REFRESH_HZ)
        #: Where the timeline looks: zoom, follow or frozen (z, Z, f, ← →).
        self.nav = TimelineNav()
        #: Why the last r did not start a run (shown until the next r).
        self._refusal: str | None = None
        #: The settings' spec and its validated form (None: invalid), for _spec_differs.
        self._validated: tuple[RunSpec | None, RunSpec | None] = (None, None)
        self.state = "idle"
        self._last_events = -1
        self._last_code: tuple[str, str, str | None, bool] | None = None
        self._last_key: tuple[object, ...] | None = None
        #: When the next refresh is due, and the view it was timed for (REFRESH_BUDGET).
        self._next_refresh = 0.0
        #: Set as the app quits: deferred chores must not start on a closing app.
        self._quitting = False
        self._refresh_costs: deque[float] = deque(maxlen=REFRESH_COSTS_KEPT)
        self._timed_view: tuple[object, ...] = ()
        self._tick = 0
        #: The run the figure panels were last drawn from, and its sample count then
        #: if they had no figures to show yet (None once they had).
        self._panels_for: object = None
        self._panels_empty_at: int | None = None
        self._browser_focused = False
        self.interpreters: dict[str, Interpreter] = {}
        self._timeline_cache = TimelineCache()
        self.first_frame_at: float | None = None
        #: The widgets mounted just after the first frame (compose), until they are.
        self._after_first_frame: tuple[tuple[Widget, ...], tuple[Widget, ...]] | None = None
        self._keys_seen = False

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Widgets are kept as attributes: queries search the active screen, which is
        # the help screen while it is open, and nothing once the app is closing.
        self.w_header = RunHeader(id="header")
        self.w_timeline = Timeline(id="timeline")
        self.w_settings = SettingsPanel(self.spec, self.python, id="settings")
        self.w_cores = Panel("Cores", id="cores")
        self.w_queue = Panel("Queue depth", id="queue")
        self.w_workers = Panel("Workers CPU", id="workers")
        self.w_workers.border_subtitle = "│ = one core"
        self.w_summary = Panel("Summary", id="summary")
        self.w_code = TextPanel("Code", id="code")
        self.w_events = TextPanel("Events (newest first)", id="events")
        self.w_explain = Explanation(id="explain")
        figures = (Vertical(self.w_cores, self.w_queue, id="left"), self.w_workers, self.w_summary)
        sides = (self.w_code, self.w_events)
        # Plain start-up: the first frame is the skeleton (header, timeline, footer,
        # the panels' room kept empty); the figure panels and the hidden side panels
        # are mounted just after it (_first_frame): styling and drawing them is a
        # third of what the first frame would cost. A replay or a talk draws at once.
        skeleton = self.replay_path is None and not self.playlist
        self._after_first_frame = (figures, sides) if skeleton else None
        with Horizontal(id="body") as body:
            yield self.w_settings
            with Vertical(id="main"):
                yield self.w_header
                yield self.w_explain
                with Vertical(id="timeline-box") as box:
                    box.border_title = "Timeline"
                    yield self.w_timeline
                yield Horizontal(*(() if skeleton else figures), id="panels")
            if not skeleton:
                yield from sides
        self.w_body = body
        yield Footer()

    def on_mount(self) -> None:
        self._apply_size(self.size.width, self.size.height, force=True)
        watch_server(self)  # served in a browser: gone with its server
        # Probing interpreters starts a few subprocesses: not before the first frame,
        # and like warming the code panel, not while a run is measured.
        if self.replay_path is None:
            self.set_timer(0.5, lambda: self._when_no_run(self._discover_interpreters))
        self.set_timer(1.0, lambda: self._when_no_run(self._warm_code_panel))
        self.set_interval(1 / REFRESH_HZ, self.refresh_view)
        self.refresh_view()
        self.call_after_refresh(self._first_frame)
        if self.replay_path is not None:
            self.start_replay()
        elif self.playlist:
            self.load_scenario(0)

    def _when_no_run(self, chore: Callable[[], object]) -> None:
        """Does a start-up chore now, or once no run is measured: it would take CPU from it."""
        if self._quitting or not self.w_timeline.is_attached:
            return  # quitting mid-run ends the run: that is no time to start a chore
        if run_in_progress():
            self.set_timer(0.5, lambda: self._when_no_run(chore))
        else:
            chore()

    @work(thread=True, exclusive=True, group="warm", exit_on_error=False)
    def _warm_code_panel(self) -> None:
        """Highlights a line of Python once, off the main thread and after start-up.

        The first showing of the code panel (a speaker's `c`) otherwise pays for
        importing Pygments' lexer and style: ~50 ms between the key and the code.
        """
        code_renderable("x = 1", "").highlight("x = 1")

    @work(thread=True, exclusive=True, group="discover", exit_on_error=False)
    def _discover_interpreters(self) -> None:
        found = discover()
        self.interpreters = {i.path: i for i in found}
        if found:
            self.call_from_thread(self.w_settings.offer_interpreters, found)

    @property
    def python_label(self) -> str:
        """The chosen interpreter, as the idle header names it."""
        if self.python is None:  # this interpreter: what the runner will find too
            gil = getattr(sys, "_is_gil_enabled", lambda: True)()
            return f"{'.'.join(map(str, sys.version_info[:3]))} · {'GIL on' if gil else 'GIL off'}"
        interp = self.interpreters.get(self.python)
        if interp is None:
            return os.path.basename(self.python)
        version = ".".join(map(str, interp.version))
        return f"{version} · {'GIL on' if interp.gil_enabled else 'GIL off'}"

    def on_app_focus(self) -> None:
        self._browser_focused = True

    def on_app_blur(self, event: events.AppBlur) -> None:
        # textual-serve's web driver starts the app blurred until the page is clicked,
        # and a blurred footer stops following its bindings: a presenter's first frame
        # must be live. Only a blur after the page had focus is real.
        if self.is_web and not self._browser_focused:
            event.prevent_default()  # App's own handler would un-focus the app

    def _first_frame(self, waited: int = 0) -> None:
        """After a refresh: once the footer's keys have been drawn too, the rest follows.

        The footer composes its keys only after the screen's first refresh; mounting
        the rest before the refresh that draws them would hold the keys back.
        """
        with contextlib.suppress(NoMatches, NoScreen):
            keys = bool(self.screen.query_one(Footer).children)
            if waited < FIRST_FRAME_WAITS and (not keys or waited == 0 or not self._keys_seen):
                self._keys_seen = keys
                self.call_after_refresh(self._first_frame, waited + 1)
                return
        self.first_frame_at = time.perf_counter()
        self.run_worker(self._fill_settings(), exclusive=True, group="settings")

    async def _fill_settings(self) -> None:
        """Mounts the rest of the skeleton, then the settings' fields; ``--run`` starts
        after that, not during it."""
        later, self._after_first_frame = self._after_first_frame, None
        if later is not None and self.w_body.is_attached:
            figures, sides = later
            await self.w_body.query_one("#panels").mount_all(figures)
            await self.w_body.mount_all(sides)
        try:
            await self.w_settings.fill()
        except NoMatches:
            if self.is_running and self.w_settings.is_attached and not self._quitting:
                raise
            return  # the app closed while the fields were being mounted
        finally:
            release_collector()  # start-up is over (concviz.startup)
        if self.autorun and self.replay_path is None and not self.playlist:
            self.autorun = False
            self.action_run()

    def on_resize(self, event: events.Resize) -> None:
        # The event's size: this handler runs before App's, which updates self.size.
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int, force: bool = False) -> None:
        narrow = width < NARROW
        screen = self.w_header.screen
        self.set_class(height < SHORT, "-short")  # a big font on a projector
        self.set_class(height >= TALL, "-tall")  # room for the whole summary
        if force or narrow != screen.has_class("narrow"):
            screen.set_class(narrow, "narrow")
            self.w_settings.set_class(not narrow, "-shown")
            # 80 columns: the keys close up, and ^p (the palette) gives them room.
            with contextlib.suppress(NoMatches):
                footer = screen.query_one(Footer)
                footer.compact = narrow
                footer.show_command_palette = not narrow
            # m and w are named in the settings and the idle text: the footer drops them.
            changed = False
            for key, bindings in self._bindings.key_to_bindings.items():
                if key in self.NARROW_UNSHOWN and any(b.show == narrow for b in bindings):
                    bindings[:] = [replace(b, show=not narrow) for b in bindings]
                    changed = True
            if changed:  # the footer is recomposed: at start-up, only when it must be
                screen.refresh_bindings()

    # -- running ----------------------------------------------------------------------

    def action_run(self) -> None:
        if self.replay_path is not None:
            self.start_replay()
            return
        scenario = self.scenario
        if scenario is not None and scenario.kind != "run":
            self._run_scenario_series(scenario)
            return
        try:
            spec = self.read_settings().validated()
        except SpecError as exc:
            self.notify(str(exc), title="Cannot run", severity="error")
            return
        self.spec = spec
        self._refusal = None
        self.state = "starting"
        self._start(spec)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _start(self, spec: RunSpec) -> None:
        try:
            session = self.controller.start(spec, self.python)
        except (SessionError, SpecError, OSError, RuntimeError) as exc:
            self.call_from_thread(self._run_failed, str(exc))
            return
        scenario = self.scenario
        if scenario is not None and scenario.stop_after_s is not None and spec == scenario.spec:
            session.stop_after(scenario.stop_after_s)

    def _run_failed(self, message: str) -> None:
        self.state = "error"
        self._refusal = message  # said in the timeline too, not only in a toast
        self._last_key = None
        self.notify(message, title="Run failed to start", severity="error", timeout=8)

    def action_stop(self) -> None:
        if self.controller.running:
            self._stop()

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _stop(self) -> None:
        self.controller.stop()

    def start_replay(self) -> None:
        assert self.replay_path is not None
        try:
            replay = self.controller.replay(self.replay_path, self.replay_speed)
        except RecordingError as exc:
            self.notify(str(exc), title="Cannot replay", severity="error", timeout=8)
            return
        with contextlib.suppress(TypeError, SpecError):
            self._set_spec(RunSpec(**replay.spec).validated())
        self.w_settings.disabled = True  # a recording's settings are history
        self.w_settings.border_title = "Settings (recorded)"
        if replay.meta:
            gil = "GIL on" if replay.meta.get("gil_enabled") else "GIL off"
            self.w_settings.show_recorded_python(f"{replay.meta.get('python', '?')} · {gil}")
        self.state = "replay"

    # -- settings ---------------------------------------------------------------------

    def read_settings(self) -> RunSpec:
        panel = self.w_settings
        if not panel.ready:  # the first instants: nothing can have been typed yet
            return self.spec

        self.python = panel.chosen_python()
        return replace(self.spec, **panel.values())

    def _set_spec(self, spec: RunSpec) -> None:
        self.spec = spec
        self._refusal = None  # it was about the settings before
        self.w_settings.set_spec(spec)

    @on(Select.Changed)
    @on(Input.Changed)
    def _settings_changed(self) -> None:
        if self._quitting:
            return  # fields are being taken down: nothing to read
        try:
            self.spec = self.read_settings()
        except SpecError:
            return
        self._last_code = None
        self.w_settings.sync_options(self.spec, values=False)  # a new model or workload

    @on(Input.Submitted)
    @on(Button.Pressed, "#run")
    def _run_from_settings(self) -> None:
        self.action_run()

    def action_next_model(self) -> None:
        names = list(MODELS)
        self._set_spec(
            replace(self.spec, model=names[(names.index(self.spec.model) + 1) % len(names)])
        )
        self.notify(MODELS[self.spec.model].summary, title=f"Model: {self.spec.model}", timeout=3)

    def action_next_workload(self) -> None:
        names = list(WORKLOADS)
        self._set_spec(
            replace(self.spec, workload=names[(names.index(self.spec.workload) + 1) % len(names)])
        )
        self.notify(
            WORKLOADS[self.spec.workload].summary,
            title=f"Workload: {self.spec.workload}",
            timeout=3,
        )

    def action_workers(self, delta: int) -> None:
        cap = MODELS[self.spec.model].max_workers  # each model's own, below the declared bound
        workers = clamp(BY_NAME["workers"], self.spec.workers + delta, cap)
        self._set_spec(replace(self.spec, workers=workers))

    def action_tasks(self, factor: float) -> None:
        tasks = clamp(BY_NAME["tasks"], round(self.spec.tasks * factor))
        self._set_spec(replace(self.spec, tasks=tasks))

    # -- view controls ----------------------------------------------------------------

    def action_toggle_settings(self) -> None:
        panel = self.w_settings
        panel.toggle_class("-shown")
        if panel.has_class("-shown") and panel.ready:
            panel.query_one("#set-model", Select).focus()
        else:
            self.set_focus(None)

    def action_toggle_code(self) -> None:
        self.w_code.toggle_class("-shown")
        self._refresh_code()  # in this frame, not at the next tick: c shows the code at once

    def action_toggle_events(self) -> None:
        self.w_events.toggle_class("-shown")

    # The timeline's window, as a frame reads it (_take_frame): kept by self.nav.
    @property
    def zoom_index(self) -> int:
        return self.nav.zoom_index

    @property
    def follow(self) -> bool:
        return self.nav.follow

    @property
    def view_end_ns(self) -> int | None:
        return self.nav.view_end_ns

    def _window(self, source: Any) -> tuple[float | None, int | None]:
        return self.nav.window(source)

    def action_zoom(self, step: int) -> None:
        """``z`` (step 1) narrows the window, ``Z`` (-1) widens it, up to the whole run."""
        shown = self.nav.zoom(step, self.controller.source, self.w_timeline.view)
        self.notify(shown, title="Timeline", timeout=1.5)

    def action_follow(self) -> None:
        said = self.nav.toggle_follow(self.controller.source, self.w_timeline.view)
        self.notify(said, timeout=1.5)

    def action_scroll_time(self, direction: int) -> None:
        self.nav.scroll(direction, self.controller.source, self.w_timeline.view)

    #: Keys the footer leaves out below NARROW columns (all of them still work).
    NARROW_UNSHOWN = frozenset({"m", "w"})

    #: Actions that only make sense on the dashboard itself (hidden on other screens).
    DASHBOARD_ONLY = frozenset(
        {
            "toggle_settings",
            "next_model",
            "next_workload",
            "workers",
            "tasks",
            "zoom",
            "follow",
            "scroll_time",
            "toggle_code",
            "toggle_events",
            "compare",
            "sweep",
            "save_recording",
            "run",
            "stop",
            "pick_scenario",
        }
    )
    #: A talk's keys: on the dashboard and on the compare and sweep screens a demo opens.
    TALK_KEYS = frozenset({"next_scenario", "toggle_explanation"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        header = getattr(self, "w_header", None)
        on_dashboard = header is None or not header.is_attached or self.screen is header.screen
        if action in self.TALK_KEYS and not on_dashboard:
            from .series import SeriesScreen  # noqa: PLC0415

            return isinstance(self.screen, SeriesScreen)  # not in the picker or help
        return on_dashboard or action not in self.DASHBOARD_ONLY

    # -- scenarios ------------------------------------------------------------

    def load_scenario(self, index: int) -> None:
        """Sets the dashboard up for a scenario of the playlist (a talk's next demo)."""
        if not self.playlist:
            return
        self.scenario_index = index % len(self.playlist)
        scenario = self.playlist[self.scenario_index]
        self.scenario = scenario
        if self.controller.running:
            self._stop()
        self.controller.forget()
        self.state = "idle"
        self.python = self.python_given or scenario.python
        self._set_spec(scenario.spec)
        self.w_explain.update(talk.explanation(scenario, self.scenario_index, len(self.playlist)))
        self.w_explain.display = True
        self._last_key = None

    async def action_next_scenario(self, step: int) -> None:
        if not self.playlist:
            return
        # From a compare or sweep screen: stop its series, back to the dashboard.
        while len(self.screen_stack) > 1 and self.screen is not self.w_header.screen:
            series = getattr(self.screen, "series", None)
            if series is not None:
                series.stop()
            await self.pop_screen()
        self.load_scenario(self.scenario_index + step)

    def action_toggle_explanation(self) -> None:
        screen = self.screen
        if screen is not self.w_header.screen:  # a compare or sweep screen's own text
            talk.toggle_screen_explanation(screen)
            return
        if self.scenario is not None:
            self.w_explain.display = not self.w_explain.display

    def action_pick_scenario(self) -> None:
        from .picker import ScenarioPicker  # noqa: PLC0415

        def chosen(scenario: Scenario | None) -> None:
            if scenario is not None:
                self.load_scenario(talk.add_to_playlist(self.playlist, scenario))

        self.push_screen(ScenarioPicker(), chosen)

    def _run_scenario_series(self, scenario: Scenario) -> None:
        self.push_screen(talk.series_screen(scenario, self.python, self.python_given))

    def action_compare(self) -> None:
        from .series import CompareScreen  # noqa: PLC0415  (plotext & co. only when asked)

        self.push_screen(CompareScreen(self._spec_for_series(), self.python))

    def action_sweep(self) -> None:
        from .series import SweepScreen  # noqa: PLC0415

        self.push_screen(SweepScreen(self._spec_for_series(), self.python))

    def action_advise(self) -> None:
        from .advise_screen import AdviseScreen  # noqa: PLC0415

        self.push_screen(AdviseScreen(self._spec_for_series(), self.python))

    def _spec_for_series(self) -> RunSpec:
        try:
            return self.read_settings().validated()
        except SpecError:
            return self.spec

    def action_help(self) -> None:
        from .screens import HelpScreen  # noqa: PLC0415  (Markdown costs ~25 ms at start-up)

        self.push_screen(HelpScreen())

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def action_save_recording(self) -> None:
        try:
            path = self.controller.save_recording()
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            self.call_from_thread(self.notify, str(exc), title="Not saved", severity="warning")
            return
        shown = os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
        self.call_from_thread(
            self.notify,
            f"in {path.parent}\nreplay it: concviz replay {shown}",
            title=f"Saved {path.name}",
            timeout=8,
        )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from dashboard_commands(self)

    def choose(self, **changes: str) -> None:
        """A palette choice: one setting changed (model=NAME or workload=NAME)."""
        self._set_spec(replace(self.spec, **changes))  # type: ignore[arg-type]

    # -- the 10 Hz refresh ------------------------------------------------------------

    def refresh_view(self) -> None:
        if self._quitting:
            return
        try:
            self._refresh_view()
        except NoScreen:
            # Taken down without exit() (a test's end): the timer can fire between
            # the screens' removal and its own, and a widget then has no screen.
            return

    def _refresh_view(self) -> None:
        """A snapshot of the run under its lock, then a paint outside it."""
        source = self.controller.source
        if not self.w_timeline.is_attached:
            return  # closing
        if source is None:
            self._paint_idle()
            return
        began = time.perf_counter()
        frame = self._take_frame(source, began)
        if frame is None:
            return
        built = time.perf_counter()
        painted = self._paint(frame, source)
        if frame.timeline is not None:  # what the timeline cost, to pace the next one
            self._refresh_costs.append(built - began + painted)
            import statistics  # noqa: PLC0415  (not on the way to the first frame: 3.6 ms)

            self._next_refresh = began + statistics.median(self._refresh_costs) / REFRESH_BUDGET

    def _paint_idle(self) -> None:
        """No run yet: what r would run, and what each panel will show."""
        spec = self.spec
        self.w_header.show(idle_header(spec, self.python_label), self.state)
        self.w_timeline.show(None, self._idle_message(spec))
        for panel, text in (
            (self.w_cores, "sampled while a run goes"),
            (self.w_queue, "-"),
            (self.w_workers, "one row per worker thread or process"),
            (self.w_summary, "the run's figures appear here"),
        ):
            panel.show(("idle", text), partial(_muted, text))
        self._refresh_code()

    def _take_frame(self, source: Any, began: float) -> Frame | None:
        """The frame to paint now, built under the run's lock (None: nothing changed).

        Which parts it holds is the refresh's pace: the timeline unless the last ones
        were costly (REFRESH_BUDGET), the panels every PANELS_EVERY refreshes, the
        event log when shown and new.
        """
        timeline = self.w_timeline
        finished = _finished(source)
        view = (id(source), self.zoom_index, self.follow, self.view_end_ns, timeline.size)
        # The last timelines were costly: this one waits (a change of view does not);
        # the header and the panels, cheap, keep their pace.
        draw_timeline = began >= self._next_refresh or view != self._timed_view or finished
        if self._timed_view[:1] != view[:1]:
            self._refresh_costs.clear()  # a new run: its own costs
        self._timed_view = view
        window, end_ns = self._window(source)
        events_shown = self.w_events.has_class("-shown")
        narrow = self.w_header.screen.has_class("narrow")
        with source.lock:
            agg = source.aggregate
            now = stamp(agg)
            # A finished run's picture only changes when the view does: skip the work.
            key = (
                id(source),
                now,
                self.zoom_index,
                self.follow,
                self.view_end_ns,
                timeline.size,
                events_shown,
                narrow,
                self.theme,
                self.spec,  # the header says what r would run next
                self.python,
            )
            if finished and key == self._last_key:
                return None
            self._last_key = key if finished else None
            # The header and the panels change more slowly than the bars (HEADER_EVERY,
            # PANELS_EVERY): on most frames Textual recomposes only the timeline (it
            # repaints the bounding box of everything that changed).
            self._tick += 1
            # Until the panels have figures to show, each new sample is drawn at once
            # (the workers' CPU needs two): at 2.5 Hz they could stay empty for 0.4 s.
            if self._panels_for is not source:
                self._panels_for, self._panels_empty_at = source, -1
            empty_at = self._panels_empty_at
            awaited = empty_at is not None and now.samples > empty_at
            return dashboard_frame(
                agg,
                source.now_ns(),
                Geometry(timeline.columns, timeline.rows, window, end_ns, narrow),
                timeline=draw_timeline,
                panels=finished or awaited or self._tick % PANELS_EVERY == 0,
                events=events_shown and now.events != self._last_events,
                smooth=PANELS_EVERY,
                cache=self._timeline_cache,
            )

    def _paint(self, frame: Frame, source: Any) -> float:
        """Hands each view of ``frame`` to its widget (outside the run's lock).

        Returns the seconds the timeline took to paint.
        """
        head = frame.header
        state = "replay" if isinstance(source, Replay) and not source.done.is_set() else head.state
        if isinstance(source, RunSession) and source.done.is_set() and state == "running":
            state = "done"
        panels = frame.panels
        header_due = panels is not None or self._tick % HEADER_EVERY == 0 or state != self.state
        self.state = state
        pending = ""
        if self._spec_differs(source):
            if self.controller.running:
                pending = "new settings apply to the next run"
            elif _finished(source):  # the run on screen is not what r starts: say what it does
                spec = self.spec
                pending = f"r runs {spec.model} × {spec.workers} · {spec.workload} × {spec.tasks}"
        timeline_cost = 0.0
        with self.batch_update():
            if header_due:
                self.w_header.show(head, state, pending)
            if frame.timeline is not None:
                drawn = time.perf_counter()
                self.w_timeline.show(frame.timeline)
                timeline_cost = time.perf_counter() - drawn
            if panels is not None:
                self._panels_empty_at = None if panels.has_figures else frame.stamp.samples
                self._show_panels(panels, state=state, narrow=frame.geometry.narrow)
            if frame.events is not None:
                self._last_events = frame.stamp.events
                self.w_events.update(events_content(list(frame.events)), layout=False)
            self._refresh_code()
        return timeline_cost

    def _idle_message(self, spec: RunSpec) -> str:
        """What r will run, before it is pressed: a scenario's variants, or one run."""
        why = unavailable(spec, self.python, self.interpreters)
        return idle_message(spec, self.scenario, why, self._refusal)

    def _show_panels(self, panels: Panels, state: str, narrow: bool) -> None:
        cores, queue, workers, summary = panels.cores, panels.queue, panels.workers, panels.summary
        cores_panel = self.w_cores
        cores_panel.show(
            (
                tuple(c.percent for c in cores),
                tuple(cores[0].history) if cores else (),
                cores_panel.size,
            ),
            lambda: cores_content(list(cores), cores_panel.size.width - 4, 8),
        )
        queue_panel = self.w_queue
        queue_panel.show(
            (queue, queue_panel.size.width),
            lambda: queue_content(queue, queue_panel.size.width - 4),
        )
        workers_panel = self.w_workers
        title = "Workers CPU · mean" if workers.averaged else "Workers CPU"
        if workers_panel.border_title != title:
            workers_panel.border_title = title
        waiting = any(r.waiting >= 1.0 for r in workers.rows)
        legend = "│ = one core · ░ = no free core" if waiting else "│ = one core"
        if workers_panel.border_subtitle != legend:
            workers_panel.border_subtitle = legend
        workers_panel.show(
            (workers, workers_panel.size.width),
            lambda: workers_content(workers, workers_panel.size.width - 4),
        )
        final = state in ("done", "stopped", "error", "crashed")
        summary_panel = self.w_summary
        summary_panel.show(
            (summary, final, narrow, summary_panel.size.width),
            lambda: summary_content(
                summary, final, compact=narrow, width=summary_panel.size.width - 4
            ),
        )
        flags = findings_subtitle(summary, summary_panel.size.width)
        if summary_panel.border_subtitle != flags:
            summary_panel.border_subtitle = flags

    def _spec_differs(self, source: Any) -> bool:
        if not isinstance(source, RunSession):
            return False
        if (self.python or sys.executable) != source.python:
            return True
        spec = self.spec
        if self._validated[0] is not spec:  # asked at every refresh: validate once per change
            try:
                self._validated = (spec, spec.validated())
            except SpecError:
                self._validated = (spec, None)
        valid = self._validated[1]
        return valid is None or source.spec != valid

    def _refresh_code(self) -> None:
        panel = self.w_code
        if not panel.has_class("-shown"):
            return
        source = self.controller.source
        spec = source.spec if isinstance(source, RunSession) else self.spec
        dark = self.current_theme.dark if self.current_theme else True
        key = (spec.model, spec.workload, spec.task, dark)
        if key == self._last_code:
            return
        self._last_code = key
        panel.border_title, code = shown_code(spec)
        panel.update(code)

    # -- teardown ---------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.controller.close()
        self.exit()

    def exit(
        self,
        result: Any = None,
        return_code: int = 0,
        message: RenderableType | None = None,
    ) -> None:
        self._quitting = True  # however it is asked to (a test's end, a lost server)
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        self._quitting = True
        self.controller.close()


def _muted(text: str) -> list[Content]:
    return [Content.styled(text, "$text-muted")]


def _finished(source: object) -> bool:
    done = getattr(source, "done", None)
    return bool(done is not None and done.is_set())
