"""CPU-bound work: the curriculum's sum of squares, pure Python, never releases the GIL."""

from __future__ import annotations

import time

from .base import Workload, WorkloadParams


def sum_of_squares(n: int) -> int:
    return sum(i * i for i in range(n))


def calibrate() -> float:
    """Iterations of :func:`sum_of_squares` per millisecond on this interpreter."""
    n = 20_000
    while True:
        start = time.perf_counter()
        sum_of_squares(n)
        elapsed = time.perf_counter() - start
        if elapsed > 0.02:
            break
        n *= 2
    # Best of a few runs: calibration wants the machine's speed, not its noise.
    best = elapsed
    for _ in range(4):
        start = time.perf_counter()
        sum_of_squares(n)
        best = min(best, time.perf_counter() - start)
    return n / (best * 1000.0)


def iterations_for(ms: float, per_ms: float) -> int:
    return max(1, round(ms * per_ms))


class CpuWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        if params.iterations is not None:
            self.n = params.iterations
        else:
            self.n = iterations_for(params.task_ms, params.calibration["sum_of_squares"])
        self.jittered = bool(params.jitter)

    def compute(self, task_id: int) -> None:
        # Same size unless --jitter: skipping the scale call is ~0.1 µs of a 20 µs task.
        sum_of_squares(round(self.n * self.scale(task_id)) if self.jittered else self.n)
