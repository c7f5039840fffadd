"""What NumPy (``concviz[fast]``) buys: the observer's bulk path against record by record.

Two measurements, each interleaved (with NumPy, without, with, ...) so a busy
machine weighs on both alike:

1. **The aggregate alone.** A stream of task records as a busy run sends them
   (``--lanes`` threads, tasks of ``--task-us`` each, queued/started/finished,
   4096-record frames, a 50 ms flush's worth at high rates) is fed to
   ``RunAggregate(bulk=True)`` and ``RunAggregate(bulk=False)``; thread CPU time
   per event, the best of ``--repeats``.
2. **A real run.** ``concviz run --json`` of a busy threads run in a fresh
   interpreter, once normally and once with ``import numpy`` failing (as in an
   install without the extra); the run's own ``observer_cpu`` (the observer's
   share of a core) and wall time, medians of ``--repeats``.

Usage: ``python benchmarks/numpy_gain.py [--repeats 5] [--events 600000]``.
It reports, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from concviz.observer import aggregate as aggregate_module
from concviz.observer.aggregate import RunAggregate
from concviz.runner.protocol import RECORD, Kind, Status

RUNNER = 100
FRAME = 4096  # records
RUN = ["run", "-m", "threads", "-w", "cpu", "-n", "4", "-t", "100000", "--task-ms", "0.005"]


def stream(events: int, lanes: int, task_us: int) -> list[bytes]:
    """Frames of QUEUED/START/FINISH records, lanes taking tasks in turn."""
    t = 10**12
    records: list[bytes] = []
    task = 0
    while len(records) < events:
        for lane in range(lanes):
            tid = 1000 + lane
            records.append(RECORD.pack(Kind.TASK_QUEUED, 0, 0, RUNNER, 1, task, t, 0, 0))
            records.append(RECORD.pack(Kind.TASK_START, 0, 0, RUNNER, tid, task, t + 500, 0, 0))
            t += task_us * 1000
            cpu = task_us * 900
            records.append(
                RECORD.pack(Kind.TASK_FINISH, Status.OK, 0, RUNNER, tid, task, t, cpu, cpu)
            )
            task += 1
    return [b"".join(records[i : i + FRAME]) for i in range(0, len(records), FRAME)]


def feed_once(frames: list[bytes], bulk: bool) -> float:
    """Thread CPU seconds to apply every frame."""
    agg = RunAggregate({"model": "threads", "workload": "cpu", "workers": 4}, bulk=bulk)
    agg.feed_records(RECORD.pack(Kind.RUN_START, 0, 0, RUNNER, 1, 0, 10**12, 0, 0))
    start = time.thread_time()
    for frame in frames:
        agg.feed_records(frame)
    return time.thread_time() - start


def real_run(numpy: bool) -> dict[str, float]:
    prelude = "" if numpy else "sys.modules['numpy'] = None\n"
    code = (
        "import sys\n" + prelude + "from concviz.cli import main\n"
        f"code = main({[*RUN, '--json']!r})\n"
        "assert ('concviz.observer.bulk' in sys.modules) == " + repr(numpy) + "\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])["runs"][0]
    assert result["status"] == "done", result
    return {
        "observer_cpu": float(result["observer_cpu"]),
        "wall_s": float(result["wall_s"]),
        "events": float(result["events"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--task-us", type=int, default=20)
    args = parser.parse_args(argv)
    aggregate_module.load_bulk()

    frames = stream(args.events, args.lanes, args.task_us)
    events = sum(len(f) for f in frames) // RECORD.size
    print(f"python {sys.version.split()[0]}; {events} events in {len(frames)} frames")
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):
        for bulk in (True, False):
            times[bulk].append(feed_once(frames, bulk))
    fast, slow = min(times[True]), min(times[False])
    print("1. the aggregate alone (best of repeats, thread CPU):")
    print(f"   with NumPy (bulk):          {events / fast / 1e6:6.2f} M events/s")
    print(f"   without (record by record): {events / slow / 1e6:6.2f} M events/s")
    print(f"   NumPy: {slow / fast:.1f}x the events per CPU second")

    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(args.repeats):
        for numpy in (True, False):
            runs[numpy].append(real_run(numpy))
    print(f"2. concviz {' '.join(RUN)} --json (medians of {args.repeats}):")
    for numpy in (True, False):
        cpu = statistics.median(r["observer_cpu"] for r in runs[numpy])
        wall = statistics.median(r["wall_s"] for r in runs[numpy])
        n = statistics.median(r["events"] for r in runs[numpy])
        label = "with NumPy:   " if numpy else "without NumPy:"
        print(f"   {label} observer {cpu:5.0%} of a core, wall {wall:5.2f} s, {n:.0f} events")
    with_cpu = statistics.median(r["observer_cpu"] for r in runs[True])
    without_cpu = statistics.median(r["observer_cpu"] for r in runs[False])
    print(f"   observer CPU without / with NumPy: {without_cpu / with_cpu:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
