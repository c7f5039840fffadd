"""The verdict screen: ``concviz advise`` for the dashboard's current workload.

The :class:`~concviz.advise.Advisor` runs in a worker thread and only writes
its progress into plain attributes; the screen polls them at 10 Hz and draws
(the thread never touches a widget). The answer comes first, then the evidence
table and the reasons, each figure measured in this run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static

from ..advise import (
    BUDGET_S,
    TABLE_HEADER,
    Advice,
    AdviseError,
    Advisor,
    closing_lines,
    report_lines,
    table_rows,
)
from ..runner.spec import RunSpec

if TYPE_CHECKING:  # the dashboard imports this screen
    from textual import getters

    from .app import ConcvizApp


class AdviseScreen(Screen[None]):
    """Which model, and how many workers, for the current workload: measured."""

    if TYPE_CHECKING:  # pushed on the dashboard (textual's idiom for a typed self.app)
        app = getters.app(ConcvizApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Advise again"),
        Binding("s", "stop", "Stop"),
        Binding("escape", "close", "Back", priority=True),
        Binding("q", "close", "Back", show=False),
    ]
    DEFAULT_CSS = """
    AdviseScreen { layout: vertical; }
    AdviseScreen #title { height: 1; padding: 0 1; text-style: bold; }
    AdviseScreen #progress { height: 1; padding: 0 1; }
    AdviseScreen #status { height: 1; padding: 0 1; color: $foreground-muted; }
    AdviseScreen #answer { padding: 1 1 0 1; text-style: bold; color: $accent; }
    AdviseScreen #task { padding: 0 1; color: $foreground-muted; }
    AdviseScreen DataTable { height: auto; margin: 1 1 0 1; }
    AdviseScreen #why { padding: 1 1; }
    """

    def __init__(
        self, spec: RunSpec, python: str | None, budget_s: float = BUDGET_S, autorun: bool = True
    ) -> None:
        super().__init__()
        self.spec = spec
        self.python = python
        self.budget_s = budget_s
        self.autorun = autorun
        self.advisor: Advisor | None = None
        #: Written by the worker thread, read by :meth:`poll` (plain values only).
        self.done = 0
        self.planned = 1
        self.what = ""
        self.advice: Advice | None = None
        self.error: str | None = None
        self.running = False
        self._shown: Advice | None = None

    def compose(self) -> ComposeResult:
        what = self.spec.task or self.spec.workload
        yield Static(f"Advise: which model, how many workers, for {what}?", id="title")
        yield ProgressBar(total=1, show_eta=False, id="progress")
        yield Static("", id="status")
        with VerticalScroll():
            yield Static("", id="answer", markup=False)
            yield Static("", id="task", markup=False)
            yield DataTable(id="evidence", cursor_type="none", zebra_stripes=True)
            yield Static("", id="why", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in TABLE_HEADER:
            table.add_column(name, key=name)
        self.set_interval(0.1, self.poll)
        if self.autorun:
            self.call_after_refresh(self.action_run)

    def action_run(self) -> None:
        if self.running:
            self.notify("advice is being measured: s stops it", severity="warning")
            return
        if self.app.controller.running:
            self.notify("stop the dashboard's run first (escape, then s)", severity="warning")
            return
        self.advice, self.error, self.done, self.planned = None, None, 0, 1
        self.running = True
        self.advisor = Advisor(self.spec, self.python, self.budget_s, progress=self._progress)
        self._advise(self.advisor)

    def _progress(self, done: int, planned: int, what: str) -> None:
        self.done, self.planned, self.what = done, max(planned, done, 1), what

    @work(thread=True, exclusive=True, group="advise", exit_on_error=False)
    def _advise(self, advisor: Advisor) -> None:
        try:
            self.advice = advisor.run()
        except AdviseError as exc:
            self.error = str(exc)
        except KeyboardInterrupt:
            self.error = "stopped"
        finally:
            self.running = False

    def action_stop(self) -> None:
        if self.advisor is not None and self.running:
            self.advisor.stop.set()

    def action_close(self) -> None:
        self.action_stop()
        self.app.pop_screen()

    def poll(self) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=self.planned, progress=self.done)
        status = self.query_one("#status", Static)
        if self.running:
            left = self.advisor.left() if self.advisor is not None else 0.0
            status.update(
                f"measuring: {self.what} · {max(0.0, left):.0f} s of budget left · s stops"
            )
        elif self.error is not None:
            status.update(f"[b]no advice[/b]: {self.error} · r tries again")
        elif self.advice is not None:
            status.update(
                f"done in {self.advice.elapsed_s:.0f} s · r measures again · escape: back"
            )
        if self.advice is not None and self.advice is not self._shown:
            self._show(self.advice)

    def _show(self, advice: Advice) -> None:
        self._shown = advice
        lines = report_lines(advice)
        self.query_one("#answer", Static).update(lines[0])
        self.query_one("#task", Static).update("\n".join(lines[2:]))
        table = self.query_one(DataTable)
        table.clear()
        for row in table_rows(advice):
            table.add_row(*row)
        self.query_one("#why", Static).update("\n".join(closing_lines(advice)))
