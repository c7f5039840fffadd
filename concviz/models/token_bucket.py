"""Rate limiting with a token bucket: a burst up to its capacity, then a steady rate."""

import asyncio
import time

from concviz.runner.job import Job


class TokenBucket:
    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate  # tokens added per second
        self.capacity = capacity  # the most that can pile up: the burst
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)  # until the next token


async def main(job: Job) -> None:
    bucket = TokenBucket(rate=job.spec.rate, capacity=job.spec.burst)
    granted: list[float] = []

    async def limited(task_id: int) -> None:
        await bucket.acquire()  # at most `rate` task starts per second
        granted.append(time.monotonic())
        await job.awork(task_id)

    async with asyncio.TaskGroup() as group:
        for task_id in job.tasks():
            group.create_task(limited(task_id))

    after_burst = granted[job.spec.burst :]
    if len(after_burst) > 1:
        achieved = (len(after_burst) - 1) / (after_burst[-1] - after_burst[0])
        job.report(rate_limit=job.spec.rate, burst=job.spec.burst, achieved_rate=round(achieved, 2))
