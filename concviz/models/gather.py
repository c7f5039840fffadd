"""asyncio.gather: the first error propagates at once, but the other tasks run on."""

import asyncio

from concviz.runner.job import Job


async def main(job: Job) -> None:
    tasks = [asyncio.create_task(job.awork_raising(task_id)) for task_id in job.tasks()]
    try:
        await asyncio.gather(*tasks)
    except Exception as error:
        still_running = sum(not task.done() for task in tasks)
        job.report(
            outcome=f"gather raised {error!r} at once; {still_running} tasks were still running",
            still_running=still_running,
        )
        # Nobody awaits them any more, yet they run on (asyncio.run would cancel them
        # at the end): wait, so the picture shows what they did.
        await asyncio.wait(tasks)
