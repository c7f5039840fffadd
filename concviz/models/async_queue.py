"""asyncio.Queue with a bounded size: a producer and N consumers, with back-pressure."""

import asyncio

from concviz.runner.job import Job


async def main(job: Job) -> None:
    tasks: asyncio.Queue[int] = asyncio.Queue(maxsize=job.queue_size)
    job.watch(tasks)  # concviz's hook, not the idiom: reports the queue's depth

    async def consumer() -> None:
        while True:
            task_id = await tasks.get()
            try:
                await job.awork(task_id)
            finally:
                tasks.task_done()

    consumers = [asyncio.create_task(consumer()) for _ in range(job.workers)]
    for task_id in job.tasks():  # the producer
        await tasks.put(task_id)  # waits while the queue is full: back-pressure
    await tasks.join()
    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
