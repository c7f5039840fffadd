"""Samples the machine and the run's workers from outside the runner.

A thread in the observer process: a sampler inside the runner would fight the
workload for its GIL (a sampler thread in a GIL-contended process overslept its
100 ms ticks by ~30 ms here) and would make the run it measures slower.

Per-core CPU comes from psutil; per-thread CPU from
``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds, where psutil's per-thread
times are 10 ms ticks, too coarse at 10 Hz), falling back to psutil elsewhere;
RSS from ``/proc/<pid>/statm``, or psutil; the run's total memory as the sum of
its processes' PSS (:mod:`.memory`), read less often when that gets costly.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

import psutil

from ..runner.memory import MEASURE, footprint, statm_rss
from .aggregate import RunAggregate, Sample

#: Sees each tick as it is recorded (a recording).
SampleTap = Callable[[Sample, int, list[float], list[float]], None]

_HAS_PROC = os.path.exists("/proc/self/task")
#: Share of one core the total-memory reads may take: PSS costs ~0.1 ms a
#: process, so with many worker processes it is read every few ticks instead,
#: but at least every MEMORY_EVERY_MAX ticks (a peak lasts at least that long
#: to be seen; one slow read on a busy machine must not blind it for seconds).
MEMORY_BUDGET = 0.01
MEMORY_EVERY_MAX = 5


def thread_times(pid: int, tid: int) -> tuple[int, int | None] | None:
    """One OS thread's CPU time and run-queue wait so far, in ns (None: it has gone).

    The run-queue wait is the time the thread was runnable but no core ran it
    (Linux's schedstat; None elsewhere). A thread waiting for the GIL, a lock
    or I/O sleeps: that is not in it. So it tells "too many workers for the
    cores" apart from "the GIL lets one run at a time".
    """
    if _HAS_PROC:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                fields = f.read().split()
            return int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):
            return None
    try:  # pragma: no cover - non-Linux fallback
        for thread in psutil.Process(pid).threads():
            if thread.id == tid:
                return int((thread.user_time + thread.system_time) * 1e9), None
    except psutil.Error:
        pass
    return None  # pragma: no cover


def rss_bytes(pid: int) -> int | None:
    if _HAS_PROC:
        return statm_rss(pid)
    try:  # pragma: no cover
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:  # pragma: no cover
        return None


class Sampler:
    """Reads CPU, RSS and queue depth at ``hz`` and hands each tick to the aggregate."""

    def __init__(
        self,
        aggregate: RunAggregate,
        lock: threading.Lock,
        hz: float = 10.0,
        on_sample: SampleTap | None = None,
    ) -> None:
        self.aggregate = aggregate
        self.on_sample = on_sample
        self.lock = lock
        self.interval = 1.0 / hz
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="concviz-sampler", daemon=True)
        self._last_threads: dict[tuple[int, int], tuple[int, int | None]] = {}
        self._last_cores = psutil.cpu_times(percpu=True)
        self._last_t = time.monotonic_ns()
        self._last_own = time.process_time_ns()
        #: Seconds spent sampling, for the observer-overhead report.
        self.busy_s = 0.0
        self.ticks = 0
        self.late_ticks = 0
        self._memory_every = 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        next_tick = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            began = time.perf_counter()
            self.tick()
            self.busy_s += time.perf_counter() - began
            next_tick += self.interval
            now = time.monotonic()
            if (
                now > next_tick
            ):  # fell behind (a suspended laptop, a starved core): skip, never burst
                self.late_ticks += 1
                next_tick = now + self.interval

    def tick(self) -> None:
        with self.lock:
            threads, pids = self.aggregate.observed()
            born = self.aggregate.born_in_run()
            depth = self.aggregate.queue_depth()
        now = time.monotonic_ns()
        since = self._last_t
        dt = max(1, now - since)
        self._last_t = now

        cores_now = psutil.cpu_times(percpu=True)
        busy: list[float] = []
        total: list[float] = []
        percents: list[float] = []
        for before, after in zip(self._last_cores, cores_now, strict=False):
            t = sum(after) - sum(before)
            idle = (after.idle + getattr(after, "iowait", 0.0)) - (
                before.idle + getattr(before, "iowait", 0.0)
            )
            b = max(0.0, t - idle)
            busy.append(b)
            total.append(max(t, 0.0))
            percents.append(100.0 * b / t if t > 0 else 0.0)
        self._last_cores = cores_now

        thread_pct: dict[tuple[int, int], float] = {}
        last = self._last_threads
        current: dict[tuple[int, int], tuple[int, int | None]] = {}
        core_wait: int | None = 0 if _HAS_PROC else None
        waits: dict[tuple[int, int], float] = {}
        for pid, tid in threads:
            times = thread_times(pid, tid)
            if times is None:
                continue
            current[(pid, tid)] = times
            previous = last.get((pid, tid))
            if previous is not None:
                thread_pct[(pid, tid)] = 100.0 * (times[0] - previous[0]) / dt
            if core_wait is None or times[1] is None:
                continue
            if previous is not None and previous[1] is not None:
                core_wait += times[1] - previous[1]
                waits[(pid, tid)] = 100.0 * (times[1] - previous[1]) / dt
            elif previous is None and (pid, tid) in born:
                core_wait += times[1]  # its whole wait so far fell within the run
        self._last_threads = current

        rss: dict[int, int] = {}
        for pid in pids:
            value = rss_bytes(pid)
            if value is not None:
                rss[pid] = value

        memory = None
        if self.ticks % self._memory_every == 0:
            memory = self._total_memory(pids, rss)

        # This process's own CPU, every thread of it: what watching the run costs.
        own = time.process_time_ns()
        observer_ns = own - self._last_own
        self._last_own = own

        sample = Sample(
            now, tuple(percents), thread_pct, rss, depth, memory, core_wait, waits, observer_ns
        )
        with self.lock:
            self.aggregate.add_sample(sample, since, busy, total)
        if self.on_sample is not None:
            self.on_sample(sample, since, busy, total)
        self.ticks += 1

    def _total_memory(self, pids: list[int], rss: dict[int, int]) -> int | None:
        """The PSS of the run's processes added up (their RSS where PSS is not offered)."""
        if not MEASURE:  # pragma: no cover - no /proc: psutil's RSS, already read
            return sum(rss.values()) or None
        began = time.perf_counter()
        total = 0
        for pid in pids:
            value = footprint(pid)
            if value is not None:
                total += value
        cost = time.perf_counter() - began
        every = math.ceil(cost / (MEMORY_BUDGET * self.interval))
        self._memory_every = max(1, min(every, MEMORY_EVERY_MAX))
        return total or None
