"""Snapshots of the dashboard, fed from recorded runs so they are deterministic.

Regenerate after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the SVGs in ``tests/__snapshots__`` before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from concviz.tui.app import ConcvizApp

DATA = Path(__file__).parent / "data"


def replayed(name: str, theme: str = "textual-dark") -> ConcvizApp:
    app = ConcvizApp(replay=DATA / name, replay_speed=float("inf"))
    app.theme = theme
    return app


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    pilot.app.refresh_view()  # type: ignore[attr-defined]
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (140, 42)], ids=["80x24", "140x42"])
def test_threads_on_a_gil_build(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed("threads-cpu.cvrec"), terminal_size=size, run_before=settle)


def test_processes_fill_both_cores_light_theme(snap_compare: Any) -> None:
    app = replayed("processes-cpu.cvrec", theme="textual-light")
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_grouped_sleeping_coroutines_do_not_look_like_cpu(snap_compare: Any, theme: str) -> None:
    """Issue #17.2: 40 sleeping coroutines, 3 slots a row: dotted, muted bars (waiting)."""
    app = replayed("asyncio-sleep-40.cvrec", theme=theme)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)
