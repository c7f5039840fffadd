"""asyncio.TaskGroup: when one task fails, its siblings are cancelled (structured concurrency)."""

import asyncio

from concviz.runner.job import Job


async def main(job: Job) -> None:
    try:
        async with asyncio.TaskGroup() as group:
            for task_id in job.tasks():
                group.create_task(job.awork_raising(task_id))
    except* Exception as failures:  # the group raises an ExceptionGroup
        job.report(
            outcome=f"ExceptionGroup with {len(failures.exceptions)} error(s); "
            "the other tasks were cancelled",
            errors=[repr(e) for e in failures.exceptions],
        )
