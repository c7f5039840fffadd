"""What the user sets in the dashboard is what runs, and stays within bounds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from textual.widgets import Input, Select

from concviz.models import CATALOG as MODELS
from concviz.runner.spec import MAX_TASKS, RunSpec
from concviz.scenario import load
from concviz.tui.app import ConcvizApp

MAX_PROCESSES = MODELS["processes"].max_workers


@pytest.mark.parametrize(
    ("model", "field", "start", "key", "presses", "expected"),
    [
        ("threads", "workers", 1, "minus", 3, 1),  # never zero workers
        ("threads", "workers", 3, "minus", 5, 1),
        ("threads", "workers", 2, "plus", 1, 3),
        # never past the model's own cap
        ("processes", "workers", MAX_PROCESSES - 1, "plus", 3, MAX_PROCESSES),
        ("threads", "tasks", 3_000_000, "right_square_bracket", 1, 6_000_000),  # more, not fewer
        ("threads", "tasks", MAX_TASKS - 1, "right_square_bracket", 1, MAX_TASKS),  # the bound
        ("threads", "tasks", 1, "left_square_bracket", 2, 1),  # never zero tasks
    ],
)
async def test_the_keys_keep_workers_and_tasks_within_their_bounds(
    model: str, field: str, start: int, key: str, presses: int, expected: int
) -> None:
    values: dict[str, Any] = {field: start}
    spec = replace(RunSpec(model=model, workload="sleep", workers=2, tasks=4), **values)
    app = ConcvizApp(spec)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*[key] * presses)
        assert getattr(app.spec, field) == expected
        assert getattr(app.spec.validated(), field) == expected  # a spec that can run


async def test_the_task_size_typed_in_the_settings_panel_is_the_one_that_runs() -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=4, task_ms=100))
    async with app.run_test(size=(140, 45)) as pilot:
        while not app.w_settings.ready:
            await pilot.pause(0.02)
        app.query_one("#set-task_ms", Input).value = "35"
        await pilot.pause()
        assert app.read_settings().task_ms == 35
        assert app.spec.task_ms == 35


async def test_a_settings_change_read_while_the_panel_is_taken_down_does_not_raise() -> None:
    """A Changed event may arrive as the app closes, its fields gone (seen once under load)."""
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=4, task_ms=30))
    async with app.run_test(size=(140, 45)) as pilot:
        while not app.w_settings.ready:
            await pilot.pause(0.02)
        await app.w_settings.remove_children()  # as the app's teardown does
        app._settings_changed()  # what a late Input.Changed / Select.Changed runs
        assert app.spec.task_ms == 30


async def test_the_next_scenario_shows_its_own_start_method_in_the_panel() -> None:
    """PageDown to a scenario run with spawn: the panel says spawn, not the last one's default."""
    app = ConcvizApp(playlist=[load("gil"), load("main-guard")])
    async with app.run_test(size=(140, 45)) as pilot:
        while not app.w_settings.ready:
            await pilot.pause(0.02)
        method = app.query_one("#set-start_method", Select)
        assert method.value == "default"
        await app.action_next_scenario(1)
        await pilot.pause()
        assert app.spec.start_method == "spawn"
        assert method.value == "spawn"
        assert app.read_settings().start_method == "spawn"  # what an edit would read back
