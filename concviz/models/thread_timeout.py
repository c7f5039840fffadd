"""Timeouts with threads: future.result(timeout=...) stops the waiting, not the thread."""

from concurrent.futures import ThreadPoolExecutor, TimeoutError

from concviz.runner.job import Job


def run(job: Job) -> None:
    timeout = job.spec.timeout_ms / 1000
    gave_up = ran_on = 0
    with ThreadPoolExecutor(max_workers=job.workers) as pool:
        futures = {task_id: pool.submit(job.work, task_id) for task_id in job.tasks()}
        for task_id, future in futures.items():
            try:
                future.result(timeout=timeout)
            except TimeoutError:
                gave_up += 1
                if future.cancel():  # still queued: it never starts
                    job.cancelled(task_id)
                else:  # already running: nothing can stop a thread, it runs to the end
                    ran_on += 1
    job.report(timeout_ms=job.spec.timeout_ms, gave_up=gave_up, ran_on_after_timeout=ran_on)
