"""The command line as a newcomer meets it (issue #18): names it prints, plain terminals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from concviz.observer.interpreters import Interpreter, _candidates, discover, resolve_name
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
    assert json.loads(out.stdout)["runs"][0]["gil_enabled"] is False


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
    this = found[0]  # the newest (a free-threaded build is named with its t)
    full = ".".join(map(str, this.version)) + ("t" if this.free_threaded else "")
    resolved = resolve_name(full)
    assert resolved != full
    assert resolved == this.path  # the path `concviz interpreters` lists for it


def test_of_two_names_for_one_interpreter_discovery_shows_the_same_one_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build's python3.13 and python3.13t are one interpreter: whichever probe
    # answered first used to be listed, and --python then resolved to either.
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    from concviz.observer import interpreters  # noqa: PLC0415

    names = [tmp_path / "python3.13", tmp_path / "python3.13t"]
    for path in names:
        path.write_text("")
        path.chmod(0o755)
    second_answered = threading.Event()

    def probe(path: str, timeout: float = 0.0) -> Interpreter:
        if path == str(names[0]):  # the first name answers last
            second_answered.wait(timeout=10)
            time.sleep(0.05)
        else:
            second_answered.set()
        return Interpreter(path, (3, 13, 5), "cpython", True, False, str(tmp_path))

    monkeypatch.setattr(interpreters, "_candidates", lambda: [str(p) for p in names])
    monkeypatch.setattr(interpreters, "probe", probe)
    assert [i.path for i in interpreters.discover()] == [str(names[0])]


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


def test_sweep_on_a_dumb_terminal_prints_no_escape_codes() -> None:
    """TERM=dumb on a real terminal (a pty): the plot comes without colour codes too."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    leader, follower = os.openpty()
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "100"}
    args = ["sweep", "-m", "threads", "-w", "sleep", "-t", "4", "--task-ms", "5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "concviz", *args, "--workers", "1,2"],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "speedup vs workers" in text
    assert "\x1b[" not in text


@pytest.mark.parametrize("scenario", ["forgot-await", "graceful-shutdown"])
def test_a_scenario_s_summary_reads_at_80_columns(scenario: str) -> None:
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    out = subprocess.run(
        [sys.executable, "-m", "concviz", "run", "--scenario", scenario],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    table = [line for line in out.stdout.splitlines() if line.startswith(("│", "┌", "└"))]
    assert max(len(line) for line in table) <= 80
    labels = [line.split("│")[1].strip() for line in table if line.startswith("│")]
    assert "Model" in labels  # whole words, not "M…"
    assert not [label for label in labels if label.endswith("…")], labels
    assert len(table) < 70, len(table)


def test_the_deadlock_comparison_keeps_its_result_and_caption_at_80_columns() -> None:
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    out = subprocess.run(
        [sys.executable, "-m", "concviz", "run", "--scenario", "deadlock"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    head = next(line for line in lines if line.startswith("model"))
    assert head.rstrip().endswith("result")  # the lesson's column is not cut off
    words = " ".join(" ".join(lines).split())
    assert "speedup = wall of each locks its source first / wall of each" in words
    assert "Python" in words.rsplit("·", 1)[-1]  # the caption's last words are there
