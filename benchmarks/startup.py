"""What `concviz run` costs before any work: one tiny task, whole process, against bare Python.

Issue #21's target: ``concviz run`` of one tiny task takes at most bare
``python -c pass`` + 0.12 s, as whole processes (spawned, waited for),
measured side by side, interleaved, median of N. Then where the time goes:
the observer's imports, the session's start (socket, reader, sampler), the
runner's start up to its first event, and the run to its end, measured
in-process with the same spec, and the heaviest imports of each side
(``-X importtime``).

    .venv/bin/python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGET_EXTRA_S = 0.12
TINY = ["run", "-m", "sequential", "-w", "sleep", "-t", "1", "--task-ms", "1", "--quiet"]

#: As ``concviz run`` does it: the runner started ahead (concviz.startup), then the
#: observer's imports while it starts, then the session that hands it its arguments.
PHASES = """
import sys, time
t0 = time.perf_counter()
from concviz.observer.launch import EarlyRunner
early = EarlyRunner(sys.executable)
t1 = time.perf_counter()
from concviz.observer.session import RunSession
from concviz.runner.spec import RunSpec
t2 = time.perf_counter()
s = RunSession(RunSpec(model="sequential", workload="sleep", tasks=1, task_ms=1), early=early)
s.start()
t3 = time.perf_counter()
while s.aggregate.run_start_ns is None and not s.done.is_set():
    time.sleep(0.0005)
t4 = time.perf_counter()
s.wait()
t5 = time.perf_counter()
s.close()
t6 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
"""
PHASE_NAMES = (
    "the runner started ahead (its interpreter spawned)",
    "observer imports (session, spec), while it starts",
    "session start (socket, reader, sampler, arguments given)",
    "to the run's first event (the runner's start and imports)",
    "the run, to the session's end",
    "close",
)


def whole(cmd: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def top_imports(cmd: list[str], n: int = 6) -> list[tuple[float, str]]:
    """The slowest top-level imports (cumulative µs) of ``cmd`` under -X importtime."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd], capture_output=True, text=True, check=False
    ).stderr
    rows: list[tuple[float, str]] = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if name.startswith("  "):  # imported by another module: counted in its parent
            continue
        if cumulative.strip().isdigit():
            rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:n]


def bytecode_state() -> str:
    """Whether concviz's own modules start from cached bytecode or are compiled at every start."""
    import importlib.util  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import concviz  # noqa: PLC0415

    source = Path(concviz.__file__).parent / "cli" / "__init__.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    fresh = cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime
    said = os.environ.get("PYTHONDONTWRITEBYTECODE")
    env = f"PYTHONDONTWRITEBYTECODE={said}" if said else "bytecode written on first import"
    state = "cached" if fresh else "not cached, compiled at every start"
    return f"concviz's bytecode: {state} ({env})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bare_cmd = [sys.executable, "-c", "pass"]
    run_cmd = [sys.executable, "-m", "concviz", *TINY]
    whole(run_cmd)  # calibration cache and bytecode warm
    bare: list[float] = []
    ran: list[float] = []
    for _ in range(args.runs):
        bare.append(whole(bare_cmd))
        ran.append(whole(run_cmd))
    b, r = statistics.median(bare), statistics.median(ran)
    load = os.getloadavg()[0]
    print(f"start-up, whole process, median of {args.runs} interleaved (load {load:.2f})")
    print(f"  python -c pass                  {b * 1000:7.0f} ms")
    print(f"  concviz {' '.join(TINY)}")
    print(f"                                  {r * 1000:7.0f} ms   (+{(r - b) * 1000:.0f} ms)")
    verdict = "PASS" if r - b <= TARGET_EXTRA_S else "MISS"
    print(f"  target: at most bare + {TARGET_EXTRA_S * 1000:.0f} ms: {verdict}")
    print(f"  {bytecode_state()}")
    phases = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", PHASES], capture_output=True, text=True, check=True
        ).stdout
        phases.append([float(x) for x in out.split()])
    print(f"\nwhere it goes (in-process, median of {args.runs})")
    for i, name in enumerate(PHASE_NAMES):
        print(f"  {name:55s} {statistics.median(p[i] for p in phases) * 1000:6.0f} ms")
    print("\nheaviest top-level imports, cumulative (one run each)")
    for label, cmd in (
        ("concviz run", ["-m", "concviz", *TINY]),
        ("runner side", ["-c", "import concviz.runner.run"]),
    ):
        print(f"  {label}:")
        for seconds, name in top_imports(cmd):
            print(f"    {seconds * 1000:6.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
