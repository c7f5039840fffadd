"""The race: every task adds 1 to one shared counter, many times.

``counter += 1`` is several bytecodes (load, add, store). On a GIL build since
Python 3.10 a thread switch rarely lands between them, so the in-place form
seldom loses updates there; with a call between the read and the write
(``counter = plus_one(counter)``, the default form) it does on every build. On
a free-threaded build both forms lose updates. ``--lock`` fixes both.
"""

from __future__ import annotations

import threading
from typing import Any

from .base import Workload, WorkloadParams

counter = 0
lock = threading.Lock()


def plus_one(value: int) -> int:
    return value + 1


def add_inplace(n: int) -> None:
    global counter
    for _ in range(n):
        counter += 1  # load, add, store: another thread may run in between


def add_with_call(n: int) -> None:
    global counter
    for _ in range(n):
        counter = plus_one(counter)  # read ... (a call: a switch point) ... write


def add_locked(n: int) -> None:
    global counter
    for _ in range(n):
        with lock:
            counter += 1


class CounterWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        global counter
        super().__init__(params)
        counter = 0
        self.n = params.spec.iterations if params.spec.iterations is not None else 100_000
        if params.spec.lock:
            self.add = add_locked
        else:
            self.add = add_inplace if params.spec.race == "inplace" else add_with_call
        self.tasks_run = 0
        self._bookkeeping = threading.Lock()  # counts finished tasks; not the demonstrated race

    def compute(self, task_id: int) -> None:
        self.add(self.n)
        with self._bookkeeping:
            self.tasks_run += 1

    def result(self) -> dict[str, Any]:
        expected = self.tasks_run * self.n
        return {
            "expected": expected,
            "actual": counter,
            "lost_updates": expected - counter,
            "lock": self.spec.lock,
            "race_form": "lock" if self.spec.lock else self.spec.race,
        }
