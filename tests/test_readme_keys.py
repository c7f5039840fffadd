"""The README's key table is the dashboard's own: a key added, renamed or dropped
in the app without the table (or the other way round) fails here."""

from __future__ import annotations

import re
from pathlib import Path

from concviz.tui.app import ConcvizApp
from concviz.tui.series import SeriesScreen

README = Path(__file__).resolve().parent.parent / "README.md"
#: How the README writes a key Textual names otherwise.
SHOWN = {
    "question_mark": "?",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "right_square_bracket": "]",
    "left_square_bracket": "[",
    "pagedown": "page down",
    "pageup": "page up",
    "left": "←",
    "right": "→",
}
#: Keys the table need not list: Ctrl+C quits (said under the table), "=" is "+"
#: without shift, escape leaves a screen (its footer says so).
UNLISTED = {"ctrl+c", "=", "escape"}
#: Backticked in the table, but a column's sign, not a key.
NOT_KEYS = {"±"}


def table_keys() -> set[str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| key | does |") :].split("\n\n", 1)[0]
    keys: set[str] = set()
    for line in table.splitlines()[2:]:
        first, does = line.split("|")[1:3]
        keys.update(re.findall(r"`([^`]+)`", first))
        # keys explained inside another row ("`f` freezes it", "`n` runs each")
        keys.update(re.findall(r"`(\S{1,2})`", does))
    return keys - NOT_KEYS


def app_keys(bindings: list[object]) -> set[str]:
    keys: set[str] = set()
    for binding in bindings:
        for key in binding.key.split(","):  # type: ignore[attr-defined]
            keys.add(SHOWN.get(key, key))
    return keys - UNLISTED


def test_every_dashboard_key_is_in_the_readme_table_and_nothing_else_is() -> None:
    documented = table_keys()
    dashboard = app_keys(list(ConcvizApp.BINDINGS)) | {ConcvizApp.COMMAND_PALETTE_BINDING}
    assert dashboard - documented == set(), "keys the README does not list"
    series = app_keys(list(SeriesScreen.BINDINGS))
    assert documented - dashboard - series == set(), "keys the README lists that do nothing"
