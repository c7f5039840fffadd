"""The headless commands' progress bars (on stderr, so --json output stays clean)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .experiments import SeriesListener, SeriesRun
from .observer.aggregate import Summary
from .observer.session import RunSession


def bars(
    console: Console,
    *after: ProgressColumn,
    enabled: bool = True,
    label: str = "[bold]{task.description}",
    transient: bool = False,
) -> Progress:
    """Every command's bars: a label, the bar, done of total, then ``after``."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *after,
        console=console,
        disable=not enabled,
        transient=transient,
        refresh_per_second=10,
    )


class Shown:
    """Bars shown while in the ``with`` block."""

    progress: Progress

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()


class RunProgress(Shown):
    def __init__(self, session: RunSession, console: Console, enabled: bool = True) -> None:
        self.session = session
        spec = session.spec
        self.progress = bars(
            console,
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            enabled=enabled,
        )
        self.task: TaskID = self.progress.add_task(
            f"{spec.model} × {spec.workers} / {spec.workload}", total=spec.tasks, state="starting"
        )

    def update(self) -> None:
        done, total = self.session.progress()
        with self.session.lock:
            agg = self.session.aggregate
            state = agg.status
            if state == "running":
                state = f"{agg.started - (done - agg.cancelled):d} running"
        self.progress.update(self.task, completed=done, total=total, state=state)

    def note(self, text: str) -> None:
        self.progress.console.print(f"[yellow]{text}")


class SeriesProgress(Shown, SeriesListener):
    """A series' two bars: its runs so far, and the run under way (timed on its own)."""

    def __init__(
        self, title: str, total: int, repeats: int, console: Console, enabled: bool = True
    ) -> None:
        self.repeats = repeats
        self.progress = bars(console, TimeElapsedColumn(), enabled=enabled)
        self.overall = self.progress.add_task(f"{title}: runs", total=total)
        self.current = self.progress.add_task("", total=1, visible=False)

    def started(self, run: SeriesRun) -> None:
        shown = run.label if self.repeats == 1 else f"{run.label} ({run.round + 1}/{self.repeats})"
        # reset, not update: each run's elapsed time starts at its own start
        self.progress.reset(self.current, description=shown, total=run.spec.tasks, visible=True)

    def waiting(self, run: SeriesRun) -> None:
        self.progress.update(self.current, completed=run.session.progress()[0])

    def finished(self, run: SeriesRun, summary: Summary) -> None:
        self.progress.update(self.current, completed=summary.completed + summary.failed)
        self.progress.advance(self.overall)
