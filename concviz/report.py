"""How a run's figures are worded: shared by the command line and the dashboard."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from .engine.aggregate import Summary


def fmt_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.0f} ms"
    if s < 120:
        return f"{s:.2f} s"
    return f"{int(s // 60)} min {s % 60:.0f} s"


def fmt_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def gil_label(gil_enabled: bool | None) -> str:
    if gil_enabled is None:
        return "?"
    return "GIL enabled" if gil_enabled else "GIL disabled (free-threaded)"


def summary_rows(s: Summary) -> list[tuple[str, str, str]]:
    """(label, value, what it means) for each figure of a run."""
    tasks = f"{s.completed} ok"
    if s.failed:
        tasks += f", {s.failed} failed"
    if s.cancelled:
        tasks += f", {s.cancelled} cancelled"
    tasks += f" of {s.tasks}"
    utilisation = "  ".join(f"{u:.0f}%" for u in s.core_utilisation) or "-"
    rows = [
        ("Model", s.model + (f" ({s.start_method})" if s.start_method else ""), ""),
        ("Workload", f"{s.workload}, {s.task_ms:g} ms per task", ""),
        ("Workers", str(s.workers), f"{s.lanes} lanes seen"),
        ("Tasks", tasks, s.status),
        ("Wall time", fmt_seconds(s.wall_s), "model start to finish"),
        ("Throughput", f"{s.throughput:,.1f} tasks/s", ""),
        ("Worker CPU time", fmt_seconds(s.cpu_s), "CPU the tasks' threads used"),
        ("Parallelism", f"{s.parallelism:.2f}", "worker CPU time / wall time: cores kept busy"),
        (
            "On-CPU fraction",
            f"{s.on_cpu_fraction:.0%}",
            "of each task's time spent running, not waiting",
        ),
        ("Peak queue depth", str(s.peak_queue_depth), "tasks waiting for a worker"),
        ("Core utilisation", utilisation, f"mean per core over the run ({s.cores} cores)"),
        ("Peak RSS", fmt_bytes(s.peak_rss) if s.peak_rss else "-", "largest process"),
        ("Interpreter", f"Python {s.python}", gil_label(s.gil_enabled)),
        ("Events", f"{s.events:,}", f"{s.dropped_events:,} dropped"),
    ]
    if s.run_error:
        rows.append(("Run error", s.run_error, ""))
    for message, count in s.errors.items():
        rows.append(("Task error", message, f"x{count}"))
    for message in s.transport_errors:
        rows.append(("Transport error", message, "figures incomplete"))
    return rows


def summary_table(s: Summary) -> Table:
    table = Table(
        title=f"concviz run: {s.model} / {s.workload}", show_header=False, title_justify="left"
    )
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("meaning", style="dim")
    for label, value, hint in summary_rows(s):
        style = "red" if label in ("Run error", "Task error", "Transport error") else ""
        table.add_row(label, Text(value, style=style), hint)
    return table
