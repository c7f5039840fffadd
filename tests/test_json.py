"""``--json``: one envelope for every command (docs/json.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from concviz import __version__
from concviz.observer.aggregate import Summary
from tests.support import concviz

DATA = Path(__file__).parent / "data"
SMALL = ("-w", "sleep", "-n", "2", "-t", "4", "--task-ms", "5", "--quiet")
#: Every run object carries a Summary's keys, whatever else its command adds.
SUMMARY_KEYS = set(Summary.__dataclass_fields__)
ENVELOPE = {"schema_version", "tool", "version", "command", "interrupted", "runs"}


def envelope(*args: str) -> dict[str, Any]:
    out = concviz(*args, "--json", timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # nothing but one JSON document on stdout
    assert isinstance(data, dict), data
    assert set(data) >= ENVELOPE
    assert (data["schema_version"], data["tool"], data["version"]) == (1, "concviz", __version__)
    assert data["interrupted"] is False
    for run in data["runs"]:
        assert set(run) >= SUMMARY_KEYS
    return data


@pytest.mark.parametrize(
    ("args", "command", "runs", "extra"),
    [
        (("run", "-m", "threads", *SMALL), "run", 1, set()),
        (("compare", "-m", "sequential,threads", *SMALL), "compare", 2, {"compare"}),
        (("sweep", "-m", "threads", *SMALL[:2], "-n", "1,2", *SMALL[4:]), "sweep", 2, {"sweep"}),
        (("run", "--scenario", "semaphore", "--quiet"), "scenario", 1, {"scenario"}),
        (("replay", str(DATA / "threads-cpu.cvrec")), "replay", 1, {"recording"}),
    ],
    ids=["run", "compare", "sweep", "scenario", "replay"],
)
def test_every_command_prints_the_same_envelope(
    args: tuple[str, ...], command: str, runs: int, extra: set[str]
) -> None:
    data = envelope(*args)
    assert data["command"] == command
    assert len(data["runs"]) == runs
    assert set(data) - ENVELOPE == extra


def test_compare_names_its_baseline_and_each_runs_speedup() -> None:
    data = envelope("compare", "-m", "sequential,threads", *SMALL)
    assert data["compare"] == {"baseline": "sequential"}
    assert [r["label"] for r in data["runs"]] == ["sequential", "threads"]
    assert data["runs"][0]["speedup"] == 1.0


def test_sweep_keeps_its_fit_beside_the_runs() -> None:
    data = envelope("sweep", "-m", "threads", "-w", "sleep", "-n", "1,2", "-t", "4", "--quiet")
    assert set(data["sweep"]) == {
        "model",
        "workload",
        "cores",
        "serial_fraction",
        "core_limited",
        "knee",
    }
    assert [r["workers"] for r in data["runs"]] == [1, 2]
    assert {"speedup", "efficiency", "amdahl", "stalled", "walls", "spread"} <= set(data["runs"][0])


def test_a_scenario_says_which_scenario_and_kind() -> None:
    data = envelope("run", "--scenario", "semaphore", "--quiet")
    assert data["scenario"]["name"] == "semaphore"
    assert data["scenario"]["kind"] == "run"
    assert data["scenario"]["title"]


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "replay"])
def test_help_describes_the_json_it_prints(command: str) -> None:
    out = concviz(command, "--help")
    assert out.returncode == 0
    assert "docs/json.md" in " ".join(out.stdout.split())
