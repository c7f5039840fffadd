"""Other interpreters: discovery, the switch interval, and the 3.14-only model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from concviz.engine.interpreters import discover
from concviz.engine.spec import RunSpec
from concviz.models import CATALOG
from tests.support import run_captured


def concviz(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "concviz", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_discovery_finds_this_interpreter_and_only_usable_ones() -> None:
    found = discover()
    assert found, "at least the interpreter running the tests"
    assert all(i.version[:2] >= (3, 11) for i in found)
    mine = tuple(sys.version_info[:3])
    assert any(i.version == mine for i in found)
    assert len({(i.prefix, i.version, i.free_threaded) for i in found}) == len(found)


def test_interpreters_command_lists_them() -> None:
    out = concviz("interpreters")
    assert out.returncode == 0
    assert ".".join(map(str, sys.version_info[:3])) in out.stdout


def test_switch_interval_reaches_the_runner() -> None:
    spec = RunSpec(
        model="threads", workload="cpu", workers=2, tasks=2, task_ms=5, switch_interval=0.001
    )
    cap = run_captured(spec)
    assert cap.texts[0]["switch_interval"] == pytest.approx(0.001)


def python_314() -> str | None:
    return next((i.path for i in discover() if i.version[:2] >= (3, 14)), None)


@pytest.mark.skipif(
    sys.version_info >= (3, 14), reason="this interpreter has InterpreterPoolExecutor"
)
def test_interpreters_model_is_refused_with_the_reason_before_3_14() -> None:
    assert CATALOG["interpreters"].unavailable(sys.version_info[:3])
    out = concviz("run", "-m", "interpreters")
    assert out.returncode == 2
    assert "interpreters needs Python 3.14+" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    listing = concviz("models").stdout
    assert "unavailable here" in listing


@pytest.mark.skipif(
    python_314() is None,
    reason="no CPython 3.14 on this machine (tools/build-cpython 3.14 builds one)",
)
def test_interpreters_model_runs_each_task_in_a_sub_interpreter() -> None:
    out = concviz(
        "run",
        "-m",
        "interpreters",
        "-w",
        "cpu",
        "-n",
        "2",
        "-t",
        "6",
        "--task-ms",
        "20",
        "--json",
        "--python",
        str(python_314()),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["completed"] == 6
    assert data["lanes"] == 2  # one lane per sub-interpreter's thread
