"""The settings panel: the next run's settings, a box (or a list) per run parameter.

Its boxes are made from the parameters' declarations (type, choices, value as
text) and where :mod:`concviz.tui.options` places them; what they say is read
back with the same parsing, and checked by ``RunSpec.validated`` like the
command line's options and a scenario's settings.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select

from ..observer.interpreters import Interpreter
from ..runner.params import Param
from ..runner.spec import RunSpec
from .options import LATER, MAIN, Option, options_for

#: The interpreter's list comes right after this setting.
INTERPRETER_AFTER = "start_method"


def clamp(param: Param, value: int, cap: int | None = None) -> int:
    """``value`` moved within ``param``'s declared bounds (``cap``: a lower upper bound)."""
    highs = [int(h) for h in (param.hi, cap) if h is not None]
    if highs:
        value = min(value, *highs)
    if param.lo is not None:
        value = max(value, int(param.lo))
    return value


def box(option: Option, spec: RunSpec) -> Input | Select[str]:
    """The field that shows ``option``'s value in ``spec``: a list to pick from, or a box."""
    text = option.text(spec)
    if option.kind in ("choice", "bool"):
        return Select([(v, v) for v in option.choices], value=text, allow_blank=False, id=option.id)
    return Input(
        text,
        type="integer" if option.kind == "int" else "number",
        placeholder=option.placeholder,
        id=option.id,
    )


class SettingsPanel(VerticalScroll, can_focus=False):
    """The run's settings; they apply to the next run.

    The panel itself takes no focus (its fields do, Tab reaches them): Textual
    gave it focus at start-up, and styling it for that delayed the first frame
    by ~10 % (#21). Nothing is focused until the user picks a field.
    """

    DEFAULT_CSS = """
    SettingsPanel { width: 32; padding: 0 1; border: round $foreground-muted; }
    SettingsPanel Label { margin-top: 1; color: $text-muted; }
    SettingsPanel Input.-invalid { border: tall $error; }
    SettingsPanel Button { width: 100%; margin-top: 1; }
    SettingsPanel #options { height: auto; }
    """

    def __init__(self, spec: RunSpec, python: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.python = python
        version = ".".join(map(str, sys.version_info[:3]))
        self.python_label = python or f"this one ({version})"
        self.border_title = "Settings"
        #: The fields are mounted after the first frame (styling them is a third
        #: of start-up); until then what they would say is kept here.
        self.ready = False
        self._interpreters: list[Interpreter] | None = None
        self._recorded_python: str | None = None
        #: The run's main settings (always shown), by RunSpec field.
        self.main_fields: dict[str, tuple[Option, Input | Select[str]]] = {}
        #: The model's and workload's own options on show, by RunSpec field.
        self.option_fields: dict[str, tuple[Option, Input | Select[str]]] = {}
        #: Kept, as the fields are, so that reading them needs no query (none fails
        #: while the panel is taken down with the app).
        self.python_field: Select[str] | None = None

    async def fill(self) -> None:
        """Mounts the fields, then applies what changed while they were not there."""
        if self.ready or not self.is_attached:
            return
        await self.mount_all(self._fields())
        self.ready = True
        if self._recorded_python is not None:
            self.show_recorded_python(self._recorded_python)
        elif self._interpreters is not None:
            self.offer_interpreters(self._interpreters)

    def _main(self, options: Iterable[Option], spec: RunSpec) -> Iterable[Widget]:
        for option in options:
            field = box(option, spec)
            self.main_fields[option.field] = (option, field)
            yield Label(option.label)
            yield field
            if option.field == INTERPRETER_AFTER:
                yield Label("Interpreter")
                self.python_field = Select(
                    [(self.python_label, self.python or "")],
                    value=self.python or "",
                    allow_blank=False,
                    id="set-python",
                )
                yield self.python_field

    def _fields(self) -> Iterable[Widget]:
        spec = self.spec
        self.main_fields = {}
        yield from self._main(MAIN, spec)
        yield Vertical(*self._option_widgets(spec), id="options")
        yield from self._main(LATER, spec)
        yield Button("Run  (r)", id="run", variant="primary")

    def _option_widgets(self, spec: RunSpec) -> Iterable[Widget]:
        """A label and a field for each option of this model and workload."""
        self.option_fields = {}
        for option in options_for(spec):
            field = box(option, spec)
            self.option_fields[option.field] = (option, field)
            yield Label(option.label)
            yield field

    def values(self) -> dict[str, Any]:
        """What the fields say, as RunSpec fields (a value that is no number raises SpecError).

        Bounds are not checked here: ``RunSpec.validated`` does, as for the command line.
        """
        shown = [*self.main_fields.values(), *self.option_fields.values()]
        return {option.field: option.parse(str(field.value)) for option, field in shown}

    def chosen_python(self) -> str | None:
        """The interpreter picked (None: the one concviz runs under)."""
        chosen = self.python_field.value if self.python_field is not None else None
        return str(chosen) if chosen else None

    def sync_options(self, spec: RunSpec, values: bool = True) -> None:
        """Shows the options of ``spec``'s model and workload (with its values: ``values``).

        Not the values while the user types: "1.50" must not become "1.5" under the cursor.
        """
        if not self.ready:
            return
        wanted = [option.field for option in options_for(spec)]
        if wanted != list(self.option_fields):
            self.call_later(self._rebuild_options, spec)
            return
        if values:
            self._show(self.option_fields.values(), spec)

    def _show(self, fields: Iterable[tuple[Option, Input | Select[str]]], spec: RunSpec) -> None:
        """Puts ``spec``'s values in ``fields``, without echoing change events back."""
        with self.prevent(Select.Changed, Input.Changed):
            for option, field in fields:
                if str(field.value) != option.text(spec):
                    field.value = option.text(spec)

    async def _rebuild_options(self, spec: RunSpec) -> None:
        holder = self.query_one("#options", Vertical)
        await holder.remove_children()
        await holder.mount_all(list(self._option_widgets(spec)))

    def show_recorded_python(self, label: str) -> None:
        self._recorded_python = label
        if not self.ready:
            return
        select = self.query_one("#set-python", Select)
        with self.prevent(Select.Changed):
            select.set_options([(label, "recorded")])
            select.value = "recorded"

    def offer_interpreters(self, found: list[Interpreter]) -> None:
        """Fills the interpreter list once discovery (a worker thread) is done."""
        self._interpreters = found
        if not self.ready or not self.is_attached:
            return  # not drawn yet (it will use them), or gone (the app is closing)
        select = self.query_one("#set-python", Select)
        current = select.value
        options = [
            (f"{i.short}  {i.label.split('(')[1].rstrip(')')}  {i.path}", i.path) for i in found
        ]
        if self.python is None:
            options.insert(0, (self.python_label, ""))
        with self.prevent(Select.Changed):
            select.set_options(options)
            values = {value for _, value in options}
            select.value = current if current in values else options[0][1]

    def set_spec(self, spec: RunSpec) -> None:
        """Reflects a spec changed by keys or a scenario, without echoing change events back."""
        self.spec = spec
        if not self.ready:
            return  # the fields will be made from self.spec
        self._show(self.main_fields.values(), spec)
        self.sync_options(spec)
