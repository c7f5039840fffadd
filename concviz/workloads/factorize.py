"""CPU-bound work: factorizing 15-digit numbers by trial division.

Each task factorizes numbers ``p * q`` (both prime, 15 digits in all) chosen
so that trial division needs about as many steps as ``--task-ms`` asks for:
the work is proportional to the smaller factor, so the task size picks ``p``.
Every task gets a different ``q``, so no two tasks do identical work.
"""

from __future__ import annotations

import math
import time

from .base import Workload, WorkloadParams

LOW = 10**14  # the smallest 15-digit number
HIGH = 10**15
#: Below this smallest factor the cofactor would have to exceed p², and trial
#: division would then cost sqrt(q) rather than p: the size stops being ours to set.
MIN_FACTOR = 46_441
#: The largest smallest-factor a 15-digit semiprime can have.
MAX_FACTOR = math.isqrt(HIGH - 1)


def factorize(n: int) -> list[int]:
    factors = []
    while n % 2 == 0:
        factors.append(2)
        n //= 2
    d = 3
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 2
    if n > 1:
        factors.append(n)
    return factors


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3.3e24 (enough for 15 digits)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for p in small:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(n: int) -> int:
    n = max(n, 2)
    while not is_prime(n):
        n += 1
    return n


def semiprime(divisions: int, variant: int) -> int:
    """A 15-digit ``p * q`` whose smallest factor takes ~``divisions`` odd trial divisions."""
    p = next_prime(min(max(MIN_FACTOR, 2 * divisions), MAX_FACTOR - 10_000))
    q = next_prime(max(p, LOW // p + 1) + 1 + 997 * variant)
    if p * q >= HIGH:  # large p leaves little room: step q down instead
        q = p
        for _ in range(variant % 50 + 1):
            q = next_prime(q + 1)
    return p * q


def calibrate() -> float:
    """Trial divisions per millisecond on this interpreter."""
    p = 200_003  # ~100k odd divisions to reach it
    n = p * next_prime(LOW // p + 1)
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        factorize(n)
        best = min(best, time.perf_counter() - start)
    return (p // 2) / (best * 1000.0)


class FactorizeWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        if params.iterations is not None:
            total = params.iterations
        else:
            total = round(params.task_ms * params.calibration["trial_division"])
        # One number cannot need more steps than its square root allows; split
        # large tasks into several numbers.
        per_number_max = MAX_FACTOR // 2 - 10_000
        self.count = max(1, math.ceil(total / per_number_max))
        self.divisions = max(1, total // self.count)

    def compute(self, task_id: int) -> None:
        for k in range(self.count):
            n = semiprime(self.divisions, task_id * self.count + k)
            factors = factorize(n)
            if math.prod(factors) != n or len(factors) != 2:
                raise ArithmeticError(f"factorize({n}) gave {factors}")
