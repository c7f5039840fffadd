"""asyncio for the I/O, a ProcessPoolExecutor for the CPU part (run_in_executor)."""

import asyncio
from concurrent.futures import ProcessPoolExecutor

from concviz.runner.job import Job


async def main(job: Job) -> None:
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(
        max_workers=job.workers,
        mp_context=job.mp_context,
        initializer=job.initializer,  # concviz's hook, not the idiom: workers report to concviz
        initargs=job.initargs,
    ) as pool:
        # Stopping: drop the CPU parts still queued, do not wait for them.
        job.on_stop(lambda: pool.shutdown(wait=False, cancel_futures=True))
        # concviz's hook, not the idiom: the pool starts its workers now, not on the first
        # CPU part, when thousands of fetches may hold every file descriptor. Started then,
        # it failed, and CPython 3.11's executor blocked the event loop for good on a later
        # submit (its wake-up pipe full, no manager thread to read it): 16,399 of 20,000.
        await loop.run_in_executor(pool, int)

        @job.traced  # concviz's hook, not the idiom: draws each call as a task
        async def handle(task_id: int) -> None:
            await job.fetch(task_id)  # I/O: awaited on the event loop (a stop cancels it)
            await loop.run_in_executor(pool, job.compute, task_id)  # CPU: in a worker process

        async with asyncio.TaskGroup() as group:
            for task_id in job.tasks():
                group.create_task(handle(task_id))
