"""The dashboard's panels: thin widgets that render the view models they are given.

None of them reads the engine: the app builds view models (``view.py``) at a
fixed rate and hands them over with ``show()``. Each ``show`` re-renders only
when its input changed, so an idle panel costs nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Region
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static

from ..observer.aggregate import Summary
from ..report import describe_result, fmt_bytes, fmt_memory_per_task
from ..units import fmt_seconds
from ..workloads import CATALOG
from .paint import changed_regions
from .view import (
    FAILED,
    IDLE,
    LABEL_CHARS,
    SHADES,
    SPARKS,
    WAIT_SPARKS,
    EventLine,
    HeaderView,
    QueueView,
    TimelineView,
    WorkersView,
    bar,
    cores_busy,
    fmt_duration,
    spark,
    split_bar,
)
from .view import CoreRow as CoreRowView

if TYPE_CHECKING:
    from rich.syntax import Syntax

STATE_BADGE = {
    "idle": ("○ ready", "$text-muted"),
    "starting": ("◌ starting", "$warning"),
    "running": ("● running", "$success"),
    "done": ("✔ done", "$success"),
    "stopped": ("■ stopped", "$warning"),
    "error": ("✘ error", "$error"),
    "crashed": ("✘ crashed", "$error"),
    "replay": ("▶ replay", "$accent"),
}


class Lines(Widget):
    """Text lines that are drawn once and kept until they change.

    Textual's ``Static.update`` re-renders every line of its content and the
    compositor repaints the whole widget. The live panels change a few figures
    at a time, several times a second: redrawing only the lines that changed
    took ~1.8 % of a core off the dashboard's main thread with eight busy lanes
    (``benchmarks/README.md``). The lines are ``Content``, so theme variables
    and text selection work as they do in a Static: while something is
    selected, the lines are drawn the Static way.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._logical: list[Content] = []
        self._lines: list[Content] = []  # as drawn: long lines wrapped
        self._keys: list[tuple[str, tuple[Any, ...]]] = []
        self._strips: dict[int, Strip] = {}
        self._selected: list[Strip] | None = None
        self._width = -1

    def set_lines(self, lines: list[Content]) -> None:
        self._logical = lines
        self._layout()

    def _layout(self) -> None:
        """Wraps the lines to the width (as a Static would) and redraws those that changed."""
        width = self.size.width
        lines: list[Content] = []
        for line in self._logical:
            if 0 < width < line.cell_length:
                lines.extend(line.wrap(width))
            else:
                lines.append(line)
        keys = [(line.plain, tuple(line.spans)) for line in lines]
        if len(keys) != len(self._keys):
            self._lines, self._keys = lines, keys
            self._forget()
            # A panel whose height does not follow its lines only needs a repaint:
            # a layout is the whole screen's, and costs more than all the drawing.
            height = self.styles.height
            self.refresh(layout=height is None or height.is_auto)
            return
        old_keys = self._keys
        changed = [y for y, key in enumerate(keys) if key != old_keys[y]]
        if not changed:
            return
        self._lines, self._keys = lines, keys
        self._selected = None
        for y in changed:
            self._strips.pop(y, None)
        self.refresh(*(Region(0, y, width, 1) for y in changed))

    def _forget(self) -> None:
        """Drops every drawn line: a new width, theme or number of lines."""
        self._strips.clear()
        self._selected = None

    def on_resize(self) -> None:
        self._forget()
        self._layout()
        self.refresh()

    def render(self) -> Content:
        """All the lines as one Content: what selection, copying and tests read."""
        return Content("\n").join(self._lines)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:  # the compositor may draw before on_resize runs
            self._width = width
            self._forget()
        style = self.visual_style
        pad = style.background_style.rich_style
        if self.text_selection is not None:
            if self._selected is None:
                self._selected = Visual.to_strips(self, self.render(), width, None, style)
            strips = self._selected
            line = strips[y] if y < len(strips) else Strip.blank(width, pad)
            return line.adjust_cell_length(width, pad)
        kept = self._strips.get(y)
        if kept is not None:
            return kept
        if y < len(self._lines):
            strip = self._line_strip(self._lines[y], y, width, style)
        else:
            strip = Strip.blank(width, pad)
        self._strips[y] = strip
        return strip

    def _line_strip(self, line: Content, y: int, width: int, style: VisualStyle) -> Strip:
        """One line, styled as Textual styles a left-aligned, unwrapped line of Content."""
        segments = []
        x = 0
        for text, text_style in line.render(style, end="", parse_style=self._get_style):
            segments.append(Segment(text, (style + text_style).rich_style_with_offset(x, y)))
            x += len(text)
        return Strip(segments).adjust_cell_length(width, style.background_style.rich_style)

    def selection_updated(self, selection: Selection | None) -> None:
        self._selected = None
        self.refresh()

    def notify_style_update(self) -> None:
        self._forget()  # a new theme: the kept lines have the old colours
        super().notify_style_update()


