"""How a run's figures are worded: shared by the command line and the dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from . import __version__
from .observer.aggregate import MEMORY_RESOLUTION, Summary
from .units import fmt_seconds
from .workloads import describe_size

#: The version of the ``--json`` envelope (docs/json.md): bumped when a key
#: changes meaning or goes away, not when one is added.
JSON_SCHEMA_VERSION = 1


def fmt_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def fmt_memory_per_task(s: Summary) -> str:
    """What each task in flight added to the run's memory, signed ("+16.8 KiB")."""
    per = s.memory_per_task
    if per is None:
        return "-"
    text = fmt_bytes(round(abs(per)))
    if len(text) > 7:  # "16.8 KiB": two figures are enough, and a narrow table fits
        number, unit = text.split()
        text = f"{float(number):.0f} {unit}"
    return ("+" if per >= 0 else "-") + text


def memory_per_task_basis(s: Summary) -> str:
    """What the growth was divided by: a pool's workers are its cost, a TaskGroup's tasks are."""
    if not s.memory_tasks:
        if (
            s.memory_at_start
            and s.peak_memory
            and s.peak_memory - s.memory_at_start < MEMORY_RESOLUTION
        ):
            grew = fmt_bytes(max(0, s.peak_memory - s.memory_at_start))
            step = fmt_bytes(MEMORY_RESOLUTION)
            return f"the run grew {grew}, under {step}: too little to divide by its tasks"
        return "its growth / the most tasks in flight at once"
    if s.memory_tasks_basis == "alive":
        return f"its growth / {s.memory_tasks:,} tasks alive at once, waiting ones too"
    return f"its growth / {s.memory_tasks:,} tasks in flight at once"


def task_time_split(s: Summary) -> str:
    """Where the tasks' time went: on a CPU, waiting for a core, blocked (GIL, lock, I/O)."""
    wait = s.core_wait_fraction
    if wait is None or not s.completed:
        return "-"
    blocked = max(0.0, 1.0 - s.on_cpu_fraction - wait)
    return f"{s.on_cpu_fraction:.0%} · {wait:.0%} · {blocked:.0%}"


def gil_label(gil_enabled: bool | None) -> str:
    if gil_enabled is None:
        return "?"
    return "GIL enabled" if gil_enabled else "GIL disabled (free-threaded)"


def describe_result(result: dict[str, Any]) -> str:
    """What a pattern or workload measured, in a few words (empty if nothing)."""
    if not result:
        return ""
    parts = []
    if "lost_updates" in result:
        lost = result["lost_updates"]
        parts.append(
            f"{result['actual']:,} of {result['expected']:,}: "
            + (f"{lost:,} lost" if lost else "none lost")
        )
    if "achieved_rate" in result:
        parts.append(f"{result['achieved_rate']:g}/s achieved (limit {result['rate_limit']:g}/s)")
    if "timed_out" in result:
        parts.append(f"{result['timed_out']} timed out after {result['timeout_ms']:g} ms")
    if "gave_up" in result:
        ran_on = result["ran_on_after_timeout"]
        parts.append(
            f"gave up on {result['gave_up']} after {result['timeout_ms']:g} ms: "
            f"{ran_on} ran on anyway, {result['gave_up'] - ran_on} cancelled while queued"
        )
    if "lock_timeouts" in result:
        stuck = result["lock_timeouts"]
        parts.append(
            f"{result['lock_order']} order: "
            + (f"{stuck} gave up on a lock" if stuck else "none stuck")
        )
    if "failed_attempts" in result:
        parts.append(f"{result['failed_attempts']} failed attempts retried")
    if "signalled" in result:
        if result["signalled"]:
            finished = (
                "finished in time"
                if result.get("finished_in_time")
                else "cancelled at the deadline"
            )
            parts.append(
                f"signalled: in-flight work {finished}, {result['never_started']} never started"
            )
        else:
            parts.append("no signal came: all work done")
    if "outcome" in result:
        parts.append(str(result["outcome"]))
    known = {
        "lost_updates",
        "actual",
        "expected",
        "lock",
        "race_form",
        "achieved_rate",
        "rate_limit",
        "burst",
        "timed_out",
        "timeout_ms",
        "gave_up",
        "lock_order",
        "lock_timeouts",
        "ran_on_after_timeout",
        "failed_attempts",
        "attempts_allowed",
        "signalled",
        "finished_in_time",
        "never_started",
        "deadline_ms",
        "outcome",
        "errors",
        "still_running",
    }
    parts += [f"{k}={v}" for k, v in result.items() if k not in known]
    return "; ".join(parts)


