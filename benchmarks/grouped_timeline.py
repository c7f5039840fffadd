"""Grouped timeline: what a refresh of rows that stand for many lanes costs, A against B.

Ten thousand asyncio slots (the ``asyncio -w sleep -n 10000 --task-ms 1000``
case of many_lanes.py) are fed to a :class:`RunAggregate` as a run sends them,
without a run: slots start staggered, each runs 1 s sleeps (1 % of it on CPU)
back to back with short gaps, a failure now and then, and tasks in flight at
every moment drawn. So the figures do not wait on a real 10,000-slot run and
are the same on every machine but for its speed.

After ``--warm-up`` seconds of the run, it refreshes the timeline as the
dashboard does (every 100 ms of the run: the newest records fed, then
``timeline_view`` with its cache of settled cells) and times each refresh in
thread CPU time; then it draws it from scratch (no cache) a few times. With
``--baseline FILE`` (another version of ``concviz/tui/view.py``, e.g. from
``git show REV:concviz/tui/view.py``, its imports pointed at today's modules)
both versions draw the same aggregate at the same moments, in alternating
order, each with its own cache, and the ratio is printed: machine noise hits
both alike.

Usage: ``python benchmarks/grouped_timeline.py [--lanes 10000] [--warm-up 20]
[--refreshes 30] [--baseline FILE]``
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from concviz.observer.aggregate import RunAggregate, Sample  # noqa: E402
from concviz.runner.protocol import RECORD, START_COROUTINE, Kind, Status  # noqa: E402
from concviz.tui import view as this_view  # noqa: E402

MS = 1_000_000
COLUMNS, ROWS = 130, 19  # the timeline of a 160x45 dashboard
RUNNER, LOOP_TID = 100, 7


def records(lanes: int, until_ms: float, seed: int = 1) -> list[tuple[float, bytes]]:
    """(time in ms, record) of ``lanes`` coroutine slots running 1 s sleeps, time-ordered."""
    rng = random.Random(seed)
    out: list[tuple[float, bytes]] = []
    task = 0

    def rec(kind: Kind, t: float, task: int, slot: int, flags: int = 0, aux: int = 0) -> bytes:
        return RECORD.pack(kind, flags, slot, RUNNER, LOOP_TID, task, int(t * MS), 0, aux)

    for slot in range(lanes):
        t = slot * 0.05  # the loop starts them one after another
        while t < until_ms:
            length = rng.uniform(990, 1010)
            out.append((t, rec(Kind.TASK_START, t, task, slot, START_COROUTINE)))
            failed = Status.ERROR if rng.random() < 0.002 else Status.OK
            end = t + length
            cpu_ns = int(length * MS / 100)  # 1 % of it on CPU
            out.append((end, rec(Kind.TASK_FINISH, end, task, slot, failed, cpu_ns)))
            task += 1
            t = end + rng.uniform(0.01, 2.0)
    out.sort(key=lambda pair: pair[0])
    return out


def load_view(path: str) -> ModuleType:
    """Another version of concviz/tui/view.py, as a module of the concviz.tui package."""
    spec = importlib.util.spec_from_file_location("concviz.tui._baseline_view", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def timed(fn: Callable[[], Any]) -> float:
    began = time.thread_time_ns()
    fn()
    return (time.thread_time_ns() - began) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=10_000)
    parser.add_argument("--warm-up", type=float, default=20.0, help="seconds of run before timing")
    parser.add_argument("--refreshes", type=int, default=30)
    parser.add_argument("--scratch", type=int, default=5, help="draws from scratch")
    parser.add_argument("--baseline", metavar="FILE", help="another view.py to compare with")
    args = parser.parse_args()
    views: dict[str, ModuleType] = {"this tree": this_view}
    if args.baseline:
        views["baseline"] = load_view(args.baseline)
    end_ms = args.warm_up * 1000 + args.refreshes * 100 + 100
    began = time.perf_counter()
    stream = records(args.lanes, end_ms)
    agg = RunAggregate(
        {"model": "asyncio", "workload": "sleep", "workers": args.lanes, "tasks": 10**7},
        track_bins=True,
    )
    agg.feed_text({"type": "run_start", "pid": RUNNER, "python": "3.11.7", "gil_enabled": True})
    agg.feed_records(RECORD.pack(Kind.RUN_START, 0, 0, RUNNER, 0, 0, 0, 0, 0))
    fed = 0

    def feed_until(ms: float) -> None:
        nonlocal fed
        upto = fed
        while upto < len(stream) and stream[upto][0] <= ms:
            upto += 1
        if upto > fed:
            agg.feed_records(b"".join(r for _, r in stream[fed:upto]))
            fed = upto
        agg.samples.append(Sample(int(ms * MS), (50.0, 50.0), {(RUNNER, LOOP_TID): 30.0}, {}, 0))

    # Warm-up: the run so far, fed as the dashboard's reader does (every 100 ms).
    t = 0.0
    while t < args.warm_up * 1000:
        t += 100
        feed_until(t)
        if t % 2000 == 0:
            agg.prune_bins(int(t * MS))
    print(
        f"{args.lanes:,} slots, {len(stream):,} records, {args.warm_up:g} s of run fed in"
        f" {time.perf_counter() - began:.1f} s; timeline {COLUMNS}x{ROWS}"
    )
    caches = {name: this_view.TimelineCache() for name in views}
    refresh: dict[str, list[float]] = {name: [] for name in views}
    for k in range(args.refreshes):
        t += 100
        feed_until(t)
        now = int(t * MS)
        order = list(views) if k % 2 == 0 else list(views)[::-1]
        for name in order:
            draw = functools.partial(
                views[name].timeline_view, agg, now, COLUMNS, ROWS, cache=caches[name]
            )
            refresh[name].append(timed(draw))
    scratch: dict[str, list[float]] = {name: [] for name in views}
    for k in range(args.scratch):
        order = list(views) if k % 2 == 0 else list(views)[::-1]
        for name in order:
            scratch[name].append(
                timed(functools.partial(views[name].timeline_view, agg, now, COLUMNS, ROWS))
            )
    shown = this_view.timeline_view(agg, now, COLUMNS, ROWS)
    print(f"{shown.lanes:,} lanes, {shown.per_row} per row, {len(shown.rows)} rows")
    for name in views:
        inc, full = statistics.median(refresh[name]), statistics.median(scratch[name])
        print(
            f"  {name:<10} refresh {inc:7.2f} ms (median of {len(refresh[name])},"
            f" {min(refresh[name]):.2f}-{max(refresh[name]):.2f})"
            f"   from scratch {full:7.1f} ms (median of {len(scratch[name])})"
        )
    if len(views) == 2:
        drawn = [views[name].timeline_view(agg, now, COLUMNS, ROWS) for name in views]
        pairs = [
            (ours, theirs)
            for row, other in zip(drawn[0].rows, drawn[1].rows, strict=True)
            for ours, theirs in zip(row.cells, other.cells, strict=True)
            if (ours.glyph, ours.tone) != (theirs.glyph, theirs.tone)  # two Cell classes
        ]
        marks = sum(ours.glyph == this_view.FAILED for ours, _ in pairs)
        print(
            f"  cells drawn differently: {len(pairs)} of {len(drawn[0].rows) * COLUMNS}"
            f" ({marks} of them this tree's failure marks)"
        )
        ratio = [a / b for a, b in zip(refresh["this tree"], refresh["baseline"], strict=True)]
        full_ratio = [a / b for a, b in zip(scratch["this tree"], scratch["baseline"], strict=True)]
        print(
            f"  this tree / baseline: refresh {statistics.median(ratio):.3f}×"
            f" (median of pairs), from scratch {statistics.median(full_ratio):.3f}×"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
