"""What to run: a validated, JSON-able description of one run.

Standard library only: the observer builds a :class:`RunSpec`, validates it
(so bad input becomes a one-line error before anything starts) and hands it to
the runner as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..models import CATALOG as MODELS
from ..workloads import CATALOG as WORKLOADS
from ..workloads import describe_size
from .params import Param, param, params_of
from .params import SpecError as SpecError  # noqa: PLC0414  (re-exported: validated() raises it)

START_METHODS = ("fork", "spawn", "forkserver")
RACE_FORMS = ("call", "inplace")
LOCK_ORDERS = ("opposite", "fixed")
MAX_TASKS = 10_000_000
MAX_TASK_MS = 600_000.0
MAX_PAYLOAD = 64 * 1024 * 1024
#: The most workers any model takes (each model has its own cap: ModelInfo.max_workers).
MAX_WORKERS = max(info.max_workers for info in MODELS.values())


@dataclass(frozen=True)
class RunSpec:
    """One run's settings. Each field is a run parameter, declared here once (see params.py)."""

    model: str = param(
        "threads",
        "str",
        choices=tuple(MODELS),
        noun="model",
        flags=("-m", "--model"),
        help="concurrency model (see 'concviz models')",
    )
    workload: str = param(
        "cpu",
        "str",
        choices=tuple(WORKLOADS),
        noun="workload",
        flags=("-w", "--workload"),
        help="workload (see 'concviz workloads')",
    )
    workers: int = param(
        4,
        "int",
        lo=1,
        hi=MAX_WORKERS,
        flags=("-n", "--workers"),
        help="pool size / consumers / concurrency cap (at most the model's own cap)",
    )
    tasks: int = param(
        20, "int", lo=1, hi=MAX_TASKS, flags=("-t", "--tasks"), help="number of tasks"
    )
    task_ms: float = param(
        100.0,
        "float",
        lo=0.0,
        hi=MAX_TASK_MS,
        flags=("--task-ms",),
        help="size of each task: CPU time (calibrated) or wait time, in ms",
    )
    iterations: int | None = param(
        None,
        "int",
        lo=1,
        hi=10**12,
        optional=True,
        flags=("--iterations",),
        help="CPU loop iterations per task (overrides --task-ms)",
    )
    start_method: str | None = param(
        None,
        "str",
        choices=START_METHODS,
        noun="start method",
        optional=True,
        flags=("--start-method",),
        help="fork, spawn or forkserver (process models; default: the interpreter's)",
    )
    queue_size: int = param(
        8,
        "int",
        lo=0,
        hi=10_000_000,
        flags=("--queue-size",),
        help="maxsize of the queue models' queue (0: unbounded)",
    )
    io_fraction: float = param(
        0.5,
        "float",
        lo=0.0,
        hi=1.0,
        flags=("--io-fraction",),
        help="mixed: share of a task spent on I/O",
    )
    payload_bytes: int = param(
        0,
        "int",
        lo=0,
        hi=MAX_PAYLOAD,
        flags=("--payload-bytes",),
        help="http/mixed: response body size",
    )
    block_every: int = param(
        5,
        "int",
        lo=0,
        hi=MAX_TASKS,
        flags=("--block-every",),
        help="blocking-async, forgot-await: every Nth task is the faulty one",
    )
    fail_rate: float = param(
        0.0, "float", lo=0.0, hi=1.0, flags=("--fail-rate",), help="fraction of tasks that raise"
    )
    seed: int = param(0, "int", flags=("--seed",), help="seed for --fail-rate")
    switch_interval: float | None = param(
        None,
        "float",
        lo=1e-6,
        hi=10.0,
        optional=True,
        flags=("--switch-interval",),
        help="sys.setswitchinterval (s)",
    )
    #: Task durations vary by up to this fraction either way (0: all the same).
    jitter: float = param(
        0.0,
        "float",
        lo=0.0,
        hi=0.99,
        group="pattern",
        flags=("--jitter",),
        help="vary task sizes by up to this share",
    )
    #: The task (by id) that raises, halfway through (failure-semantics patterns).
    fail_task: int = param(
        -1,
        "int",
        lo=-1,
        hi=MAX_TASKS,
        group="pattern",
        flags=("--fail-task",),
        help="this task id raises, halfway",
    )
    #: Share of the local server's answers that are 503s (retry pattern).
    flaky: float = param(
        0.0,
        "float",
        lo=0.0,
        hi=1.0,
        group="pattern",
        flags=("--flaky",),
        help="share of 503s from the local server",
    )
    #: counter workload: guard the increment with a threading.Lock (shared-counter: get_lock()).
    lock: bool = param(
        False,
        "bool",
        group="pattern",
        flags=("--lock",),
        help="counter, shared-counter: guard the increment with a lock",
    )
    #: counter workload: "inplace" (counter += 1) or "call" (counter = plus_one(counter)).
    race: str = param(
        "call",
        "str",
        choices=RACE_FORMS,
        noun="race form",
        group="pattern",
        flags=("--race",),
        help="counter: 'call' or 'inplace' (counter += 1)",
    )
    #: deadlock workload: "opposite" (the pitfall) or "fixed" (every thread locks A first).
    lock_order: str = param(
        "opposite",
        "str",
        choices=LOCK_ORDERS,
        noun="lock order",
        group="pattern",
        flags=("--lock-order",),
        help="deadlock: 'opposite' (each transfer locks its source first) or 'fixed' (A first)",
    )
    #: token-bucket pattern: tokens per second, and the bucket's capacity.
    rate: float = param(
        10.0,
        "float",
        lo=0.01,
        hi=1e6,
        group="pattern",
        flags=("--rate",),
        help="token-bucket: starts/s",
    )
    burst: int = param(
        5,
        "int",
        lo=1,
        hi=1_000_000,
        group="pattern",
        flags=("--burst",),
        help="token-bucket: the bucket's capacity",
    )
    #: timeout pattern: each task's deadline.
    timeout_ms: float = param(
        150.0,
        "float",
        lo=0.0,
        hi=MAX_TASK_MS,
        group="pattern",
        flags=("--timeout-ms",),
        help="timeout: each task's deadline; deadlock: the wait for the second lock (0: forever)",
    )
    #: retry pattern: attempts per task (the first one included).
    attempts: int = param(
        4,
        "int",
        lo=1,
        hi=100,
        group="pattern",
        flags=("--attempts",),
        help="retry: attempts per task",
    )
    #: graceful-shutdown pattern: how long in-flight tasks may take to finish.
    deadline_ms: float = param(
        500.0,
        "float",
        lo=0.0,
        hi=MAX_TASK_MS,
        group="pattern",
        flags=("--deadline-ms",),
        help="graceful-shutdown: how long in-flight tasks may take",
    )
    #: custom workload: your own function as the task, "module:function".
    task: str | None = param(
        None,
        "str",
        optional=True,
        group="pattern",
        flags=("--task",),
        help="custom workload: your function, module:function",
    )
    task_args: list[Any] = param(  # noqa: RUF009  (a default_factory: a fresh list)
        [],
        "list",
        group="pattern",
        flags=("--task-args",),
        help="custom workload: its arguments, a JSON list",
    )
    task_kwargs: dict[str, Any] = param(  # noqa: RUF009  (a default_factory: a fresh dict)
        {},
        "dict",
        group="pattern",
        flags=("--task-kwargs",),
        help="custom workload: keyword arguments (JSON)",
    )
    #: custom workload: a folder to import it from (the current one by default).
    task_path: str | None = param(None, "str", optional=True)

    @property
    def size(self) -> str:
        """Each task's size as asked for: '20 ms', or '150 iterations' with --iterations."""
        return describe_size(self.workload, self.task_ms, self.iterations, self.task)

    def validated(self) -> RunSpec:
        """Returns the spec with model-specific adjustments, or raises SpecError."""
        for p in PARAMS:
            value = getattr(self, p.name)
            if p.name == "workers" and self.model in MODELS:
                # Each model has its own cap, and the message names the model.
                p.check(value, f"workers for {self.model}", MODELS[self.model].max_workers)
            else:
                p.check(value)
        info = MODELS[self.model]
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
        # Sequential has exactly one worker whatever was asked: say so in the result.
        return replace(self, workers=1) if self.model == "sequential" else self

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data: dict[str, Any] = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: Every run parameter, in RunSpec's field order: the one table the command line,
#: the settings panel, scenario files and :meth:`RunSpec.validated` are made from.
PARAMS: tuple[Param, ...] = params_of(RunSpec)
BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
