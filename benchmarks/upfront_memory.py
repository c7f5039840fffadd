"""Bytes per task for the models that make every task before any runs.

A TaskGroup (``asyncio``, ``taskgroup``, ``hybrid``...) creates every Task and
its coroutine up front; ``threads`` and ``processes`` submit every future
first. concviz refuses a run whose tasks would not fit (session.UPFRONT_BYTES):
this measures the constant. Each model runs N waiting tasks (``sleep``, long)
until all N are handed out, then is stopped; concviz's own memory-per-task
figures give the answer: the growth of the run's PSS (runner and workers) from
the runner's footprint just before the model started, divided by N.

    .venv/bin/python benchmarks/upfront_memory.py [N] [MODEL...]
    CONCVIZ_PYTHON=/path/to/python3.13t .venv/bin/python benchmarks/upfront_memory.py
"""

from __future__ import annotations

import os
import sys
import time

from concviz.observer.session import RunSession
from concviz.runner.spec import RunSpec

UPFRONT = [
    "asyncio",
    "taskgroup",
    "gather",
    "gather-results",
    "to-thread",
    "hybrid",
    "timeout",
    "token-bucket",
    "retry",
    "threads",
    "thread-timeout",
    "processes",
]


PYTHON = os.environ.get("CONCVIZ_PYTHON") or None


def measure(model: str, tasks: int) -> tuple[float | None, float]:
    spec = RunSpec(model=model, workload="sleep", workers=1, tasks=tasks, task_ms=60_000)
    began = time.monotonic()
    with RunSession(spec, python=PYTHON, sample_hz=20) as session:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with session.lock:
                queued = session.aggregate.queued
            if queued >= tasks:
                break
            time.sleep(0.05)
        time.sleep(1.0)  # a few memory samples with every task made
        session.stop(grace=0.5)
        session.wait(10)
        summary = session.summary()
    grown = None
    if summary.peak_memory and summary.memory_at_start:
        grown = (summary.peak_memory - summary.memory_at_start) / tasks
    return grown, time.monotonic() - began


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    models = sys.argv[2:] or UPFRONT
    print(f"{tasks:,} tasks, {PYTHON or sys.executable}")
    for model in models:
        per_task, took = measure(model, tasks)
        shown = f"{per_task:,.0f} B" if per_task is not None else "n/a"
        print(f"{model:16} {shown:>10} a task   ({took:.1f} s)")


if __name__ == "__main__":
    main()
