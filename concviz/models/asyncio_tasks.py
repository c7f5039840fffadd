"""asyncio: one task per job in a TaskGroup, concurrency capped by a Semaphore."""

import asyncio

from concviz.runner.job import Job


async def main(job: Job) -> None:
    limit = asyncio.Semaphore(job.workers)

    async def bounded(task_id: int) -> None:
        async with limit:  # at most job.workers tasks in flight
            await job.awork(task_id)

    async with asyncio.TaskGroup() as group:
        for task_id in job.tasks():
            group.create_task(bounded(task_id))
