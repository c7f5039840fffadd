"""What the dashboard costs a short run, as the run sees it: its own ``concviz`` figure.

The dashboard's summary has a ``concviz`` row: the CPU its own process (drawing,
event reader, sampler) used during the run, in cores. This script launches the
real ``concviz dashboard --run`` in a pseudo-terminal (the same harness as
``ui.py``) on a short run, the one a speaker starts on stage (4 threads, 20 CPU
tasks of 100 ms, about 2 s), reads that figure off the screen once the run is
done, and also reads the UI process's CPU from launch to done with psutil
(start-up included, for context). For comparison it runs the same spec headless
with ``concviz run --json`` and takes its ``observer_cpu``. Medians of the
repeats, per terminal size, interleaved.

The script reports, it does not gate: it exits 0 whatever the figures.

Usage: ``python benchmarks/dashboard_cost.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time

import psutil
import ui
from host import cpu_model

RUN = ["-m", "threads", "-w", "cpu", "-n", "4", "-t", "20", "--task-ms", "100"]
SIZES = ((160, 45), (120, 40))
FIGURE = re.compile(r"concviz\s+(\d+)% (?:of a core|CPU)")
DONE_TIMEOUT_S = 60.0


def dashboard_once(cols: int, rows: int) -> tuple[float | None, float | None, list[str]]:
    """(the dashboard's own figure, UI process CPU launch-to-done in cores, problems)."""
    ui.COLS, ui.ROWS = cols, rows
    prog = ui.PtyProgram([sys.executable, "-m", "concviz", "dashboard", "--run", *RUN])
    problems: list[str] = []
    try:
        done_at: float | None = None
        cpu = None
        figure = None
        while prog.elapsed() < DONE_TIMEOUT_S and not prog.eof:
            prog.pump(prog.elapsed() + 0.2)
            if prog.done_count(20) == 20 and done_at is None:
                done_at = prog.elapsed()
                times = prog.ps.cpu_times()
                cpu = (times.user + times.system) / done_at
            if done_at is not None and prog.elapsed() > done_at + 1.0:  # a few refreshes more
                break
        found = FIGURE.findall(ui.strip_ansi(bytes(prog.tail)))
        if found:
            figure = int(found[-1]) / 100
        else:
            problems.append(f"{cols}x{rows}: no 'concviz' figure on screen")
        _, quit_problems = prog.quit()
        problems += quit_problems
        return figure, cpu, problems
    finally:
        prog.close()


def headless_once() -> float | None:
    out = subprocess.run(
        [sys.executable, "-m", "concviz", "run", *RUN, "--json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        timeout=DONE_TIMEOUT_S,
    )
    if out.returncode != 0:
        return None
    value = json.loads(out.stdout)["runs"][0].get("observer_cpu")
    return float(value) if value is not None else None


def med(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1%} ({min(values):.1%}-{max(values):.1%})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print("Dashboard cost on a short run: its own 'concviz' figure, and the UI process's CPU")
    print(f"command:  {sys.executable} benchmarks/dashboard_cost.py --repeats {args.repeats}")
    print(f"machine:  {psutil.cpu_count()} CPUs, {cpu_model()}, {platform.platform()}")
    print(f"python:   {platform.python_implementation()} {platform.python_version()}")
    print(f"run:      concviz dashboard --run {' '.join(RUN)}")
    figures: dict[str, list[float]] = {f"{c}x{r}": [] for c, r in SIZES}
    launch: dict[str, list[float]] = {f"{c}x{r}": [] for c, r in SIZES}
    headless: list[float] = []
    problems: list[str] = []
    started = time.perf_counter()
    wall_started = time.time()
    for i in range(args.repeats):
        for cols, rows in SIZES if i % 2 == 0 else SIZES[::-1]:
            figure, cpu, found = dashboard_once(cols, rows)
            problems += found
            key = f"{cols}x{rows}"
            if figure is not None:
                figures[key].append(figure)
            if cpu is not None:
                launch[key].append(cpu)
            print(
                f"  repeat {i + 1} {key:7s}  concviz figure "
                f"{'-' if figure is None else f'{figure:.0%}'}"
                f"  UI process launch-to-done {'-' if cpu is None else f'{cpu:.1%}'}",
                flush=True,
            )
        value = headless_once()
        if value is not None:
            headless.append(value)
        print(f"  repeat {i + 1} concviz run (headless)  observer_cpu {value}", flush=True)
    print(f"\nResults ({time.perf_counter() - started:.0f} s), median (min-max), of one core:")
    for key, values in figures.items():
        print(f"  dashboard {key:7s}  concviz figure (the run)   {med(values)}")
        print(f"  dashboard {key:7s}  UI process, launch to done {med(launch[key])}")
    print(f"  concviz run (headless)  observer_cpu           {med(headless)}")
    leftovers = ui.leftovers(wall_started)
    print("problems:", "; ".join(problems + leftovers) if problems or leftovers else "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
