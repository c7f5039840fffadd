"""multiprocessing.Pool with imap_unordered: results in completion order."""

from concviz.runner.job import Job


def run(job: Job) -> None:
    ctx = job.mp_context  # fork, spawn or forkserver
    # initializer=job.initializer: concviz's hook, not the idiom (workers report to concviz)
    with ctx.Pool(job.workers, initializer=job.initializer, initargs=job.initargs) as pool:
        job.watch_workers(pool)  # concviz's hook: Pool would hang for good if a worker died
        for _ in pool.imap_unordered(job.work, job.tasks()):
            pass
        pool.close()  # no more work: let the workers exit cleanly
        pool.join()
