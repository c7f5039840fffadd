"""How comparisons and sweeps are printed: tables, speedup bars, a terminal plot."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from .experiments import FIGURES, CompareRow, RunResult, SweepAnalysis
from .report import describe_result, fmt_memory_per_task
from .units import fmt_seconds


def speedup_bar(speedup: float, top: float, width: int = 16) -> str:
    filled = 0 if top <= 0 else round(min(speedup / top, 1.0) * width)
    return "█" * filled + "·" * (width - filled)


def compare_figures(row: CompareRow, top: float, bar_width: int) -> list[str | Text]:
    """A compared run's :data:`FIGURES`, as the CLI's table and the dashboard's both show them."""
    s = row.summary
    wait = s.core_wait_fraction
    return [
        fmt_seconds(s.wall_s),
        Text.assemble(
            f"{row.speedup:5.2f}×" + (" " if bar_width else ""),
            (speedup_bar(row.speedup, top, bar_width), "cyan"),
        ),
        f"{s.parallelism:.2f}",
        f"{s.on_cpu_fraction:.0%}",
        "-" if wait is None else f"{wait:.0%}",
        str(s.peak_queue_depth),
        fmt_memory(s.peak_memory),
        fmt_memory_per_task(s) + ("*" if s.memory_tasks_basis == "alive" else ""),
    ]


def _python(s: object) -> str:
    gil = getattr(s, "gil_enabled", None)
    return f"{getattr(s, 'python', '?')} {'GIL' if gil else 'no GIL'}"


def compare_table(
    rows: Sequence[CompareRow],
    baseline: str,
    title: str,
    width: int = 120,
    keep: Sequence[str] = (),
    ceilings: Mapping[int, float | None] | None = None,
) -> Table:
    """The comparison as a table for a terminal ``width`` columns wide.

    Under 116 columns the speedup bars go. Under 100, while the table is too
    wide, figures go: first those that are the same in every run (they tell the
    runs apart in nothing), then the peak memory (what each task added stays),
    the workers' start-up, the wait for a core and the queue; never those in
    ``keep`` (a scenario's focus: what its lesson rests on). Long labels wrap:
    every figure kept keeps its column whole, down to 80 columns.

    ``ceilings``: the machine ceiling per worker count (see
    :mod:`concviz.observer.ceiling`), said under the table for the counts shown.
    """
    bar_width = 6 if width >= 116 else 0
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False
    )
    pythons = {_python(r.summary) for r in rows}
    top = max((r.speedup for r in rows), default=1.0)
    cells_of = [dict(zip(FIGURES, compare_figures(r, top, bar_width), strict=True)) for r in rows]
    startup = any(r.summary.worker_startup_s is not None for r in rows)
    repeats = max((len(r.walls) for r in rows), default=1)
    for r, figures in zip(rows, cells_of, strict=True):
        if repeats > 1:  # the wall time's spread over the repeats, beside it
            figures["±"] = fmt_spread(r.spread)
        up = r.summary.worker_startup_s
        figures["start"] = fmt_seconds(up) if up is not None else "-"
    shown = list(FIGURES) if repeats < 2 else ["wall", "±", *FIGURES[1:]]
    if startup:
        shown.append("start")
    results = any(r.summary.result for r in rows)
    if width < 100:
        # The result column (what a pattern measured) wraps, but needs room too: a
        # table wider than the terminal is cut at its edge, caption words and all.
        shown = _fitting(shown, cells_of, width - (3 + RESULT_MIN if results else 0), keep)
    columns = ["model", *shown]
    if results:
        columns.append("result")
    for name in columns:
        justify = "left" if name in ("model", "speedup", "python") else "right"
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name not in ("result", "model"),
            overflow="fold",
            min_width=RESULT_MIN if name == "result" else (12 if name == "model" else None),
        )
    for r, figures in zip(rows, cells_of, strict=True):
        s = r.summary
        label = r.label
        if len(pythons) > 1 and "@" not in label:
            version = ".".join(s.python.split(".")[:2])
            label += f"@{version}{'' if s.gil_enabled else 't'}"
        if s.completed < s.tasks:
            label += f" ({s.completed}/{s.tasks} ok)"
        cells: list[str | Text] = [label, *(figures[name] for name in shown)]
        if results:
            cells.append(describe_result(s.result))
        table.add_row(*cells)
    table.caption = (
        (
            f"each the median of {'' if len({len(r.walls) for r in rows}) == 1 else 'up to '}"
            f"{repeats} runs · ± = half the range of their wall times · "
            if repeats > 1
            else ""
        )
        + f"speedup = wall of {baseline} / wall of each · "
        + ceiling_text(ceilings or {}, {r.summary.workers for r in rows})
        + ("parallel = worker CPU / wall · " if "parallel" in shown else "")
        + ("wait = of the tasks' time, ready to run but no core free · " if "wait" in shown else "")
        + ("queue = peak depth · " if "queue" in shown else "")
        + ("memory = peak of all the run's processes · " if "memory" in shown else "")
        + (
            "per task = memory growth / most tasks in flight (* alive: waiting ones too) · "
            if "per task" in shown
            else ""
        )
        + (
            "start = median time to a worker process or sub-interpreter · "
            if "start" in shown
            else ""
        )
        + f"Python {', '.join(sorted(pythons))}"
    )
    return table


