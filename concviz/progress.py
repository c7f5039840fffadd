"""The headless run's progress bar (on stderr, so --json output stays clean)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .observer.session import RunSession


class RunProgress:
    def __init__(self, session: RunSession, console: Console, enabled: bool = True) -> None:
        self.session = session
        spec = session.spec
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
            refresh_per_second=10,
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

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()
