"""asyncio.gather(..., return_exceptions=True): every task runs; errors come back as values."""

import asyncio

from concviz.runner.job import Job


async def main(job: Job) -> None:
    tasks = [job.awork_raising(task_id) for task_id in job.tasks()]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    job.report(
        outcome=f"gather returned {len(results)} results, {len(errors)} of them exceptions",
        errors=[repr(e) for e in errors],
    )