def summary_rows(s: Summary) -> list[tuple[str, str, str]]:
    """(label, value, what it means) for each figure of a run."""
    tasks = f"{s.completed} ok"
    if s.failed:
        tasks += f", {s.failed} failed"
    if s.cancelled:
        tasks += f", {s.cancelled} cancelled"
    tasks += f" of {s.tasks}"
    utilisation = "  ".join(f"{u:.0f}%" for u in s.core_utilisation) or "-"
    size = describe_size(s.workload, s.task_ms, s.iterations, s.task)
    rows = [
        ("Model", s.model + (f" ({s.start_method})" if s.start_method else ""), ""),
        ("Workload", f"{s.workload}, {size} per task", ""),
        ("Workers", str(s.workers), f"{s.lanes} lanes seen"),
        ("Tasks", tasks, s.status),
        ("Wall time", fmt_seconds(s.wall_s), "model start to finish"),
        ("Throughput", f"{s.throughput:,.1f} tasks/s", ""),
        ("Worker CPU time", fmt_seconds(s.cpu_s), "CPU the tasks' threads used"),
        *(
            [("Task CPU", f"{s.task_cpu_ms_median:.3g} ms", f"median per task (asked: {size})")]
            if s.task_cpu_ms_median is not None
            else []
        ),
        ("Parallelism", f"{s.parallelism:.2f}", "worker CPU time / wall time: cores kept busy"),
        (
            "On-CPU fraction",
            f"{s.on_cpu_fraction:.0%}",
            "of each task's time spent running, not waiting",
        ),
        ("Task time", task_time_split(s), "on CPU · no free core · blocked"),
        ("Peak queue depth", str(s.peak_queue_depth), "tasks waiting for a worker"),
        ("Core utilisation", utilisation, f"mean per core over the run ({s.cores} cores)"),
        ("Peak RSS", fmt_bytes(s.peak_rss) if s.peak_rss else "-", "largest process"),
        (
            "Memory",
            fmt_bytes(s.peak_memory) if s.peak_memory else "-",
            f"peak {s.memory_measure or 'memory'} of all the run's processes",
        ),
        (
            "Memory per task",
            fmt_memory_per_task(s),
            memory_per_task_basis(s),
        ),
        ("Interpreter", f"Python {s.python}", gil_label(s.gil_enabled)),
        ("Events", f"{s.events:,}", f"{s.dropped_events:,} dropped"),
    ]
    if s.observer_cpu is not None:
        rows.append(
            (
                "concviz itself",
                f"{s.observer_cpu:.0%} of a core",
                "its progress bar, events, sampler",
            )
        )
    if s.peak_in_flight:
        rows.insert(
            10, ("Peak in flight", str(s.peak_in_flight), "tasks running at the same moment")
        )
    if s.producer_wait_s >= 0.001:
        rows.insert(
            11, ("Producer wait", fmt_seconds(s.producer_wait_s), "blocked handing tasks over")
        )
    if s.worker_startup_s is not None:
        rows.append(
            ("Worker start-up", fmt_seconds(s.worker_startup_s), "median, run start to process up")
        )
    if s.result:
        rows.append(("Result", describe_result(s.result), ""))
    rows += [("Finding", f["title"], f"{f['figure']}; {f['suggestion']}") for f in s.findings]
    if s.run_error:
        rows.append(("Run error", s.run_error, ""))
    for message, count in s.errors.items():
        rows.append(("Task error", message, f"x{count}"))
    for message, count in s.warnings.items():
        rows.append(("Warning", message, f"x{count}"))
    for message in s.transport_errors:
        rows.append(("Transport error", message, "figures incomplete"))
    return rows


def summary_table(s: Summary) -> Table:
    """The table ``concviz run`` prints once its run has ended.

    It is printed while the user waits for the prompt, so it is built to render
    fast: every cell is a :class:`Text` (a plain string would be parsed for markup
    and emoji, and a bracket in it taken for a style), and the labels' column has
    its width set (Rich would otherwise measure every label to find it).
    """
    rows = summary_rows(s)
    table = Table(
        title=Text(f"concviz run: {s.model} / {s.workload}"),
        show_header=False,
        title_justify="left",
    )
    # At 80 columns the labels stay whole words and the figures one line; a long
    # message (a warning, a task's error) wraps in its cell rather than squeeze both.
    table.add_column(
        "figure", style="bold", no_wrap=True, width=max(cell_len(label) for label, _, _ in rows)
    )
    table.add_column("value", justify="right", max_width=30)
    table.add_column("meaning", style="dim", ratio=1)
    for label, value, hint in rows:
        style = "red" if label in ("Run error", "Task error", "Transport error") else ""
        table.add_row(Text(label), Text(value, style=style), Text(hint))
    return table


def json_envelope(
    command: str,
    runs: Sequence[dict[str, Any]],
    *,
    interrupted: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """What every ``--json`` prints: one object, the same keys whatever the command.

    ``runs`` holds one object per run (a run's figures, the Summary's keys, plus
    what the command adds: a compare's speedups, a sweep's efficiencies); ``extra``
    the command's own keys (``compare``, ``sweep``, ``scenario``, ``recording``).
    """
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": "concviz",
        "version": __version__,
        "command": command,
        "interrupted": interrupted,
        "runs": list(runs),
        **extra,
    }


def print_json(doc: dict[str, Any], out: IO[str]) -> None:
    print(json.dumps(doc), file=out)
