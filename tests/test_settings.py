"""What the user sets in the dashboard is what runs, and stays within bounds."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from concviz.models import CATALOG as MODELS
from concviz.runner.spec import MAX_TASKS, RunSpec
from concviz.scenario import load
from concviz.tui.app import ConcvizApp

MAX_PROCESSES = MODELS["processes"].max_workers


@pytest.mark.parametrize(
    ("model", "workers", "key", "presses", "expected"),
    [
        ("threads", 1, "minus", 3, 1),  # never zero workers
        ("threads", 3, "minus", 5, 1),
        ("threads", 2, "plus", 1, 3),
        ("processes", MAX_PROCESSES - 1, "plus", 3, MAX_PROCESSES),  # never past the model's cap
    ],
)
async def test_plus_and_minus_keep_the_worker_count_within_the_models_bounds(
    model: str, workers: int, key: str, presses: int, expected: int
) -> None:
    app = ConcvizApp(RunSpec(model=model, workload="sleep", workers=workers, tasks=4))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*[key] * presses)
        assert app.spec.workers == expected
        assert app.spec.validated().workers == expected  # a spec that can run


async def test_the_task_size_typed_in_the_settings_panel_is_the_one_that_runs() -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=4, task_ms=100))
    async with app.run_test(size=(140, 45)) as pilot:
        while not app.w_settings.ready:
            await pilot.pause(0.02)
        app.query_one("#set-task_ms", Input).value = "35"
        await pilot.pause()
        assert app.read_settings().task_ms == 35
        assert app.spec.task_ms == 35


@pytest.mark.parametrize(
    ("tasks", "key", "expected"),
    [
        (3_000_000, "right_square_bracket", 6_000_000),  # more tasks is never fewer
        (MAX_TASKS - 1, "right_square_bracket", MAX_TASKS),  # never past the declared bound
        (1, "left_square_bracket", 1),  # never zero tasks
    ],
)
async def test_the_task_keys_keep_the_count_within_its_declared_bounds(
    tasks: int, key: str, expected: int
) -> None:
    app = ConcvizApp(RunSpec(model="threads", workload="sleep", workers=2, tasks=tasks))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key)
        assert app.spec.tasks == expected
        assert app.spec.validated().tasks == expected  # a spec that can run


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
