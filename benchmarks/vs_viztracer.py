"""Whole-process cost of watching a pool: bare script vs VizTracer vs concviz (#21).

The same 400 tasks of ~1 ms of pure-Python CPU, as a thread pool of 4 and a
process pool of 2: the bare script (``ThreadPoolExecutor`` /
``ProcessPoolExecutor``, ``submit`` + ``as_completed``), the bare script under
VizTracer (when it is installed here: this script installs nothing), and
``concviz run --task`` running the bare script's own function in the same
model. Each row is the median wall time of N whole processes, spawned and
waited for, interleaved, and its ratio to the bare script's; memory is the
peak of the process tree's summed RSS, sampled every 10 ms (psutil).

Target (issue #21): concviz at most 1.2x the bare script on both rows.

    .venv/bin/python benchmarks/vs_viztracer.py [--runs 7]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

TASKS = 400
TARGET = 1.2

#: A plain loop (no generator, no call per iteration): a tracer that records every
#: Python call sees one call per task, as a real task's few calls would be.
FARM = """
def task(n):
    total = 0
    for i in range(n):
        total += i * i
    return total
"""
BARE = """
import sys
from concurrent.futures import {pool}, as_completed

from farm import task

N = int(sys.argv[1])

if __name__ == "__main__":
    with {pool}(max_workers={workers}) as pool:
        futures = [pool.submit(task, N) for _ in range({tasks})]
        for future in as_completed(futures):
            future.result()
"""


def measure(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak MiB (summed RSS of the tree) of one whole process."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = 0
            for p in tree:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.01)
    wall = time.perf_counter() - began
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-400:]}")
    return wall, peak / 2**20


def iterations_for_1ms(cwd: Path) -> int:
    """The n for which task(n) takes ~1 ms of CPU here (median of a few)."""
    code = (
        "import time; from farm import task\n"
        "n = 20000; best = []\n"
        "for _ in range(7):\n"
        "    t = time.thread_time(); task(n); best.append(time.thread_time() - t)\n"
        "best.sort(); print(int(n * 0.001 / best[3]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    have_viztracer = importlib.util.find_spec("viztracer") is not None
    with tempfile.TemporaryDirectory(prefix="concviz-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "farm.py").write_text(FARM)
        n = iterations_for_1ms(cwd)
        rows = (
            ("thread pool x4", "ThreadPoolExecutor", 4, "threads"),
            ("process pool x2", "ProcessPoolExecutor", 2, "processes"),
        )
        print(f"{TASKS} tasks of ~1 ms (a loop of n={n}), whole process, median of {args.runs}")
        found = "found" if have_viztracer else "not installed: its rows are skipped"
        print(f"load average {os.getloadavg()[0]:.2f}; VizTracer {found}")
        verdicts = []
        for label, pool, workers, model in rows:
            script = cwd / f"bare_{model}.py"
            script.write_text(BARE.format(pool=pool, workers=workers, tasks=TASKS))
            cmds = {
                "bare": [sys.executable, str(script), str(n)],
                "concviz run": [
                    sys.executable, "-m", "concviz", "run", "-m", model, "-n", str(workers),
                    "-t", str(TASKS), "--task", "farm:task", "--task-args", json.dumps([n]),
                    "--quiet",
                ],
            }  # fmt: skip
            # For the breakdown: the same command with one task of none of the work is
            # what concviz costs whatever the run (two interpreters, the session).
            cmds["concviz, 1 empty task"] = [
                *cmds["concviz run"][: cmds["concviz run"].index("-t")],
                "-t", "1", "--task", "farm:task", "--task-args", "[0]", "--quiet",
            ]  # fmt: skip
            if have_viztracer:
                out = str(cwd / "trace.json")
                cmds["VizTracer"] = [
                    sys.executable, "-m", "viztracer", "--quiet", "-o", out, str(script), str(n),
                ]  # fmt: skip
            for cmd in cmds.values():  # warm: bytecode, calibration
                measure(cmd, cwd)
            walls: dict[str, list[float]] = {k: [] for k in cmds}
            mems: dict[str, list[float]] = {k: [] for k in cmds}
            for _ in range(args.runs):
                for name, cmd in cmds.items():
                    wall, mem = measure(cmd, cwd)
                    walls[name].append(wall)
                    mems[name].append(mem)
            bare = statistics.median(walls["bare"])
            print(f"\n{label}")
            for name in cmds:
                wall = statistics.median(walls[name])
                ratio = wall / bare
                mem = statistics.median(mems[name])
                print(f"  {name:12s} {wall * 1000:7.0f} ms  {ratio:5.2f}x  peak {mem:6.0f} MiB")
            ratio = statistics.median(walls["concviz run"]) / bare
            verdict = "PASS" if ratio <= TARGET else "MISS"
            verdicts.append(verdict)
            print(f"  target: concviz at most {TARGET}x bare: {verdict}")
            over = statistics.median(walls["concviz run"]) - bare
            fixed = statistics.median(walls["concviz, 1 empty task"])
            empty = _empty_bare(script, cwd, args.runs)
            print(
                f"  where concviz's {over * 1000:.0f} ms over bare go: "
                f"{(fixed - empty) * 1000:.0f} ms whatever the run (concviz with one empty "
                f"task, {fixed * 1000:.0f} ms, against the bare script with none, "
                f"{empty * 1000:.0f} ms); "
                f"{(over - (fixed - empty)) * 1000:.0f} ms in the run itself"
            )
            if verdict != "PASS":
                print(
                    "  the part whatever the run, phase by phase: benchmarks/startup.py "
                    "(and the 'Issue #21' sections of benchmarks/README.md)"
                )
        print(f"\n{verdicts.count('PASS')}/{len(verdicts)} PASS")
    return 0


def _empty_bare(script: Path, cwd: Path, runs: int) -> float:
    """The bare script's own fixed cost: its pool started and shut down for 0 tasks."""
    empty = script.with_name(f"empty_{script.name}")
    empty.write_text(script.read_text().replace(f"range({TASKS})", "range(0)"))
    assert empty.read_text() != script.read_text(), "the bare script no longer says range(TASKS)"
    cmd = [sys.executable, str(empty), "0"]
    return statistics.median(measure(cmd, cwd)[0] for _ in range(runs))


if __name__ == "__main__":
    sys.exit(main())
