"""A talk: a playlist of scenarios stepped through with PageDown / PageUp, each one's
explanation strip, and the compare or sweep screen a scenario of that kind opens.

Plain functions the app delegates to: what they return is shown by the app.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches
from textual.screen import Screen

if TYPE_CHECKING:  # scenarios come loaded (cli, the picker): tomllib & co. stay off start-up
    from ..scenario import Scenario


def explanation(scenario: Scenario, index: int, count: int) -> str:
    """The strip above the timeline: the scenario, what r does, then why (i hides it)."""
    position = f"  [dim]{index + 1}/{count} · page up/down[/]" if count > 1 else ""
    action = {
        "run": "r runs it",
        "compare": f"r runs its {len(scenario.variants)} variants in turn",
        "sweep": f"r runs it at {', '.join(map(str, scenario.sweep))} workers",
    }[scenario.kind]
    # What r does first: a short screen shows the strip's first line only.
    return (
        f"[b]{scenario.title}[/b] · {action}{position}\n{scenario.explanation}"
        "  [dim](i hides this)[/]"
    )


def add_to_playlist(playlist: list[Scenario], scenario: Scenario) -> int:
    """A scenario picked with p joins the talk (once): its place in the playlist."""
    if scenario not in playlist:
        playlist.append(scenario)
    return playlist.index(scenario)


def toggle_screen_explanation(screen: Screen[Any]) -> None:
    """``i`` on a compare or sweep screen: its own text, if it has one, shows or hides."""
    with contextlib.suppress(NoMatches):
        box = screen.query_one("#explain")
        if getattr(screen, "title_text", ""):
            box.display = not box.display


def series_screen(scenario: Scenario, python: str | None, python_given: str | None) -> Screen[Any]:
    """The screen a compare or sweep scenario runs on (at once), its variants preset."""
    from .series import CompareScreen, Entry, SweepScreen  # noqa: PLC0415

    if scenario.kind == "compare":
        entries = [
            Entry(v.label, v.spec, python_given or v.python or python) for v in scenario.variants
        ]
        return CompareScreen(
            scenario.spec,
            python,
            preset=entries,
            title=scenario.title,
            explanation=scenario.explanation,
            autorun=True,
            focus=scenario.focus,
        )
    return SweepScreen(
        scenario.spec,
        python,
        counts=scenario.sweep,
        title=scenario.title,
        explanation=scenario.explanation,
        autorun=True,
    )
