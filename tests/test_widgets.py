"""The line-keeping panels: they must draw what a Static draws, redrawing only what changed."""

from __future__ import annotations

from dataclasses import replace

from rich.cells import cell_len
from rich.style import Style as RichStyle
from textual.app import App, ComposeResult
from textual.content import Content
from textual.filter import ANSIToTruecolor
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.widgets import Static

from concviz.observer.aggregate import RunAggregate
from concviz.tui.view import (
    FAILED,
    IDLE,
    SHADES,
    SPARKS,
    WAIT_SPARKS,
    Cell,
    CoreRow,
    QueueView,
    TimelineRow,
    TimelineView,
    WorkerRow,
    WorkersView,
    group_cell,
)
from concviz.tui.widgets import (
    GROUP_LEGEND,
    LEGEND,
    SHORT_GROUP_LEGEND,
    SHORT_LEGEND,
    SHORTEST_GROUP_LEGEND,
    Panel,
    Timeline,
    cores_content,
    legend_line,
    queue_content,
    summary_content,
    truecolor_only,
    workers_content,
)

CSS = """
Panel, Static {
    width: 24; border: round $foreground-muted; border-title-color: $foreground;
    padding: 0 1; height: auto;
}
"""


class Side(App[None]):
    CSS = CSS

    def compose(self) -> ComposeResult:
        yield Panel("lines", id="panel")
        static = Static(id="static")
        static.border_title = "lines"
        yield static


def drawn(widget: Panel | Static) -> list[str]:
    return [strip.text for strip in widget.render_lines(widget.outer_size.region)]


def lines() -> list[Content]:
    return [
        Content.assemble(("done", "$text-muted"), " ", ("12/40", "bold")),
        Content.styled("a line far too long for a panel only twenty-four cells wide", "$error"),
        Content.assemble(("cpu0 ", "$text-muted"), ("████▌   ", "$accent"), " 57%"),
    ]


async def test_a_panel_draws_what_a_static_draws_long_lines_wrapped() -> None:
    app = Side()
    async with app.run_test(size=(40, 20)) as pilot:
        panel = app.query_one(Panel)
        static = app.query_one(Static)
        panel.set_lines(lines())
        static.update(Content("\n").join(lines()))
        await pilot.pause()
        assert panel.size == static.size  # the long line wrapped the same way: same height
        assert drawn(panel) == drawn(static)
        # The same colours too, cell by cell.
        for mine, theirs in zip(
            panel.render_lines(panel.outer_size.region),
            static.render_lines(static.outer_size.region),
            strict=True,
        ):
            assert [(c, s.color, s.bgcolor, s.bold) for c, s in cells(mine)] == [
                (c, s.color, s.bgcolor, s.bold) for c, s in cells(theirs)
            ]


def cells(strip: Strip) -> list[tuple[str, RichStyle]]:
    out = []
    for segment in strip:
        style = segment.style or RichStyle()
        out += [(ch, style) for ch in segment.text]
    return out


async def test_only_the_lines_that_changed_are_drawn_again() -> None:
    app = Side()
    async with app.run_test(size=(40, 20)) as pilot:
        panel = app.query_one(Panel)
        panel.set_lines([Content("a"), Content("b"), Content("c")])
        await pilot.pause()
        drawn_lines: list[int] = []
        draw = panel._line_strip

        def counting(line: Content, y: int, width: int, style: VisualStyle) -> Strip:
            drawn_lines.append(y)
            return draw(line, y, width, style)

        panel._line_strip = counting  # type: ignore[method-assign]
        panel.set_lines([Content("a"), Content("B"), Content("c")])
        await pilot.pause()
        assert drawn_lines == [1]
        assert str(panel.render()) == "a\nB\nc"
        # The same text in another colour is a change too.
        panel.set_lines([Content("a"), Content("B"), Content.styled("c", "$error")])
        await pilot.pause()
        assert drawn_lines == [1, 2]
        # Nothing new: nothing drawn.
        panel.set_lines([Content("a"), Content("B"), Content.styled("c", "$error")])
        await pilot.pause()
        assert drawn_lines == [1, 2]


async def test_kept_lines_take_a_new_themes_colours() -> None:
    app = Side()
    async with app.run_test(size=(40, 20)) as pilot:
        app.theme = "textual-dark"
        panel = app.query_one(Panel)
        panel.set_lines([Content.styled("busy", "$primary")])
        await pilot.pause()
        dark = panel.render_lines(panel.outer_size.region)[1]
        app.theme = "textual-light"
        await pilot.pause()
        light = panel.render_lines(panel.outer_size.region)[1]
        assert dark.text == light.text

        def busy(strip: Strip) -> tuple[str, str]:
            style = next(seg.style for seg in strip if seg.text == "busy" and seg.style)
            assert style.color is not None
            assert style.bgcolor is not None
            return style.color.name, style.bgcolor.name

        assert busy(dark) != busy(light)
        # The light theme's primary on the light theme's background, not the dark ones.
        assert busy(light)[0].lower() == app.theme_variables["primary"].lower()


