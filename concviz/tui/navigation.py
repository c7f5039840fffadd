"""Where the timeline looks: its zoom, whether it follows the run, and where a frozen
window ends (``z``/``Z``, ``f``, ``←``/``→``).

Plain state and arithmetic on the run's clock; the app owns one and reads it when it
takes a frame.
"""

from __future__ import annotations

from typing import Any

from .view import TimelineView

#: Zoom steps for the timeline window, in seconds (None: fit the whole run).
#: ``z`` narrows (towards 0.1 s), ``Z`` widens back to the whole run.
ZOOMS: tuple[float | None, ...] = (None, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


def shown_ns(source: Any, view: TimelineView | None) -> tuple[int, int] | None:
    """The time span the timeline shows now, on the run's clock (None: nothing yet)."""
    if source is None or view is None:
        return None
    origin = source.aggregate.run_start_ns
    if origin is None:
        return None
    return origin + int(view.start_s * 1e9), origin + int(view.end_s * 1e9)


def latest_ns(source: Any) -> int | None:
    """The last moment there is anything to see: the run's end, or now while it goes."""
    if source is None:
        return None
    end = source.aggregate.run_end_ns
    return end if end is not None else int(source.now_ns())


class TimelineNav:
    """The timeline's window: a zoom step, following the run or frozen at an end."""

    def __init__(self) -> None:
        self.zoom_index = 0
        self.follow = True
        self.view_end_ns: int | None = None
        #: A frozen whole-run view's span (the run goes on; the window does not).
        self.frozen_span_s: float | None = None

    def window(self, source: Any) -> tuple[float | None, int | None]:
        """The timeline's window (None: fit the run) and where it ends (None: follow)."""
        window = ZOOMS[self.zoom_index]
        if self.follow or self.view_end_ns is None:
            return window, None
        if window is None:
            if source.aggregate.run_end_ns is not None:
                return None, None  # a finished run, whole: the same picture frozen or not
            return self.frozen_span_s, self.view_end_ns
        return window, self.view_end_ns

    def zoom(self, step: int, source: Any, view: TimelineView | None) -> str:
        """``z`` (step 1) narrows the window, ``Z`` (-1) widens it, up to the whole run.

        Returns the new window, in words.
        """
        shown = shown_ns(source, view)
        span_s = (shown[1] - shown[0]) / 1e9 if shown else None
        windows = [w for w in ZOOMS if w is not None]  # ascending, from ZOOMS[1]
        if step > 0:
            if self.zoom_index == 0:
                smaller = [i for i, w in enumerate(windows, 1) if span_s is None or w < span_s]
                self.zoom_index = smaller[-1] if smaller else 1
            else:
                self.zoom_index = max(1, self.zoom_index - 1)
        elif self.zoom_index != 0:
            self.zoom_index += 1
            latest = latest_ns(source)
            origin = source.aggregate.run_start_ns if source is not None else None
            run_s = (latest - origin) / 1e9 if latest is not None and origin is not None else None
            wide = self.zoom_index >= len(ZOOMS)
            if wide or (run_s is not None and (ZOOMS[self.zoom_index] or 0) >= run_s):
                self.zoom_index = 0  # as wide as the run: fit the whole of it
        if not self.follow and shown is not None:
            latest = latest_ns(source)
            end = shown[1] if latest is None else min(shown[1], latest)
            self.view_end_ns = end  # a frozen view keeps its end, within the run
        window = ZOOMS[self.zoom_index]
        return "whole run" if window is None else f"{window:g} s"

    def toggle_follow(self, source: Any, view: TimelineView | None) -> str:
        """``f``: follow the run, or freeze the window where it is. Returns what it does now."""
        self.follow = not self.follow
        if self.follow:
            self.view_end_ns = None
        else:
            self.freeze(source, view)
        return "following the run" if self.follow else "frozen: ← → scroll"

    def freeze(self, source: Any, view: TimelineView | None) -> None:
        """Holds the window on screen where it is (after a run: ending at the run's end)."""
        shown = shown_ns(source, view)
        latest = latest_ns(source)
        if shown is None:
            self.view_end_ns = latest
            return
        self.frozen_span_s = (shown[1] - shown[0]) / 1e9
        ended = source is not None and source.aggregate.run_end_ns is not None
        self.view_end_ns = min(shown[1], latest) if ended and latest is not None else shown[1]

    def scroll(self, direction: int, source: Any, view: TimelineView | None) -> None:
        """``←`` / ``→``: a quarter of the window earlier or later, within the run."""
        window = ZOOMS[self.zoom_index]
        if source is None or window is None:
            return
        if self.follow or self.view_end_ns is None:
            self.follow = False
            self.freeze(source, view)
        end = self.view_end_ns if self.view_end_ns is not None else source.now_ns()
        end += int(direction * window * 0.25 * 1e9)
        latest = latest_ns(source)
        origin = source.aggregate.run_start_ns
        if latest is not None:
            end = min(end, latest)
        if origin is not None:
            end = max(end, origin + int(window * 1e9))
        self.view_end_ns = end
