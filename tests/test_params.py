"""Each run parameter is declared once (its RunSpec field); every place that sets one agrees.

The command line's options, scenario files' settings and the settings panel's
boxes are all made from ``runner.spec.PARAMS``. These tests walk that table, so
a parameter added to it is checked everywhere without a test being written for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from concviz.cli import _main, build_parser
from concviz.runner.params import Param
from concviz.runner.spec import PARAMS, RunSpec, SpecError
from concviz.scenario import RUN_FIELDS, ScenarioError, parse
from concviz.tui.app import ConcvizApp
from concviz.tui.options import LATER, MAIN, NOT_SHOWN, OPTIONS, Option

SHOWN: tuple[Option, ...] = (*MAIN, *LATER, *OPTIONS)
HEAD = {"title": "t", "explanation": "e"}


def bad_values(p: Param) -> list[Any]:
    """Values just outside what ``p`` declares valid (none if it declares no bound)."""
    values: list[Any] = []
    if p.choices:
        values.append("bogus")
    if p.kind == "int":
        values += [int(p.lo) - 1] if p.lo is not None else []
        values += [int(p.hi) + 1] if p.hi is not None else []
    if p.kind == "float":
        values += [p.lo - 1.0] if p.lo is not None else []
        values += [p.hi * 2 + 1.0] if p.hi is not None else []
    return values


BAD = [(p, v) for p in PARAMS for v in bad_values(p)]


def refusal(p: Param, value: Any) -> str:
    """The one line RunSpec.validated refuses ``value`` of ``p`` with."""
    with pytest.raises(SpecError) as caught:
        RunSpec(**{p.name: value}).validated()
    message = str(caught.value)
    assert ("unknown" if value == "bogus" else "must be at") in message, message
    return message


def test_the_table_has_every_runspec_field_and_bounds_that_make_sense() -> None:
    from dataclasses import fields  # noqa: PLC0415

    assert [p.name for p in PARAMS] == [f.name for f in fields(RunSpec)]
    for p in PARAMS:
        p.check(p.default)  # every default is valid by its own declaration
        if p.lo is not None and p.hi is not None:
            assert p.lo < p.hi, p.name
    assert RunSpec().validated() == RunSpec()
    # The bad values are many enough to mean something: every bounded parameter has one.
    assert {p.name for p, _ in BAD} >= {p.name for p in PARAMS if p.lo is not None or p.choices}


@pytest.mark.parametrize("command", ["run", "dashboard"])
def test_every_parameter_is_an_option_with_its_declared_default(command: str) -> None:
    args = build_parser().parse_args([command])
    for p in PARAMS:
        if p.flags:
            assert getattr(args, p.name) == p.default, p.name
    # Only the custom task's folder is not an option: it is where the command runs.
    assert [p.name for p in PARAMS if not p.flags] == ["task_path"]


def test_the_run_help_states_each_parameters_bounds_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for p in PARAMS:
        if not p.flags:
            continue
        for flag in p.flags:
            assert flag in text
        assert " ".join(p.help_line.split()) in text, p.name
        if p.lo is not None and p.hi is not None and p.name != "switch_interval":
            assert f"{p.hi:,.0f}" in p.help_line or f"{p.hi:g}" in p.help_line


def test_every_parameter_is_a_scenario_setting_of_its_declared_type() -> None:
    assert list(RUN_FIELDS) == [p.name for p in PARAMS]
    for p in PARAMS:
        if p.default is None:
            continue
        spec = parse({"scenario": HEAD, "run": {p.name: p.default}}, Path("s.toml")).spec
        assert getattr(spec, p.name) == p.default
        wrong = "text" if p.kind != "str" else 3
        with pytest.raises(ScenarioError, match=f"{p.name} must be {p.expected}"):
            parse({"scenario": HEAD, "run": {p.name: wrong}}, Path("s.toml"))


def test_the_settings_panel_places_every_parameter_or_says_it_leaves_it_out() -> None:
    shown = {o.field for o in SHOWN}
    names = {p.name for p in PARAMS}
    assert shown <= names
    assert names >= NOT_SHOWN
    assert not shown & NOT_SHOWN
    assert shown | NOT_SHOWN == names, f"not placed: {names - shown - NOT_SHOWN}"
    for option in SHOWN:
        if option.kind == "choice":  # a list offers exactly the declared choices
            assert set(option.choices) - {"default"} == set(option.param.choices)


@pytest.mark.parametrize(("p", "value"), BAD, ids=[f"{p.name}={v!r}" for p, v in BAD])
def test_a_value_out_of_bounds_is_refused_alike_by_the_command_line_and_a_scenario(
    p: Param, value: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    message = refusal(p, value)
    flag = p.flags[-1]
    assert _main(["run", flag, str(value)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert message in err[0], (err, message)
    with pytest.raises(ScenarioError) as caught:
        parse({"scenario": HEAD, "run": {p.name: value}}, Path("s.toml"))
    assert message in str(caught.value)


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


def where(option: Option) -> RunSpec:
    """A spec whose model or workload the option belongs to."""
    if option.workloads:
        return replace(RunSpec(), workload=option.workloads[0])
    if option.models:
        return replace(RunSpec(), model=option.models[0])
    return RunSpec()


def panel_box(app: ConcvizApp, option: Option) -> Input | Select[str] | None:
    """The panel's box for ``option``, once it is the one on screen."""
    panel = app.w_settings
    fields = panel.main_fields if option.always else panel.option_fields
    found = fields.get(option.field)
    if found is None or found[0] != option or not found[1].is_attached:
        return None
    return found[1] if app.query(f"#{option.id}").only_one() is found[1] else None