#: The panels' frame: a rounded border with its title, one cell of padding.
_BORDERED = (
    "border: round $foreground-muted; border-title-color: $foreground; padding: 0 1; height: auto;"
)


class Panel(Lines):
    """A bordered panel whose lines are replaced only when its input changes."""

    DEFAULT_CSS = f"Panel {{ {_BORDERED} }}"

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = title
        self._last: object = None

    def show(self, key: object, build: Callable[[], list[Content]]) -> None:
        """Redraws with ``build()`` if ``key`` differs from last time.

        A relayout (the whole screen) happens only when the number of lines
        changes: at 10 Hz a relayout per tick costs more than all the drawing.
        """
        if key == self._last:
            return
        self._last = key
        self.set_lines(build())


class TextPanel(Static):
    """A bordered, scrolling panel of text that changes rarely (the code, the event log)."""

    DEFAULT_CSS = f"""
    TextPanel {{ {_BORDERED} }}
    TextPanel:focus-within {{ border: round $accent; }}
    """

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.border_title = title


class Explanation(VerticalScroll, can_focus=False):
    """A scenario's title and explanation, above what it explains.

    It scrolls rather than pushing the timeline off a short screen (a big font on a
    projector leaves some 22 rows), and never cuts a sentence off unseen.
    """

    DEFAULT_CSS = """
    Explanation {
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $boost;
        color: $foreground;
        scrollbar-size-vertical: 1;
    }
    Explanation > Static { width: 1fr; height: auto; }
    """

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._body = Static(text)

    def compose(self) -> ComposeResult:
        yield self._body

    def update(self, text: str) -> None:
        self._body.update(text)
        self.scroll_home(animate=False)

    @property
    def text(self) -> str:
        return str(self._body.render())


# -- header -------------------------------------------------------------------------


