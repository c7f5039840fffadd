"""Writing and rendering only what changed: what a moving timeline costs the terminal.

A live lane changes at its newest cells only, but Textual 8's compositor
writes each dirty line from the start of the widget's chop (its left edge) to
the end of the dirty span: the bars a lane drew seconds ago, one colour escape
per task, again and again, ten times a second. For a slow run (4 lanes of
100 ms sleeps) that was 148 kB/s of terminal output; it is 21 kB/s now, which
matters over SSH and in ``concviz serve`` (the CPU it saved was small:
``benchmarks/README.md``).

- :func:`changed_span` tells a widget which cells of a line changed, so it
  marks just those dirty;
- :func:`tighten` makes the compositor's update write from the dirty span's
  start too, not from the chop's;
- :class:`TightScreen` renders, for a partial update, only the widgets and
  rows it touches.

The last two override methods of Textual's private compositor classes;
``tests/test_paint.py`` pins their shape and checks, cell by cell, that the
screen a terminal would show is the compositor's.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip


def _fits() -> bool:
    """Whether Textual's compositor has the shape the overrides below were written for.

    Textual's range in pyproject allows minor versions whose private classes may
    differ: where they do, the dashboard draws the stock way instead of failing.
    """
    try:
        shapes = (
            list(inspect.signature(ChopsUpdate.__init__).parameters),
            list(inspect.signature(Compositor._get_renders).parameters),
            list(inspect.signature(Compositor._render_chops).parameters),
        )
    except (AttributeError, TypeError, ValueError):
        return False
    return shapes == (
        ["self", "chops", "spans", "chop_ends"],
        ["self", "crop"],
        ["self", "crop", "is_rendered_line"],
    ) and isinstance(getattr(Compositor, "visible_widgets", None), property)


#: The overrides apply (tests/test_paint.py fails loudly where they do not).
FITS = _fits()


def _same_head(p: str, q: str) -> int:
    """How many first characters two strings share."""
    n = 0
    for cp, cq in zip(p, q, strict=False):
        if cp != cq:
            break
        n += 1
    return n


def _common_prefix(a: list[Segment], b: list[Segment]) -> int:
    """How many first segments two lines share: a binary search over slice compares.

    The compares run in C; a Python loop over a lane's ~100 runs, 12 lines a
    refresh, was most of the Timeline's ``show`` in a slow run.
    """
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _text_cells(segments: list[Segment]) -> int:
    return cell_len("".join([segment.text for segment in segments]))


def changed_span(old: Strip, new: Strip) -> tuple[int, int] | None:
    """The cells ``[x1, x2)`` where two lines differ, or None where they are the same.

    Compares segments, not cells: a line is a few dozen runs of one style, and
    most of them are the same objects or equal tuples from one frame to the next.
    """
    a: list[Segment] = list(old)
    b: list[Segment] = list(new)
    if a == b:
        return None
    start = _common_prefix(a, b)
    x1 = _text_cells(a[:start])
    if start < len(a) and start < len(b) and a[start].style == b[start].style:
        # The same run, grown or changed part-way: skip its common first cells.
        ta = a[start].text
        x1 += cell_len(ta[: _same_head(ta, b[start].text)])
    end_a, end_b = old.cell_length, new.cell_length
    if end_a != end_b:
        return x1, max(end_a, end_b)
    # The common tail, among the segments after the common head.
    tail = _common_prefix(a[start:][::-1], b[start:][::-1])
    x2 = end_b - _text_cells(b[len(b) - tail :]) if tail else end_b
    i, j = len(a) - 1 - tail, len(b) - 1 - tail
    if i >= start and j >= start and a[i].style == b[j].style:
        # And its common last cells.
        tb = b[j].text
        x2 -= cell_len(tb[len(tb) - _same_head(a[i].text[::-1], tb[::-1]) :])
    return x1, max(x2, x1 + 1)


def changed_regions(old: list[Strip], new: list[Strip], width: int) -> list[Region]:
    """One region per changed line, as narrow as the change (the whole width for a new line)."""
    regions: list[Region] = []
    for y in range(max(len(old), len(new))):
        if y >= len(old) or y >= len(new):
            regions.append(Region(0, y, width, 1))
            continue
        span = changed_span(old[y], new[y])
        if span is not None:
            x1, x2 = span
            regions.append(Region(x1, y, max(1, min(width, x2) - x1), 1))
    return regions


class TightChopsUpdate(ChopsUpdate):
    """A ChopsUpdate that writes each dirty span from its own start, not its chop's."""

    def render_segments(self, console: Console) -> str:
        sequences: list[str] = []
        append = sequences.append
        chops = self.chops
        chop_ends = self.chop_ends
        last_y = self.spans[-1][0]
        for y, x1, x2 in self.spans:
            line = chops[y]
            ends = chop_ends[y]
            for end, (x, strip) in zip(ends, line.items(), strict=False):
                if strip is None or x >= x2 or end <= x1:
                    continue
                left = max(x, x1)
                right = min(end, x2)
                part = strip if left == x and right == end else strip.crop(left - x, right - x)
                append(f"\x1b[{y + 1};{left + 1}H")
                append(part.render(console))
            if y != last_y:
                append("\n")
        return "".join(sequences)


def tighten(renderable: Any) -> Any:
    """The compositor's partial update, made to write only the dirty cells."""
    if FITS and type(renderable) is ChopsUpdate:
        renderable.__class__ = TightChopsUpdate
    return renderable


class TightCompositor(Compositor):
    """Renders, for a partial update, only the widgets and rows the update touches.

    Textual's compositor renders every widget whose *clip* (its container's
    visible area) overlaps the update's bounding box, each over its whole
    height: a two-cell change at a lane's live edge had the footer, the
    settings sidebar and every container render all their lines (from their
    caches) at every refresh. Here a widget is rendered only where its own
    visible region meets the update, and only on the update's rows; the chops
    of the cells it would have filled lie outside every dirty span, so nothing
    written changes (``tests/test_paint.py`` checks the screen, cell by cell).
    A widget wholly behind one drawn before it (the containers behind the
    timeline, at each of its refreshes) is not rendered at all.
    """

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:
            yield from super()._get_renders(crop)
            return
        # What the widgets in front already fill (they come front to back, and the
        # first to fill a cell wins): a container wholly behind one of them in the
        # update draws nothing that shows, so it is not rendered at all.
        filled: list[Region] = []
        for widget, (region, clip) in self.visible_widgets.items():
            visible = region.intersection(clip)
            if not visible.overlaps(crop):
                continue
            shown = visible.intersection(crop)
            if any(front.contains_region(shown) for front in filled):
                continue
            filled.append(shown)
            rows = visible.intersection(Region(visible.x, crop.y, visible.width, crop.height))
            yield region, rows, widget.render_lines(rows.translate(-region.offset))


class TightScreen(Screen[None]):
    """A screen drawn by :class:`TightCompositor`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if FITS:
            self._compositor = TightCompositor()
