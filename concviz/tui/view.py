"""What each panel shows, computed from a run's aggregate: plain Python, no Textual.

The dashboard's widgets only turn these view models into text. Everything
here is a pure function of an aggregate (read under its lock) and a clock, so
it is unit-tested without a terminal, and replays render exactly like live runs.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

from ..observer.aggregate import RunAggregate, spec_iterations
from ..observer.timeline import BIN_NS, BLOCK_SEALED_NS, Lane, run_end_bin
from ..runner.protocol import RECORD, Kind, Status
from ..runner.spec import RunSpec
from ..workloads import describe_size

SPARKS = "▁▂▃▄▅▆▇█"
#: A grouped row's bar where its lanes were busy but mostly not on CPU (asleep,
#: awaiting I/O, waiting for the GIL): as tall as the busy share, but dotted, so
#: it cannot be read as computing, in colour or not.
WAIT_SPARKS = "⡀⣀⣄⣤⣦⣶⣷⣿"
#: A grouped cell is drawn as on CPU when at least this share of its busy time was.
GROUP_CPU_SHARE = 0.5
#: On-CPU shading, from waiting (light) to computing (solid). Density carries
#: the meaning, so it survives a monochrome projector.
SHADES = ("░", "▒", "▓", "█")
IDLE = " "
SPARSE = "·"
FAILED = "✗"
#: The timeline's scale while a run goes, in seconds (see timeline_view).
FIT_STEPS_S = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900)
#: Characters a row's label may use (the widget pads it to one more).
LABEL_CHARS = 13


def spark(values: Sequence[float], width: int, top: float | None = None) -> str:
    """The last ``width`` values as a one-line sparkline scaled to ``top``."""
    if width <= 0:
        return ""
    values = list(values)[-width:]
    high = top if top is not None else max(values, default=0.0)
    if high <= 0:
        return SPARKS[0] * len(values) + " " * (width - len(values))
    out = []
    for v in values:
        level = min(len(SPARKS) - 1, max(0, math.ceil(v / high * len(SPARKS)) - 1))
        out.append(SPARKS[level] if v > 0 else " ")
    return " " * (width - len(values)) + "".join(out)


def bar(fraction: float, width: int) -> str:
    """A horizontal bar with eighth-cell resolution."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest else ""
    return ("█" * full + partial).ljust(width)


def split_bar(first: float, second: float, width: int) -> tuple[str, str, str]:
    """Two shares of one bar: the first with eighth-cell resolution, then the second
    in whole cells (it starts in the first's partial cell's wake), then the blank rest."""
    head = bar(first, width).rstrip()
    cells = min(width - len(head), round(min(max(second, 0.0), 1.0) * width))
    return head, "░" * cells, " " * (width - len(head) - cells)


def fmt_duration(s: float) -> str:
    if s <= 0:
        return "0s"
    if s < 0.001:
        return f"{s * 1e6:.0f}µs"
    if s < 1:
        return f"{s * 1e3:.0f}ms"
    if s < 60:
        return f"{s:.1f}s"
    return f"{int(s // 60)}m{int(s % 60):02d}s"


# -- header ----------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderView:
    model: str
    workload: str
    workers: int
    tasks: int
    #: Each task's size as the run was asked for it ('20 ms', '150 iterations').
    size: str
    python: str
    gil: str
    state: str
    elapsed_s: float
    done: int
    failed: int
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return self.done / self.tasks if self.tasks else 0.0


def idle_header(spec: RunSpec, python: str = "") -> HeaderView:
    """The header before anything has run: the settings and the chosen interpreter."""
    return HeaderView(
        model=spec.model,
        workload=spec.workload,
        workers=spec.workers,
        tasks=spec.tasks,
        size=spec.size,
        python=python,
        gil="",
        state="idle",
        elapsed_s=0.0,
        done=0,
        failed=0,
        eta_s=None,
    )


def header_view(agg: RunAggregate, now_ns: int) -> HeaderView:
    spec = agg.spec
    meta = agg.meta
    gil = meta.get("gil_enabled")
    finished = agg.completed + agg.failed + agg.cancelled + agg.stopped
    tasks = int(spec.get("tasks", 0))
    elapsed = agg.wall_ns(now_ns) / 1e9
    eta = None
    if agg.status == "running" and agg.completed + agg.failed > 0 and tasks > finished:
        eta = elapsed / (agg.completed + agg.failed) * (tasks - finished)
    return HeaderView(
        model=str(spec.get("model", "?")),
        workload=str(spec.get("workload", "?")),
        workers=int(spec.get("workers", 0)),
        tasks=tasks,
        size=describe_size(
            str(spec.get("workload", "?")),
            float(spec.get("task_ms", 0.0)),
            spec_iterations(spec),
            spec.get("task"),
        ),
        python=str(meta.get("python", "")),
        gil="" if gil is None else ("GIL on" if gil else "GIL off"),
        state=agg.status,
        elapsed_s=elapsed,
        done=agg.completed + agg.failed,  # what ran: a stopped run's cancelled tasks did not
        failed=agg.failed,
        eta_s=eta,
    )


# -- timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    glyph: str
    #: "a"/"b" alternate between consecutive tasks (a cell takes the tone of the
    #: task covering most of it, else "a"); "fail", "run" (in flight),
    #: "group" (aggregated rows, busy on CPU), "wait" (aggregated rows, busy
    #: waiting) or "" (idle).
    tone: str


_IDLE_CELL = Cell(IDLE, "")
#: One Cell per (glyph, tone): a frozen dataclass is slow to build (~80 cells a lane
#: per refresh), and equal cells that are one object compare at once.
_CELLS: dict[tuple[str, str], Cell] = {}


