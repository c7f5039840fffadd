"""The machine's ceiling: how much faster N processes run the bare CPU kernel than one.

Two busy cores each run slower than one alone (shared caches, memory
bandwidth, turbo clocks, a busy neighbour), so a perfect model on N
workers still gets less than N×. This measures that once, with no concviz
in between: the cpu workload's kernel in N plain ``multiprocessing``
processes against one, and caches it per interpreter, machine and count like
the calibration, so a reader can tell a model's loss from the hardware's.

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

from ..runner.calibrate import cache_dir, read_entries, write_entries
from ..workloads.cpu import sum_of_squares

CACHE_VERSION = 1
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
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return "|".join(
        [
            sys.executable,
            sys.version.split()[0],
            "gil" if gil else "nogil",
            platform.node(),
            platform.machine(),
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
    return processes * one / many if many > 0 else float(processes)


def _load() -> dict[str, float]:
    return {k: float(v) for k, v in read_entries(cache_path(), CACHE_VERSION).items()}


def _store(entries: dict[str, float]) -> None:
    write_entries(cache_path(), CACHE_VERSION, dict(entries))


def ceilings(
    counts: Sequence[int], measure: Callable[[int], float] = measure
) -> dict[int, float | None]:
    """The machine ceiling for each worker count, measured once and cached.

    ``measure`` is injectable; counts above :data:`MAX_PROCESSES` get None.
    """
    entries = _load()
    out: dict[int, float | None] = {}
    changed = False
    for n in sorted(set(counts)):
        if n > MAX_PROCESSES:
            out[n] = None
            continue
        key = machine_key(n)
        if key not in entries:
            entries[key] = measure(n)
            changed = True
        out[n] = entries[key]
    if changed:
        _store(entries)
    return out
