"""asyncio.to_thread: coroutines hand the blocking task to a thread and await it."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from concviz.runner.job import Job


async def main(job: Job) -> None:
    # to_thread runs on the loop's default executor: size it to job.workers.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(job.workers))

    async with asyncio.TaskGroup() as group:
        for task_id in job.tasks():
            group.create_task(asyncio.to_thread(job.work, task_id))
