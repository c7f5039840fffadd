"""Where the settings panel shows each run parameter, and under which label.

Plain data and parsing, no widgets. What a parameter is (its type, bounds,
choices, default, how its text is read) is declared once, on the runner side
(``runner.spec.PARAMS``); here is only how the panel presents it: its label,
its box's id, and, for the options a model or workload adds (a lock, a lock
order, a rate...), which ones they belong to. The panel shows the options that
apply to the chosen model and workload, the same ones the command line and the
scenarios set, so a scenario's choices can be seen and changed on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runner.params import Param
from ..runner.spec import BY_NAME, RunSpec


@dataclass(frozen=True)
class Option:
    #: The run parameter (RunSpec field) it sets.
    field: str
    #: Fits the settings panel (28 columns).
    label: str
    #: It applies when the workload is one of these, or the model one of ``models``
    #: (neither: always shown, among the run's main settings).
    workloads: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    #: How a message about a bad value names it (default: the label, lower case).
    noun: str = ""
    #: The box shows the value times this (seconds shown as ms: 1000).
    scale: float = 1.0
    #: What an empty box says (an optional parameter: the workload's own default).
    placeholder: str = "default"
    #: The box's id (default: ``opt-FIELD``).
    box_id: str = ""

    @property
    def param(self) -> Param:
        return BY_NAME[self.field]

    @property
    def id(self) -> str:
        return self.box_id or f"opt-{self.field}"

    @property
    def kind(self) -> str:
        """ "choice", "bool", "int" or "float": a list to pick from, or a box to type in."""
        param = self.param
        return "choice" if param.choices else param.kind

    @property
    def choices(self) -> tuple[str, ...]:
        """The values a list offers ("default" first where the parameter may be unset)."""
        param = self.param
        if param.kind == "bool":
            return ("off", "on")
        return (("default",) if param.optional else ()) + param.choices

    @property
    def always(self) -> bool:
        return not (self.workloads or self.models)

    def applies(self, spec: RunSpec) -> bool:
        return self.always or spec.workload in self.workloads or spec.model in self.models

    def text(self, spec: RunSpec) -> str:
        """The field's value as its box (or list) shows it."""
        value = getattr(spec, self.field)
        if value is None and self.kind == "choice":
            return "default"
        if value is not None and self.scale != 1.0:
            value = value * self.scale
        return self.param.text(value)

    def parse(self, text: str) -> Any:
        """The value a box's text stands for; a bad one raises a one-line SpecError."""
        if self.kind == "choice" and text == "default" and self.param.optional:
            return None
        value = self.param.parse(text, self.noun or self.label.lower())
        return value / self.scale if value is not None and self.scale != 1.0 else value


#: The run's main settings, always shown: above the options (a key that changes one
#: is named in its label), then below them.
MAIN: tuple[Option, ...] = (
    Option("model", "Model  [dim](m)[/]", box_id="set-model"),
    Option("workload", "Workload  [dim](w)[/]", box_id="set-workload"),
    Option(
        "workers", "Workers  [dim](+ -)[/]", noun="workers", placeholder="", box_id="set-workers"
    ),
    Option("tasks", "Tasks  [dim]([ ])[/]", noun="tasks", placeholder="", box_id="set-tasks"),
    Option("task_ms", "Task size, ms", noun="task size", placeholder="", box_id="set-task_ms"),
)
LATER: tuple[Option, ...] = (
    Option("start_method", "Start method (processes)", box_id="set-start_method"),
    Option(
        "switch_interval",
        "Switch interval, ms (threads)",
        noun="switch interval",
        scale=1000.0,
        placeholder="5 (the default)",
        box_id="set-switch",
    ),
)

#: The options a model or workload adds, a workload's first.
OPTIONS: tuple[Option, ...] = (
    Option("lock", "Lock around the increment", ("counter", "shared-counter")),
    Option("race", "Increment written as", ("counter",)),
    Option("iterations", "Increments per task", ("counter", "shared-counter")),
    Option("lock_order", "Lock order", ("deadlock",)),
    Option("timeout_ms", "Wait for lock 2, ms (0: ∞)", ("deadlock",)),
    Option("timeout_ms", "Timeout, ms", models=("timeout", "thread-timeout")),
    Option("block_every", "Pitfall every Nth task", ("blocking-async", "forgot-await")),
    Option("io_fraction", "I/O share of a task (0-1)", ("mixed",)),
    Option("queue_size", "Queue size (maxsize)", models=("thread-queue", "async-queue")),
    Option("rate", "Rate, starts per second", models=("token-bucket",)),
    Option("burst", "Burst (bucket capacity)", models=("token-bucket",)),
    Option("attempts", "Attempts per task", models=("retry",)),
    Option("flaky", "Failing answers (0-1)", models=("retry",)),
    Option("deadline_ms", "In-flight deadline, ms", models=("graceful-shutdown",)),
)


def options_for(spec: RunSpec) -> list[Option]:
    """The options of this model and workload, one per field (a workload's first)."""
    seen: set[str] = set()
    chosen = []
    for option in OPTIONS:
        if option.applies(spec) and option.field not in seen:
            seen.add(option.field)
            chosen.append(option)
    return chosen


#: Run parameters the panel leaves to the command line and scenario files (a new
#: parameter goes in MAIN, LATER or OPTIONS, or here: tests/test_params.py checks).
NOT_SHOWN: frozenset[str] = frozenset(
    {
        "payload_bytes",  # the http workloads' answers: a measurement knob, not a lesson
        "fail_rate",  # failures on purpose: failure-semantics scenarios set these
        "seed",
        "fail_task",
        "jitter",
        "task",  # your own function: `concviz --task module:function`, or a scenario's [task]
        "task_args",
        "task_kwargs",
        "task_path",
    }
)
