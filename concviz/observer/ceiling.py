"""The machine's ceiling: how much faster N processes run the bare CPU kernel than one.

Two busy cores each run slower than one alone (shared caches, memory
bandwidth, turbo clocks, a busy neighbour), so a perfect model on N
workers still gets less than N×. This measures that once, with no concviz
in between: the cpu workload's kernel in N plain ``multiprocessing``
processes against one, and caches it per interpreter, machine and count like
the calibration, so a reader can tell a model's loss from the hardware's.

A cached ceiling is only read while it still describes this machine: its key
names the interpreter (path, build, version, GIL), the host, the CPU model and
the core count, so another of any of them is measured anew, as a calibration
is; and it is measured again once it is :data:`MAX_AGE_S` old (a calibration
re-checks itself with a short probe at each run, but a ceiling's only check is
its measurement: the load around it, a moved VM, a new kernel change it).

Standard library only. A measurement takes a fraction of a second (the
processes start first, then all compute at once behind a barrier).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from ..runner.calibrate import (
    cache_dir,
    cpu_model,
    interpreter_build,
    read_entries,
    write_entries,
)
from ..workloads.cpu import sum_of_squares

#: 2: entries say when they were measured (1 held the bare speedup, never re-checked).
CACHE_VERSION = 2
#: A ceiling older than this is measured again (a week).
MAX_AGE_S = 7 * 24 * 3600.0
#: Kernel iterations each process runs: about 40 ms on a 2020s core.
ITERATIONS = 400_000
#: Rounds measured; the best (least disturbed) is kept.
ROUNDS = 2
#: Counts above this are not measured (starting them would not be cheap).
MAX_PROCESSES = 64


def cache_path() -> Path:
    """Next to the calibration cache."""
    return cache_dir() / "ceiling.json"


def machine_key(processes: int) -> str:
    """What a ceiling holds for: this interpreter on this machine, ``processes`` of them."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return "|".join(
        [
            sys.executable,
            interpreter_build(),
            sys.version,
            "gil" if gil else "nogil",
            platform.node(),
            platform.machine(),
            cpu_model(),
            f"cores={os.cpu_count()}",
            f"n={processes}",
        ]
    )


def _work(barrier: Barrier, results: multiprocessing.queues.Queue[float], n: int) -> None:
    barrier.wait()
    start = time.perf_counter()
    sum_of_squares(n)
    results.put(time.perf_counter() - start)


def _round(processes: int, iterations: int) -> float:
    """The slowest of ``processes`` processes' kernel times, all started together."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded dashboard
    barrier = ctx.Barrier(processes)
    results: multiprocessing.queues.Queue[float] = ctx.Queue()
    procs = [
        ctx.Process(target=_work, args=(barrier, results, iterations), daemon=True)
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        times = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
    return max(times)


def measure(processes: int, iterations: int = ITERATIONS) -> float:
    """The speedup ``processes`` processes get over one on the bare kernel (≤ N)."""
    if processes <= 1:
        return 1.0
    one = min(_round(1, iterations) for _ in range(ROUNDS))
    many = min(_round(processes, iterations) for _ in range(ROUNDS))
    if many <= 0:
        return float(processes)
    # More than N× is noise (the lone process was held off a core by other load, on a
    # busy machine, in every round): N processes cannot beat N times one.
    return min(float(processes), processes * one / many)


def _fresh(entry: Any, now: float) -> bool:
    """Whether a cache entry is a ceiling measured less than MAX_AGE_S ago."""
    if not isinstance(entry, dict):
        return False
    speedup, at = entry.get("speedup"), entry.get("measured_at")
    if not isinstance(speedup, (int, float)) or not isinstance(at, (int, float)):
        return False
    return speedup > 0 and 0 <= now - at <= MAX_AGE_S


def ceilings(
    counts: Sequence[int], measure: Callable[[int], float] = measure
) -> dict[int, float | None]:
    """The machine ceiling for each worker count, measured once and cached.

    A cached one is used while it is fresh (see the module's docstring), else
    measured again. ``measure`` is injectable; counts above :data:`MAX_PROCESSES`
    get None.
    """
    now = time.time()
    entries = read_entries(cache_path(), CACHE_VERSION)
    out: dict[int, float | None] = {}
    changed = False
    for n in sorted(set(counts)):
        if n > MAX_PROCESSES:
            out[n] = None
            continue
        key = machine_key(n)
        if not _fresh(entries.get(key), now):
            entries[key] = {"speedup": measure(n), "measured_at": now}
            changed = True
        out[n] = float(entries[key]["speedup"])
    if changed:
        # Stale entries (another interpreter's, another machine's) go when the file is written.
        kept = {k: v for k, v in entries.items() if _fresh(v, now)}
        write_entries(cache_path(), CACHE_VERSION, kept)
    return out