def shown(option: Option, value: Any) -> str:
    """``value`` as the option's box shows it (in ms where the parameter is in seconds)."""
    scaled = value is not None and option.scale != 1.0
    return option.param.text(value * option.scale if scaled else value)


async def test_the_settings_panel_shows_each_default_and_refuses_what_the_cli_refuses() -> None:
    app = ConcvizApp(RunSpec())
    async with app.run_test(size=(140, 60)) as pilot:
        await wait_for(pilot, lambda: app.w_settings.ready)
        assert app.read_settings() == RunSpec()  # every box reads back its default
        typed = [o for o in SHOWN if o.kind in ("int", "float")]
        assert {o.field for o in typed} >= {"workers", "tasks", "task_ms", "rate", "attempts"}
        for option in typed:
            spec = where(option)
            app._set_spec(spec)
            # The box made for this spec, mounted (not one of the options it replaces).
            await wait_for(pilot, lambda o=option: panel_box(app, o) is not None)  # type: ignore[misc]
            box = panel_box(app, option)
            assert isinstance(box, Input)
            assert box.value == shown(option, option.param.default)
            for value in bad_values(option.param):
                box.value = shown(option, value)
                await pilot.pause()
                with pytest.raises(SpecError) as caught:
                    app.read_settings().validated()
                assert str(caught.value) == refusal(option.param, value), option
            box.value = option.text(spec)
            await pilot.pause()
        for option in SHOWN:
            if option.kind in ("choice", "bool") and option.always:
                select = app.query_one(f"#{option.id}", Select)
                assert select.value == option.text(app.spec)


# -- what ran: the observer's typed spec, not the runner's echo of it -----------------


def test_a_summary_names_the_spec_the_observer_ran_not_the_runners_echo() -> None:
    from concviz.observer.aggregate import RunAggregate  # noqa: PLC0415

    ran = RunSpec(model="processes", workload="sleep", workers=2, tasks=3, task_ms=20)
    echo = {"model": "threads", "workload": "cpu", "workers": 9, "tasks": 99, "task_ms": 5.0}
    agg = RunAggregate(ran)
    agg.feed_text({"type": "run_start", "spec": echo})
    summary = agg.summary()
    assert (summary.model, summary.workload, summary.workers, summary.tasks) == (
        "processes",
        "sleep",
        2,
        3,
    )
    assert summary.task_ms == 20.0
    assert isinstance(summary.task_ms, float)
    assert agg.spec["model"] == "processes"  # the trace's "spec" is the same one
    # A recording has only the JSON: its echo is what ran.
    replayed = RunAggregate({})
    replayed.feed_text({"type": "run_start", "spec": echo})
    assert (replayed.summary().model, replayed.summary().workers) == ("threads", 9)


def test_a_run_and_its_recording_report_the_same_settings(tmp_path: Path) -> None:
    """Typed (the run) and JSON (its replay) give the same JSON figures for what ran."""
    from concviz.observer.recording import Replay  # noqa: PLC0415
    from concviz.observer.session import RunSession  # noqa: PLC0415

    spec = RunSpec(model="threads", workload="sleep", workers=2, tasks=4, task_ms=5, iterations=7)
    record = tmp_path / "run.cvrec"
    session = RunSession(spec, record_to=record)
    try:
        session.start()
        assert session.wait(60)
        live = session.summary().as_dict()
    finally:
        session.close()
    replayed = Replay(record).play_all().aggregate.summary().as_dict()
    keys = ("model", "workload", "workers", "tasks", "task_ms", "iterations", "task")
    assert {k: live[k] for k in keys} == {k: replayed[k] for k in keys}
    assert live["task_ms"] == 5.0
    assert live["iterations"] == 7
