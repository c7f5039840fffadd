"""Observer overhead: how much slower a model runs when concviz watches it.

Each cell (model x task size) runs the same pool, the same number of tasks and
the same kernel with the same explicit iteration count twice per pair:

* bare: ``benchmarks/bare_pool.py`` in a subprocess of this interpreter, plain
  executor code with no concviz at all, timing pool creation to pool shutdown;
* concviz: a :class:`concviz.observer.session.RunSession` (runner, recorder,
  event server and sampler all live), taking ``summary().wall_s``, which the
  runner measures over the same span (RUN_START just before the model starts,
  RUN_END just after it returns).

Pairs are interleaved (bare first on even pairs, concviz first on odd ones) so
that drift on a noisy machine hits both sides alike; the figure of merit is the
median of the per-pair ratios concviz/bare. The script reports, it does not
gate: it exits 0 whatever the verdicts.

Usage: ``python benchmarks/observer_overhead.py [--pairs 11] [--models threads,asyncio]
[--sizes 20us,1ms] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from host import cpu_model

from concviz.observer.session import RunSession
from concviz.runner.calibrate import calibration
from concviz.runner.spec import RunSpec
from concviz.workloads.base import units_for

BARE = Path(__file__).resolve().with_name("bare_pool.py")
MODELS = ("threads", "processes", "asyncio")
#: Task sizes by label, in milliseconds of sum-of-squares CPU time (calibrated).
SIZES: dict[str, float] = {"20us": 0.020, "1ms": 1.0, "10ms": 10.0}
#: The targets: median concviz/bare ratio at most this, per task size (None: report only).
TARGETS: dict[str, float | None] = {"20us": 1.10, "1ms": 1.02, "10ms": None}
WORKERS = 2
#: A single run of either side should last about this long (the brief: 0.3-1 s).
TARGET_RUN_S = 0.5
RUN_TIMEOUT_S = 120.0


@dataclass
class Cell:
    """One (model, size) combination and its raw measurements."""

    model: str
    size: str
    iterations: int
    tasks: int = 0
    pilot_s: float = 0.0
    bare_s: list[float] = field(default_factory=list)
    concviz_s: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    bare_first: list[bool] = field(default_factory=list)
    #: The concviz side's own view of each run: per-task CPU, events, drops, observer cost.
    task_cpu_us: list[float] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    reader_s: list[float] = field(default_factory=list)
    sampler_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class RunFailed(RuntimeError):
    """One side of a pair did not complete cleanly; that pair is left out and reported."""


# -- the two sides ---------------------------------------------------------------------------------


def run_bare(model: str, iterations: int, tasks: int) -> float:
    """Runs the bare program once and returns the seconds it printed."""
    cmd = [sys.executable, str(BARE), model, str(iterations), str(tasks), str(WORKERS)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RunFailed(f"bare {model} exited {done.returncode}: {tail[0]}")
    return float(done.stdout.strip().splitlines()[-1])


def run_concviz(model: str, iterations: int, tasks: int, size_ms: float, cell: Cell) -> float:
    """Runs the model under a RunSession once and returns the runner-measured wall time."""
    spec = RunSpec(
        model=model,
        workload="cpu",
        workers=WORKERS,
        tasks=tasks,
        task_ms=size_ms,
        iterations=iterations,
    )
    with RunSession(spec) as session:
        if not session.wait(RUN_TIMEOUT_S):
            raise RunFailed(f"concviz {model} did not finish in {RUN_TIMEOUT_S:g} s")
        summary = session.summary()
        cost = session.observer_cost()
    if summary.status != "done" or summary.completed != tasks:
        raise RunFailed(
            f"concviz {model}: status {summary.status}, {summary.completed}/{tasks} completed"
            f" ({summary.run_error or 'no error reported'})"
        )
    cell.task_cpu_us.append(summary.cpu_s / summary.completed * 1e6)
    cell.events.append(summary.events)
    cell.dropped.append(summary.dropped_events)
    cell.reader_s.append(float(cost["reader_s"]))
    cell.sampler_s.append(float(cost["sampler_s"]))
    return summary.wall_s


# -- the benchmark ----------------------------------------------------------------------


def size_tasks(cell: Cell, size_ms: float) -> None:
    """Picks the task count so a bare run lasts about TARGET_RUN_S (a pilot run, also a warm-up)."""
    parallel = WORKERS if cell.model == "processes" else 1  # threads and asyncio share one GIL
    guess = max(20, round(0.15 / (size_ms / 1000.0) * parallel))
    pilot = run_bare(cell.model, cell.iterations, guess)
    cell.pilot_s = pilot
    cell.tasks = max(10, round(guess * TARGET_RUN_S / max(pilot, 1e-3)))


def measure(cell: Cell, size_ms: float, pairs: int) -> None:
    for index in range(pairs):
        bare_first = index % 2 == 0
        try:
            if bare_first:
                bare = run_bare(cell.model, cell.iterations, cell.tasks)
                watched = run_concviz(cell.model, cell.iterations, cell.tasks, size_ms, cell)
            else:
                watched = run_concviz(cell.model, cell.iterations, cell.tasks, size_ms, cell)
                bare = run_bare(cell.model, cell.iterations, cell.tasks)
        except (RunFailed, subprocess.TimeoutExpired) as exc:
            cell.problems.append(f"pair {index}: {exc}")
            print(f"    pair {index + 1:2d}: FAILED: {exc}", flush=True)
            continue
        cell.bare_s.append(bare)
        cell.concviz_s.append(watched)
        cell.ratios.append(watched / bare)
        cell.bare_first.append(bare_first)
        order = "bare first   " if bare_first else "concviz first"
        print(
            f"    pair {index + 1:2d} ({order}): bare {bare:.4f} s  concviz {watched:.4f} s"
            f"  ratio {watched / bare:.3f}",
            flush=True,
        )


# -- reporting --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import multiprocessing  # noqa: PLC0415  (only for the default start method's name)

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "start_method": multiprocessing.get_start_method(),
        "loadavg": list(os.getloadavg()),
    }


def quartiles(values: list[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles (both the value itself for a single pair)."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def verdict(cell: Cell) -> tuple[str, str]:
    """(target text, verdict) for a cell; a cell with no valid pair is a MISS.

    The verdict is the median ratio against the target. When the ratios'
    interquartile range straddles the target, the verdict is marked as within
    noise: more pairs (or a quieter machine) could flip it either way.
    """
    target = TARGETS.get(cell.size)
    if target is None:
        return "report", "-"
    if not cell.ratios:
        return f"<= {target:.2f}x", "MISS (no data)"
    result = "PASS" if statistics.median(cell.ratios) <= target else "MISS"
    low, high = quartiles(cell.ratios)
    if low <= target < high:
        result += " (within noise)"
    return f"<= {target:.2f}x", result


def print_table(cells: list[Cell]) -> None:
    header = (
        f"{'model':<10} {'size':>5} {'tasks':>6} {'iters':>7} {'task µs':>8} "
        f"{'bare med s':>10} {'concviz med s':>13} {'ratio med':>9} {'min':>6} {'max':>6} "
        f"{'IQR':>11} {'n':>3} {'target':>9}  verdict"
    )
    print(header)
    print("-" * len(header))
    for cell in cells:
        target, result = verdict(cell)
        if cell.ratios:
            task_us = statistics.median(cell.task_cpu_us)
            bare = statistics.median(cell.bare_s)
            watched = statistics.median(cell.concviz_s)
            low, high = quartiles(cell.ratios)
            print(
                f"{cell.model:<10} {cell.size:>5} {cell.tasks:>6} {cell.iterations:>7} "
                f"{task_us:>8.1f} {bare:>10.4f} {watched:>13.4f} "
                f"{statistics.median(cell.ratios):>8.3f}x {min(cell.ratios):>6.3f} "
                f"{max(cell.ratios):>6.3f} {low:>5.3f}-{high:<5.3f} {len(cell.ratios):>3} "
                f"{target:>9}  {result}"
            )
        else:
            print(
                f"{cell.model:<10} {cell.size:>5} {cell.tasks:>6} {cell.iterations:>7}  "
                f"no valid pair{'':>50} {target:>9}  {result}"
            )
    print()
    print("task µs: CPU time per task as concviz measured it (thread CPU clock), median of runs.")
    print("ratio: concviz wall / bare wall within one pair; median, min, max and interquartile")
    print("range (IQR) over the pairs. 'within noise': the IQR straddles the target.")
    print("bare/concviz med s: the medians of each side's times, taken separately.")


def print_side_facts(cells: list[Cell]) -> None:
    """What the observer itself cost and whether any event was dropped."""
    print()
    print(
        f"{'model':<10} {'size':>5} {'events/run':>10} {'dropped':>7} "
        f"{'reader ms':>9} {'sampler ms':>10}"
    )
    for cell in cells:
        if not cell.events:
            continue
        print(
            f"{cell.model:<10} {cell.size:>5} {statistics.median(cell.events):>10.0f} "
            f"{sum(cell.dropped):>7} {1000 * statistics.median(cell.reader_s):>9.1f} "
            f"{1000 * statistics.median(cell.sampler_s):>10.1f}"
        )
    print("reader/sampler ms: observer time spent decoding events / sampling, median per run")
    print("(on 2 cores this competes with the run's own workers).")


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    bad = [item for item in items if item not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {bad or text!r} (choose from {', '.join(allowed)})"
        )
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pairs", type=int, default=11, help="interleaved bare/concviz pairs per cell"
    )
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        type=lambda s: parse_list(s, MODELS, "model"),
        help=f"comma-separated, from {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(SIZES),
        type=lambda s: parse_list(s, tuple(SIZES), "size"),
        help=f"comma-separated task sizes, from {', '.join(SIZES)}",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="write the raw numbers here")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    models: list[str] = args.models
    sizes: list[str] = args.sizes

    info = machine()
    print("Observer overhead: bare executor code vs the same run under concviz")
    print(f"command:  {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine:  {info['cpu_count']} CPUs, {info['cpu_model']}, {info['platform']}")
    print(f"python:   {info['implementation']} {info['python']} ({info['executable']})")
    print(
        f"start method (processes): {info['start_method']}; workers: {WORKERS}; "
        f"load average at start: {', '.join(f'{x:.2f}' for x in info['loadavg'])}"
    )
    table = calibration(("sum_of_squares",))[0]["sum_of_squares"]
    per_ms = units_for(table, 10.0) / 10.0
    print(f"calibration: {per_ms:,.0f} sum-of-squares iterations per ms")
    print()

    began = time.monotonic()
    cells: list[Cell] = []
    for model in models:
        for size in sizes:
            size_ms = SIZES[size]
            cell = Cell(model, size, iterations=units_for(table, size_ms))
            cells.append(cell)
            try:
                size_tasks(cell, size_ms)
            except (RunFailed, subprocess.TimeoutExpired) as exc:
                cell.problems.append(f"pilot: {exc}")
                print(f"{model} {size}: pilot failed: {exc}", flush=True)
                continue
            print(
                f"{model} {size}: {cell.tasks} tasks x {cell.iterations} iterations "
                f"(pilot {cell.pilot_s:.3f} s)",
                flush=True,
            )
            measure(cell, size_ms, args.pairs)

    print()
    print(
        f"Results ({args.pairs} pairs per cell, {time.monotonic() - began:.0f} s in all; "
        f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    print()
    print_table(cells)
    print_side_facts(cells)
    problems = [f"{c.model} {c.size}: {p}" for c in cells for p in c.problems]
    if problems:
        print()
        print("PROBLEMS (pairs left out):")
        for line in problems:
            print(f"  {line}")
    print()
    misses = [c for c in cells if verdict(c)[1].startswith("MISS")]
    judged = [c for c in cells if TARGETS.get(c.size) is not None]
    if not judged:
        print("targets: none for these sizes (10ms is reported, not judged)")
    else:
        print(
            f"targets: {len(judged) - len(misses)}/{len(judged)} PASS"
            + (f"; MISS: {', '.join(f'{c.model} {c.size}' for c in misses)}" if misses else "")
        )

    if args.json:
        data = {
            "command": [sys.executable, *sys.argv],
            "machine": info,
            "calibration_per_ms": per_ms,
            "workers": WORKERS,
            "targets": TARGETS,
            "cells": [asdict(c) for c in cells],
        }
        Path(args.json).write_text(json.dumps(data, indent=1))
        print(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
