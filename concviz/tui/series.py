"""Compare and sweep screens: several real runs, one after another, drawn together.

A :class:`Series` (plain Python) runs its entries in a worker thread, never two
at once so they do not compete for cores; the screens poll it at 10 Hz and
draw from the same view models as the main dashboard, on one time scale.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, SelectionList, Static
from textual_plotext import PlotextPlot

from ..experiments import (
    FIGURES,
    CompareRow,
    RunResult,
    SeriesListener,
    SeriesRun,
    SweepAnalysis,
    analyse_sweep,
    baseline_index,
    check_available,
    median_run,
    parse_counts,
    run_series,
    speedups,
    wall_spread,
)
from ..models import CATALOG as MODELS
from ..observer.aggregate import RunAggregate, Summary
from ..observer.ceiling import ceilings
from ..observer.session import RunSession, SessionError
from ..report import describe_result
from ..report_multi import ceiling_text, compare_figures, fmt_memory, fmt_spread
from ..runner.spec import RunSpec, SpecError
from ..units import fmt_seconds
from ..workloads import CATALOG as WORKLOADS
from .view import FIT_STEPS_S, TimelineCache, timeline_view
from .widgets import Explanation, Timeline

if TYPE_CHECKING:  # the dashboard imports these screens
    from textual import getters

    from .app import ConcvizApp

#: Narrower than this (the dashboard's NARROW): the compact layout.
NARROW_COLUMNS = 110

# -- the runs (no Textual) ---------------------------------------------------------


@dataclass
class Entry:
    label: str
    spec: RunSpec
    python: str | None = None
    session: RunSession | None = None
    summary: Summary | None = None
    aggregate: RunAggregate | None = None
    error: str | None = None
    #: Every finished run of this entry, in order (more than one with repeats);
    #: ``summary`` and ``session`` are then the median run's.
    runs: list[tuple[RunSession, Summary]] = field(default_factory=list)
    failed: bool = False

    @property
    def walls(self) -> list[float]:
        return [summary.wall_s for _session, summary in self.runs]

    def settle(self) -> None:
        """Shows the median run (:func:`median_run`, as the CLI's ``--repeat`` does)."""
        median = median_run([RunResult(self.label, self.python, s) for _, s in self.runs])
        self.session = next(session for session, s in self.runs if s is median.summary)
        self.summary, self.aggregate = median.summary, self.session.aggregate


@dataclass
class Series(SeriesListener):
    entries: list[Entry]
    #: Runs of each entry, in rounds that alternate direction (see run_order).
    repeats: int = 1
    current: int = 0
    #: How many runs have started, of ``len(entries) * repeats``.
    position: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    #: The machine ceiling per worker count (CPU-bound work), once the runs are over.
    ceilings: dict[int, float | None] = field(default_factory=dict)
    #: Measures the ceilings (None: none measured); see :mod:`concviz.observer.ceiling`.
    measure_ceilings: Callable[[list[int]], dict[int, float | None]] | None = None
    _stop: bool = False

    @property
    def total(self) -> int:
        return len(self.entries) * self.repeats

    def run(self) -> None:
        """Runs every entry in turn, ``repeats`` times (call from a worker thread)."""
        try:
            entries = [(e.label, e.spec, e.python) for e in self.entries]
            run_series(entries, self, self.repeats, track_bins=True)
            cpu_bound = all(WORKLOADS[e.spec.workload].nature != "io" for e in self.entries)
            if self.measure_ceilings is not None and cpu_bound and not self.stopping():
                # After the runs, not beside them: it needs the cores to itself.
                self.ceilings = self.measure_ceilings([e.spec.workers for e in self.entries])
        except SessionError as exc:  # the HTTP server did not start
            for entry in self.entries:
                entry.error = entry.error or str(exc)
        finally:
            self.done.set()

    # What run_series tells the series (in the worker thread); the screens poll it.

    def started(self, run: SeriesRun) -> None:
        self.current, self.position = run.index, run.position
        self.entries[run.index].session = run.session

    def failed(self, run: SeriesRun, error: SessionError) -> None:
        entry = self.entries[run.index]
        entry.error, entry.failed = str(error), True

    def finished(self, run: SeriesRun, summary: Summary) -> None:
        entry = self.entries[run.index]
        if run.kept:
            entry.runs.append((run.session, summary))
        entry.settle()  # the median run, timeline and all (not a cut-short one beside it)

    def stopping(self) -> bool:
        return self._stop

    def stop(self) -> None:
        self._stop = True
        for entry in self.entries:
            if entry.session is not None and not entry.session.done.is_set():
                entry.session.stop(grace=0.6)

    def results(self) -> list[RunResult]:
        return [
            RunResult(e.label, e.python, e.summary, walls=e.walls)
            for e in self.entries
            if e.summary
        ]


# -- shared pieces -------------------------------------------------------------------------


class SeriesScreen(Screen[None]):
    """What compare and sweep screens share: running a series and polling it."""

    if TYPE_CHECKING:  # pushed on the dashboard (textual's idiom for a typed self.app)
        app = getters.app(ConcvizApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run"),
        Binding("s", "stop", "Stop"),
        Binding("n", "repeat", "Runs each"),
        Binding("escape", "close", "Back", priority=True),
        Binding("q", "close", "Back", show=False),
    ]
    DEFAULT_CSS = """
    SeriesScreen { layout: vertical; }
    SeriesScreen #controls { height: auto; padding: 0 1; }
    SeriesScreen #body { height: 1fr; }
    SeriesScreen #picks { width: 34; height: 1fr; padding: 0 1; }
    SeriesScreen.narrow #picks { width: 20; padding: 0; }
    SeriesScreen.narrow #sweep-body { layout: vertical; }
    SeriesScreen #controls Label { width: 100%; }
    SeriesScreen.narrow #sweep-body DataTable { width: 100%; }
    SeriesScreen.narrow #sweep-body PlotextPlot { height: 1fr; min-height: 8; }
    SeriesScreen SelectionList { height: 1fr; }
    SeriesScreen #side { width: 1fr; }
    SeriesScreen #status { height: 1; padding: 0 1; color: $foreground-muted; }
    SeriesScreen DataTable { height: auto; max-height: 14; margin: 0 1; }
    SeriesScreen .run-title { height: 1; padding: 0 1; text-style: bold; }
    SeriesScreen Timeline { height: auto; min-height: 3; }
    """

    def __init__(
        self,
        base: RunSpec,
        python: str | None,
        title: str = "",
        explanation: str = "",
        autorun: bool = False,
    ) -> None:
        super().__init__()
        self.base = base
        self.python = python
        self.title_text = title
        self.explanation = explanation
        self.autorun = autorun
        self.series: Series | None = None
        self._shown = -1
        #: Runs of each entry (n cycles through REPEATS): a noisy machine moves one
        #: run's wall time by several %; the median of a few says more.
        self.repeats = 1
        #: Measures the machine ceiling after a series (cached; None: not at all).
        self.measure_ceilings: Callable[[list[int]], dict[int, float | None]] | None = ceilings

    def on_resize(self, event: events.Resize) -> None:
        # Below the dashboard's NARROW columns: a slimmer pick list, no speedup bars.
        narrow = event.size.width < NARROW_COLUMNS
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self._shown = -1  # redraw the table for the new width

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < NARROW_COLUMNS, "narrow")
        self.set_interval(0.1, self.poll)
        if self.autorun:
            self.call_after_refresh(self.action_run)

    def explain(self) -> Explanation:
        text = f"[b]{self.title_text}[/b]\n{self.explanation}" if self.title_text else ""
        widget = Explanation(text, id="explain")
        widget.display = bool(text)
        return widget

    def entries(self) -> list[Entry]:  # pragma: no cover - overridden
        raise NotImplementedError

    def action_run(self) -> None:
        if self.series is not None and not self.series.done.is_set():
            self.notify("a series is running: s stops it", severity="warning")
            return
        if self.app.controller.running:
            self.notify("stop the dashboard's run first (escape, then s)", severity="warning")
            return
        try:
            entries = self.entries()
        except SpecError as exc:
            self.notify(str(exc), title="Cannot run", severity="error")
            return
        self.series = Series(entries, repeats=self.repeats, measure_ceilings=self.measure_ceilings)
        self._shown = -1
        self.started()
        self._run_series(self.series)

    @work(thread=True, exclusive=True, group="series", exit_on_error=False)
    def _run_series(self, series: Series) -> None:
        series.run()

    def action_stop(self) -> None:
        if self.series is not None:
            self.series.stop()

    #: What n cycles through.
    REPEATS = (1, 3, 5)

    def action_repeat(self) -> None:
        self.repeats = self.REPEATS[(self.REPEATS.index(self.repeats) + 1) % len(self.REPEATS)]
        how = (
            "once"
            if self.repeats == 1
            else f"{self.repeats} times, interleaved: the table shows each one's median run"
        )
        self.notify(f"each runs {how} (from the next r)", title="Runs each", timeout=3)

    def action_close(self) -> None:
        if self.series is not None and not self.series.done.is_set():
            self.series.stop()
        self.app.pop_screen()

    def started(self) -> None:
        """Called when a series starts (clear the old picture)."""

    def poll(self) -> None:
        series = self.series
        status = self.query_one("#status", Static)
        each = f" · each runs {self.repeats}× (n)" if self.repeats > 1 else ""
        if series is None:
            status.update(f"r runs{each}")
            return
        entry = series.entries[series.current]
        if series.done.is_set():
            done = sum(len(e.runs) for e in series.entries)
            status.update(f"done: {done} of {series.total} runs · r runs again{each}")
        else:
            progress = ""
            if entry.session is not None:
                finished, total = entry.session.progress()
                progress = f" {finished}/{total} tasks"
            status.update(
                f"run {series.position} of {series.total}: {entry.label}{progress} · s stops"
            )
        # (plus the ceilings: they come after the last run)
        completed = sum(len(e.runs) + e.failed for e in series.entries) + len(series.ceilings)
        if completed != self._shown:
            self._shown = completed
            self.show_results(series)
            for e in series.entries:
                if e.error:
                    self.notify(e.error, title=f"{e.label} did not run", severity="error")
                    e.error = None
        self.show_live(series)

    def show_results(self, series: Series) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def show_live(self, series: Series) -> None:
        """Redraws what changes while a run goes (timelines)."""


