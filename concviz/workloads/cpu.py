"""CPU-bound work: the curriculum's sum of squares, pure Python, never releases the GIL."""

from __future__ import annotations

import statistics
import time

from .base import WARM_CALLS, Workload, WorkloadParams, cost_ns, units_for


def sum_of_squares(n: int) -> int:
    return sum(i * i for i in range(n))


#: The partial sum outgrows a C long (sum() leaves its fast path) at this n.
_LONG_OVERFLOW = 3_024_618  # the smallest n with sum(i*i for i < n) >= 2**63
#: Where the marginal cost per iteration is probed (segment starts): log-spaced
#: up to beyond a 2 s task, with both sides of the steps (i*i leaving one 30-bit
#: digit at 32768, the sum leaving the C long at :data:`_LONG_OVERFLOW`).
_SEGMENT = 16_384


def _probe_starts() -> list[int]:
    starts = [0, 32_768 - _SEGMENT, 32_768, 65_536, 131_072, 262_144, 524_288]
    starts += [1_000_000, 2_000_000, _LONG_OVERFLOW - _SEGMENT]
    starts += [_LONG_OVERFLOW + 1000, 6_000_000, 12_000_000, 25_000_000, 50_000_000]
    return [*starts, 100_000_000, 200_000_000, 400_000_000]


def _segment_ns(lo: int, count: int) -> float:
    """CPU ns per iteration of sum_of_squares' loop over ``range(lo, lo + count)``,
    started from the partial sum it would have there (so its ints are as big)."""
    partial = (lo - 1) * lo * (2 * lo - 1) // 6 if lo > 0 else 0
    start = time.thread_time_ns()
    sum((i * i for i in range(lo, lo + count)), partial)
    return (time.thread_time_ns() - start) / count


def cost_table(rounds: int = 3) -> list[list[float]]:
    """``[[n, CPU ns of sum_of_squares(n)], ...]`` for n up to beyond a 2 s task.

    The cost per iteration grows with n (bigger ints, and the sum leaves its C long
    fast path near n = 3 million), so it is probed along the way, a short segment
    at each point (median of ``rounds`` sweeps: typical speed, not the best), and
    integrated. Thread CPU time: other load on the machine does not slow it down.
    """
    starts = _probe_starts()
    sweeps = [[_segment_ns(lo, _SEGMENT) for lo in starts] for _ in range(rounds)]
    marginal = [statistics.median(column) for column in zip(*sweeps, strict=True)]
    xs = [lo + _SEGMENT / 2 for lo in starts]
    call = statistics.median(_call_ns() for _ in range(5))
    table = [[0.0, call]]
    n, total = 0.0, call
    # Piecewise linear marginal cost, integrated (trapezoids) from knot to knot.
    prev_x, prev_c = 0.0, marginal[0]
    for x, c in zip(xs, marginal, strict=True):
        total += (x - prev_x) * (prev_c + c) / 2
        n = x
        table.append([n, total])
        prev_x, prev_c = x, c
    # Segments of a generator are not quite the whole call (its loop runs hotter or
    # colder): scale the table so that it predicts a real call of ~8 ms exactly.
    n = units_for(table, 8.0)
    scale = statistics.median(probe_ns(n) for _ in range(rounds)) / cost_ns(table, n)
    return [[units, ns * scale] for units, ns in table]


def _call_ns() -> int:
    start = time.thread_time_ns()
    sum_of_squares(1)
    return time.thread_time_ns() - start


def warm_up() -> None:
    """A few tiny calls, so the interpreter has specialised the kernel before it is
    timed or a task runs (see :data:`~concviz.workloads.base.WARM_CALLS`)."""
    for _ in range(WARM_CALLS):
        sum_of_squares(64)


def probe_ns(n: int) -> int:
    """CPU ns of one sum_of_squares(n) (the stale-cache check)."""
    start = time.thread_time_ns()
    sum_of_squares(n)
    return time.thread_time_ns() - start


def iterations_for(ms: float, table: list[list[float]]) -> int:
    return units_for(table, ms)


class CpuWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        warm_up()  # in every process that runs tasks: its first ones are not colder
        if params.spec.iterations is not None:
            self.n = params.spec.iterations
        else:
            self.n = iterations_for(params.spec.task_ms, params.calibration["sum_of_squares"])
        self.jittered = bool(params.spec.jitter)

    def compute(self, task_id: int) -> None:
        # Same size unless --jitter: skipping the scale call is ~0.1 µs of a 20 µs task.
        sum_of_squares(round(self.n * self.scale(task_id)) if self.jittered else self.n)