async def test_selected_text_is_the_panels_text() -> None:
    app = Side()
    async with app.run_test(size=(40, 20)) as pilot:
        panel = app.query_one(Panel)
        panel.set_lines([Content("wall 1.2 s"), Content("parallelism 0.99")])
        await pilot.pause()
        got = panel.get_selection(Selection(Offset(5, 0), Offset(11, 1)))
        assert got is not None
        assert got[0] == "1.2 s\nparallelism"


def test_the_queue_line_keeps_to_one_line_in_a_narrow_panel() -> None:
    """At 80x24 the queue panel is ~21 cells wide: the peak goes before the line wraps."""
    view = QueueView(depth=12, peak=16, history=[1.0, 4.0, 12.0], real_queue=False)
    wide = queue_content(view, 40)[0]
    narrow = queue_content(view, 21)[0]
    assert wide.plain.endswith("waiting 12 peak 16")
    assert wide.cell_length == 40
    assert "waiting 12" in narrow.plain
    assert "peak" not in narrow.plain
    assert narrow.cell_length <= 21


def test_a_worker_waiting_for_a_core_shows_it_after_its_cpu() -> None:
    rows = [
        WorkerRow("pid 1", "process", 33.0, None, [], waiting=66.0),
        WorkerRow("tid 2", "thread", 25.0, None, []),  # on the GIL: no core wait
    ]
    lines = workers_content(WorkersView(rows, 58.0, [], 0), 40)
    waiting, gil = (line.plain for line in lines[:2])
    assert waiting.count("░") >= 15  # two thirds of a 25-cell bar
    assert waiting.index("░") > waiting.index("█")
    assert "░" not in gil
    spans = {str(span.style) for span in lines[0].spans}
    assert "$warning" in spans  # a colour as well as a glyph


def test_a_narrow_summary_drops_its_words_not_its_figures() -> None:
    """Beside the settings panel the summary is ~24 cells wide: a row must not wrap."""
    summary = replace(
        RunAggregate(
            {"model": "processes", "workload": "cpu", "workers": 2, "tasks": 20}
        ).summary(),
        completed=20,
        wall_s=1.36,
        throughput=15.0,
        core_wait_fraction=0.22,
        peak_memory=26_109_542,
        events=60,
        dropped_events=3,
        observer_cpu=0.19,
    )
    wide = {line.plain.split()[0]: line.plain for line in summary_content(summary, True, width=40)}
    narrow = [line.plain for line in summary_content(summary, True, width=24)]
    assert wide["core"].endswith("22% no core free")
    assert wide["memory"].endswith("at peak")
    by_label = {line.split()[0]: line for line in narrow}
    assert by_label["core"].rstrip().endswith("22%")
    assert by_label["memory"].rstrip().endswith("MiB")
    assert wide["concviz"].endswith("19% of a core")
    assert by_label["concviz"].rstrip().endswith("19% CPU")  # a short word rather than none
    assert all(len(line) <= 24 for line in narrow if not line.startswith(("wall", "events")))
    assert by_label["events"].endswith("3 lost")  # a figure: kept, even if it wraps
    assert by_label["wall"].endswith("15/s")
    # A short screen's compact summary leaves the details out, not what observing costs.
    compact = {line.plain.split()[0] for line in summary_content(summary, True, compact=True)}
    assert "concviz" in compact
    assert "events" not in compact


def test_the_timeline_legend_shrinks_before_its_note_is_cut() -> None:
    note = "1000 lanes, 67 per row: bar height = share of them busy"
    assert legend_line(note, 120, "group") == f"{note} · {GROUP_LEGEND}"
    assert legend_line(note, 90, "group") == f"{note} · {SHORT_GROUP_LEGEND}"
    assert legend_line(note, 80, "group") == f"{note} · {SHORTEST_GROUP_LEGEND}"
    assert legend_line(note, 60, "group") == note  # the legend goes; the note says how to read
    assert legend_line(note, 30, "group") == note[:30]
    lanes = "lanes are asyncio task slots on one thread"
    assert legend_line(lanes, 120) == f"{lanes} · {LEGEND}"
    assert legend_line(lanes, 75) == f"{lanes} · {SHORT_LEGEND}"
    assert legend_line("", 80) == LEGEND
    assert len(legend_line("", 20)) <= 20


