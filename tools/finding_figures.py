"""Prints, for every shipped scenario's runs, the figures the findings' thresholds rest on.

    .venv/bin/python tools/finding_figures.py [NAME ...] [--repeat N]

Run it on the machine the thresholds are for (they are quoted in concviz/findings.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from concviz.observer.session import LocalHttpServer
from concviz.scenario import shipped
from tests.scenario_runs import run_one, scenario_runs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    names = args.names or list(shipped())
    print(
        "scenario / run | par | on-CPU | wait | blocked | start/wall | held/wall | "
        "q full | q empty | busy | tail/wall | last/median | findings"
    )
    with LocalHttpServer() as http:
        for _ in range(args.repeat):
            for name in names:
                for run in scenario_runs(name):
                    s, sh = run_one(run, http)
                    wait = s.core_wait_fraction or 0.0
                    blocked = max(0.0, 1 - s.on_cpu_fraction - wait)
                    start = (s.worker_startup_s or 0.0) / s.wall_s if s.wall_s else 0.0
                    stretch = sh.loop_held_s / s.wall_s if s.wall_s else 0.0
                    tail = sh.tail_s / s.wall_s if s.wall_s else 0.0
                    ratio = sh.last_task_s / sh.median_task_s if sh.median_task_s else 0.0
                    codes = ",".join(f["code"] for f in s.findings) or "-"
                    print(
                        f"{name} / {run.label} | {s.parallelism:.2f} | {s.on_cpu_fraction:.2f} | "
                        f"{wait:.2f} | {blocked:.2f} | {start:.2f} | {stretch:.2f} | "
                        f"{sh.queue_full_share:.2f} | {sh.queue_empty_share:.2f} | "
                        f"{sh.busy_share:.2f} | {tail:.2f} | {ratio:.2f} | {codes}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
