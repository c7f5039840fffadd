"""One task after another: the baseline every other model is measured against."""

from concviz.runner.job import Job


def run(job: Job) -> None:
    for task_id in job.tasks():
        job.work(task_id)
