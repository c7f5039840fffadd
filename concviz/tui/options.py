"""The settings a model or workload adds (a lock, a lock order, a rate...): which, and how shown.

Plain data and parsing, no widgets: the settings panel shows the options that
apply to the chosen model and workload, the same ones the command line and the
scenarios set, so a scenario's choices can be seen and changed on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runner.spec import LOCK_ORDERS, RACE_FORMS, RunSpec, SpecError


@dataclass(frozen=True)
class Option:
    #: The RunSpec field it sets.
    field: str
    #: Fits the settings panel (28 columns).
    label: str
    #: "int", "float", "choice" or "bool".
    kind: str
    #: It applies when the workload is one of these, or the model one of ``models``.
    workloads: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    #: An empty box means the workload's own default (the field's None).
    blank_is_default: bool = False

    def applies(self, spec: RunSpec) -> bool:
        return spec.workload in self.workloads or spec.model in self.models

    def text(self, spec: RunSpec) -> str:
        """The field's value as its input box shows it."""
        value = getattr(spec, self.field)
        if value is None:  # not set: the workload's own default
            return ""
        if self.kind == "bool":
            return "on" if value else "off"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def parse(self, text: str) -> Any:
        """The value a box's text stands for; a bad one raises a one-line SpecError."""
        text = text.strip()
        if self.kind in ("choice", "bool"):
            return text == "on" if self.kind == "bool" else text
        if not text and self.blank_is_default:
            return None
        try:
            return int(text) if self.kind == "int" else float(text)
        except ValueError:
            what = "a whole number" if self.kind == "int" else "a number"
            raise SpecError(f"{self.label.lower()} must be {what}, got {text!r}") from None


OPTIONS: tuple[Option, ...] = (
    Option("lock", "Lock around the increment", "bool", ("counter", "shared-counter")),
    Option("race", "Increment written as", "choice", ("counter",), choices=RACE_FORMS),
    Option(
        "iterations",
        "Increments per task",
        "int",
        ("counter", "shared-counter"),
        blank_is_default=True,
    ),
    Option("lock_order", "Lock order", "choice", ("deadlock",), choices=LOCK_ORDERS),
    Option(
        "timeout_ms",
        "Wait for lock 2, ms (0: ∞)",
        "float",
        ("deadlock",),
    ),
    Option("timeout_ms", "Timeout, ms", "float", models=("timeout", "thread-timeout")),
    Option(
        "block_every",
        "Pitfall every Nth task",
        "int",
        ("blocking-async", "forgot-await"),
    ),
    Option("io_fraction", "I/O share of a task (0-1)", "float", ("mixed",)),
    Option("queue_size", "Queue size (maxsize)", "int", models=("thread-queue", "async-queue")),
    Option("rate", "Rate, starts per second", "float", models=("token-bucket",)),
    Option("burst", "Burst (bucket capacity)", "int", models=("token-bucket",)),
    Option("attempts", "Attempts per task", "int", models=("retry",)),
    Option("flaky", "Failing answers (0-1)", "float", models=("retry",)),
    Option("deadline_ms", "In-flight deadline, ms", "float", models=("graceful-shutdown",)),
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
