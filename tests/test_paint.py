"""Writing only the cells that changed (``concviz/tui/paint.py``).

The terminal must end up showing exactly what the compositor holds: a screen
is rebuilt here from the very bytes the dashboard would write (cursor moves
and text, colours ignored) and compared with the compositor's own render after
every update of a real run.
"""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path
from typing import Any

import pytest
import textual
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, Compositor, CompositorUpdate, LayoutUpdate
from textual.app import App
from textual.geometry import Region
from textual.strip import Strip

from concviz.runner.spec import RunSpec
from concviz.tui import app as app_module
from concviz.tui import paint
from concviz.tui.app import ConcvizApp
from concviz.tui.paint import (
    TightChopsUpdate,
    TightCompositor,
    TightScreen,
    changed_span,
    tighten,
)

RED, BLUE = Style(color="red"), Style(color="blue")


def strip(*runs: tuple[str, Style]) -> Strip:
    return Strip([Segment(text, style) for text, style in runs])


def painted(old: Strip, new: Strip) -> str:
    """``old``'s text with ``new``'s cells written over the changed span only."""
    span = changed_span(old, new)
    if span is None:
        return old.text
    x1, x2 = span
    return old.text[:x1] + new.crop(x1, x2).text + old.text[x2:]


def test_the_same_line_has_no_span() -> None:
    assert changed_span(strip(("ab", RED), ("cd", BLUE)), strip(("ab", RED), ("cd", BLUE))) is None


def test_a_lane_that_grew_at_its_live_edge_changes_there_only() -> None:
    old = strip(("  w0 ", Style()), ("███", RED), ("██", BLUE), ("░", RED), ("     ", Style()))
    new = strip(("  w0 ", Style()), ("███", RED), ("██", BLUE), ("░░█", RED), ("   ", Style()))
    assert changed_span(old, new) == (11, 13)


def test_a_change_inside_one_run_of_a_style_is_cut_to_its_cells() -> None:
    assert changed_span(strip(("done 12/40", RED)), strip(("done 13/40", RED))) == (6, 7)


def test_a_new_style_for_the_same_text_is_a_change() -> None:
    assert changed_span(strip(("ab", RED), ("cd", RED)), strip(("ab", RED), ("cd", BLUE))) == (2, 4)


cells = st.lists(st.tuples(st.sampled_from("█▓▒░ ✗ab"), st.sampled_from([RED, BLUE])), max_size=30)


def as_strip(line: list[tuple[str, Style]], width: int) -> Strip:
    runs: list[Segment] = []
    for char, style in line:
        if runs and runs[-1].style == style:
            runs[-1] = Segment(runs[-1].text + char, style)
        else:
            runs.append(Segment(char, style))
    return Strip(runs).adjust_cell_length(width)


@given(cells, cells)
def test_writing_the_span_turns_the_old_line_into_the_new(
    a: list[tuple[str, Style]], b: list[tuple[str, Style]]
) -> None:
    width = max(len(a), len(b))
    old, new = as_strip(a, width), as_strip(b, width)
    assert painted(old, new) == new.text
    span = changed_span(old, new)
    styled = [(char, seg.style) for seg in new for char in seg.text]
    styled_old = [(char, seg.style) for seg in old for char in seg.text]
    if span is None:
        assert styled == styled_old
    else:  # no cell outside the span differs, text or colour
        x1, x2 = span
        assert styled[:x1] == styled_old[:x1]
        assert styled[x2:] == styled_old[x2:]


def test_the_overrides_fit_the_installed_textual() -> None:
    """Elsewhere the dashboard draws the stock way; here, a new Textual must be looked at."""
    assert paint.FITS, f"Textual {textual.__version__} changed its compositor: see paint.py"
    assert type(TightScreen()._compositor) is TightCompositor


def test_where_they_do_not_fit_textual_draws_as_it_always_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paint, "FITS", False)
    update = ChopsUpdate([{0: Strip([Segment("abc")])}], [(0, 1, 2)], [[3]])
    assert type(tighten(update)) is ChopsUpdate
    assert type(TightScreen()._compositor) is Compositor


class _Boxed(App[None]):
    """A bordered container holding one widget, as the dashboard's timeline box holds its lanes."""

    CSS = "#box { border: round red; height: 8; } #inner { height: 4; }"

    def get_default_screen(self) -> TightScreen:
        return TightScreen()

    def compose(self) -> Any:
        from textual.containers import Vertical  # noqa: PLC0415
        from textual.widgets import Static  # noqa: PLC0415

        with Vertical(id="box"):
            yield Static("x" * 30, id="inner")


async def test_a_container_wholly_behind_the_update_is_not_rendered() -> None:
    """Front to back, the first widget to fill a cell wins: a container whose part of the
    update lies wholly within a widget drawn before it would draw nothing that shows."""
    app = _Boxed()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        box, inner = app.query_one("#box"), app.query_one("#inner")
        rendered: list[str] = []
        for widget in (box, inner):
            original = widget.render_lines

            def spy(crop: Region, widget: Any = widget, original: Any = original) -> Any:
                rendered.append(widget.id)
                return original(crop)

            widget.render_lines = spy  # type: ignore[method-assign]
        compositor = app.screen._compositor
        within = inner.region
        compositor._render_chops(Region(within.x + 2, within.y, 3, 2), lambda y: True)
        assert rendered == ["inner"]
        rendered.clear()
        # Its border is its own to draw: an update that reaches it renders it.
        compositor._render_chops(Region(within.x - 1, within.y, 3, 1), lambda y: True)
        assert rendered == ["inner", "box"]


