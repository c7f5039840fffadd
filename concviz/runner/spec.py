"""What to run: a validated, JSON-able description of one run.

Standard library only: the observer builds a :class:`RunSpec`, validates it
(so bad input becomes a one-line error before anything starts) and hands it to
the runner as JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..models import CATALOG as MODELS
from ..workloads import CATALOG as WORKLOADS
from ..workloads import describe_size

START_METHODS = ("fork", "spawn", "forkserver")
RACE_FORMS = ("call", "inplace")
LOCK_ORDERS = ("opposite", "fixed")
MAX_TASKS = 10_000_000
MAX_TASK_MS = 600_000.0
MAX_PAYLOAD = 64 * 1024 * 1024


class SpecError(ValueError):
    """A bad value, explained in one line that names it and what would be valid."""


@dataclass(frozen=True)
class RunSpec:
    model: str = "threads"
    workload: str = "cpu"
    workers: int = 4
    tasks: int = 20
    task_ms: float = 100.0
    iterations: int | None = None
    start_method: str | None = None
    queue_size: int = 8
    io_fraction: float = 0.5
    payload_bytes: int = 0
    block_every: int = 5
    fail_rate: float = 0.0
    seed: int = 0
    switch_interval: float | None = None
    #: Task durations vary by up to this fraction either way (0: all the same).
    jitter: float = 0.0
    #: The task (by id) that raises, halfway through (failure-semantics patterns).
    fail_task: int = -1
    #: Share of the local server's answers that are 503s (retry pattern).
    flaky: float = 0.0
    #: counter workload: guard the increment with a threading.Lock (shared-counter: get_lock()).
    lock: bool = False
    #: counter workload: "inplace" (counter += 1) or "call" (counter = plus_one(counter)).
    race: str = "call"
    #: deadlock workload: "opposite" (the pitfall) or "fixed" (every thread locks A first).
    lock_order: str = "opposite"
    #: token-bucket pattern: tokens per second, and the bucket's capacity.
    rate: float = 10.0
    burst: int = 5
    #: timeout pattern: each task's deadline.
    timeout_ms: float = 150.0
    #: retry pattern: attempts per task (the first one included).
    attempts: int = 4
    #: graceful-shutdown pattern: how long in-flight tasks may take to finish.
    deadline_ms: float = 500.0
    #: custom workload: your own function as the task, "module:function".
    task: str | None = None
    task_args: list[Any] = field(default_factory=list)
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    #: custom workload: a folder to import it from (the current one by default).
    task_path: str | None = None

    @property
    def size(self) -> str:
        """Each task's size as asked for: '20 ms', or '150 iterations' with --iterations."""
        return describe_size(self.workload, self.task_ms, self.iterations, self.task)

    def validated(self) -> RunSpec:
        """Returns the spec with model-specific adjustments, or raises SpecError."""
        if self.model not in MODELS:
            raise SpecError(_unknown("model", self.model, MODELS))
        if self.workload not in WORKLOADS:
            raise SpecError(_unknown("workload", self.workload, WORKLOADS))
        info = MODELS[self.model]
        _integer(f"workers for {self.model}", self.workers, 1, info.max_workers)
        _integer("tasks", self.tasks, 1, MAX_TASKS)
        _number("task-ms", self.task_ms, 0.0, MAX_TASK_MS)
        if self.iterations is not None:
            _integer("iterations", self.iterations, 1, 10**12)
        if self.start_method is not None and self.start_method not in START_METHODS:
            choices = ", ".join(START_METHODS)
            raise SpecError(f"unknown start method {self.start_method!r} (choose from {choices})")
        _integer("queue-size", self.queue_size, 0, 10_000_000)
        _number("io-fraction", self.io_fraction, 0.0, 1.0)
        _integer("payload-bytes", self.payload_bytes, 0, MAX_PAYLOAD)
        _integer("block-every", self.block_every, 0, MAX_TASKS)
        _number("fail-rate", self.fail_rate, 0.0, 1.0)
        _number("jitter", self.jitter, 0.0, 0.99)
        _integer("fail-task", self.fail_task, -1, MAX_TASKS)
        _number("flaky", self.flaky, 0.0, 1.0)
        if self.race not in RACE_FORMS:
            raise SpecError(
                f"unknown race form {self.race!r} (choose from {', '.join(RACE_FORMS)})"
            )
        if self.lock_order not in LOCK_ORDERS:
            raise SpecError(
                f"unknown lock order {self.lock_order!r} (choose from {', '.join(LOCK_ORDERS)})"
            )
        _number("rate", self.rate, 0.01, 1e6)
        _integer("burst", self.burst, 1, 1_000_000)
        _number("timeout-ms", self.timeout_ms, 0.0, MAX_TASK_MS)
        _integer("attempts", self.attempts, 1, 100)
        _number("deadline-ms", self.deadline_ms, 0.0, MAX_TASK_MS)
        workload = WORKLOADS[self.workload]
        if (self.workload == "custom") != (self.task is not None):
            raise SpecError(
                "--task module:function goes with the custom workload"
                if self.task is None
                else "the custom workload needs --task module:function"
            )
        if self.task is not None:
            module, _, function = self.task.partition(":")
            if (
                not module
                or not function
                or not all(part.isidentifier() for part in module.split(".") + function.split("."))
            ):
                raise SpecError(f"--task must be module:function, got {self.task!r}")
        if workload.threads_only and info.processes:
            raise SpecError(
                f"the {self.workload} workload shares memory between threads; "
                f"{self.model} runs tasks in separate processes (choose a thread or async model)"
            )
        if workload.no_interpreters and self.model == "interpreters":
            raise SpecError(
                f"the {self.workload} workload shares a multiprocessing.Value, which cannot"
                " enter a sub-interpreter (choose a thread or process model)"
            )
        if self.switch_interval is not None:
            _number("switch-interval", self.switch_interval, 1e-6, 10.0)
            if self.switch_interval <= 0:
                raise SpecError("switch-interval must be > 0 seconds")
        # Sequential has exactly one worker whatever was asked: say so in the result.
        return replace(self, workers=1) if self.model == "sequential" else self

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data: dict[str, Any] = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _unknown(what: str, value: str, choices: dict[str, Any]) -> str:
    return f"unknown {what} {value!r} (choose from {', '.join(choices)})"


def _integer(name: str, value: Any, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise SpecError(f"{name} must be at least {low}, got {value}")
    if high is not None and value > high:
        raise SpecError(f"{name} must be at most {high:,}, got {value:,}")


def _number(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{name} must be a number, got {value!r}")
    if value < low:
        raise SpecError(f"{name} must be at least {low:g}, got {value:g}")
    if value > high:
        raise SpecError(f"{name} must be at most {high:g}, got {value:g}")
