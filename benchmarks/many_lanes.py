"""Many lanes: what the timeline costs when a run has hundreds or thousands of workers.

A thousand asyncio slots or thousands of short-lived threads are drawn as rows
that each stand for many lanes. This script runs such models for real (a
RunSession, the dashboard's own) and, once each run has gone a few seconds,
times ``timeline_view`` as the dashboard calls it: every 100 ms, with its cache
of settled cells (``incremental``), then without it on the same aggregate a
few instants later (``from scratch``), in thread CPU time.

Then it opens the real dashboard headless (``App.run_test``, 160x45), each
time in a fresh process, on a 1000-slot asyncio run and a 200-thread
thread-per-task run, and reads the CPU of its threads over 3 s mid-run: the
drawing (main thread, held near REFRESH_BUDGET of a core by refreshing less
often) and the event reader. With ``--baseline DIR`` (another checkout, e.g.
``git worktree add /tmp/old <commit>``) the same runs alternate with that
tree's, and the ratio is printed.

Usage: ``python benchmarks/many_lanes.py [--refreshes 15] [--repeats 3] [--baseline DIR]``;
``--case asyncio,10000,400000,1000,sleep --warm-up 20`` times only that run's
timeline (no dashboards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if "--dashboard" not in sys.argv:  # a child runs against the tree it is started in
    sys.path.insert(0, str(ROOT))

from concviz.observer.session import RunSession  # noqa: E402
from concviz.runner.spec import RunSpec  # noqa: E402
from concviz.tui.view import TimelineCache, timeline_view  # noqa: E402

#: model, workers, tasks, task ms, workload: each runs well past the measuring.
CASES = (
    ("asyncio", 1000, 40_000, 200, "sleep"),
    ("asyncio", 100, 4_000, 200, "sleep"),
    ("thread-per-task", 200, 40_000, 100, "sleep"),
    ("threads", 8, 8_000, 5, "cpu"),
)
COLUMNS, ROWS = 130, 19  # the timeline of a 160x45 dashboard
WARM_UP_S = 3.0
WINDOW_S = 3.0


def timed(fn: Any) -> float:
    began = time.thread_time()
    fn()
    return time.thread_time() - began


def one_case(
    model: str, workers: int, tasks: int, ms: int, workload: str, n: int, warm_up: float
) -> None:
    """Refreshes as the dashboard does (every 100 ms, one cache), then a few from scratch."""
    spec = RunSpec(model=model, workload=workload, workers=workers, tasks=tasks, task_ms=ms)
    cache = TimelineCache()
    kept: list[float] = []
    scratch: list[float] = []
    with RunSession(spec, track_bins=True) as session:
        time.sleep(warm_up)
        agg = session.aggregate
        for _ in range(n):
            with session.lock:
                now = session.now_ns()
                kept.append(timed(lambda: timeline_view(agg, now, COLUMNS, ROWS, cache=cache)))  # noqa: B023
            time.sleep(0.1)
        for _ in range(3):
            with session.lock:
                now = session.now_ns()
                scratch.append(timed(lambda: timeline_view(agg, now, COLUMNS, ROWS)))  # noqa: B023
                lanes = len(agg.lane_list)
            time.sleep(0.1)
        session.stop()
    inc, full = statistics.median(kept), statistics.median(scratch)
    print(
        f"{model:>16} × {workers:<5} {lanes:6,} lanes   incremental {inc * 1e3:6.1f} ms"
        f" ({min(kept) * 1e3:.1f}-{max(kept) * 1e3:.1f})   from scratch {full * 1e3:6.1f} ms"
        f"   {full / inc:4.1f}×   at 10 Hz: {inc * 10:.0%} of a core"
    )


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, by Python thread name (from /proc)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        name = names.get(int(task.name), "other")
        out[name] = out.get(name, 0.0) + ns / 1e9
    return out


DASHBOARD_CASES = (
    ("asyncio", 1000, 40_000, 200, "sleep"),
    ("thread-per-task", 200, 40_000, 100, "sleep"),
)


async def dashboard(model: str, workers: int, tasks: int, ms: int, workload: str) -> None:
    """One headless dashboard on a run: prints its threads' CPU as one JSON line."""
    from concviz.tui.app import ConcvizApp  # noqa: PLC0415

    spec = RunSpec(model=model, workload=workload, workers=workers, tasks=tasks, task_ms=ms)
    app = ConcvizApp(spec)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(1.5)
        await pilot.press("r")
        await pilot.pause(2.0)
        before, began = thread_cpu(), time.perf_counter()
        await pilot.pause(WINDOW_S)
        after, wall = thread_cpu(), time.perf_counter() - began
    shares = {k: (v - before.get(k, 0.0)) / wall for k, v in after.items()}
    print(json.dumps(shares))


