"""Pure waiting: the GIL is released while a thread sleeps, and a coroutine yields."""

from __future__ import annotations

import time

from .base import Workload


class SleepWorkload(Workload):
    def run_io(self, task_id: int) -> None:
        time.sleep(self.seconds_for(task_id))

    async def fetch(self, task_id: int) -> None:
        # Imported here: a sync model's runner never loads asyncio (~40 ms of its start).
        import asyncio  # noqa: PLC0415

        await asyncio.sleep(self.seconds_for(task_id))
