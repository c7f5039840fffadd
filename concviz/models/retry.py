"""Retry with exponential back-off and jitter, against a server that fails on purpose."""

import asyncio
import random

from concviz.runner.job import Job

BASE_S = 0.05  # the first back-off
CAP_S = 1.0  # the longest back-off


async def main(job: Job) -> None:
    limit = asyncio.Semaphore(job.workers)
    failed_attempts = 0

    @job.traced_attempts  # concviz's hook: each attempt is drawn as its own bar
    async def fetch_with_retry(task_id: int) -> None:
        async with limit:
            for attempt in range(job.spec.attempts):
                try:
                    async with job.attempt(task_id, attempt):
                        await job.fetch(task_id)  # GET /flaky/...: some answers are 503s
                    return
                except OSError:
                    nonlocal failed_attempts
                    failed_attempts += 1
                    if attempt == job.spec.attempts - 1:
                        raise  # out of attempts: the task fails
                    backoff = min(CAP_S, BASE_S * 2**attempt)
                    await asyncio.sleep(random.uniform(0, backoff))  # "full jitter"

    async with asyncio.TaskGroup() as group:
        for task_id in job.tasks():
            group.create_task(fetch_with_retry(task_id))
    job.report(failed_attempts=failed_attempts, attempts_allowed=job.spec.attempts)