# -- compare ---------------------------------------------------------------------------------


class CompareScreen(SeriesScreen):
    """The chosen models in turn, their timelines stacked on one time scale."""

    DEFAULT_MODELS = ("sequential", "threads", "processes", "asyncio")

    def __init__(
        self,
        base: RunSpec,
        python: str | None,
        preset: list[Entry] | None = None,
        title: str = "",
        explanation: str = "",
        autorun: bool = False,
        focus: tuple[str, ...] = (),
    ) -> None:
        super().__init__(base, python, title, explanation, autorun)
        #: A scenario's variants: offered (all picked) instead of the model list.
        self.preset = preset or []
        #: The figures the lesson rests on: next to the speedup, seen at 80 columns.
        self.focus_figures = tuple(name for name in focus if name in FIGURES)

    def figure_order(self) -> list[str]:
        """FIGURES, with the focus columns moved up to follow wall and speedup."""
        head = [name for name in ("wall", "speedup") if name not in self.focus_figures]
        rest = [name for name in FIGURES if name not in head and name not in self.focus_figures]
        return [*head, *self.focus_figures, *rest]

    def compose(self) -> ComposeResult:
        spec = self.base
        yield self.explain()
        choices: list[tuple[str, str, bool]] = []
        for i, entry in enumerate(self.preset):
            choices.append((entry.label, f"preset:{i}", True))
        for name, info in MODELS.items() if not self.preset else ():
            if info.unavailable(tuple(sys.version_info[:3])) and self.python is None:
                continue
            choices.append((name, name, name in self.DEFAULT_MODELS))
        for path, interp in self.app.interpreters.items() if not self.preset else ():
            if path != (self.python or sys.executable) and not interp.gil_enabled:
                choices.append(
                    (f"threads@{interp.short} (free-threaded)", f"threads@{path}", False)
                )
        what = "variants" if self.preset else "models"
        specs = [entry.spec for entry in self.preset] or [spec]
        spec = specs[0]  # a scenario's variants may each set their own counts
        tasks = f"{spec.tasks} tasks" if len({s.tasks for s in specs}) == 1 else "tasks"
        workers = f", {spec.workers} workers" if len({s.workers for s in specs}) == 1 else ""
        yield Label(
            f" [b]Compare[/b] {spec.workload}, {tasks} of {spec.size}{workers}: "
            f"pick {what} (space), then r.",
            id="controls",
        )
        with Horizontal(id="body"):
            with Vertical(id="picks"):
                yield SelectionList[str](*choices, id="models")
            with Vertical(id="side"):
                yield Static("", id="status")
                yield DataTable(id="results", zebra_stripes=True, cursor_type="none")
                yield VerticalScroll(id="timelines")
        yield Footer()

    def on_mount(self) -> None:
        self._result_column = False
        self._spread_column = False
        #: Per timeline (by the run it shows), its settled cells.
        self._caches: dict[int, TimelineCache] = {}
        self._columns()

    def _columns(self) -> None:
        table = self.query_one("#results", DataTable)
        table.clear(columns=True)
        longer = {"wait": "core wait", "queue": "peak queue"}  # room for whole words here
        names = ["model", *(longer.get(name, name) for name in self.figure_order())]
        if self._result_column:
            names.insert(3, "result")  # what the pattern measured: the point of the demo
        if self._spread_column:
            names.insert(2, "±")  # how far the other runs' wall times were
        for name in names:
            table.add_column(name, key=name)

    def entries(self) -> list[Entry]:
        picked = self.query_one("#models", SelectionList).selected
        if not picked:
            raise SpecError("pick at least one model")
        out = []
        for value in picked:
            if str(value).startswith("preset:"):
                chosen = self.preset[int(str(value).split(":")[1])]
                out.append(Entry(chosen.label, chosen.spec, chosen.python))
                continue
            model, _, python = str(value).partition("@")
            python = python or self.python  # type: ignore[assignment]
            check_available(model, python or None)
            spec = replace(self.base, model=model).validated()
            label = model if "@" not in str(value) else f"{model}@{python_short(self.app, python)}"
            out.append(Entry(label, spec, python or None))
        return out

    def started(self) -> None:
        self.query_one("#results", DataTable).clear()
        self.query_one("#timelines", VerticalScroll).remove_children()
        self._caches = {}
        if self._spread_column != (self.repeats > 1):
            self._spread_column = self.repeats > 1
            self._columns()

    def show_results(self, series: Series) -> None:
        table = self.query_one("#results", DataTable)
        table.clear()
        rows = speedups(series.results())
        if any(r.summary.result for r in rows) and not self._result_column:
            self._result_column = True
            self._columns()
        base = baseline_index([r.label for r in rows]) if rows else 0
        top = max((r.speedup for r in rows), default=1.0)
        order = [FIGURES.index(name) for name in self.figure_order()]
        bar = 0 if self.has_class("narrow") else 6
        for row in rows:
            figures = compare_figures(row, top, bar)
            cells = [row.label, *(figures[i] for i in order)]
            if self._result_column:
                cells.insert(3, describe_result(row.summary.result))
            if self._spread_column:
                cells.insert(2, fmt_spread(row.spread))
            table.add_row(*cells)
        if rows:
            alive = any(r.summary.memory_tasks_basis == "alive" for r in rows)
            note = " · per task*: over tasks alive, waiting ones too" if alive else ""
            each = f" · median of {series.repeats} runs each" if series.repeats > 1 else ""
            machine = ceiling_text(series.ceilings, [r.summary.workers for r in rows])
            machine = f" · {machine.removesuffix(' · ')}" if machine else ""
            table.border_subtitle = f"speedup vs {rows[base].label}{note}{each}{machine}"
        self._ensure_timelines(series)

    def _ensure_timelines(self, series: Series) -> None:
        box = self.query_one("#timelines", VerticalScroll)
        have = len(box.query(Timeline))
        for entry in series.entries[have : series.current + 1]:
            box.mount(Static(entry.label, classes="run-title"))
            box.mount(Timeline(legend=False))

    def show_live(self, series: Series) -> None:
        self._ensure_timelines(series)
        timelines = list(self.query_one("#timelines", VerticalScroll).query(Timeline))
        # One time scale for all: the longest run so far.
        spans = []
        for entry in series.entries[: series.current + 1]:
            source = entry.session
            if source is None:
                continue
            with source.lock:
                spans.append(source.aggregate.wall_ns(source.now_ns()))
        window_s = max(max(spans, default=0) / 1e9 * 1.02, 0.5)
        if not series.done.is_set():
            # While a run grows the scale, it grows in steps: between them every
            # timeline keeps its settled cells (a thousand lanes cost a lot to redraw).
            window_s = next((w for w in (0.5, *FIT_STEPS_S) if w >= window_s), window_s)
        caches = self._caches
        for entry, timeline in zip(series.entries, timelines, strict=False):
            source = entry.session
            if source is None or timeline.size.width == 0:
                continue
            with source.lock:
                agg = source.aggregate
                origin = agg.run_start_ns or source.now_ns()
                rows = min(len(agg.lane_list), 6) or 1
                timeline.styles.height = rows + 1
                view = timeline_view(
                    agg,
                    source.now_ns(),
                    timeline.columns,
                    rows,
                    window_s=window_s,
                    end_ns=origin + int(window_s * 1e9),
                    cache=caches.setdefault(id(source), TimelineCache()),
                )
            timeline.show(view)


