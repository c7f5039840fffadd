"""The headless commands' progress bars (on stderr, so --json output stays clean).

A series' bars are :mod:`concviz.series_progress`: a single run has no use for
``concviz.experiments`` (~8 ms to import on the way to its first event).
"""

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
