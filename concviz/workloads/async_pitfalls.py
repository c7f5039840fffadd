"""Two asyncio pitfalls, on purpose: a blocking call in a coroutine, and a forgotten await."""

from __future__ import annotations

import asyncio
import time

from .base import Workload


class _EveryNthTask(Workload):
    """A pitfall in every ``block_every``-th coroutine; sync models just wait."""

    def run_io(self, task_id: int) -> None:
        time.sleep(self.seconds)

    def faulty(self, task_id: int) -> bool:
        every = self.spec.block_every
        return every > 0 and task_id % every == 0


class BlockingAsyncWorkload(_EveryNthTask):
    """The classic asyncio pitfall, on purpose.

    Every ``block_every``-th task calls ``time.sleep`` inside its coroutine. The
    event loop cannot run anything else meanwhile, so every other task's bar
    stalls at the same moment.
    """

    async def fetch(self, task_id: int) -> None:
        if self.faulty(task_id):
            time.sleep(self.seconds)  # blocks the whole event loop
        else:
            await asyncio.sleep(self.seconds)


class ForgotAwaitWorkload(_EveryNthTask):
    """Another asyncio pitfall, on purpose: a coroutine called but never awaited.

    Every ``block_every``-th task calls ``asyncio.sleep`` without ``await``. That
    makes a coroutine object and drops it: nothing waits, the task ends at once,
    and Python only warns (RuntimeWarning: coroutine 'sleep' was never awaited).
    """

    async def fetch(self, task_id: int) -> None:
        if self.faulty(task_id):
            asyncio.sleep(self.seconds)  # type: ignore[unused-coroutine]  # the pitfall: no await
        else:
            await asyncio.sleep(self.seconds)
