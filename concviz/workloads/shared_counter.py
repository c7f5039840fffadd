"""Shared memory between processes: one counter in a ``multiprocessing.Value``.

Processes share no Python objects: a global counter would be a separate copy
in every worker. A ``multiprocessing.Value`` lives in shared memory, so every
process sees (and changes) the same one. Its lock makes each read and each
write atomic, but not ``total.value += 1`` as a whole: two processes can read
the same value and both write it plus one, and an update is lost. Running
truly in parallel, processes lose many. ``with total.get_lock():`` around the
increment (``--lock``) fixes it, at the cost of a lock round trip each time.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from .base import Workload, WorkloadParams


class SharedCounterWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.n = params.spec.iterations if params.spec.iterations is not None else 20_000
        self.total: Any = None  # multiprocessing.Value("q"), made by shared_state()
        self.tasks_done: Any = None
        self._making = threading.Lock()  # two threads' first tasks must not make two counters

    def shared_state(self, context: Any = None) -> tuple[Any, Any]:
        """The shared values, made once, before any worker process starts.

        Worker processes get them as pool initializer arguments (how a
        ``Value`` may be handed to a process: at its start, under every start
        method); threads share this object anyway.
        """
        with self._making:
            if self.total is None:
                ctx = context if context is not None else multiprocessing.get_context()
                self.tasks_done = ctx.Value("q", 0)
                self.total = ctx.Value("q", 0)
        return self.total, self.tasks_done

    def adopt(self, shared: tuple[Any, Any]) -> None:
        self.total, self.tasks_done = shared

    def compute(self, task_id: int) -> None:
        total, _ = self.shared_state()
        if self.spec.lock:
            for _ in range(self.n):
                with total.get_lock():
                    total.value += 1
        else:
            for _ in range(self.n):
                total.value += 1  # a locked read, then a locked write: not one step
        with self.tasks_done.get_lock():
            self.tasks_done.value += 1

    def result(self) -> dict[str, Any]:
        total, tasks_done = self.shared_state()
        expected = tasks_done.value * self.n
        return {
            "expected": expected,
            "actual": total.value,
            "lost_updates": expected - total.value,
            "lock": self.spec.lock,
            "race_form": "get_lock()" if self.spec.lock else "total.value += 1",
        }
