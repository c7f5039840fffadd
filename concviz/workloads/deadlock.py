"""The deadlock: transfers between two accounts, each guarded by its own Lock.

Even tasks move money from A to B, odd tasks from B to A. A transfer locks its
source account, works a while, then locks its destination. With
``--lock-order opposite`` (the pitfall) each thread takes the locks in the
order of its own transfer: one thread holds A and waits for B while another
holds B and waits for A, and neither can go on. With ``--lock-order fixed``
(the fix) every thread takes A before B whichever way the money goes, so a
second thread waits for the first lock instead of grabbing the other one.

The second lock is waited for at most ``--timeout-ms`` (the other fix: a
timeout on every wait): the transfer then gives up, releases what it holds
and fails, so the run goes on and the dashboard shows the stuck wait as a
failed bar with no CPU time. ``--timeout-ms 0`` waits forever: a real
deadlock, which only stopping the run ends.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .base import Workload, WorkloadParams


class LockTimeout(RuntimeError):
    """A transfer waited too long for its second lock (and gave up)."""


class DeadlockWorkload(Workload):
    has_io = False

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.locks = {"A": threading.Lock(), "B": threading.Lock()}
        self.fixed_order = params.spec.lock_order == "fixed"
        self.timeout = params.spec.timeout_ms / 1000.0 if params.spec.timeout_ms > 0 else -1.0
        self.timeouts = 0
        self._bookkeeping = threading.Lock()  # counts give-ups; not one of the two accounts

    def compute(self, task_id: int) -> None:
        source, target = ("A", "B") if task_id % 2 == 0 else ("B", "A")
        first, second = sorted((source, target)) if self.fixed_order else (source, target)
        half = self.seconds_for(task_id) / 2
        with self.locks[first]:
            time.sleep(half)  # reading the balance: long enough for the other thread to start
            if not self.locks[second].acquire(timeout=self.timeout):
                with self._bookkeeping:
                    self.timeouts += 1
                raise LockTimeout(f"held {first}, waited {self.spec.timeout_ms:g} ms for {second}")
            try:
                time.sleep(half)  # writing both balances
            finally:
                self.locks[second].release()

    def result(self) -> dict[str, Any]:
        return {"lock_order": self.spec.lock_order, "lock_timeouts": self.timeouts}
