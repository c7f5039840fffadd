"""Every run parameter, declared once: its name, type, default, bounds and help.

Standard library only (the runner validates the spec it is given too). A
parameter is declared where :class:`~concviz.runner.spec.RunSpec` declares its
field, with :func:`param`; :data:`~concviz.runner.spec.PARAMS` lists them in
that order. Everything else is derived from that one declaration:

- the command line's options, their help and defaults (``cli.parser.add_run_options``);
- the checks on a spec (:meth:`Param.check`, run by ``RunSpec.validated``), so a
  bad value is refused with the same line from the command line, a scenario
  file or the settings panel;
- what a scenario file may set, and which TOML type each setting takes;
- the settings panel's boxes and how their text is read (:meth:`Param.parse`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:  # the runner starts without argparse (#21): only the CLI adds options
    import argparse

T = TypeVar("T")
#: What a parameter's values are ("list" and "dict": JSON on the command line).
Kind = Literal["int", "float", "bool", "str", "list", "dict"]

#: Each kind of value, as a message says it.
EXPECTED: dict[str, str] = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list",
    "dict": "a table",
}


class SpecError(ValueError):
    """A bad value, explained in one line that names it and what would be valid."""


@dataclass(frozen=True)
class Param:
    """One run parameter. ``name`` and ``default`` come from its RunSpec field."""

    kind: Kind
    #: Lowest and highest valid value (numbers; None: no bound that way).
    lo: float | None = None
    hi: float | None = None
    #: The command line's help for it.
    help: str = ""
    #: Its command-line flags, e.g. ``("-n", "--workers")`` (none: not an option).
    flags: tuple[str, ...] = ()
    #: The command line's group: "run" (what to run) or "pattern" (pattern options).
    group: Literal["run", "pattern"] = "run"
    #: The valid values of a "str" parameter (none: any string).
    choices: tuple[str, ...] = ()
    #: How an unknown choice is named: ``unknown race form 'x' (choose from ...)``.
    noun: str = ""
    #: None is valid (and, as the default, means "not set": the workload's own).
    optional: bool = False
    #: Filled in by :func:`params_of` from the RunSpec field.
    name: str = ""
    default: Any = None

    @property
    def what(self) -> str:
        """How messages name it: its long flag without the dashes (``task-ms``)."""
        longs = [f for f in self.flags if f.startswith("--")]
        return longs[0][2:] if longs else self.name.replace("_", "-")

    @property
    def help_line(self) -> str:
        """The command line's help: what it is, then its bounds and default as declared."""
        facts = []
        if self.kind in ("int", "float") and self.lo is not None and self.hi is not None:
            facts.append(f"{_figure(self.lo)} to {_figure(self.hi)}")
        if self.default is not None and self.kind not in ("bool", "list", "dict"):
            facts.append(f"default {self.text(self.default)}")
        return f"{self.help} [{', '.join(facts)}]" if facts else self.help

    @property
    def expected(self) -> str:
        return EXPECTED[self.kind]

    def has_type(self, value: Any) -> bool:
        """Whether ``value`` is of this parameter's kind (None where it is optional)."""
        if value is None:
            return self.optional
        if self.kind == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if self.kind == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        return isinstance(value, {"bool": bool, "str": str, "list": list, "dict": dict}[self.kind])

    def check(self, value: Any, name: str | None = None, hi: float | None = None) -> None:
        """Raises SpecError (one line, named ``name`` or :attr:`what`) if ``value`` is invalid.

        ``hi`` replaces the declared upper bound (a model's own cap on workers).
        """
        name = name or self.what
        hi = self.hi if hi is None else hi
        if value is None and self.optional:
            return
        if not self.has_type(value) or (self.kind == "float" and not math.isfinite(value)):
            raise SpecError(f"{name} must be {self.expected}, got {value!r}")
        if self.choices and value not in self.choices:
            choices = ", ".join(self.choices)
            raise SpecError(f"unknown {self.noun or name} {value!r} (choose from {choices})")
        if self.kind == "int":
            if self.lo is not None and value < self.lo:
                raise SpecError(f"{name} must be at least {self.lo:.0f}, got {value}")
            if hi is not None and value > hi:
                raise SpecError(f"{name} must be at most {hi:,.0f}, got {value:,}")
        elif self.kind == "float":
            if self.lo is not None and value < self.lo:
                raise SpecError(f"{name} must be at least {self.lo:g}, got {value:g}")
            if hi is not None and value > hi:
                raise SpecError(f"{name} must be at most {hi:g}, got {value:g}")

    def parse(self, text: str, name: str | None = None) -> Any:
        """The value typed text stands for (a box, an option); the type is checked, not bounds.

        An empty text is None for an optional parameter. A bad one raises a
        one-line SpecError, named ``name`` or :attr:`what`.
        """
        name = name or self.what
        text = text.strip()
        if not text and self.optional:
            return None
        try:
            if self.kind == "int":
                return int(text)
            if self.kind == "float":
                return float(text)
            if self.kind in ("list", "dict"):
                value = json.loads(text)
                if not self.has_type(value):
                    raise ValueError(text)
                return value
        except ValueError:
            what = f"JSON ({self.expected})" if self.kind in ("list", "dict") else self.expected
            raise SpecError(f"{name} must be {what}, got {text!r}") from None
        if self.kind == "bool":
            return text == "on"
        return text

    def add_option(self, group: argparse._ActionsContainer) -> None:
        """This parameter as a command-line option: its flags, default and help, as declared.

        Its text is read by :meth:`parse`; bounds are left to ``RunSpec.validated``,
        which refuses a value with the same line a scenario file or the settings panel gets.
        """
        if self.kind == "bool":
            group.add_argument(*self.flags, action="store_true", help=self.help_line)
            return
        group.add_argument(
            *self.flags,
            dest=self.name,
            type=self._option,
            default=self.default,
            help=self.help_line,
        )

    def _option(self, text: str) -> Any:
        try:
            return self.parse(text)
        except SpecError as exc:
            import argparse  # noqa: PLC0415

            raise argparse.ArgumentTypeError(str(exc)) from None

    def text(self, value: Any) -> str:
        """``value`` as a box shows it (and :meth:`parse` reads it back): '' for None."""
        if value is None:
            return ""
        if self.kind == "bool":
            return "on" if value else "off"
        if self.kind in ("list", "dict"):
            return json.dumps(value)
        return f"{value:g}" if isinstance(value, float) else str(value)


def _figure(value: float) -> str:
    """A bound as help shows it: 10,000,000 or 0.99."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


#: The interpreter a run uses: chosen with the run's settings, but not one of them
#: (the runner is started under it, so it is not in the spec it is given).
PYTHON = Param(
    "str",
    optional=True,
    flags=("--python",),
    help="run the workload under this interpreter (>= 3.11)",
    name="python",
)


def param(default: T, kind: Kind, **how: Any) -> T:
    """A RunSpec field declared as a run parameter (see :class:`Param` for ``how``)."""
    spec = Param(kind, **how)
    if isinstance(default, (list, dict)):
        made = type(default)
        return field(default_factory=made, metadata={"param": spec})
    return field(default=default, metadata={"param": spec})


def params_of(cls: type) -> tuple[Param, ...]:
    """The run parameters of a dataclass declared with :func:`param`, in its field order."""
    from dataclasses import MISSING, fields, replace  # noqa: PLC0415

    found = []
    for f in fields(cls):
        spec = f.metadata.get("param")
        if spec is None:
            continue
        make: Callable[[], Any] | Any = f.default_factory
        default = f.default if f.default is not MISSING else make()
        found.append(replace(spec, name=f.name, default=default))
    return tuple(found)