def _cell(glyph: str, tone: str) -> Cell:
    cell = _CELLS.get((glyph, tone))
    if cell is None:
        cell = _CELLS[glyph, tone] = Cell(glyph, tone)
    return cell


@dataclass(frozen=True)
class TimelineRow:
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class TimelineView:
    rows: list[TimelineRow]
    start_s: float
    end_s: float
    lanes: int
    #: How many lanes each row stands for (1 unless there were too many to show).
    per_row: int
    note: str = ""
    axis: str = ""
    ticks: list[tuple[int, str]] = field(default_factory=list)
    #: Which glyph legend explains the rows: "lane" (density = on-CPU share) or
    #: "group" (height = busy share; solid on CPU, dotted waiting).
    legend: str = "lane"


@dataclass
class Settled:
    """One lane's leading cells that can no longer change: sums, tones and glyphs."""

    busy: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tone: list[str] = field(default_factory=list)
    #: Filled by the view as it draws them (may lag the sums by a refresh).
    cells: list[Cell] = field(default_factory=list)


@dataclass
class GroupCells:
    """A grouped row's settled cells, and which lanes (key, bins revision) they sum."""

    members: set[tuple[int, int, int, int, int]]
    cells: list[float]
    #: The same cells' summed on-CPU share.
    cpu: list[float] = field(default_factory=list)


@dataclass
class TimelineCache:
    """Per-lane cells that can no longer change, kept between refreshes.

    Valid for one (t0, cell width) geometry; the fitted scale changes in steps,
    so between steps every refresh only computes the newest cells.
    """

    geometry: tuple[int, float, int] | None = None
    #: lane key -> (bins revision, its settled cells)
    lanes: dict[tuple[int, int, int, int], tuple[int, Settled]] = field(default_factory=dict)
    #: A row standing for many lanes (its first packed row, lanes per row) -> the
    #: summed occupancy of its leading cells that can no longer change.
    groups: dict[tuple[int, int], GroupCells] = field(default_factory=dict)

    def for_geometry(self, t0: int, dt: float, columns: int) -> TimelineCache:
        if self.geometry != (t0, dt, columns):
            self.geometry = (t0, dt, columns)
            self.lanes.clear()
            self.groups.clear()
        return self

    def settled(self, lane: Lane) -> Settled:
        key = (lane.pid, lane.tid, lane.slot, lane.up_ns)
        entry = self.lanes.get(key)
        if entry is None or entry[0] != lane.bins_revision:
            entry = (lane.bins_revision, Settled())
            self.lanes[key] = entry
        return entry[1]


@dataclass
class _Acc:
    busy: list[float]
    cpu: list[float]
    tone: list[str]
    #: Busy time whose CPU share is not known yet (a coroutine still running).
    unknown: list[float]
    #: The leading cells taken as they were from the cache (they cannot change).
    fixed: int = 0
    settled: Settled | None = None


#: On a lane whose newest tasks are far shorter than a cell, the timeline walks
#: only this many of them; the rest of the window comes from the busy bins.
DENSE_WALK = 16


def _shade(busy: float, cpu: float, unknown: float, width: float) -> str:
    occupancy = (busy + unknown) / width if width > 0 else 0.0
    if occupancy < 0.05:
        return IDLE
    if occupancy < 0.3:
        return SPARSE
    if unknown > busy:
        return SHADES[1]
    fraction = cpu / busy if busy > 0 else 0.0
    if fraction >= 0.75:
        return SHADES[3]
    if fraction >= 0.4:
        return SHADES[2]
    if fraction >= 0.1:
        return SHADES[1]
    return SHADES[0]


