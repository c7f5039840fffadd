"""The table ``concviz run`` prints: every figure's text as it is, at any width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from concviz.report import summary_rows, summary_table

from .test_findings import summary


def printed(width: int, **changes: object) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(summary_table(summary(**changes)))
    return out.getvalue()


def test_brackets_in_any_cell_are_printed_not_taken_for_markup() -> None:
    # A warning's message, a status, a workload's name: text from the run, never styles.
    text = printed(
        120,
        workload="[bold]sleep",
        status="done [/]",
        warnings={"coroutine 'f' was never awaited; use list[str]": 1},
    )
    assert "concviz run: threads / [bold]sleep" in text
    assert "done [/]" in text
    assert "use list[str]" in text


@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_label_stays_whole_on_one_line(width: int) -> None:
    text = printed(width)
    for label, _, _ in summary_rows(summary()):
        assert any(line.lstrip("│ ").startswith(label) for line in text.splitlines()), label
