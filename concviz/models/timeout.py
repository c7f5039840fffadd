"""Timeouts on every wait: asyncio.wait_for cancels what takes too long."""

import asyncio

from concviz.runner.job import Job


async def main(job: Job) -> None:
    limit = asyncio.Semaphore(job.workers)
    timed_out = 0

    async def with_deadline(task_id: int) -> None:
        nonlocal timed_out
        async with limit:
            try:
                await asyncio.wait_for(job.awork(task_id), timeout=job.spec.timeout_ms / 1000)
            except TimeoutError:
                timed_out += 1  # wait_for cancelled the task: drawn as cancelled

    async with asyncio.TaskGroup() as group:
        for task_id in job.tasks():
            group.create_task(with_deadline(task_id))
    job.report(timeout_ms=job.spec.timeout_ms, timed_out=timed_out)
