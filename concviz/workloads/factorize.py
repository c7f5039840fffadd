"""CPU-bound work: factorizing 15-digit numbers by trial division.

Each task factorizes numbers ``p * q`` (both prime, 15 digits in all) chosen
so that trial division needs about as many steps as ``--task-ms`` asks for:
the work is proportional to the smaller factor, so the task size picks ``p``.
Every task gets a different ``q``, so no two tasks do identical work. Tasks
too small for a 15-digit number (under ~23,000 divisions, a millisecond or two)
factorize the product of two nearby primes instead, a smaller number.
"""

from __future__ import annotations

import math
import statistics
import time

from .base import WARM_CALLS, Workload, WorkloadParams, units_for

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
    """A ``p * q`` whose smallest factor takes ~``divisions`` odd trial divisions.

    15 digits, unless the task is too small for that: then ``q`` is just above ``p``.
    """
    if 2 * divisions < MIN_FACTOR:
        p = next_prime(max(3, 2 * divisions))
        return p * next_prime(p + 1 + 2 * (variant % max(1, p // 4)))
    p = next_prime(min(2 * divisions, MAX_FACTOR - 10_000))
    q = next_prime(max(p, LOW // p + 1) + 1 + 997 * variant)
    if p * q >= HIGH:  # large p leaves little room: step q down instead
        q = p
        for _ in range(variant % 50 + 1):
            q = next_prime(q + 1)
    return p * q


def warm_up() -> None:
    """Runs the kernel on small numbers until the interpreter has specialised it
    (see :data:`~concviz.workloads.base.WARM_CALLS`): tasks then cost what the
    calibration measured from the first one."""
    for variant in range(WARM_CALLS):
        factorize(semiprime(50, variant))


#: Where the cost of one number is measured, in divisions: both sides of the
#: switch to 15-digit numbers, then far enough to extrapolate (the cost per
#: division no longer changes: the numbers and divisors keep their size).
_PROBES = (1_000, 4_000, 12_000, MIN_FACTOR // 2 - 1, MIN_FACTOR // 2 + 100, 60_000, 150_000)
#: Most divisions one 15-digit number can take (larger tasks take several).
PER_NUMBER_MAX = MAX_FACTOR // 2 - 10_000


def probe_ns(divisions: int, variant: int = 0) -> int:
    """CPU ns to make and factorize one number of ``divisions`` (as a task does)."""
    start = time.thread_time_ns()
    n = semiprime(divisions, variant)
    factorize(n)
    return time.thread_time_ns() - start


def cost_table(rounds: int = 3) -> list[list[float]]:
    """``[[divisions, CPU ns for one number], ...]``: medians of ``rounds`` sweeps."""
    sweeps = [[probe_ns(d, r) for d in _PROBES] for r in range(rounds)]
    return [
        [float(d), float(statistics.median(column))]
        for d, column in zip(_PROBES, zip(*sweeps, strict=True), strict=True)
    ]


def plan(ms: float, table: list[list[float]]) -> tuple[int, int]:
    """(numbers, divisions each) for a task of ``ms`` CPU time."""
    count = 1
    while units_for(table, ms / count) > PER_NUMBER_MAX:
        count += 1
    return count, units_for(table, ms / count)


class FactorizeWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        warm_up()  # in every process that runs tasks: its first ones are not colder
        if params.spec.iterations is None:
            self.count, self.divisions = plan(
                params.spec.task_ms, params.calibration["trial_division"]
            )
        else:
            # One number cannot need more steps than its square root allows; split
            # large tasks into several numbers.
            self.count = max(1, math.ceil(params.spec.iterations / PER_NUMBER_MAX))
            self.divisions = max(1, params.spec.iterations // self.count)

    def compute(self, task_id: int) -> None:
        for k in range(self.count):
            n = semiprime(self.divisions, task_id * self.count + k)
            factors = factorize(n)
            if math.prod(factors) != n or len(factors) != 2:
                raise ArithmeticError(f"factorize({n}) gave {factors}")
