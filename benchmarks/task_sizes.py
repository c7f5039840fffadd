"""Task sizes: does ``--task-ms`` deliver the CPU time per task it asks for?

For each interpreter (this one and, when present, the free-threaded build),
workload (cpu, factorize) and size (1, 10, 100, 400, 2000 ms) it runs
``concviz run -m sequential`` with a fresh calibration cache (one per
interpreter, shared by its sizes, as a user's first runs would) and prints the
asked size next to the delivered one: the median CPU time per task as concviz
itself reports it (``task_cpu_ms_median``; before that key existed,
``cpu_s / completed``), the ratio, and PASS/MISS against +-5 %. CPU time, not
wall time, so other load on the machine only adds noise, not bias.

It reports, it does not gate: it exits 0 whatever the verdicts.

Usage: ``python benchmarks/task_sizes.py [--sizes 1,10,100,400,2000]
[--workloads cpu,factorize] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from host import cpu_model

FREE_THREADED = Path("/root/.cache/concviz/python3.13t/bin/python3.13t")
SIZES = (1.0, 10.0, 100.0, 400.0, 2000.0)
WORKLOADS = ("cpu", "factorize")
TOLERANCE = 0.05
#: Roughly this much CPU per cell (more tasks for small sizes: a steadier median).
CELL_BUDGET_MS = 3000.0


def tasks_for(ms: float) -> int:
    return max(3, min(41, round(CELL_BUDGET_MS / ms)))


def run_cell(python: str, workload: str, ms: float, cache: str) -> dict[str, Any]:
    cmd = [
        *(sys.executable, "-m", "concviz", "run", "-m", "sequential"),
        *("-w", workload, "-t", str(tasks_for(ms)), "--task-ms", f"{ms:g}"),
        *("--python", python, "--json", "--quiet"),
    ]
    env = dict(os.environ, CONCVIZ_CACHE_DIR=cache)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()[-300:]}")
    data = json.loads(done.stdout)
    # The run's summary, whether --json prints it bare or in the envelope of later versions.
    summary: dict[str, Any] = data["runs"][0] if "runs" in data else data
    return summary


def delivered_ms(summary: dict[str, Any]) -> tuple[float, str]:
    median = summary.get("task_cpu_ms_median")
    if isinstance(median, (int, float)):
        return float(median), "median"
    return 1000.0 * summary["cpu_s"] / max(1, summary["completed"]), "mean"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(f"{s:g}" for s in SIZES))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    workloads = args.workloads.split(",")
    pythons = [sys.executable]
    if FREE_THREADED.exists():
        pythons.append(str(FREE_THREADED))
    else:
        print(f"(no free-threaded build at {FREE_THREADED}: this interpreter only)")
    print(f"host: {cpu_model()}, {os.cpu_count()} CPUs; tolerance +-{TOLERANCE:.0%}")
    columns = f"{'python':<12} {'workload':<10} {'asked ms':>9} {'got ms':>9} {'ratio':>6}"
    print(columns + "  tasks  verdict")
    rows: list[dict[str, Any]] = []
    misses = 0
    for python in pythons:
        with tempfile.TemporaryDirectory(prefix="concviz-sizes-") as cache:
            for workload in workloads:
                for ms in sizes:
                    summary = run_cell(python, workload, ms, cache)
                    got, how = delivered_ms(summary)
                    ratio = got / ms
                    ok = abs(ratio - 1.0) <= TOLERANCE
                    misses += not ok
                    label = summary["python"] + ("t" if summary.get("gil_enabled") is False else "")
                    print(
                        f"{label:<12} {workload:<10} {ms:>9g} {got:>9.2f} {ratio:>6.3f}"
                        f"  {summary['completed']:>5}  {'PASS' if ok else 'MISS'}"
                        f"{'' if how == 'median' else ' (mean: no median in this version)'}",
                        flush=True,
                    )
                    rows.append(
                        {
                            "python": label,
                            "workload": workload,
                            "asked_ms": ms,
                            "delivered_ms": got,
                            "ratio": ratio,
                            "tasks": summary["completed"],
                            "pass": ok,
                        }
                    )
    print(f"{len(rows) - misses}/{len(rows)} PASS")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
