"""Task sizes: does ``--task-ms`` deliver the CPU time per task it asks for?

For each interpreter (this one and, when present, the free-threaded build),
workload (cpu, factorize) and size (1, 10, 100, 400, 2000 ms) it runs
``concviz run -m sequential`` and reads the delivered size: the median CPU
time per task as concviz itself reports it (``task_cpu_ms_median``; before
that key existed, ``cpu_s / completed``). CPU time, not wall time, so other
load on the machine adds no waiting; but on a shared machine the same work
still costs more or less CPU from one second to the next (a busy neighbour on
the host core, caches): up to ±15 % within seconds on this 2-core VM at load
5-8. A calibration is one such moment (~60 ms), cached and reused by the
later runs, so one unlucky calibration shifts a whole column.

So each cell is run with ``--calibrations`` fresh calibration caches (one per
interpreter and round, shared by its sizes, as a user's first runs would), and
right before and after each run a *drift probe* (a separate process of the
same interpreter, its kernel warmed up as a task's is) runs the kernel at the
cached table's units for 10 ms and divides its CPU time by what the table
predicts: the machine's speed now against its speed at calibration time. Per
cell it prints

- ``got ms``: the median over rounds of the delivered median task CPU;
- ``ratio``: got / asked (the verdict: PASS within ±5 %);
- ``min-max``: the rounds' ratios, the spread a user meets;
- ``drift``: the median probe ratio (1.000: the machine as fast as at calibration);
- ``model``: the median over rounds of ratio / drift: what is left once the
  machine's drift is taken out, i.e. the conversion's own (systematic) error,
  give or take the probe's own noise (a few %).

It reports, it does not gate: it exits 0 whatever the verdicts.

Usage: ``python benchmarks/task_sizes.py [--sizes 1,10,100,400,2000]
[--workloads cpu,factorize] [--calibrations 3] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from host import cpu_model

ROOT = Path(__file__).resolve().parents[1]
FREE_THREADED = Path("/root/.cache/concviz/python3.13t/bin/python3.13t")
SIZES = (1.0, 10.0, 100.0, 400.0, 2000.0)
WORKLOADS = ("cpu", "factorize")
KERNELS = {"cpu": "sum_of_squares", "factorize": "trial_division"}
TOLERANCE = 0.05
#: Roughly this much CPU per cell (more tasks for small sizes: a steadier median).
CELL_BUDGET_MS = 3000.0
#: The drift probe's size (whatever the cell's: it gauges the machine, not the size), and runs.
PROBE_MS = 10.0
PROBE_RUNS = 5

#: Run by the interpreter under test (standard library and concviz's runner side only).
PROBE = """
import json, statistics, sys
from concviz.runner import calibrate
from concviz.workloads import cpu, factorize
from concviz.workloads.base import cost_ns, units_for
kernel, ms, runs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
entries = calibrate.read_entries(calibrate.cache_path(), calibrate.CACHE_VERSION)
table = entries[calibrate.interpreter_key()][kernel]
probe = {"sum_of_squares": cpu.probe_ns, "trial_division": factorize.probe_ns}[kernel]
units = units_for(table, ms)
if kernel == "trial_division":
    units = min(units, factorize.PER_NUMBER_MAX)
# Warm, as the tasks are (CPython 3.11 specialises a function after 8 calls):
# with the workload's own warm-up where it has one, and one run at the size.
getattr({"sum_of_squares": cpu, "trial_division": factorize}[kernel], "warm_up", lambda: None)()
probe(units)
print(statistics.median(probe(units) for _ in range(runs)) / cost_ns(table, units))
"""


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


def drift(python: str, workload: str, cache: str) -> float | None:
    """The kernel's CPU cost now over what the cached calibration predicts (None:
    nothing calibrated in ``cache`` yet)."""
    cmd = [python, "-c", PROBE, KERNELS[workload], f"{PROBE_MS:g}", str(PROBE_RUNS)]
    env = dict(os.environ, CONCVIZ_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    return float(done.stdout) if done.returncode == 0 else None


def delivered_ms(summary: dict[str, Any]) -> tuple[float, str]:
    median = summary.get("task_cpu_ms_median")
    if isinstance(median, (int, float)):
        return float(median), "median"
    return 1000.0 * summary["cpu_s"] / max(1, summary["completed"]), "mean"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(f"{s:g}" for s in SIZES))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--calibrations", type=int, default=3, help="fresh caches per cell")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    workloads = args.workloads.split(",")
    pythons = [sys.executable]
    if FREE_THREADED.exists():
        pythons.append(str(FREE_THREADED))
    else:
        print(f"(no free-threaded build at {FREE_THREADED}: this interpreter only)")
    print(
        f"host: {cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"tolerance +-{TOLERANCE:.0%}; {args.calibrations} fresh calibrations per cell"
    )
    columns = f"{'python':<12} {'workload':<10} {'asked ms':>9} {'got ms':>9} {'ratio':>6}"
    print(columns + f" {'min-max':>11} {'drift':>6} {'model':>6}  tasks  verdict")
    rows: list[dict[str, Any]] = []
    misses = model_misses = 0
    for python in pythons:
        # cells[(workload, ms)] = [(delivered ms, drift, summary), ...], one per calibration
        cells: dict[tuple[str, float], list[tuple[float, float, dict[str, Any]]]] = {}
        for _ in range(args.calibrations):
            with tempfile.TemporaryDirectory(prefix="concviz-sizes-") as cache:
                for workload in workloads:
                    for ms in sizes:
                        # (the first run of a cache calibrates: nothing to probe before it)
                        before = drift(python, workload, cache)
                        summary = run_cell(python, workload, ms, cache)
                        after = drift(python, workload, cache)
                        if after is None:
                            raise RuntimeError(f"{python}: no calibration in {cache} after a run")
                        now = after if before is None else (before + after) / 2
                        got, _how = delivered_ms(summary)
                        cells.setdefault((workload, ms), []).append((got, now, summary))
        for (workload, ms), results in cells.items():
            got = statistics.median(r[0] for r in results)
            ratios = [r[0] / ms for r in results]
            ratio = got / ms
            drift_now = statistics.median(r[1] for r in results)
            model = statistics.median(r[0] / ms / r[1] for r in results)
            ok = abs(ratio - 1.0) <= TOLERANCE
            model_ok = abs(model - 1.0) <= TOLERANCE
            misses += not ok
            model_misses += not model_ok
            summary = results[-1][2]
            label = summary["python"] + ("t" if summary.get("gil_enabled") is False else "")
            spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
            print(
                f"{label:<12} {workload:<10} {ms:>9g} {got:>9.2f} {ratio:>6.3f} {spread:>11}"
                f" {drift_now:>6.3f} {model:>6.3f}  {summary['completed']:>5}"
                f"  {'PASS' if ok else 'MISS'}",
                flush=True,
            )
            rows.append(
                {
                    "python": label,
                    "workload": workload,
                    "asked_ms": ms,
                    "delivered_ms": got,
                    "ratio": ratio,
                    "ratios": ratios,
                    "drift": drift_now,
                    "model": model,
                    "tasks": summary["completed"],
                    "pass": ok,
                }
            )
    print(
        f"{len(rows) - misses}/{len(rows)} PASS (delivered); "
        f"{len(rows) - model_misses}/{len(rows)} within +-5 % once the machine's drift is out"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
