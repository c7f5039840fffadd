"""Lane memory: what the dashboard's aggregate holds on a long run with many busy lanes.

A 1000-slot asyncio run of 200 ms waits keeps every slot busy. The script runs
it for real (a RunSession with busy-time bins, as the dashboard opens it),
refreshes the aggregate the way the dashboard does (``prune_bins`` every 100 ms),
and after ``--seconds`` prints the process's peak RSS, the fine bins and
one-second blocks the lanes hold, and the longest ``prune_bins`` call. Each
run is a fresh process; with ``--baseline DIR`` (another checkout) the runs
alternate with that tree's.

Usage: ``python benchmarks/lane_memory.py [--seconds 60] [--repeats 2] [--baseline DIR]
[--workers 1000] [--task-ms 200]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--child" not in sys.argv:  # a child runs against the tree it is started in
    sys.path.insert(0, str(ROOT))


def child(workers: int, seconds: float, task_ms: float) -> None:
    """One run: prints its figures as one JSON line."""
    from concviz.observer.session import RunSession  # noqa: PLC0415
    from concviz.runner.spec import RunSpec  # noqa: PLC0415

    spec = RunSpec(
        model="asyncio", workload="sleep", workers=workers, tasks=1_000_000, task_ms=task_ms
    )
    longest = 0.0
    with RunSession(spec, track_bins=True) as session:
        agg = session.aggregate
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with session.lock:
                began = time.perf_counter()
                agg.prune_bins(session.now_ns())
                longest = max(longest, time.perf_counter() - began)
            time.sleep(0.1)
        with session.lock:
            lanes = agg.lane_list
            fine = sum(len(lane.busy_bins) + len(getattr(lane, "runs", ())) for lane in lanes)
            blocks = sum(len(lane.blocks) for lane in lanes)
            n_lanes = len(lanes)
            if not n_lanes:
                raise SystemExit(f"the run did not start: {agg.run_error or session.stderr_tail}")
        session.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(
        json.dumps(
            {"lanes": n_lanes, "fine": fine, "blocks": blocks, "rss": peak, "prune_s": longest}
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--task-ms", type=float, default=200.0)
    parser.add_argument("--baseline", help="another checkout to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.workers, args.seconds, args.task_ms)
        return 0
    trees = {"this tree": str(ROOT)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    print(
        f"asyncio × {args.workers}, {args.task_ms:g} ms sleeps, {args.seconds:g} s in"
        f" (median of {args.repeats}, alternating):"
    )
    got: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(args.repeats):
        for name in list(trees) if round_ % 2 == 0 else list(trees)[::-1]:
            tree = trees[name]
            command = [sys.executable, __file__, "--child", "--workers", str(args.workers)]
            command += ["--task-ms", str(args.task_ms)]
            done = subprocess.run(
                [*command, "--seconds", str(args.seconds)],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": tree},
                capture_output=True,
                text=True,
                timeout=args.seconds + 120,
                check=False,
            )
            if done.returncode != 0:
                print(f"  {name}: a run failed ({done.returncode}):", done.stderr[-2000:])
                continue
            got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for name, runs in got.items():
        if not runs:
            continue

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        each = ", ".join(f"{r['rss'] / 2**20:.0f}" for r in runs)
        print(
            f"  {name:<10} peak RSS {med('rss') / 2**20:6.0f} MiB ({each})"
            f"   fine bins {med('fine'):11,.0f}   blocks {med('blocks'):9,.0f}"
            f"   lanes {med('lanes'):6,.0f}   longest prune_bins {med('prune_s') * 1e3:5.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
