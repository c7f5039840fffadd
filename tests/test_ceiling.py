"""The machine ceiling: the bare kernel in N plain processes against one, cached."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from concviz.experiments import analyse_sweep
from concviz.observer import ceiling


def test_each_count_is_measured_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONCVIZ_CACHE_DIR", str(tmp_path))
    asked: list[int] = []

    def measure(n: int) -> float:
        asked.append(n)
        return n * 0.9

    assert ceiling.ceilings([2, 4, 2], measure) == {2: 1.8, 4: 3.6}
    assert ceiling.ceilings([4, 2, 1], measure) == {1: 0.9, 2: 1.8, 4: 3.6}
    assert asked == [2, 4, 1]  # each once, whatever order and repeats
    cached = json.loads((tmp_path / "ceiling.json").read_text())
    assert len(cached["entries"]) == 3
    too_many = ceiling.MAX_PROCESSES + 1
    assert ceiling.ceilings([too_many], measure) == {too_many: None}  # not started at all


def _counting(asked: list[int]) -> Callable[[int], float]:
    def measure(n: int) -> float:
        asked.append(n)
        return n * 0.9 - 0.01 * len(asked)  # each measurement a little different

    return measure


def test_a_ceiling_older_than_its_max_age_is_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ceiling was cached forever: a machine that got busier (or quieter) kept the old one."""
    monkeypatch.setenv("CONCVIZ_CACHE_DIR", str(tmp_path))
    asked: list[int] = []
    measure = _counting(asked)
    first = ceiling.ceilings([2], measure)[2]
    path = tmp_path / "ceiling.json"

    def age_by(seconds: float) -> None:
        data = json.loads(path.read_text())
        for entry in data["entries"].values():
            entry["measured_at"] -= seconds
        path.write_text(json.dumps(data))

    age_by(ceiling.MAX_AGE_S - 3600)  # an hour short of stale: read as it is
    assert ceiling.ceilings([2], measure) == {2: first}
    assert asked == [2]
    age_by(2 * 3600)  # an hour past
    again = ceiling.ceilings([2], measure)[2]
    assert asked == [2, 2]
    assert again != first
    assert ceiling.ceilings([2], measure) == {2: again}  # the new one is cached
    assert asked == [2, 2]


def test_another_core_count_cpu_or_interpreter_build_is_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a calibration is: what the ceiling was measured on is part of its key."""
    monkeypatch.setenv("CONCVIZ_CACHE_DIR", str(tmp_path))
    asked: list[int] = []
    measure = _counting(asked)
    here = ceiling.ceilings([2], measure)
    assert len(asked) == 1
    cores = os.cpu_count() or 1
    with monkeypatch.context() as changed:  # the VM given more cores
        changed.setattr(os, "cpu_count", lambda: cores + 2)
        ceiling.ceilings([2], measure)
    assert len(asked) == 2
    with monkeypatch.context() as changed:  # moved to another host's CPU
        changed.setattr(ceiling, "cpu_model", lambda: "Another CPU @ 1.0GHz")
        ceiling.ceilings([2], measure)
    assert len(asked) == 3
    with monkeypatch.context() as changed:  # the interpreter rebuilt in place
        changed.setattr(ceiling, "interpreter_build", lambda: "0")
        ceiling.ceilings([2], measure)
    assert len(asked) == 4
    assert ceiling.ceilings([2], measure) == here  # this machine's own is still there
    assert len(asked) == 4


def test_a_ceiling_cached_by_the_first_scheme_is_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 1 kept a bare number with no date: it cannot say how old it is."""
    monkeypatch.setenv("CONCVIZ_CACHE_DIR", str(tmp_path))
    (tmp_path / "ceiling.json").write_text(
        json.dumps({"version": 1, "entries": {ceiling.machine_key(2): 1.95}})
    )
    asked: list[int] = []
    assert ceiling.ceilings([2], _counting(asked)) != {2: 1.95}
    assert asked == [2]


def test_the_ceiling_is_measured_on_real_processes() -> None:
    """Two real processes on the bare kernel: somewhere between no gain and twice
    (well under on a busy shared machine; never more than the processes, bar noise)."""
    assert ceiling.measure(1) == 1.0
    two = ceiling.measure(2, iterations=100_000)
    assert 0.3 < two < 2.5


def test_the_sweep_carries_each_counts_ceiling_and_the_table_shows_it() -> None:
    from rich.console import Console  # noqa: PLC0415

    from concviz.report_multi import CEILING_NOTE, sweep_table  # noqa: PLC0415

    analysis = analyse_sweep(
        [1, 2, 4], [1.0, 0.64, 0.62], [1.0, 1.9, 1.9], cores=2, ceilings={1: 1.0, 2: 1.6, 4: 1.58}
    )
    assert [p.ceiling for p in analysis.points] == [1.0, 1.6, 1.58]
    console = Console(width=140, record=True)
    with console.capture() as captured:
        console.print(sweep_table(analysis, "t", True, [], 140))
    text = captured.get()
    assert "ceiling" in text
    assert "1.60×" in text
    assert CEILING_NOTE.split(" = ")[0] in text
    plain = analyse_sweep([1, 2], [1.0, 0.5], [1.0, 2.0], cores=2)
    with console.capture() as captured:
        console.print(sweep_table(plain, "t", True, [], 140))
    assert "ceiling" not in captured.get()  # none measured (I/O work): no column


def test_a_sweep_that_reaches_the_machine_ceiling_does_not_blame_the_code() -> None:
    """Issue #17.3: on a machine where two bare processes reach only 1.56×, a model's
    1.55× is the hardware's limit; the fit must not call 36 % of the work serial."""
    walls = [1.0, 1.0 / 1.55, 1.0 / 1.57]
    blind = analyse_sweep([1, 2, 4], walls, [1.0, 1.9, 1.9], cores=2)
    seeing = analyse_sweep(
        [1, 2, 4], walls, [1.0, 1.9, 1.9], cores=2, ceilings={1: 1.0, 2: 1.56, 4: 1.58}
    )
    assert blind.serial_fraction > 0.2  # what the fit said without the ceiling
    assert seeing.machine_limited
    assert seeing.serial_fraction < 0.05
    assert "hardware is the limit" in seeing.fit_text()


def test_compare_says_the_machine_ceiling_and_puts_it_in_its_json() -> None:
    from rich.console import Console  # noqa: PLC0415

    from concviz.experiments import RunResult, speedups  # noqa: PLC0415
    from concviz.observer.aggregate import RunAggregate  # noqa: PLC0415
    from concviz.report_multi import compare_table  # noqa: PLC0415
    from tests.support import concviz  # noqa: PLC0415

    out = concviz(
        "compare", "--models", "sequential,processes", "-w", "cpu", "-n", "2", "-t", "4",
        "--task-ms", "20", "--json", "--quiet",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = {r["label"]: r for r in json.loads(out.stdout)["runs"]}
    assert rows["sequential"]["ceiling"] == 1.0
    assert 0.3 < rows["processes"]["ceiling"] < 2.5  # measured on this machine, now or cached
    summary = replace(
        RunAggregate({"model": "processes", "workload": "cpu"}).summary(), workers=2, wall_s=1.0
    )
    results = [RunResult("processes", None, summary)]
    console = Console(width=120, record=True)
    with console.capture() as captured:
        console.print(compare_table(speedups(results), "processes", "t", 120, (), {2: 1.56}))
    assert "machine ceiling (bare CPU kernel vs one process): 2 processes 1.56×" in " ".join(
        captured.get().split()
    )