#: Dropped in this order while a narrow table is too wide: first those that are
#: the same in every run, then these whatever they are.
_SAME_DROPS = ("queue", "memory", "start", "parallel", "on-CPU", "per task", "wait")
_NARROW_DROPS = ("memory", "start", "wait", "queue")


#: The narrowest the result column gets at 80 columns (its text wraps).
RESULT_MIN = 16


def _fitting(
    shown: list[str], cells_of: list[dict[str, str | Text]], width: int, keep: Sequence[str]
) -> list[str]:
    """The figures a ``width``-column table keeps: see :func:`compare_table`."""

    def plain(cell: str | Text) -> str:
        return cell.plain if isinstance(cell, Text) else cell

    def needed() -> int:  # each column's widest cell; 3 cells between columns
        widths = [12] + [max(len(name), *(len(plain(c[name])) for c in cells_of)) for name in shown]
        return sum(widths) + 3 * (len(widths) - 1)

    same = [n for n in _SAME_DROPS if len({plain(c[n]) for c in cells_of}) == 1]
    drops = same if len(cells_of) > 1 else []
    for name in [*drops, *_NARROW_DROPS]:
        if needed() <= width:
            break
        if name in shown and name not in keep:
            shown.remove(name)
    return shown


def fmt_memory(peak: int) -> str:
    """A run's peak memory, whole MiB ("-": not measured)."""
    return f"{peak / 2**20:.0f} MiB" if peak else "-"


def sweep_table(
    analysis: SweepAnalysis,
    title: str,
    cpu_bound: bool = True,
    memory: Sequence[int] = (),
    width: int = 120,
    spreads: Sequence[float | None] = (),
) -> Table:
    """The sweep's points; ``memory``: each point's peak memory (a column if any was measured).

    ``spreads``: each point's ± over its repeated runs (a column if any). Under
    90 columns the "ideal" column (N× for N workers) goes: the workers say it.
    """
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    names = ["workers", "wall", "speedup", "ideal", "Amdahl", "efficiency", "parallel"]
    if any(s is not None for s in spreads):
        names.insert(2, "±")
    if width < 90:
        names.remove("ideal")
    if any(p.ceiling is not None for p in analysis.points):
        names.insert(names.index("Amdahl"), "ceiling")
    if any(memory):
        names.append("memory")
    # Under 100 columns the notes go under the table: beside it they squeezed every
    # figure to "425…" (figures are never cut).
    noted = width >= 100
    for name in [*names, ""] if noted else names:
        table.add_column(name, justify="right" if name else "left", no_wrap=True)
    notes = []
    for index, (point, amdahl) in enumerate(zip(analysis.points, analysis.amdahl, strict=True)):
        note = ""
        if analysis.knee is not None and point.workers > analysis.knee:
            note = "no faster" if point.stalled else ""
        if cpu_bound and point.workers > analysis.cores:
            note = (note + "; " if note else "") + f"> {analysis.cores} cores"
        if note and not noted:
            notes.append(f"{point.workers} workers: {note}")
        table.add_row(
            str(point.workers),
            fmt_seconds(point.wall_s),
            *([fmt_spread(spreads[index])] if "±" in names else []),
            f"{point.speedup:.2f}×",
            *([f"{point.workers}×"] if "ideal" in names else []),
            *([fmt_ceiling(point.ceiling)] if "ceiling" in names else []),
            f"{amdahl:.2f}×",
            f"{point.efficiency:.0%}",
            f"{point.parallelism:.2f}",
            *([fmt_memory(memory[index])] if "memory" in names else []),
            *([Text(note, style="yellow")] if noted else []),
        )
    knee = (
        f"adding workers stops helping after {analysis.knee}"
        if analysis.knee is not None
        else "every step added speed"
    )
    table.caption = (
        "".join(f"{n}; " for n in notes)
        + (
            "each point the median of its runs, ± half the range of their wall times; "
            if "±" in names
            else ""
        )
        + (CEILING_NOTE + "; " if "ceiling" in names else "")
        + f"{analysis.fit_text()}; {knee}; "
        f"{analysis.cores} cores here"
    )
    return table


