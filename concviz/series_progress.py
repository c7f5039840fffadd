"""A series' progress bars (compare, sweep): its runs so far, and the run under way.

Apart from :mod:`concviz.progress` because it is a :class:`SeriesListener`: a single
``concviz run`` has no use for ``concviz.experiments`` (~8 ms to import on the way
to its first event).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import TimeElapsedColumn

from .experiments import SeriesListener
from .progress import Shown, bars

if TYPE_CHECKING:
    from .experiments import SeriesRun
    from .observer.aggregate import Summary


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