class RunHeader(Lines):
    """Model, workload, interpreter, run state, elapsed time and progress."""

    DEFAULT_CSS = """
    RunHeader { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last: object = None

    def show(self, view: HeaderView, state: str, pending: str = "") -> None:
        width = max(self.size.width - 2, 40)
        key = (view, state, pending, width)
        if key == self._last:
            return
        self._last = key
        badge, badge_style = STATE_BADGE.get(state, (state, "$text"))
        what = f"{view.model} × {view.workers}"
        work = f"{view.workload} {view.size} × {view.tasks}"
        interp = (
            f"Python {view.python}" + (f" · {view.gil}" if view.gil else "") if view.python else ""
        )
        line1 = Content.assemble(
            ("concviz ", "bold $accent"),
            (what, "bold"),
            "  ",
            (work, ""),
            "  ",
            (interp, "$text-muted"),
        )
        done = f"{view.done}/{view.tasks}"
        if view.failed:
            done += f" ({view.failed} failed)"
        eta = f" · ETA {fmt_duration(view.eta_s)}" if view.eta_s is not None else ""
        tail = f" {done} · {fmt_duration(view.elapsed_s)}{eta}"
        # Settings changed since this run: said on the progress line, which a narrow
        # terminal does not crop (the bar gives way).
        note = f"{pending}  " if pending else ""
        bar_width = max(10, width - len(badge) - len(note) - len(tail) - 4)
        line2 = Content.assemble(
            (badge, f"bold {badge_style}"),
            "  ",
            (note, "$warning"),
            (bar(view.fraction, bar_width), "$accent"),
            (tail, ""),
        )
        self.set_lines([line1, line2])


# -- timeline -----------------------------------------------------------------------


class Timeline(Widget):
    """One lane per worker; each task a bar from its start to its finish.

    Glyph density is the task's on-CPU share (█ computing … ░ waiting), so the
    GIL's picture survives a monochrome projector; ✗ marks a failed task;
    consecutive tasks alternate colour so their boundaries show. A row standing
    for many lanes is a bar as tall as their busy share: solid (▇) where that
    time was on CPU, dotted (⣿, the waiting colour) where it was waiting.
    """

    COMPONENT_CLASSES = {
        "timeline--a",
        "timeline--b",
        "timeline--run",
        "timeline--fail",
        "timeline--group",
        "timeline--wait",
        "timeline--label",
        "timeline--axis",
        "timeline--note",
    }
    DEFAULT_CSS = """
    Timeline { height: 1fr; min-height: 4; }
    Timeline > .timeline--a { color: $primary; }
    Timeline > .timeline--b { color: $primary-lighten-2; }
    Timeline > .timeline--run { color: $success; }
    Timeline > .timeline--fail { color: $error; text-style: bold; }
    Timeline > .timeline--group { color: $primary; }
    Timeline > .timeline--wait { color: $warning; }
    Timeline > .timeline--label { color: $foreground; }
    Timeline > .timeline--axis { color: $foreground-muted; }
    Timeline > .timeline--note { color: $foreground-muted; text-style: italic; }
    """

    LABEL_WIDTH = LABEL_CHARS + 1

    def __init__(self, legend: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.legend = legend
        self.view: TimelineView | None = None
        self.message = ""
        self._strips: list[Strip] = []
        self._style_cache: tuple[str, dict[str, Style]] | None = None
        #: Whether every style above is truecolor and none dim (see get_line_filters).
        self._truecolor = False
        #: The axis and legend lines as drawn, by their text (see _kept_line).
        self._kept: dict[tuple[Any, ...], Strip] = {}

    @property
    def columns(self) -> int:
        return max(1, self.size.width - self.LABEL_WIDTH - 1)

    @property
    def rows(self) -> int:
        return max(1, self.size.height - (2 if self.legend else 1))

    def show(self, view: TimelineView | None, message: str = "") -> None:
        """Takes a new view; repaints only the lines that changed.

        A full repaint of a large widget at 10 Hz is most of a dashboard's CPU;
        while a run goes, usually only the lanes' newest cells move.
        """
        if view == self.view and message == self.message:
            return
        self.view = view
        self.message = message
        if not self._strips or self.size.width == 0:
            self._strips = []
            self.refresh()
            return
        old = self._strips
        new = self._build()
        self._strips = new
        # Only the changed cells: a lane's newest few, not the bars it drew before.
        changed = changed_regions(old, new, self.size.width)
        if changed:
            self.refresh(*changed)

    def _styles(self) -> dict[str, Style]:
        """The bars' styles, worked out once per theme and CSS change (not at every tick)."""
        theme = self.app.theme
        if self._style_cache is not None and self._style_cache[0] == theme:
            return self._style_cache[1]
        base = self.rich_style
        styles = {
            name: base + self.get_component_rich_style(f"timeline--{name}", partial=True)
            for name in ("a", "b", "run", "fail", "group", "wait", "label", "axis", "note")
        }
        styles[""] = base
        self._style_cache = (theme, styles)
        self._truecolor = truecolor_only(styles.values())
        return styles

    def get_line_filters(self) -> Sequence[LineFilter]:
        """The app's filters, less ANSIToTruecolor where it would change nothing.

        That filter rebuilds every segment of every line it is handed, and a lane's
        bar is ~100 segments (one per task where tasks are a cell wide), three lines
        a lane, ten times a second: ~18 % of the compositor's time in a slow run.
        It only changes ANSI colours and dim text, and the bars' styles (checked
        once per theme) have neither.
        """
        filters = super().get_line_filters()
        self._styles()
        if not self._truecolor:
            return filters
        return [f for f in filters if not isinstance(f, ANSIToTruecolor)]

    def notify_style_update(self) -> None:
        self._style_cache = None
        self._kept.clear()
        super().notify_style_update()

    def _build(self) -> list[Strip]:
        st = self._styles()
        width = self.size.width
        view = self.view
        strips: list[Strip] = []
        if view is None:
            for paragraph in self.message.splitlines():
                for line in textwrap.wrap(paragraph, max(10, width - 4)) or [""]:
                    strips.append(Strip([Segment(("  " + line)[:width].ljust(width), st["note"])]))
            return strips
        # Few lanes get taller bars: easier to read from the back of a room.
        spare = max(1, self.size.height - 2)
        height = max(1, min(3, spare // max(1, len(view.rows))))
        single = _SINGLE_CELL
        pad = st[""]
        label_style = st["label"]
        blank = " " * self.LABEL_WIDTH
        for row in view.rows:
            segments: list[Segment] = []
            run_text: list[str] = []
            run_tone = None
            narrow = True
            for cell in row.cells:
                if cell.tone != run_tone and run_text:
                    segments.append(Segment("".join(run_text), st.get(run_tone or "", pad)))
                    run_text = []
                run_tone = cell.tone
                run_text.append(cell.glyph)
                if cell.glyph not in single:
                    narrow = False
            if run_text:
                segments.append(Segment("".join(run_text), st.get(run_tone or "", pad)))
            label = row.label[: self.LABEL_WIDTH - 1].rjust(self.LABEL_WIDTH - 1) + " "
            # A lane's lines differ only in their label: each kind is made once. With
            # its length known here (one-cell glyphs), Textual is spared measuring each
            # of ~100 segments, and padding it to the width (a second Strip).
            bar_length = len(row.cells) if narrow else None
            made: dict[str, Strip] = {}
            for k in range(height):
                text = label if k == height // 2 else blank
                strip = made.get(text)
                if strip is None:
                    parts = [Segment(text, label_style), *segments]
                    length = None if bar_length is None else cell_len(text) + bar_length
                    if length is not None and length < width:
                        parts.append(Segment(" " * (width - length), pad))
                        strip = Strip(parts, width)
                    else:
                        strip = Strip(parts, length).adjust_cell_length(width, pad)
                    made[text] = strip
                strips.append(strip)
        axis_label = f"{fmt_duration(view.start_s)}–{fmt_duration(view.end_s)}"
        strips.append(
            self._kept_line(
                (axis_label[: self.LABEL_WIDTH - 1].rjust(self.LABEL_WIDTH - 1) + " ", "axis"),
                (view.axis, "axis"),
            )
        )
        if self.legend:
            strips.append(self._kept_line((legend_line(view.note, width, view.legend), "note")))
        return strips

    def _kept_line(self, *runs: tuple[str, str]) -> Strip:
        """The axis or the legend: the same line as last time, unless its text changed."""
        key = (runs, self.size.width, self.app.theme)
        strip = self._kept.get(key)
        if strip is None:
            st = self._styles()
            line = Strip([Segment(text, st[style]) for text, style in runs])
            strip = line.adjust_cell_length(self.size.width, st[""])
            if len(self._kept) >= 8:  # a new scale, a new width: the old lines go
                self._kept.clear()
            self._kept[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        if not self._strips:
            self._strips = self._build()
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.rich_style)

    def on_resize(self) -> None:
        self._strips = []


#: The glyphs a bar is drawn with, each one cell wide (tests/test_widgets.py checks it).
_SINGLE_CELL = frozenset((*SHADES, *SPARKS, *WAIT_SPARKS, IDLE, FAILED))


def truecolor_only(styles: Iterable[Style]) -> bool:
    """No ANSI (palette) colours and no dim text: what ANSIToTruecolor would rewrite."""
    for style in styles:
        if style.dim:
            return False
        for color in (style.color, style.bgcolor):
            if color is not None and color.triplet is None:
                return False
    return True


LEGEND = "█ on CPU  ▓ ▒ ░ waiting (GIL, I/O)  ✗ failed"
SHORT_LEGEND = "█ CPU ▓▒░ waiting ✗ failed"
#: Grouped rows: the height is the busy share (the note says so); the glyph, what it
#: was; ✗ where any of the row's lanes failed.
GROUP_LEGEND = "▇ on CPU  ⣿ waiting (sleep, I/O, GIL, a core)  ✗ failed"
SHORT_GROUP_LEGEND = "▇ on CPU ⣿ waiting ✗ failed"
#: Where even that would cut the note: what the glyphs mean comes first.
SHORTEST_GROUP_LEGEND = "▇ on CPU ⣿ waiting"


def legend_line(note: str, width: int, kind: str = "lane") -> str:
    """The note and the glyph legend on one line: the legend shrinks before the note is cut.

    ``kind`` is the view's legend: "lane" (shade = on-CPU share) or "group".
    """
    legends = (
        (GROUP_LEGEND, SHORT_GROUP_LEGEND, SHORTEST_GROUP_LEGEND)
        if kind == "group"
        else (LEGEND, SHORT_LEGEND)
    )
    if not note:
        return legends[0] if len(legends[0]) <= width else legends[1][:width]
    for legend in legends:
        line = f"{note} · {legend}"
        if len(line) <= width:
            return line
    return note[:width]


# -- cores, workers, queue ------------------------------------------------------------


def cores_content(rows: list[CoreRowView], width: int, height: int) -> list[Content]:
    if not rows:
        return [Content.styled("waiting for the first sample…", "$text-muted")]
    total = cores_busy(rows)
    if len(rows) + 1 > height:  # many cores: one column per core, bar height = busy
        levels = "".join(spark([r.percent], 1, 100.0) for r in rows)
        return [Content.assemble((levels, "$accent"), f"  {total}")]
    bar_w = max(4, min(12, (width - 10) // 2))
    hist_w = max(0, width - bar_w - 12)
    lines = []
    for r in rows:
        lines.append(
            Content.assemble(
                (f"{r.label:<5}", "$text-muted"),
                (bar(r.percent / 100.0, bar_w), "$accent"),
                f" {r.percent:3.0f}% ",
                (spark(r.history, hist_w, 100.0), "$secondary"),
            )
        )
    if len(total) + 5 > width:
        total = total.removesuffix(" busy")  # narrow: it still reads as cores in use
    lines.append(Content.assemble(("all  ", "$text-muted"), total))
    return lines


def workers_content(view: WorkersView, width: int) -> list[Content]:
    if not view.rows:
        return [Content.styled("no worker running yet", "$text-muted")]
    label_w = 10
    rss_w = 9 if any(r.rss for r in view.rows) else 0
    bar_w = max(3, width - label_w - 5 - rss_w)
    lines = []
    for r in view.rows:
        # CPU, then (░) the time it was ready to run but every core was taken.
        cpu, waiting, rest = split_bar(r.percent / 100.0, r.waiting / 100.0, bar_w)
        drawn: list[tuple[str, str]] = (
            [(cpu, "$accent"), (waiting, "$warning"), (rest, "")]
            if waiting
            else [(cpu + rest, "$accent")]  # one span, as the bar was drawn before
        )
        lines.append(
            Content.assemble(
                (f"{r.label[: label_w - 1]:<{label_w}}", "$text-muted"),
                *drawn,
                f"{r.percent:4.0f}%",
                (f" {fmt_bytes(r.rss):>8}" if r.rss else " " * rss_w, "$text-muted"),
            )
        )
    if view.hidden:
        lines.append(Content.styled(f"… {view.hidden} more", "$text-muted"))
    # The sum against a one-core mark (│): the GIL's picture in one line.
    scale = max(200.0, view.total * 1.05)
    one = min(bar_w - 1, round(100.0 / scale * bar_w))
    filled = bar(view.total / scale, bar_w)
    marked = filled[:one] + "│" + filled[one + 1 :]
    lines.append(
        Content.assemble(
            (f"{'sum':<{label_w}}", "bold"),
            (marked, "bold $accent"),
            (f"{view.total:4.0f}%", "bold"),
        )
    )
    lines.append(Content.styled(f"= {view.total / 100:.2f} cores", "$text-muted"))
    return lines


#: The fewest samples the queue's sparkline shows before the peak's words go.
SPARK_MIN = 12


def queue_content(view: QueueView, width: int) -> list[Content]:
    kind = "in queue" if view.real_queue else "waiting"
    text = f" {kind} {view.depth}"
    peak = f" peak {view.peak}"
    if width < len(text) + len(peak) + SPARK_MIN:
        peak = ""  # a narrow panel: the sparkline first (the summary has the peak)
    return [
        Content.assemble(
            (spark(view.history, max(3, width - len(text) - len(peak))), "$accent"),
            (text, "bold"),
            (peak, "$text-muted"),
        )
    ]


#: Workloads whose --task-ms is CPU time turned into work by calibration.
CALIBRATED = frozenset(
    name for name, info in CATALOG.items() if info.calibrations and info.nature == "cpu"
)


def _task_cpu_hints(s: Summary) -> tuple[str, bool, str]:
    """The worker CPU row's hint: the median task CPU, next to what --task-ms asked
    for where the workload's size is calibrated CPU time (so any drift shows)."""
    median = s.task_cpu_ms_median
    if median is None:
        return "", False, ""
    per_task = f" {median:.3g} ms/task"
    if s.iterations is None and s.workload in CALIBRATED:
        return f"{per_task} (asked {s.task_ms:g})", False, per_task
    return per_task, False, per_task


def summary_content(
    s: Summary, final: bool, compact: bool = False, width: int | None = None
) -> list[Content]:
    """The summary's rows; in a panel narrower than a row, its words after the figure go.

    A hint that is a figure itself (throughput, events lost) stays and may wrap.
    """

    def row(label: str, value: str, hint: str = "", keep: bool = False, short: str = "") -> Content:
        if not keep and width is not None and 12 + len(value) + len(hint) > width:
            hint = short if 12 + len(value) + len(short) <= width else ""
        return Content.assemble(
            (f"{label:<12}", "$text-muted"), (value, "bold"), (hint, "$text-muted")
        )

    lines = [row("done", f"{s.completed}/{s.tasks}", " ok")]
    if s.failed:
        lines.append(
            row(
                "failed",
                str(s.failed),
                " ✗",
            )
        )
    if s.cancelled:
        lines.append(row("cancelled", str(s.cancelled)))
    lines += [
        row("wall", fmt_seconds(s.wall_s), f" {s.throughput:,.0f}/s", keep=True),
        row("parallelism", f"{s.parallelism:.2f}", " cores"),
        row("on-CPU", f"{s.on_cpu_fraction:.0%}"),
        *(
            [row("core wait", f"{s.core_wait_fraction:.0%}", " no core free")]
            if s.core_wait_fraction is not None and s.completed
            else []
        ),
        row("peak queue", str(s.peak_queue_depth)),
        row("in flight", str(s.peak_in_flight), " at most"),
    ]
    if s.peak_memory:
        lines.append(row("memory", fmt_bytes(s.peak_memory), " at peak"))
    if s.memory_per_task is not None:
        times = f" × {s.memory_tasks:,}"  # per task × tasks = the growth
        lines.append(
            row("per task", fmt_memory_per_task(s), f"{times} {s.memory_tasks_basis}", short=times)
        )
    if s.producer_wait_s >= 0.001:
        lines.append(row("producer", fmt_seconds(s.producer_wait_s), " blocked"))
    if s.worker_startup_s is not None:
        lines.append(row("start-up", fmt_seconds(s.worker_startup_s), " each"))
    if s.result:
        lines.append(Content.styled(describe_result(s.result), "bold $accent"))
    # What went wrong before the details: a panel of fixed height cuts its last rows.
    if s.run_error:
        lines.append(Content.styled(s.run_error, "$error"))
    for message in s.transport_errors[:1]:
        lines.append(Content.styled(message, "$error"))
    for counts, style in ((s.errors, "$error"), (s.warnings, "$warning")):
        if counts:  # the most frequent, and how many other kinds there were
            message, count = next(iter(counts.items()))
            more = f" (+{len(counts) - 1} kinds)" if len(counts) > 1 else ""
            lines.append(Content.styled(f"{count}× {message}{more}", style))
    # How much of the Cores panel is concviz's own work: said even when compact.
    if s.observer_cpu is not None:
        lines.append(row("concviz", f"{s.observer_cpu:.0%}", " of a core", short=" CPU"))
    if not compact:
        lines += [
            row("worker CPU", fmt_seconds(s.cpu_s), *_task_cpu_hints(s)),
            row("events", f"{s.events:,}", f" {s.dropped_events} lost", keep=True),
        ]
        if s.core_utilisation and final:
            lines.append(row("cores", " ".join(f"{u:.0f}%" for u in s.core_utilisation)))
    return lines


def findings_subtitle(s: Summary, width: int) -> str:
    """The pitfalls the run's figures show (concviz.findings), for the summary's border.

    On the border, not in the panel: a panel of fixed height would cut its last
    rows. With their figures where they fit, else their names, else how many.
    """
    if not s.findings:
        return ""
    room = width - 6  # the corners and the title's margin
    for text in (
        " · ".join(f"⚑ {f['title']}: {f['short']}" for f in s.findings),
        " · ".join(f"⚑ {f['title']}" for f in s.findings),
        " · ".join(f"⚑ {f['code']}" for f in s.findings),
    ):
        if len(text) <= room:
            return text
    return f"⚑ {len(s.findings)} findings"


def events_content(events: list[EventLine]) -> Content:
    if not events:
        return Content.styled("no events yet", "$text-muted")
    lines = []
    for e in events:
        task = f"task {e.task}" if e.task is not None else ""
        lines.append(
            Content.assemble(
                (f"{e.t_s:8.3f}s ", "$text-muted"),
                (f"{e.what:<12}", "$error bold" if e.failed else "bold"),
                f" {task:<10} ",
                (e.where, "$text-muted"),
                (f"  {e.detail}" if e.detail else "", "$error" if e.failed else ""),
            )
        )
    return Content("\n").join(lines)


def code_renderable(source: str, title: str) -> Syntax:
    # Imported here: Pygments is not needed until the code panel is first shown
    # (the app warms it after start-up); at import it would delay the first frame.
    from rich.syntax import Syntax  # noqa: PLC0415

    return Syntax(
        source,
        "python",
        theme="ansi_dark",
        line_numbers=True,
        word_wrap=False,
        background_color="default",
    )
