"""What the timeline says before a run (concviz/tui/idle.py): plain functions, no terminal."""

from __future__ import annotations

from concviz.observer.interpreters import Interpreter
from concviz.runner.spec import RunSpec
from concviz.scenario import load, shipped
from concviz.tui.idle import idle_message, unavailable


def _interp(path: str, version: tuple[int, int, int]) -> Interpreter:
    return Interpreter(path, version, "cpython", gil_enabled=True, free_threaded=False)


def test_a_model_the_interpreter_cannot_run_names_one_found_that_can() -> None:
    spec = RunSpec(model="interpreters", workload="cpu").validated()
    old, new = _interp("/opt/py311", (3, 11, 9)), _interp("/opt/py314", (3, 14, 0))
    found = {i.path: i for i in (old, new)}
    why = unavailable(spec, "/opt/py311", found)
    assert why is not None
    assert "needs Python 3.14+" in why
    assert why.endswith("; pick 3.14 (/opt/py314)")
    assert unavailable(spec, "/opt/py314", found) is None
    assert unavailable(spec, "/not/probed/yet", found) is None  # the run's start says it
    message = idle_message(spec, None, why)
    assert message.startswith("\ninterpreters cannot run here: ")
    assert "o opens the settings (Interpreter)" in message


def test_with_nothing_in_the_way_it_says_what_r_runs_and_what_to_expect() -> None:
    spec = RunSpec(model="processes", workload="cpu", workers=2, tasks=8).validated()
    assert unavailable(spec, None, {}) is None  # any model but interpreters runs anywhere
    message = idle_message(spec, None, None)
    assert "Press r to run processes × 2 on 8 cpu tasks" in message
    assert "every core can fill up" in message


def test_a_compare_scenario_says_r_runs_its_variants() -> None:
    scenario = next(s for s in map(load, shipped()) if s.kind == "compare")
    message = idle_message(scenario.spec, scenario, "ignored: r opens the compare screen")
    assert f"run its {len(scenario.variants)} variants in turn" in message
    assert "cannot run here" not in message


def test_a_run_that_did_not_start_says_why_without_blaming_the_model() -> None:
    """A --task that does not import is not the model's fault: the message said
    "threads cannot run here" and pointed at the interpreter setting."""
    spec = RunSpec(model="threads", workload="custom", task="nowhere:f").validated()
    refused = "cannot import 'nowhere' for --task nowhere:f: No module named 'nowhere'"
    message = idle_message(spec, None, None, refused)
    assert message.startswith(f"\nThe run did not start: {refused}.")
    assert "cannot run here" not in message
    assert "Interpreter" not in message
