"""The "bare" side of the observer-overhead benchmark: the models' idioms, with no concviz at all.

Run as its own process by ``observer_overhead.py`` (same interpreter) so that
nothing of concviz is imported, connected or sampled. It times exactly the span
the concviz runner times with RUN_START/RUN_END: from just before the pool is
created to just after it has shut down (for asyncio, the whole
``asyncio.run``), and prints that many seconds on stdout.

Usage: ``python benchmarks/bare_pool.py MODEL ITERATIONS TASKS WORKERS``
"""

from __future__ import annotations

import asyncio
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed

MODELS = ("threads", "processes", "asyncio")


def sum_of_squares(n: int) -> int:
    """The kernel of concviz's cpu workload, verbatim."""
    return sum(i * i for i in range(n))


def work(n: int) -> None:
    """One task; returns None like concviz's traced task, so no result is pickled back."""
    sum_of_squares(n)


def run_threads(n: int, tasks: int, workers: int) -> None:
    """concviz.models.threads without the tracing."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(work, n) for _ in range(tasks)]
        for future in as_completed(futures):
            future.result()


def run_processes(n: int, tasks: int, workers: int) -> None:
    """concviz.models.processes without the tracing (default start method, as the runner's)."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(work, n) for _ in range(tasks)]
        for future in as_completed(futures):
            future.result()


async def asyncio_main(n: int, tasks: int, workers: int) -> None:
    """concviz.models.asyncio_tasks without the tracing."""
    limit = asyncio.Semaphore(workers)

    async def bounded() -> None:
        async with limit:
            work(n)

    async with asyncio.TaskGroup() as group:
        for _ in range(tasks):
            group.create_task(bounded())


def run_asyncio(n: int, tasks: int, workers: int) -> None:
    asyncio.run(asyncio_main(n, tasks, workers))


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in MODELS:
        print(__doc__, file=sys.stderr)
        return 2
    model = argv[0]
    n, tasks, workers = (int(a) for a in argv[1:])
    runner = {"threads": run_threads, "processes": run_processes, "asyncio": run_asyncio}[model]
    began = time.perf_counter()
    runner(n, tasks, workers)
    elapsed = time.perf_counter() - began
    print(f"{elapsed:.9f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
