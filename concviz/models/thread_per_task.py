"""One threading.Thread per task; a semaphore caps how many are alive at once."""

import threading

from concviz.runner.job import Job


def run(job: Job) -> None:
    alive = threading.BoundedSemaphore(job.workers)

    def worker(task_id: int) -> None:
        try:
            job.work(task_id)
        finally:
            alive.release()

    threads = []
    for task_id in job.tasks():
        alive.acquire()  # wait until fewer than job.workers threads are running
        thread = threading.Thread(target=worker, args=(task_id,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
