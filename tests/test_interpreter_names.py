"""Interpreters named the way concviz itself names them are accepted (issue #18)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from concviz.engine.interpreters import Interpreter, _candidates, discover, resolve_name
from tests.support import concviz


def free_threaded() -> Interpreter | None:
    return next((i for i in discover() if i.free_threaded), None)


@pytest.fixture(scope="module")
def ft() -> Interpreter:
    interp = free_threaded()
    if interp is None:
        pytest.skip("no free-threaded CPython found on this machine")
    return interp


@pytest.mark.parametrize("name", ["{short}", "python{short}"])
def test_run_accepts_the_label_concviz_interpreters_prints(ft: Interpreter, name: str) -> None:
    label = name.format(short=ft.short)
    assert label in concviz("interpreters").stdout or label.startswith("python")
    out = concviz("run", "--python", label, "-t", "2", "--task-ms", "1", "-w", "sleep", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["gil_enabled"] is False


def test_compare_accepts_the_label_it_prints(ft: Interpreter) -> None:
    out = concviz(
        "compare",
        "-m",
        f"threads@{ft.short}",
        "-w",
        "sleep",
        "-t",
        "2",
        "--task-ms",
        "1",
        "--json",
        "--quiet",
    )
    assert out.returncode == 0, out.stderr
    assert f"threads@{ft.short}" in out.stdout


def test_a_full_version_names_its_interpreter() -> None:
    found = discover()
    this = found[0]  # the newest
    full = ".".join(map(str, this.version))
    resolved = resolve_name(full)
    assert resolved != full
    assert {i.path: i for i in found}[resolved].version == this.version


def test_an_unknown_label_is_still_refused_in_one_line() -> None:
    out = concviz("run", "--python", "3.99t")
    assert out.returncode == 2
    assert "no such interpreter" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_discovery_looks_under_pyenv_root_and_uv_install_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyenv = tmp_path / "pyenv"
    uv = tmp_path / "uv"
    for path in (pyenv / "versions/3.12.9/bin/python3.12", uv / "cpython-3.13/bin/python3.13"):
        path.parent.mkdir(parents=True)
        path.symlink_to(sys.executable)
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(uv))
    found = _candidates()
    assert str(pyenv / "versions/3.12.9/bin/python3.12") in found
    assert str(uv / "cpython-3.13/bin/python3.13") in found
