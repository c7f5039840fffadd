"""Graceful shutdown: on a signal, stop taking work, let in-flight work finish, cancel the rest."""

import asyncio
import signal

from concviz.runner.job import Job


async def main(job: Job) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=job.workers)
    never_started = 0

    async def consume() -> None:
        nonlocal never_started
        while True:
            task_id = await queue.get()
            try:
                if stop.is_set():
                    never_started += 1  # 1. no new work once the signal came
                else:
                    await job.awork(task_id)
            finally:
                queue.task_done()

    consumers = [asyncio.create_task(consume()) for _ in range(job.workers)]
    for task_id in job.tasks():
        if stop.is_set():
            break
        await queue.put(task_id)
    deadline = job.spec.deadline_ms / 1000
    try:
        await asyncio.wait_for(queue.join(), timeout=deadline)  # 2. in-flight work may finish
        in_time = True
    except TimeoutError:
        in_time = False
    for consumer in consumers:
        consumer.cancel()  # 3. cancel what is still running after the deadline
    await asyncio.gather(*consumers, return_exceptions=True)
    job.report(
        signalled=stop.is_set(),
        deadline_ms=job.spec.deadline_ms,
        finished_in_time=in_time,
        never_started=never_started,
    )
