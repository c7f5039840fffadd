"""A thread pool: ThreadPoolExecutor with submit + as_completed."""

from concurrent.futures import ThreadPoolExecutor, as_completed

from concviz.runner.job import Job


def run(job: Job) -> None:
    with ThreadPoolExecutor(max_workers=job.workers) as pool:
        futures = [pool.submit(job.work, task_id) for task_id in job.tasks()]
        for future in as_completed(futures):
            future.result()
