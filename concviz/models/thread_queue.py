"""Producer/consumer: N consumer threads over a queue.Queue, stopped by poison pills."""

import queue
import threading

from concviz.runner.job import Job


def run(job: Job) -> None:
    tasks: queue.Queue[int | None] = queue.Queue(maxsize=job.queue_size)
    job.watch(tasks)  # concviz's hook, not the idiom: reports the queue's depth

    def consumer() -> None:
        while True:
            task_id = tasks.get()
            if task_id is None:  # poison pill: no more work
                tasks.task_done()
                return
            job.work(task_id)
            tasks.task_done()

    consumers = [threading.Thread(target=consumer) for _ in range(job.workers)]
    for thread in consumers:
        thread.start()
    for task_id in job.tasks():  # the producer
        tasks.put(task_id)  # blocks while the queue is full
    tasks.join()  # every task done
    for _ in consumers:
        tasks.put(None)
    for thread in consumers:
        thread.join()