def _accumulate(
    agg: RunAggregate,
    lane: Lane,
    t0: int,
    t1: int,
    columns: int,
    now_ns: int,
    live_cpu: float | None,
    flip: int = 0,
    cache: TimelineCache | None = None,
    settled_ns: int | None = None,
    from_cell: int = 0,
) -> _Acc:
    """Busy and on-CPU ns per cell for one lane over [t0, t1).

    The newest spans are drawn one by one (exact bars, task boundaries, failure
    marks), but at most a few per column: where tasks are far shorter than a
    cell, the rest of the window comes from the lane's 10 ms busy bins. So a
    refresh costs about the same whatever the event rate. Cells before
    ``from_cell`` are left out (the caller has them): spans that ended before
    it are not walked.
    """
    dt = (t1 - t0) / columns
    region = t0 + from_cell * dt
    busy = [0.0] * columns
    cpu = [0.0] * columns
    tone = [""] * columns
    unknown = [0.0] * columns
    # The largest share of each cell that one task covers, and that task's tone.
    # A cell takes a task's tone only if that task covers most of it: where
    # several tasks share a cell, alternating tones would be stripes of noise.
    widest = [0.0] * columns
    widest_tone = [""] * columns

    def add(s: int, e: int, cpu_frac: float | None, mark: str) -> None:
        # max() and min() spelled out here too: ~60 calls a lane in a slow run's refresh
        if s < t0:  # noqa: PLR1730
            s = t0
        if e > t1:  # noqa: PLR1730
            e = t1
        if e <= s:
            return
        first = int((s - t0) / dt)
        last = int((e - t0) / dt)
        if last >= columns:
            last = columns - 1
        for i in range(first, last + 1):
            # max() and min() spelled out: a thousand lanes make this the hot loop
            lo: float = t0 + i * dt
            if s > lo:  # noqa: PLR1730
                lo = s
            hi: float = t0 + (i + 1) * dt
            if e < hi:  # noqa: PLR1730
                hi = e
            if hi > lo:
                if cpu_frac is None:
                    unknown[i] += hi - lo
                else:
                    busy[i] += hi - lo
                    cpu[i] += (hi - lo) * cpu_frac
                if mark == "run":  # the task in flight shows wherever it is
                    if tone[i] != "fail":
                        tone[i] = mark
                elif hi - lo > widest[i]:
                    widest[i] = hi - lo
                    widest_tone[i] = mark

    covered_from = t1
    budget = columns
    # Consecutive tasks on a lane alternate tone, so their boundaries show.
    sequence = lane.done + lane.failed + flip
    newest_end = None
    # Only where the bins (BIN_NS) are as fine as the cells: zoomed in, spans draw it all.
    dense_after = DENSE_WALK if dt >= BIN_NS else budget
    for k, (_task, s, e, c, status, _part) in enumerate(reversed(lane.spans)):
        if e < region:
            covered_from = t0  # everything older ended before the cells asked for
            break
        if k >= budget:
            break
        if newest_end is None:
            newest_end = e
        elif k >= dense_after and newest_end - s < dt / 4:
            # Tasks far shorter than a cell: a cell holds too many to draw one by one,
            # and the bins have them all (failures included). Walk no further.
            break
        covered_from = s
        wall = max(e - s, 1)
        mark = "ab"[(sequence - k) % 2]
        cell = int((s - t0) / dt) if s >= t0 else -1
        if 0 <= cell < columns and e <= t0 + (cell + 1) * dt:
            # the common case when tasks are shorter than a cell: no loop, no call
            if e > s:
                busy[cell] += e - s
                cpu[cell] += (e - s) * min(c / wall, 1.0)
                if e - s > widest[cell]:
                    widest[cell] = e - s
                    widest_tone[cell] = mark
        else:
            add(s, e, min(c / wall, 1.0), mark)
        if status == Status.ERROR and t0 <= e < t1:
            tone[min(columns - 1, int((e - t0) / dt))] = "fail"
    else:
        if lane.spans.maxlen is None or len(lane.spans) < lane.spans.maxlen:
            covered_from = t0  # the ring holds the lane's whole history: nothing older
    half = dt / 2
    for i in range(max(from_cell, int((covered_from - t0) / dt)), columns):  # the cells walked
        width = widest[i]
        if width and tone[i] != "fail":
            tone[i] = widest_tone[i] if width > half else "a"
    fixed = 0
    settled = cache.settled(lane) if cache is not None else None
    # What the spans walked did not reach: the bins (every finished span is in them).
    if covered_from > region and (lane.busy_bins or lane.blocks or lane.runs):
        edge = covered_from // BIN_NS * BIN_NS  # whole bins only: no double counting
        sealed_until = now_ns - BLOCK_SEALED_NS if settled_ns is None else settled_ns
        if settled is not None:
            # Cells that can no longer change come as they were: slices, not a loop.
            fixed = len(settled.busy)
            while fixed and int(t0 + fixed * dt) > edge:
                fixed -= 1
            busy[:fixed] = settled.busy[:fixed]
            cpu[:fixed] = settled.cpu[:fixed]
            tone[:fixed] = settled.tone[:fixed]
        for i in range(max(fixed, from_cell), columns):
            lo = int(t0 + i * dt)
            cell_end = int(t0 + (i + 1) * dt)
            hi = min(cell_end, edge)
            if hi <= lo:
                break
            b_busy, b_cpu = agg.busy_between(lane, lo, hi)
            if b_busy:
                busy[i] += b_busy
                cpu[i] += b_cpu
                tone[i] = tone[i] or "a"
            if agg.failed_between(lane, lo, hi):
                tone[i] = "fail"
            if (
                settled is not None
                and i == fixed == len(settled.busy)
                and hi == cell_end
                and _bins_end(cell_end) <= sealed_until
            ):
                settled.busy.append(busy[i])
                settled.cpu.append(cpu[i])
                settled.tone.append(tone[i])
                fixed += 1
    if lane.current_task is not None:
        frac = None if live_cpu is None else min(live_cpu / 100.0, 1.0)
        add(lane.current_start, now_ns, frac, "run")
    return _Acc(busy, cpu, tone, unknown, fixed, settled)