def test_the_update_writes_from_the_span_not_from_the_chop() -> None:
    """The seam: Textual's ChopsUpdate keeps its shape, and ours writes less of it."""
    console = Console(width=20, color_system=None, legacy_windows=False)
    line = Strip([Segment("abcdefghij")])
    update = ChopsUpdate([{0: line}], [(0, 6, 8)], [[10]])
    assert update.render_segments(console) == "\x1b[1;1Habcdefgh"  # Textual 8's own
    assert tighten(update) is update
    assert type(update) is TightChopsUpdate
    assert update.render_segments(console) == "\x1b[1;7Hgh"
    layout = LayoutUpdate([[line]], Region(0, 0, 10, 1))
    assert tighten(layout) is layout
    assert type(layout) is LayoutUpdate
    assert list(inspect.signature(App._display).parameters) == ["self", "screen", "renderable"]


# -- the real dashboard: what it writes makes the picture the compositor holds --------------

MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
OTHER = re.compile(r"\x1b(?:\[[0-9;?<>=]*[A-Za-z]|[()][0-9A-B]|[=>])")


class Terminal:
    """A grid of cells that takes cursor moves and text (escapes otherwise skipped)."""

    def __init__(self, width: int, height: int) -> None:
        self.rows = [[" "] * width for _ in range(height)]
        self.x = self.y = 0

    def feed(self, data: str) -> None:
        pos = 0
        while pos < len(data):
            if data[pos] == "\x1b":
                if (m := MOVE.match(data, pos)) is not None:
                    self.y, self.x = int(m.group(1)) - 1, int(m.group(2)) - 1
                    pos = m.end()
                    continue
                m2 = OTHER.match(data, pos)
                assert m2 is not None, repr(data[pos : pos + 12])
                pos = m2.end()
                continue
            char = data[pos]
            pos += 1
            if char in "\r\n":
                continue
            width = cell_len(char)
            if width == 0:
                continue
            self.rows[self.y][self.x] = char
            for k in range(1, width):
                self.rows[self.y][self.x + k] = ""
            self.x += width

    def text(self) -> list[str]:
        return ["".join(row) for row in self.rows]


class Watched(ConcvizApp):
    """The dashboard, headless, with every update it would write fed to a Terminal.

    From the run's steady state to the app's end, after every update, the
    Terminal must show what the compositor holds. (Before, while the figure
    panels mount and find their widths, Textual's own repaint of a re-wrapped
    panel may come a frame later, with or without paint.py: not compared.)
    """

    CSS_PATH = str(Path(app_module.__file__).with_name("concviz.tcss"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.term: Terminal | None = None
        self.counting = False
        self.checking = False
        self.partial = 0
        self.tight_bytes = 0
        self.wide_bytes = 0
        self.mismatch: list[str] = []

    def _display(self, screen: Any, renderable: Any) -> None:
        super()._display(screen, renderable)
        if not isinstance(renderable, CompositorUpdate) or screen is not self.screen:
            return
        size = self.size
        console = Console(width=size.width, color_system="truecolor", force_terminal=True)
        if self.term is None or isinstance(renderable, LayoutUpdate):
            self.term = Terminal(size.width, size.height)
        self.term.feed(renderable.render_segments(console))
        if isinstance(renderable, ChopsUpdate) and self.counting:
            self.partial += 1
            self.tight_bytes += len(renderable.render_segments(console))
            self.wide_bytes += len(ChopsUpdate.render_segments(renderable, console))
        if self.checking:  # (while panels mount and settle, a repaint may trail a frame)
            self.compare(screen)

    def compare(self, screen: Any) -> None:
        assert self.term is not None
        held = [s.text for s in screen._compositor.render_strips()]
        if self.term.text() != held and len(self.mismatch) < 3:
            diff = [
                f"{y}: {a!r} != {b!r}"
                for y, (a, b) in enumerate(zip(self.term.text(), held, strict=True))
                if a != b
            ]
            self.mismatch.append("\n".join(diff[:4]))


async def test_what_the_dashboard_writes_is_what_it_shows_and_less_of_it() -> None:
    app = Watched(RunSpec(model="threads", workload="sleep", workers=4, tasks=400, task_ms=50))

    async def until(condition: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "not reached in time"
            await pilot.pause(0.05)

    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.w_settings.ready)
        await pilot.press("r")
        await until(lambda: app.state == "running")
        await until(lambda: "/400" in str(app.w_header.render()) and app.term is not None)
        app.counting = app.checking = True  # the run's steady state: lanes grow at their edge
        await until(lambda: app.partial >= 20 or app.state != "running")
        app.counting = False
        await pilot.press("s")
        await until(lambda: app.state in ("done", "stopped", "error", "crashed"))
        await pilot.pause(0.3)
    assert app.partial >= 10, "too few updates while the run went to say anything"
    assert app.mismatch == []
    # Textual would write each changed line from its chop's start: the whole lane.
    assert app.tight_bytes < 0.5 * app.wide_bytes, (app.tight_bytes, app.wide_bytes)
