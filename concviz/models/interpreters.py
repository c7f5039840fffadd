"""Sub-interpreters: InterpreterPoolExecutor, one GIL per interpreter (Python 3.14+)."""

from concviz.runner.job import Job


def run(job: Job) -> None:
    from concurrent.futures import InterpreterPoolExecutor, as_completed  # Python 3.14+

    with InterpreterPoolExecutor(
        max_workers=job.workers,
        initializer=job.initializer,  # concviz's hook, not the idiom: each reports its events
        initargs=job.initargs,
    ) as pool:
        futures = [pool.submit(job.work, task_id) for task_id in job.tasks()]
        for future in as_completed(futures):
            future.result()