def measure_dashboards(baseline: str | None, repeats: int) -> None:
    """Each case in a fresh process (this tree, and the baseline's in turn), median shares."""
    trees = {"this tree": str(ROOT)}
    if baseline:
        trees["baseline"] = str(Path(baseline).resolve())
    print(
        f"\ndashboard headless at 160x45, CPU of its threads over {WINDOW_S:g} s mid-run"
        f" (median of {repeats}, alternating):"
    )
    for case in DASHBOARD_CASES:
        got: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for round_ in range(repeats):
            order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for name in order:
                tree = trees[name]
                done = subprocess.run(
                    [sys.executable, __file__, "--dashboard", ",".join(map(str, case))],
                    cwd=tree,
                    env={**os.environ, "PYTHONPATH": tree},
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                if done.returncode != 0:
                    tail = done.stderr.strip().splitlines()[-25:]
                    print(
                        f"  {name}: a dashboard run failed ({done.returncode}):",
                        *tail,
                        sep="\n    ",
                    )
                    continue
                got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
        label = f"{case[0]} × {case[1]}"
        totals = {}
        for name, runs in got.items():
            if not runs:
                continue
            total = statistics.median(sum(r.values()) for r in runs)
            main = statistics.median(r.get("MainThread", 0.0) for r in runs)
            reader = statistics.median(r.get("concviz-reader", 0.0) for r in runs)
            totals[name] = total
            print(
                f"  {label:<22} {name:<10} {total:4.0%} of a core"
                f"  (drawing {main:.0%}, event reader {reader:.0%})"
            )
        if len(totals) == 2:
            print(f"  {label:<22} ratio      {totals['this tree'] / totals['baseline']:.2f}×")


def _parse_case(text: str) -> tuple[str, int, int, int, str]:
    model, workers, tasks, ms, workload = text.split(",")
    return model, int(workers), int(tasks), int(ms), workload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3, help="dashboard runs per case and tree")
    parser.add_argument("--baseline", metavar="DIR", help="another checkout to compare with")
    parser.add_argument(
        "--case",
        action="append",
        metavar="MODEL,WORKERS,TASKS,MS,WORKLOAD",
        help="time timeline_view on this run instead of the built-in ones (repeatable),"
        " e.g. asyncio,10000,400000,1000,sleep",
    )
    parser.add_argument("--warm-up", type=float, default=WARM_UP_S, help="seconds before timing")
    parser.add_argument("--dashboard", help=argparse.SUPPRESS)  # one case, in a child
    args = parser.parse_args(argv)
    if args.dashboard:
        model, *numbers, workload = args.dashboard.split(",")
        workers, tasks, ms = (int(n) for n in numbers)
        asyncio.run(dashboard(model, workers, tasks, ms, workload))
        return 0
    print(f"timeline_view, {COLUMNS}x{ROWS} cells, thread CPU per refresh (median, range):")
    cases = [_parse_case(text) for text in args.case] if args.case else CASES
    for case in cases:
        one_case(*case, n=args.refreshes, warm_up=args.warm_up)
    if not args.case:
        measure_dashboards(args.baseline, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