#: What the ceiling column means, in the tables' captions.
CEILING_NOTE = "ceiling = speedup that many bare processes get on the CPU kernel (the machine)"


def ceiling_text(ceilings: Mapping[int, float | None], counts: Iterable[int]) -> str:
    """The machine ceiling for a comparison's worker counts, as a caption's clause."""
    reached = [
        f"{n} processes {fmt_ceiling(c)}"
        for n in sorted(set(counts))
        if n > 1 and (c := ceilings.get(n))
    ]
    if not reached:
        return ""
    return f"machine ceiling (bare CPU kernel vs one process): {', '.join(reached)} · "


def fmt_ceiling(ceiling: float | None) -> str:
    return "-" if ceiling is None else f"{ceiling:.2f}×"


def fmt_spread(spread: float | None) -> str:
    """A wall time's ± over repeated runs ("-": one run)."""
    return "-" if spread is None else f"±{spread:.0%}"


def sweep_plot(analysis: SweepAnalysis, width: int = 70, height: int = 18, title: str = "") -> str:
    """Speedup against workers, with the ideal line and the Amdahl fit (plotext)."""
    import plotext as plt  # noqa: PLC0415  (only sweeps need it)

    counts = [p.workers for p in analysis.points]
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    plt.plot(counts, counts, label="ideal", marker="dot")
    plt.plot(
        counts,
        analysis.amdahl,
        label=f"Amdahl, serial {analysis.serial_fraction:.0%}",
        marker="dot",
    )
    plt.plot(counts, [p.speedup for p in analysis.points], label="measured", marker="hd")
    plt.xticks(counts)
    plt.xlabel("workers")
    plt.ylabel("speedup")
    if title:
        plt.title(title)
    return str(plt.build())


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# -- --json ---------------------------------------------------------------------


def compare_json_runs(
    rows: Sequence[CompareRow], ceilings: Mapping[int, float | None] | None = None
) -> list[dict[str, Any]]:
    """A compare's runs for the ``--json`` envelope: each variant's median run."""
    return [
        {
            **r.summary.as_dict(),
            "label": r.label,
            "speedup": r.speedup,
            "ceiling": (ceilings or {}).get(r.summary.workers),
            "walls": list(r.walls),  # every run's, in run order
            "spread": r.spread,
        }
        for r in rows
    ]


def sweep_json(
    analysis: SweepAnalysis, results: Sequence[RunResult], model: str, workload: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A sweep's runs (one per worker count) and its ``sweep`` key for ``--json``."""
    runs = [
        {
            **r.summary.as_dict(),
            "speedup": p.speedup,
            "efficiency": p.efficiency,
            "amdahl": a,
            "ceiling": p.ceiling,
            "stalled": p.stalled,
            "walls": list(r.walls),
            "spread": r.spread,
        }
        for p, a, r in zip(analysis.points, analysis.amdahl, results, strict=True)
    ]
    fit = {
        "model": model,
        "workload": workload,
        "cores": analysis.cores,
        "serial_fraction": analysis.serial_fraction,
        "core_limited": analysis.core_limited,
        "knee": analysis.knee,
    }
    return runs, fit
