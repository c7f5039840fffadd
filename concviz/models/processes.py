"""A process pool: ProcessPoolExecutor, one interpreter (and one GIL) per worker."""

from concurrent.futures import ProcessPoolExecutor, as_completed

from concviz.runner.job import Job


def run(job: Job) -> None:
    with ProcessPoolExecutor(
        max_workers=job.workers,
        mp_context=job.mp_context,  # fork, spawn or forkserver
        initializer=job.initializer,  # concviz's hook, not the idiom: workers report to concviz
        initargs=job.initargs,
    ) as pool:
        futures = [pool.submit(job.work, task_id) for task_id in job.tasks()]
        for future in as_completed(futures):
            future.result()