def _bins_end(cell_end: int) -> int:
    """Where the last bin that a cell ending at ``cell_end`` reads from ends.

    A cell takes a share of each bin it overlaps, and a bin can still grow after
    the cell's end (a task that starts later in the same 10 ms): the cell is final
    only once its last bin is.
    """
    return -(-cell_end // BIN_NS) * BIN_NS


def _pack(lanes: list[Lane], t1: int) -> list[list[Lane]]:
    """Puts lanes whose lifetimes do not overlap on the same row (thread-per-task)."""
    rows: list[list[Lane]] = []
    ends: list[int] = []
    # Rows whose last lane has gone, in row order: the only ones a lane can join
    # (a thousand live asyncio slots would otherwise each scan every row).
    free: list[int] = []
    for lane in sorted(lanes, key=lambda ln: (ln.up_ns, ln.index)):
        end = lane.down_ns if lane.down_ns is not None else t1 + 1
        for n, i in enumerate(free):
            if ends[i] < lane.up_ns:
                rows[i].append(lane)
                ends[i] = end
                if lane.down_ns is None:
                    del free[n]
                break
        else:
            if lane.down_ns is not None:
                free.append(len(rows))
            rows.append([lane])
            ends.append(end)
    return rows


def _tick_label(at: float, step: float) -> str:
    """A tick's time, with as many decimals as the step needs: neighbours never read alike."""
    if not at:
        return "0"
    if step >= 1:
        return f"{at:g}s"
    if at < 1:
        return fmt_duration(at)
    decimals = max(1, -math.floor(math.log10(step) + 1e-9))
    return f"{at:.{decimals}f}s"


def _axis(t0: int, t1: int, columns: int, origin: int) -> tuple[str, list[tuple[int, str]]]:
    span_s = (t1 - t0) / 1e9
    raw = span_s / max(1, columns // 10)
    step = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for mult in (1, 2, 5, 10):
        if step * mult >= raw:
            step *= mult
            break
    chars = [" "] * columns
    ticks: list[tuple[int, str]] = []
    first = math.ceil((t0 - origin) / 1e9 / step) * step
    k = 0
    while True:
        at = first + k * step
        k += 1
        col = int(((origin + at * 1e9) - t0) / (t1 - t0) * columns)
        if col >= columns:
            break
        if col < 0:
            continue
        label = _tick_label(at, step)
        if all(c == " " for c in chars[col : col + len(label) + 1]) and col + len(label) <= columns:
            chars[col] = "╵"
            for j, ch in enumerate(label[: columns - col - 1]):
                chars[col + 1 + j] = ch
            ticks.append((col, label))
    return "".join(chars), ticks


def timeline_view(
    agg: RunAggregate,
    now_ns: int,
    columns: int,
    max_rows: int,
    window_s: float | None = None,
    end_ns: int | None = None,
    cache: TimelineCache | None = None,
) -> TimelineView:
    """The lanes over a time window; ``window_s=None`` fits the whole run so far."""
    columns = max(columns, 1)
    max_rows = max(max_rows, 1)
    origin = agg.run_start_ns
    if origin is None:
        origin = min((lane.up_ns for lane in agg.lane_list), default=now_ns)
    stop = agg.run_end_ns if agg.run_end_ns is not None else now_ns
    t1 = end_ns if end_ns is not None else stop
    if window_s is None:
        elapsed = max(t1 - origin, 1)
        if agg.run_end_ns is not None:
            window_ns = max(int(elapsed * 1.02), 1_000_000_000)
        else:
            # While running, the scale grows in steps: between steps the axis and the
            # bars drawn so far stay put, and only the newest cells change.
            window_ns = next(
                (int(w * 1e9) for w in FIT_STEPS_S if w * 1e9 >= elapsed * 1.05),
                int(elapsed * 1.25),
            )
        t0 = origin
        t1 = origin + window_ns
    else:
        window_ns = int(window_s * 1e9)
        t1 = max(t1, origin + window_ns) if end_ns is None else t1
        t0 = t1 - window_ns
    visible = [
        lane
        for lane in agg.lane_list
        if lane.up_ns <= t1 and (lane.down_ns is None or lane.down_ns >= t0) and _ran(lane)
    ]
    packed = _pack(visible, t1)
    live = _live_cpu(agg)
    if cache is not None:
        cache = cache.for_geometry(t0, (t1 - t0) / columns, columns)
    per_row = max(1, math.ceil(len(packed) / max_rows))
    # What can no longer change: kept per lane, and a grouped row's sealed cells
    # come from the bins whether kept or not.
    settled = agg.settled_before(now_ns) if cache is not None or per_row > 1 else {}
    rows: list[TimelineRow] = []
    kinds = {agg.lane_kind(lane) for lane in visible}
    dt = (t1 - t0) / columns

    def lane_cells(lane: Lane, live_cpu: float | None, flip: int = 0) -> _Acc:
        return _accumulate(
            agg,
            lane,
            t0,
            t1,
            columns,
            now_ns,
            live_cpu,
            flip=flip,
            cache=cache,
            settled_ns=settled.get(lane.index),
        )

    # Cells that start after now hold nothing yet (a fitted window runs ahead of now).
    future = max(0, math.ceil((now_ns - t0) / dt)) if now_ns < t1 else columns
    if per_row == 1:
        for group in packed:
            accs = [
                lane_cells(lane, live.get((lane.pid, lane.tid)), position)
                for position, lane in enumerate(group)
            ]
            prefix: list[Cell] = []
            if len(accs) == 1:
                acc = accs[0]
                if acc.settled is not None:
                    prefix = acc.settled.cells
            else:  # short-lived threads packed on one row: their cells add up
                acc = _Acc(
                    [sum(col) for col in zip(*(a.busy for a in accs), strict=True)],
                    [sum(col) for col in zip(*(a.cpu for a in accs), strict=True)],
                    [
                        next((t for t in col if t), "")
                        for col in zip(*(a.tone for a in accs), strict=True)
                    ],
                    [sum(col) for col in zip(*(a.unknown for a in accs), strict=True)],
                )
            # Settled cells were drawn on an earlier refresh: only the rest is new.
            reuse = min(len(prefix), acc.fixed)
            cells = prefix[:reuse]
            for i in range(reuse, min(columns, future)):
                b, tone = acc.busy[i], acc.tone[i]
                glyph = FAILED if tone == "fail" else _shade(b, acc.cpu[i], acc.unknown[i], dt)
                cell = _cell(glyph, tone if glyph != IDLE else "")
                cells.append(cell)
                if i == len(prefix) and i < acc.fixed:
                    prefix.append(cell)
            cells.extend(repeat(_IDLE_CELL, columns - len(cells)))
            label = agg.lane_label(group[-1])
            if len(group) > 1:  # short-lived threads, one after another on this row
                label = f"{len(group)} threads"
            rows.append(TimelineRow(label, cells))
        note = ""
    else:
        shared = cache.groups if cache is not None else {}
        noun = "slots" if kinds == {"slot"} else "rows"
        last = len(packed) - 1
        if len(f"{noun} {last - last % per_row}–{last}") > LABEL_CHARS:
            noun = ""  # too long for the widest row's label: every row drops it alike
        limit = min(columns, future)  # later cells hold nothing yet
        for start in range(0, len(packed), per_row):
            groups = packed[start : start + per_row]
            occupancy, on_cpu = _group_occupancy(
                agg, groups, t0, t1, columns, limit, now_ns, shared, (start, per_row), settled, live
            )
            n = len(groups)
            cells = [group_cell(occupancy[i] / n, on_cpu[i] / n) for i in range(columns)]
            for i in _group_failures(agg, groups, t0, t1, columns):
                cells[i] = _FAILED_GROUP_CELL  # as a single lane marks it: any lane's failure
            rows.append(TimelineRow(_group_label(start, n, noun), cells))
        note = f"{len(packed)} lanes, {per_row} per row: bar height = share of them busy"
    axis, ticks = _axis(t0, t1, columns, origin)
    if not note and len(kinds) == 1 and "slot" in kinds:
        note = "lanes are asyncio task slots on one thread"
    return TimelineView(
        rows=rows,
        start_s=(t0 - origin) / 1e9,
        end_s=(t1 - origin) / 1e9,
        lanes=len(visible),
        per_row=per_row,
        note=note,
        axis=axis,
        ticks=ticks,
        legend="group" if per_row > 1 else "lane",
    )


#: A grouped row's cells, one per height (made once: a refresh draws thousands).
_ON_CPU_CELLS = tuple(Cell(glyph, "group") for glyph in SPARKS)
_WAITING_CELLS = tuple(Cell(glyph, "wait") for glyph in WAIT_SPARKS)


def group_cell(busy: float, cpu: float) -> Cell:
    """A grouped row's cell from its lanes' mean busy and on-CPU shares (0..1).

    Its height is the busy share; whether that busy time was spent on CPU picks
    the glyphs and the tone, so sleeping lanes never look like computing ones.
    """
    if busy < 0.02:
        return _IDLE_CELL
    level = min(7, max(0, math.ceil(busy * 8) - 1))
    if cpu >= GROUP_CPU_SHARE * busy:
        return _ON_CPU_CELLS[level]
    return _WAITING_CELLS[level]


_FAILED_GROUP_CELL = Cell(FAILED, "fail")


def _group_failures(
    agg: RunAggregate, groups: list[list[Lane]], t0: int, t1: int, columns: int
) -> set[int]:
    """The cells of a grouped row in which a task (or an attempt) of any of its lanes failed.

    Where bins are kept, from each lane's failure bins: a failure marks the cell
    its bin starts in, as :meth:`RunAggregate.failed_between` does for a single
    lane. Else from the spans: the cell its span ended in.
    """
    dt = (t1 - t0) / columns
    failed: set[int] = set()
    for group in groups:
        for lane in group:
            if agg.track_bins:
                for b in lane.fail_bins:
                    at = b * BIN_NS
                    if not t0 <= at < t1:
                        continue
                    i = min(columns - 1, int((at - t0) // dt))
                    # float edges, as the cells have them: lo = int(t0 + i * dt)
                    while i > 0 and int(t0 + i * dt) > at:
                        i -= 1
                    while i < columns - 1 and int(t0 + (i + 1) * dt) <= at:
                        i += 1
                    failed.add(i)
                continue
            for span in reversed(lane.spans):
                end = span[2]
                if end < t0:
                    break
                if span[4] == Status.ERROR and end < t1:
                    failed.add(min(columns - 1, int((end - t0) / dt)))
    return failed


def _group_label(start: int, n: int, noun: str) -> str:
    """``slots 0–499``, or without the noun (the note names the unit) where it would not fit."""
    span = f"{start}–{start + n - 1}" if n > 1 else str(start)
    return f"{noun} {span}" if noun else span


def _group_occupancy(
    agg: RunAggregate,
    groups: list[list[Lane]],
    t0: int,
    t1: int,
    columns: int,
    limit: int,
    now_ns: int,
    shared: dict[tuple[int, int], GroupCells],
    key: tuple[int, int],
    settled: dict[int, int],
    live: dict[tuple[int, int], float],
) -> tuple[list[float], list[float]]:
    """How busy a row of many lanes is per cell, and how much of that on CPU: the
    sums of each lane's busy and on-CPU shares.

    A task in flight has no CPU figure yet: it counts its thread's latest
    sampled CPU, shared among the thread's lanes in flight (none if unsampled).

    With a thousand lanes this is most of a refresh. So a cell no lane of the
    row can change any more (it ends before every lane's settled time) is summed
    from the lanes' bins once and kept; lanes joining the row add their share.
    The open cells come from the bins too, for the lanes active in them, plus
    each one's task in flight (from the spans only where no bins are kept).
    """
    dt = (t1 - t0) / columns
    members = {
        (ln.pid, ln.tid, ln.slot, ln.up_ns, ln.bins_revision): ln for g in groups for ln in g
    }
    sealed = 0
    if agg.track_bins and members:
        edge = min(settled.get(lane.index, now_ns) for lane in members.values())
        while sealed < limit and _bins_end(int(t0 + (sealed + 1) * dt)) <= edge:
            sealed += 1
    kept = shared.get(key)
    if kept is None or not kept.members <= members.keys():
        kept = GroupCells(set(), [])
    first = min(len(kept.cells), sealed, len(kept.cpu))
    cells = kept.cells[:first]
    cpus = kept.cpu[:first]

    def from_bins(lane: Lane, lo_cell: int, hi_cell: int) -> None:
        bins = lane.busy_bins
        if not bins and not lane.blocks and not lane.runs:
            return
        get = bins.get
        get_cpu = lane.cpu_bins.get
        folded = lane.fine_from * BIN_NS  # before it only blocks: busy_between reads them
        # Its bins lie between its start and its last finish: only the cells that
        # read them (a cell takes a share of every bin it overlaps, whole bins).
        # (max() and min() spelled out: called for every lane, every refresh)
        cell = int((lane.up_ns // BIN_NS * BIN_NS - t0) // dt)
        if cell > lo_cell:  # noqa: PLR1730
            lo_cell = cell
        cell = int(((lane.last_finish_ns // BIN_NS + 1) * BIN_NS - t0) // dt) + 1
        if cell < hi_cell:  # noqa: PLR1730
            hi_cell = cell
        if hi_cell <= lo_cell:
            return
        # Its runs (bins covered whole), walked alongside the cells: one or two a cell.
        runs = lane.runs
        n_runs = r = len(runs)
        first_bin = int(t0 + lo_cell * dt) // BIN_NS
        # The first run ending past the first cell's bin. The open cells are the
        # newest, their runs the last few: looked for from the end first.
        while r and runs[r - 1][1] > first_bin and n_runs - r < 4:
            r -= 1
        if r and runs[r - 1][1] > first_bin:
            r = bisect_right(runs, first_bin, 0, r, key=run_end_bin)
        # Few bins against many places to look them up (long tasks: two bins each,
        # the rest runs): each bin goes to its cells instead.
        spread = int(dt * (hi_cell - lo_cell)) // BIN_NS
        sparse = sparse_cpu = None
        if len(bins) * 4 < spread:
            sparse, sparse_cpu = _bins_by_cell(bins, lane.cpu_bins, t0, dt, lo_cell, hi_cell)
        hi = int(t0 + lo_cell * dt)
        for i in range(lo_cell, hi_cell):
            # busy_between's sum, spelled for speed: every lane's new cells come here
            lo = hi  # the previous cell's end, as int(t0 + i * dt) gives it
            hi = int(t0 + (i + 1) * dt)
            if lo < folded:
                busy, cpu = agg.busy_between(lane, lo, hi)
                share = busy / dt
                cells[i] += share if share < 1.0 else 1.0  # min() spelled out: the hot loop
                share = cpu / dt
                cpus[i] += share if share < 1.0 else 1.0
                continue
            if sparse is not None and sparse_cpu is not None:
                busy = sparse[i - lo_cell]
                cpu = sparse_cpu[i - lo_cell]
            else:
                b_first = lo // BIN_NS
                b_last = (hi - 1) // BIN_NS
                value = get(b_first)
                busy = cpu = 0.0
                if value:
                    head = (min(hi, (b_first + 1) * BIN_NS) - lo) / BIN_NS
                    busy = value * head
                    cpu = get_cpu(b_first, 0) * head
                if b_last > b_first:
                    whole = range(b_first + 1, b_last)
                    busy += sum(filter(None, map(get, whole)))  # whole bins
                    cpu += sum(filter(None, map(get_cpu, whole)))
                    value = get(b_last)
                    if value:
                        tail = (hi - b_last * BIN_NS) / BIN_NS
                        busy += value * tail
                        cpu += get_cpu(b_last, 0) * tail
            while r < n_runs:
                run = runs[r]
                run_lo = run[0] * BIN_NS
                if run_lo >= hi:
                    break
                run_hi = run[1] * BIN_NS
                if run_hi > lo:
                    overlap = (run_hi if run_hi < hi else hi) - (run_lo if run_lo > lo else lo)
                    busy += overlap
                    cpu += run[2] * overlap / BIN_NS
                    if run_hi > hi:
                        break  # it goes on into the next cell
                r += 1
            if busy:
                share = busy / dt
                cells[i] += share if share < 1.0 else 1.0
                share = cpu / dt
                cpus[i] += share if share < 1.0 else 1.0

    if first:
        for lane_key, lane in members.items():
            if lane_key not in kept.members:  # new to the row: its share of the kept cells
                from_bins(lane, 0, first)
    cells += [0.0] * (limit - first)
    cpus += [0.0] * (limit - first)
    if sealed > first:  # cells sealed since the last refresh
        for lane in members.values():
            from_bins(lane, first, sealed)
    if sealed:
        shared[key] = GroupCells(set(members), cells[:sealed], cpus[:sealed])
    # A thread's sampled CPU, shared among its lanes in flight (coroutine slots share one).
    in_flight: dict[tuple[int, int], int] = {}
    for lane in members.values():
        if lane.current_task is not None:
            in_flight[lane.pid, lane.tid] = in_flight.get((lane.pid, lane.tid), 0) + 1
    # (the share is the same for every lane of a thread: worked out once a thread)
    shares = {
        thread: min(live.get(thread, 0.0) / 100.0 / count, 1.0)
        for thread, count in in_flight.items()
    }
    region = t0 + sealed * dt
    for lane in members.values():
        if lane.current_task is None and lane.last_finish_ns < region:
            continue  # idle since before the open cells: nothing to add
        thread = (lane.pid, lane.tid)
        live_frac = shares.get(thread)
        if live_frac is None:
            live_frac = min(live.get(thread, 0.0) / 100.0, 1.0)
        # Open cells as the sealed ones are drawn: finished tasks from their bins
        # (every finished span is in them), then the task in flight up to now.
        # Drawing each lane's spans cost ten thousand slots 0.2 s a refresh.
        if not agg.track_bins:  # no bins: its spans, then
            acc = _accumulate(agg, lane, t0, t1, columns, now_ns, None, from_cell=sealed)
            for i in range(sealed, limit):
                cells[i] += min((acc.busy[i] + acc.unknown[i]) / dt, 1.0)
                cpus[i] += min((acc.cpu[i] + acc.unknown[i] * live_frac) / dt, 1.0)
            continue
        from_bins(lane, sealed, limit)
        if lane.current_task is not None:
            lo = lane.current_start if lane.current_start > region else region
            i = int((lo - t0) // dt)
            if i < sealed:  # noqa: PLR1730
                i = sealed
            while i < limit:
                cell_lo = t0 + i * dt
                if cell_lo >= now_ns:
                    break
                # min() and max() spelled out (each lane in flight, every refresh)
                cell_hi = cell_lo + dt
                overlap = (now_ns if now_ns < cell_hi else cell_hi) - (
                    lo if lo > cell_lo else cell_lo
                )
                if overlap > 0:
                    share = overlap / dt
                    cells[i] += share if share < 1.0 else 1.0
                    share = overlap * live_frac / dt
                    cpus[i] += share if share < 1.0 else 1.0
                i += 1
    pad = [0.0] * (columns - limit)
    return cells + pad, cpus + pad


def _bins_by_cell(
    bins: dict[int, int],
    cpu_bins: dict[int, int],
    t0: int,
    dt: float,
    lo_cell: int,
    hi_cell: int,
) -> tuple[list[float], list[float]]:
    """Each bin's busy and on-CPU ns shared out to the cells it overlaps (lo_cell..hi_cell-1)."""
    out = [0.0] * (hi_cell - lo_cell)
    out_cpu = [0.0] * (hi_cell - lo_cell)
    start = int(t0 + lo_cell * dt)
    stop = int(t0 + hi_cell * dt)
    for b, value in bins.items():
        b_lo = b * BIN_NS
        b_hi = b_lo + BIN_NS
        if b_hi <= start or b_lo >= stop or not value:
            continue
        used = cpu_bins.get(b, 0)
        cell = min(max(lo_cell, int((b_lo - t0) // dt)), hi_cell - 1)
        while cell > lo_cell and int(t0 + cell * dt) > b_lo:  # float edges, as the cells have them
            cell -= 1
        while cell < hi_cell:
            cell_lo = int(t0 + cell * dt)
            if cell_lo >= b_hi:
                break
            overlap = min(b_hi, int(t0 + (cell + 1) * dt)) - max(b_lo, cell_lo)
            if overlap > 0:
                out[cell - lo_cell] += value * overlap / BIN_NS
                if used:
                    out_cpu[cell - lo_cell] += used * overlap / BIN_NS
            cell += 1
    return out, out_cpu


def _ran(lane: Lane) -> bool:
    return bool(lane.spans) or lane.current_task is not None or lane.done + lane.failed > 0


def _live_cpu(agg: RunAggregate) -> dict[tuple[int, int], float]:
    if not agg.samples or agg.run_end_ns is not None:
        return {}
    return agg.samples[-1].threads


# -- cores, workers, queue -----------------------------------------------------------


@dataclass(frozen=True)
class CoreRow:
    label: str
    percent: float
    history: list[float]


def _mean_of_last(values: list[float], n: int) -> float:
    recent = values[-max(1, n) :]
    return sum(recent) / len(recent) if recent else 0.0


def cores_view(agg: RunAggregate, history: int, smooth: int = 1) -> list[CoreRow]:
    """Per-core CPU %: the mean of the newest ``smooth`` samples, and the history.

    A panel drawn every n-th sample shows the mean of the n samples since it
    was last drawn, so no sample goes unseen.
    """
    samples = list(agg.samples)[-history:]
    if not samples:
        return []
    n = len(samples[-1].cores)
    rows = []
    for i in range(n):
        hist = [s.cores[i] for s in samples if len(s.cores) > i]
        rows.append(CoreRow(f"cpu{i}", _mean_of_last(hist, smooth), hist))
    return rows


def cores_busy(rows: Sequence[CoreRow]) -> str:
    """All the cores' busy time as cores, e.g. ``1.2 of 2 cores busy``.

    A thread the GIL lets run alone migrates between cores: each core's own
    figure hides that, all together they are one core busy.
    """
    total = sum(r.percent for r in rows) / 100.0
    return f"{total:.1f} of {len(rows)} cores busy"


@dataclass(frozen=True)
class WorkerRow:
    label: str
    kind: str
    percent: float
    rss: int | None
    history: list[float]
    #: % of the time it was runnable but no core was free (more workers than cores).
    waiting: float = 0.0


@dataclass(frozen=True)
class WorkersView:
    rows: list[WorkerRow]
    total: float
    total_history: list[float]
    hidden: int
    #: True once the run is over: figures are means over the run, not the latest tick.
    averaged: bool = False


def workers_view(agg: RunAggregate, max_rows: int, history: int, smooth: int = 1) -> WorkersView:
    """CPU % of every OS thread or process doing the run's work, and their sum.

    While the run goes, each figure is the mean of the newest ``smooth``
    samples (see :func:`cores_view`).
    """
    if agg.run_end_ns is not None:
        return _workers_over_run(agg, max_rows)
    samples = list(agg.samples)[-history:]
    latest = samples[-1] if samples else None
    names: dict[tuple[int, int], tuple[str, str]] = {}
    for lane in agg.lane_list:
        key = (lane.pid, lane.tid)
        if key in names:
            continue
        kind = agg.lane_kind(lane)
        if kind == "slot":
            names[key] = (f"loop tid {lane.tid}", "event loop")
        elif kind == "process":
            names[key] = (f"pid {lane.pid}", "process")
        elif kind == "interpreter":
            names[key] = (agg.lane_label(lane), "interpreter")
        else:
            names[key] = (f"tid {lane.tid}", "thread")
    rows = []
    keys = list(latest.threads) if latest else []
    for key in keys:
        label, kind = names.get(key, (f"tid {key[1]}", "thread"))
        hist = [s.threads.get(key, 0.0) for s in samples]
        # Only the samples it was alive in: a thread that just started is not averaged down.
        alive = [s.threads[key] for s in samples[-max(1, smooth) :] if key in s.threads]
        rss = latest.rss.get(key[0]) if latest and kind == "process" else None
        waits = [s.waits[key] for s in samples[-max(1, smooth) :] if key in s.waits]
        rows.append(
            WorkerRow(
                label, kind, _mean_of_last(alive, smooth), rss, hist, _mean_of_last(waits, smooth)
            )
        )
    rows.sort(key=lambda r: (-r.percent, r.label))
    totals = [sum(s.threads.values()) for s in samples]
    shown = rows[:max_rows]
    return WorkersView(shown, _mean_of_last(totals, smooth), totals, len(rows) - len(shown))


def _workers_over_run(agg: RunAggregate, max_rows: int) -> WorkersView:
    """After the run: each worker's CPU averaged over the run (its tasks' CPU time)."""
    wall = agg.wall_ns()
    per: dict[tuple[int, int], tuple[str, str, int]] = {}
    for lane in agg.lane_list:
        key = (lane.pid, lane.tid)
        kind = agg.lane_kind(lane)
        label = {
            "slot": f"loop tid {lane.tid}",
            "process": f"pid {lane.pid}",
            "interpreter": agg.lane_label(lane),
        }.get(kind, f"tid {lane.tid}")
        _, _, cpu = per.get(key, (label, kind, 0))
        per[key] = (label, kind, cpu + lane.cpu_ns)
    rows = [
        WorkerRow(label, kind, 100.0 * cpu / wall if wall else 0.0, None, [])
        for label, kind, cpu in per.values()
    ]
    rows.sort(key=lambda r: (-r.percent, r.label))
    total = sum(r.percent for r in rows)
    return WorkersView(rows[:max_rows], total, [], max(0, len(rows) - max_rows), averaged=True)


@dataclass(frozen=True)
class QueueView:
    depth: int
    peak: int
    history: list[float]
    real_queue: bool


def queue_view(agg: RunAggregate, history: int) -> QueueView:
    samples = list(agg.samples)[-history:]
    return QueueView(
        depth=agg.queue_depth(),
        peak=agg.peak_queue_depth,
        history=[float(s.queue_depth) for s in samples],
        real_queue=bool(agg.queue_sizes),
    )


# -- event log ----------------------------------------------------------------------

_EVENT_NAMES = {
    Kind.RUN_START: "run start",
    Kind.RUN_END: "run end",
    Kind.WORKER_UP: "worker up",
    Kind.WORKER_DOWN: "worker down",
    Kind.TASK_QUEUED: "queued",
    Kind.TASK_START: "start",
    Kind.TASK_FINISH: "finish",
    Kind.TASK_CANCELLED: "cancelled",
    Kind.QUEUE_DEPTH: "queue depth",
    Kind.DROPPED: "DROPPED",
    Kind.SPAN_START: "cpu part start",
    Kind.SPAN_FINISH: "cpu part finish",
}


@dataclass(frozen=True)
class EventLine:
    t_s: float
    what: str
    task: int | None
    where: str
    detail: str
    failed: bool


def recent_events(agg: RunAggregate, limit: int) -> list[EventLine]:
    """The newest events, newest first, decoded from the last frames received."""
    origin = agg.run_start_ns or 0
    out: list[EventLine] = []
    for payload in reversed(agg.recent_frames):
        tail = payload[-(limit * 2) * RECORD.size :]  # queue-depth records are skipped
        for rec in reversed(list(RECORD.iter_unpack(tail))):
            kind, flags, slot, pid, tid, task, t, _cpu, aux = rec
            if kind == Kind.QUEUE_DEPTH:
                continue
            what = (
                _EVENT_NAMES.get(Kind(kind), str(kind)) if kind in Kind._value2member_map_ else "?"
            )
            detail = ""
            failed = False
            if kind in (Kind.TASK_FINISH, Kind.SPAN_FINISH):
                failed = flags == Status.ERROR
                detail = ["ok", "error", "cancelled"][min(flags, 2)] + f", cpu {aux / 1e6:.1f} ms"
            elif kind == Kind.DROPPED:
                detail = f"{aux} events"
            if kind in (Kind.RUN_START, Kind.RUN_END):
                where = "runner"
            elif slot:
                where = f"slot {slot}"
            else:
                where = f"pid {pid}" if tid == pid else f"tid {tid}"
            has_task = kind in (
                Kind.TASK_QUEUED,
                Kind.TASK_START,
                Kind.TASK_FINISH,
                Kind.TASK_CANCELLED,
                Kind.SPAN_START,
                Kind.SPAN_FINISH,
            )
            out.append(
                EventLine(
                    (t - origin) / 1e9, what, task if has_task else None, where, detail, failed
                )
            )
            if len(out) >= limit:
                return out
    return out
