"""Sealed seconds: what summing a long run's bins into one-second blocks costs, and where.

A zoomed-out timeline (a cell a second wide or more) of a long run reads each
lane's bins a whole second at a time. Those sums are taken once: in the
engine's ``maintain()`` step (this tree), or by the first view that read them
(before: the view wrote them into the aggregate while reading). The script
feeds 8 lanes of back-to-back 5 ms tasks for 110 s into a RunAggregate (no
processes, no terminal), runs the engine's maintain step as the reader would,
then draws the whole run at 110x20 cells without a TimelineCache (as after a
change of scale): the first drawing, then the median of 7 more. Process CPU time.
With ``--baseline DIR`` (another checkout) the same runs there, in its own process,
alternating.

Usage: ``python benchmarks/sealed_seconds.py [--repeats 3] [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MS = 1_000_000
LANES = 8
RUN_MS = 110_000


def child() -> None:
    """One measurement, against the tree this process imports; prints one JSON line."""
    from concviz.observer.aggregate import RunAggregate  # noqa: PLC0415
    from concviz.runner.protocol import RECORD, Kind  # noqa: PLC0415
    from concviz.tui.view import timeline_view  # noqa: PLC0415

    def rec(kind: Kind, t_ms: float, task: int = 0, tid: int = 1, aux: int = 0) -> bytes:
        return RECORD.pack(kind, 0, 0, 100, tid, task, int(t_ms * MS), 0, aux)

    spec = {"model": "threads", "workload": "cpu", "workers": LANES, "tasks": 10**7}
    agg = RunAggregate(spec, track_bins=True)
    agg.feed_text({"type": "run_start", "pid": 100, "python": "3.11", "gil_enabled": True})
    agg.feed_records(rec(Kind.RUN_START, 0))
    task = 0
    for tid in range(LANES):
        frames = []
        for t in range(0, RUN_MS, 7):
            frames.append(rec(Kind.TASK_START, t, task, tid=tid))
            frames.append(rec(Kind.TASK_FINISH, t + 5, task, tid=tid, aux=2 * MS))
            task += 1
        agg.feed_records(b"".join(frames))
    now = (RUN_MS + 5_000) * MS
    began = time.process_time()
    for _ in range(200):  # the reader's step after each batch (bounded work per call)
        agg.maintain(now)
    engine = time.process_time() - began

    def draw() -> float:
        began = time.process_time()
        timeline_view(agg, now, 110, 20, window_s=None)
        return time.process_time() - began

    first = draw()
    later = statistics.median(draw() for _ in range(7))
    print(json.dumps({"engine": engine, "first": first, "later": later}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="another checkout to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child()
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    trees = {"this tree": str(ROOT)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    got: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(args.repeats):
        for name in list(trees) if round_ % 2 == 0 else list(trees)[::-1]:
            tree = trees[name]
            done = subprocess.run(
                [sys.executable, __file__, "--child"],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": tree},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                print(f"  {name}: a run failed ({done.returncode}):", done.stderr[-2000:])
                continue
            got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"{LANES} lanes x {RUN_MS / 1000:g} s of 5 ms tasks; process CPU ms, "
        f"median of {args.repeats} (alternating):"
    )
    for name, runs in got.items():
        if not runs:
            continue

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs) * 1e3

        print(
            f"  {name:<10} engine maintain() x200 {med('engine'):6.1f}"
            f"   first whole-run timeline {med('first'):6.1f}"
            f"   later ones {med('later'):6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
