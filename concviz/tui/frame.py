"""One frame of the dashboard: every view it paints, taken from the run at one moment.

The app builds a :class:`Frame` under the run's lock with :func:`dashboard_frame`
and paints it after letting go: the reader and the sampler keep writing the
aggregate meanwhile, and nothing painted is read from it. Building a frame only
reads the aggregate (the views are pure functions of it and the time), so frames
are tested without a terminal: feed records into a RunAggregate, build a frame at
a chosen time and geometry, look at what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..findings import summarise
from ..observer.aggregate import RunAggregate, Summary
from .view import (
    CoreRow,
    EventLine,
    HeaderView,
    QueueView,
    TimelineCache,
    TimelineView,
    WorkersView,
    cores_view,
    header_view,
    queue_view,
    recent_events,
    timeline_view,
    workers_view,
)

#: Samples the cores' and the queue's sparklines reach back over.
PANEL_HISTORY = 60
#: Lines of the event log.
EVENTS_SHOWN = 40
#: Worker rows: fewer on a narrow screen, where the panel is shorter.
WORKER_ROWS = 6
WORKER_ROWS_NARROW = 4


@dataclass(frozen=True)
class Geometry:
    """Where the frame is painted, and which span of the run the timeline shows."""

    #: The timeline's cells across and rows down.
    columns: int
    rows: int
    #: Its window in seconds (None: fit the whole run) and where it ends (None: now).
    window_s: float | None = None
    end_ns: int | None = None
    #: Below the app's NARROW width: fewer worker rows.
    narrow: bool = False


class Stamp(NamedTuple):
    """What changes the picture of a run: a finished run with the same stamp looks the same."""

    events: int
    samples: int
    status: str


def stamp(aggregate: RunAggregate) -> Stamp:
    """The aggregate's :class:`Stamp` (read under its lock: three fields, no work)."""
    return Stamp(aggregate.events, len(aggregate.samples), aggregate.status)


@dataclass(frozen=True)
class Panels:
    """The figure panels below the timeline."""

    cores: tuple[CoreRow, ...]
    queue: QueueView
    workers: WorkersView
    #: The run's figures and findings (the summary panel and its subtitle).
    summary: Summary

    @property
    def has_figures(self) -> bool:
        """Whether the cores and the workers have a reading to show yet."""
        return bool(self.cores) and bool(self.workers.rows)


@dataclass(frozen=True)
class Frame:
    """Every view the dashboard paints, as of ``now_ns``; parts not asked for are None."""

    now_ns: int
    geometry: Geometry
    stamp: Stamp
    header: HeaderView
    timeline: TimelineView | None
    panels: Panels | None
    #: The event log, newest first.
    events: tuple[EventLine, ...] | None


def dashboard_frame(
    aggregate: RunAggregate,
    now_ns: int,
    geometry: Geometry,
    *,
    timeline: bool = True,
    panels: bool = True,
    events: bool = True,
    smooth: int = 1,
    cache: TimelineCache | None = None,
) -> Frame:
    """The dashboard's views of ``aggregate`` at ``now_ns`` (call it under the run's lock).

    ``timeline``, ``panels`` and ``events`` say which parts to build this time (the
    app redraws them at different rates); the header always comes. ``smooth``: the
    panels show the mean of that many samples (those since they were last drawn).
    ``cache`` is the caller's memo of the timeline's cells that can no longer change
    (the app keeps one): the frame is the same with or without it, only cheaper.
    It only reads ``aggregate``.
    """
    return Frame(
        now_ns=now_ns,
        geometry=geometry,
        stamp=stamp(aggregate),
        header=header_view(aggregate, now_ns),
        timeline=timeline_view(
            aggregate,
            now_ns,
            geometry.columns,
            geometry.rows,
            window_s=geometry.window_s,
            end_ns=geometry.end_ns,
            cache=cache,
        )
        if timeline
        else None,
        panels=Panels(
            cores=tuple(cores_view(aggregate, PANEL_HISTORY, smooth=smooth)),
            queue=queue_view(aggregate, PANEL_HISTORY),
            workers=workers_view(
                aggregate,
                WORKER_ROWS_NARROW if geometry.narrow else WORKER_ROWS,
                PANEL_HISTORY,
                smooth=smooth,
            ),
            summary=summarise(aggregate, now_ns),  # the figures and their findings
        )
        if panels
        else None,
        events=tuple(recent_events(aggregate, EVENTS_SHOWN)) if events else None,
    )