def test_grouped_rows_explain_both_of_their_glyphs() -> None:
    """Issue #17.2: the legend must say what a grouped row draws: solid on CPU, dotted waiting."""
    for legend in (GROUP_LEGEND, SHORT_GROUP_LEGEND):
        assert SPARKS[-2] in legend
        assert WAIT_SPARKS[-1] in legend
        assert "CPU" in legend
        assert "waiting" in legend
        assert FAILED in legend  # a failure of any of the row's lanes (#18 item 9)
    assert group_cell(1.0, 0.9) == Cell(SPARKS[-1], "group")
    assert group_cell(1.0, 0.1) == Cell(WAIT_SPARKS[-1], "wait")
    assert group_cell(0.3, 0.0).glyph == WAIT_SPARKS[2]  # as tall as its busy share
    assert group_cell(0.3, 0.3).glyph == SPARKS[2]
    assert group_cell(0.01, 0.01).glyph == " "


def test_the_cores_panel_shows_how_many_cores_were_busy_in_all() -> None:
    """Issue #17.3: a GIL thread migrating between two cores reads 63 % and 58 %;
    the headline, about one core busy in all, must be in the Cores panel too."""
    rows = [CoreRow("cpu0", 63.0, [63.0]), CoreRow("cpu1", 58.0, [58.0])]
    lines = [line.plain for line in cores_content(rows, 30, 8)]
    assert len(lines) == 3
    assert lines[-1].endswith("1.2 of 2 cores busy")
    narrow = [line.plain for line in cores_content(rows, 20, 8)]
    assert narrow[-1] == "all  1.2 of 2 cores"  # one line, not wrapped
    many = [CoreRow(f"cpu{i}", 50.0, [50.0]) for i in range(16)]
    (line,) = cores_content(many, 40, 8)  # one column per core, and the total
    assert line.plain.endswith("8.0 of 16 cores busy")


# -- the timeline's lines: what Textual is spared, and that it is safe to spare it ------


class Lanes(App[None]):
    def compose(self) -> ComposeResult:
        yield Timeline(id="timeline")


def _lanes_view(columns: int) -> TimelineView:
    tones = ["a", "b", "run", "fail", "group", "wait", ""]
    glyphs = [*SHADES, *SPARKS, *WAIT_SPARKS, IDLE, FAILED]
    rows = [
        TimelineRow(
            f"lane {r} – ünïcode" if r == 1 else f"lane {r}",
            [
                Cell(glyphs[(i + r) % len(glyphs)], tones[(i // 3 + r) % len(tones)])
                for i in range(columns)
            ],
        )
        for r in range(3)
    ]
    return TimelineView(rows, 0.0, 10.0, 3, 1, note="note", axis="╵0s".ljust(columns))


async def test_the_timeline_skips_only_a_filter_that_would_change_nothing() -> None:
    """ANSIToTruecolor rewrites ANSI colours and dim text: where the bars have neither,
    leaving it out draws the very same lines. Every theme a user can pick is tried."""
    app = Lanes()
    async with app.run_test(size=(80, 12)) as pilot:
        timeline = app.query_one(Timeline)
        skipped_somewhere = False
        for theme in app.available_themes:
            app.theme = theme
            await pilot.pause()
            timeline.show(_lanes_view(timeline.columns))
            await pilot.pause()
            kept = timeline.get_line_filters()
            skipped = [f for f in app.get_line_filters() if f not in kept]
            skipped_somewhere |= bool(skipped)
            background = timeline.background_colors[1]
            for y in range(timeline.size.height):
                line = timeline.render_line(y)
                for f in skipped:
                    assert list(line.apply_filter(f, background)) == list(line), (theme, y)
        assert skipped_somewhere
        app.theme = "textual-dark"
        await pilot.pause()
        assert not any(isinstance(f, ANSIToTruecolor) for f in timeline.get_line_filters())


def test_a_palette_colour_or_dim_text_keeps_the_filter() -> None:
    assert truecolor_only([RichStyle(color="#ff0000", bgcolor="#000000", bold=True)])
    assert not truecolor_only([RichStyle(color="red")])  # the terminal's palette
    assert not truecolor_only([RichStyle(bgcolor="default")])
    assert not truecolor_only([RichStyle(color="#ff0000", dim=True)])


async def test_the_timeline_gives_each_line_its_true_length() -> None:
    """The lengths it states (sparing Textual a measure of every segment) are the measured ones."""
    assert all(cell_len(glyph) == 1 for glyph in (*SHADES, *SPARKS, *WAIT_SPARKS, IDLE, FAILED))
    app = Lanes()
    async with app.run_test(size=(80, 12)) as pilot:
        timeline = app.query_one(Timeline)
        timeline.show(_lanes_view(timeline.columns))
        await pilot.pause()
        for y in range(timeline.size.height):
            line = timeline.render_line(y)
            assert line.cell_length == sum(cell_len(s.text) for s in line) == 80