def python_short(app: ConcvizApp, path: str | None) -> str:
    interp = app.interpreters.get(path or "")
    return interp.short if interp else (path or "").rsplit("/", 1)[-1]


# -- sweep ---------------------------------------------------------------------------------


class SweepScreen(SeriesScreen):
    """One model at several worker counts: speedup, efficiency, Amdahl's fit."""

    #: Keys go to the screen (r runs) until the counts are clicked or tabbed to.
    AUTO_FOCUS = ""

    def __init__(
        self,
        base: RunSpec,
        python: str | None,
        counts: list[int] | None = None,
        title: str = "",
        explanation: str = "",
        autorun: bool = False,
    ) -> None:
        super().__init__(base, python, title, explanation, autorun)
        self.counts = counts or [1, 2, 4, 8]

    def compose(self) -> ComposeResult:
        spec = self.base
        yield self.explain()
        with Vertical(id="controls"):
            yield Label(
                f"[b]Sweep[/b] {spec.model} on {spec.workload}, {spec.tasks} tasks of "
                f"{spec.size} (the dashboard's settings). Worker counts (tab to edit, "
                "enter or r runs):"
            )
            yield Input(",".join(map(str, self.counts)), id="counts")
        yield Static("", id="status")
        with Horizontal(id="sweep-body"):  # the plot goes below the table at 80 columns
            yield DataTable(id="results", zebra_stripes=True, cursor_type="none")
            yield PlotextPlot(id="plot")
        yield Static("", id="fit")
        yield Footer()

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        table = self.query_one("#results", DataTable)
        table.clear(columns=True)
        names = (
            "workers",
            "wall",
            *(("±",) if self.repeats > 1 else ()),
            "speedup",
            "ideal",
            "Amdahl",
            "efficiency",
            "parallel",
            "memory",
        )
        for name in names:
            table.add_column(name, key=name)

    def entries(self) -> list[Entry]:
        counts = parse_counts(self.query_one("#counts", Input).value)
        check_available(self.base.model, self.python)
        return [
            Entry(
                f"{self.base.model} × {n}", replace(self.base, workers=n).validated(), self.python
            )
            for n in counts
        ]

    def on_input_submitted(self) -> None:
        self.action_run()

    def started(self) -> None:
        self._columns()  # with a ± column when each count runs more than once

    def show_results(self, series: Series) -> None:
        done = [e for e in series.entries if e.summary]
        table = self.query_one("#results", DataTable)
        table.clear()
        if not done:
            return
        counts = [e.spec.workers for e in done]
        summaries = [e.summary for e in done if e.summary]
        analysis = analyse_sweep(
            counts,
            [s.wall_s for s in summaries],
            [s.parallelism for s in summaries],
            cores=summaries[0].cores,
            ceilings=series.ceilings,
        )
        spreads = [wall_spread(e.walls, s.wall_s) for e, s in zip(done, summaries, strict=True)]
        rows = zip(analysis.points, analysis.amdahl, summaries, spreads, strict=True)
        for point, amdahl, summary, spread in rows:
            table.add_row(
                str(point.workers),
                fmt_seconds(point.wall_s),
                *((fmt_spread(spread),) if series.repeats > 1 else ()),
                f"{point.speedup:.2f}×" + (" (no faster)" if point.stalled else ""),
                f"{point.workers}×",
                f"{amdahl:.2f}×",
                f"{point.efficiency:.0%}",
                f"{point.parallelism:.2f}",
                fmt_memory(summary.peak_memory),
            )
        self._plot(analysis)
        knee = (
            f"more workers stop helping after {analysis.knee}"
            if analysis.knee is not None
            else "every step added speed"
        )
        machine = ceiling_text(series.ceilings, counts).removesuffix(" · ")
        self.query_one("#fit", Static).update(
            f" {analysis.fit_text()} · {knee} · {analysis.cores} cores here"
            + (f"\n {machine}" if machine else "")
        )

    def _plot(self, analysis: SweepAnalysis) -> None:
        widget = self.query_one("#plot", PlotextPlot)
        plt = widget.plt
        counts: list[float] = [p.workers for p in analysis.points]
        plt.clear_data()
        plt.plot(counts, counts, label="ideal", marker="dot")
        plt.plot(counts, analysis.amdahl, label="Amdahl fit", marker="dot")
        plt.plot(counts, [p.speedup for p in analysis.points], label="measured", marker="hd")
        plt.xticks(counts)
        plt.xlabel("workers")
        plt.ylabel("speedup")
        plt.title("speedup vs workers")
        widget.refresh()


__all__ = ["CompareRow", "CompareScreen", "Series", "SweepScreen"]
