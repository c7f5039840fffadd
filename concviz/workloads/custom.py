"""Your own function as the task, so the dashboard shows your real workload.

``--task package.module:function`` (or ``[task]`` in a scenario) names it;
``--task-args``/``--task-kwargs`` (JSON) are passed on every call. A coroutine
function is awaited by async models (and run with ``asyncio.run`` by the
others); a plain function is called, and in a coroutine it blocks the loop,
as it would in your code.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import signal
import subprocess
import sys
import time
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


#: Seconds the check gives a --task module to import (longer: it is waiting for something).
CHECK_TIMEOUT_S = 10.0


class TaskCheck:
    """Imports ``target`` under ``python`` in a child process, before a run relies on it.

    With ``pickled_for`` (a process model's name) the function must also pickle.
    Started now, read later (:meth:`result`): it runs while the runner starts.
    The child runs in its own session: on a timeout, or when nobody reads the
    result, its whole process group is killed.
    """

    def __init__(
        self,
        python: str,
        target: str,
        path: str,
        pickled_for: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.proc: subprocess.Popen[str] | None = None
        self.failed_to_start: str | None = None
        unpicklable = f"--task {target} cannot be pickled for {pickled_for}: "
        code = (
            "import pickle, sys\n"
            "from concviz.workloads.custom import TaskImportError, resolve\n"
            "try:\n"
            f"    fn = resolve({target!r}, {path!r})\n"
            + (
                "    pickle.dumps(fn)\n"
                "except (pickle.PicklingError, TypeError, AttributeError) as exc:\n"
                f"    print({unpicklable!r} + str(exc))\n"
                "    sys.exit(1)\n"
                if pickled_for
                else ""
            )
            + "except TaskImportError as exc:\n"
            "    print(exc)\n"
            "    sys.exit(1)\n"
        )
        try:
            self.proc = subprocess.Popen(
                [python, "-c", code],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=env,
                cwd=path,
                start_new_session=True,  # its own process group: one killpg ends what it started
            )
        except OSError as exc:
            self.failed_to_start = (
                f"--task {target}: cannot check it under {python}: {exc.strerror or exc}"
            )

    def result(self) -> str | None:
        """Waits for the check: None, or one line that names the module and what happened."""
        proc = self.proc
        if proc is None:
            return self.failed_to_start
        target = self.target
        module_name = target.partition(":")[0]
        with proc:
            try:
                out, err = proc.communicate(timeout=max(0.0, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.communicate()
                return (
                    f"--task {target}: importing {module_name} did not finish within "
                    f"{self.timeout:g} s (does it wait for something at import?)"
                )
            except BaseException:  # Ctrl+C while waiting
                _kill_group(proc.pid)
                proc.communicate()
                raise
            _kill_group(proc.pid)  # whatever the import left running
        if proc.returncode == 0:
            return None
        said = (out.strip() or err.strip()).splitlines()
        if said:
            line = said[-1]
            return line if target in line else f"--task {target}: {line}"
        return (
            f"--task {target}: importing {module_name} ended the process "
            f"(exit code {proc.returncode}) without a word"
        )

    def cancel(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc.pid)
            with self.proc:
                self.proc.communicate()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


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
