"""Your own function as the task, so the dashboard shows your real workload.

``--task package.module:function`` (or ``[task]`` in a scenario) names it;
``--task-args``/``--task-kwargs`` (JSON) are passed on every call. A coroutine
function is awaited by async models (and run with ``asyncio.run`` by the
others); a plain function is called, and in a coroutine it blocks the loop,
as it would in your code.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

from .base import Workload, WorkloadParams


class TaskImportError(ImportError):
    """The named function could not be imported; the message says why."""


def resolve(target: str, path: str | None) -> Callable[..., Any]:
    if path and path not in sys.path:
        sys.path.insert(0, path)
    module_name, _, name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing the user's module
        raise TaskImportError(f"cannot import {module_name!r} for --task {target}: {exc}") from None
    except SystemExit as exc:  # a script's `sys.exit()` run at import: not a module to import
        raise TaskImportError(
            f"--task {target}: importing {module_name} called sys.exit({exc.code!r})"
        ) from None
    obj: Any = module
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise TaskImportError(f"{module_name!r} has no {name!r} (--task {target})")
    if not callable(obj):
        raise TaskImportError(f"--task {target} is not callable")
    return obj  # type: ignore[no-any-return]


class CustomWorkload(Workload):
    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        assert params.spec.task is not None
        self.fn = resolve(params.spec.task, params.spec.task_path)
        self.is_coroutine = inspect.iscoroutinefunction(self.fn)
        self.has_io = self.is_coroutine

    def _call(self) -> Any:
        return self.fn(*self.spec.task_args, **self.spec.task_kwargs)

    def run(self, task_id: int) -> None:
        result = self._call()
        if self.is_coroutine:
            import asyncio  # noqa: PLC0415  (only a coroutine function in a sync model needs it)

            asyncio.run(result)
        self.maybe_fail(task_id)

    async def arun(self, task_id: int) -> None:
        result = self._call()
        if self.is_coroutine:
            await result
        self.maybe_fail(task_id)

    def compute(self, task_id: int) -> None:
        """Hybrid model: a plain function is the CPU part (a coroutine is the I/O part)."""
        if not self.is_coroutine:
            self._call()

    async def fetch(self, task_id: int) -> None:
        """Hybrid model: a coroutine function is the I/O part, a plain one the CPU part."""
        if self.is_coroutine:
            await self._call()
