"""The scenario picker: every shipped demonstration, by title (p)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ..scenario import Scenario, load, shipped


class ScenarioPicker(ModalScreen[Scenario | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    ScenarioPicker { align: center middle; }
    ScenarioPicker > Vertical {
        width: 90%; max-width: 96; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ScenarioPicker OptionList { height: auto; max-height: 24; }
    """

    def compose(self) -> ComposeResult:
        self.scenarios = [load(name) for name in shipped()]
        with Vertical():
            yield Label(
                "[b]Scenarios[/b]: a pattern each, ready to run (enter loads, escape closes)"
            )
            yield OptionList(
                *[Option(f"[b]{s.name}[/b]  {s.title}", id=s.name) for s in self.scenarios]
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(s for s in self.scenarios if s.name == event.option.id))
