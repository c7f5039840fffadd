"""The runner side imports only the standard library (so any CPython >= 3.11 can run it)."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import concviz.runner
from concviz.models import CATALOG as MODELS
from concviz.observer.launch import PACKAGE_ROOT, child_env
from concviz.workloads import CATALOG as WORKLOADS


def _runner_side() -> list[str]:
    """Every module that runs in the child, built from the package and the catalogues.

    A list typed by hand drifted (10 of 19 models, 4 of 11 workloads): a model
    or workload added to a catalogue is checked here without anyone listing it.
    """
    modules = ["concviz", "concviz.runner", "concviz.models", "concviz.workloads"]
    modules += [
        info.name
        for info in pkgutil.iter_modules(concviz.runner.__path__, "concviz.runner.")
        if info.name != "concviz.runner.__main__"
    ]
    modules += [info.module for info in MODELS.values()]
    modules += [info.target.partition(":")[0] for info in WORKLOADS.values()]
    return sorted(set(modules))


RUNNER_SIDE = _runner_side()
FORBIDDEN = ("textual", "rich", "psutil", "aiohttp", "plotext", "textual_plotext", "numpy")


def _imported_after(modules: list[str], code: str = "", site: bool = True) -> set[str]:
    program = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            *([] if site else ["-S"]),  # no site: no .pth file imports anything first
            "-c",
            f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r})\n{program}",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    return set(json.loads(out.stdout))


def _top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_runner_side_modules_import_only_the_standard_library() -> None:
    assert len(RUNNER_SIDE) > len(MODELS) + len(WORKLOADS)  # the catalogues were read
    loaded = _top_level(_imported_after(RUNNER_SIDE))
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
    stdlib = set(sys.stdlib_module_names) | {"concviz", "__main__", "_virtualenv"}
    assert loaded <= stdlib | {name for name in loaded if name.startswith("_")}, loaded - stdlib


def test_only_async_http_tasks_reach_for_aiohttp() -> None:
    """aiohttp is optional on the runner side: imported lazily, by async HTTP tasks alone."""
    code = (
        "from concviz.runner.spec import RunSpec\n"
        "from concviz.workloads import WorkloadParams, load\n"
        "spec = RunSpec(workload='http')\n"
        "w = load(WorkloadParams(spec, base_url='http://127.0.0.1:1'))\n"
        "assert 'aiohttp' not in sys.modules\n"
        "from concviz.workloads.http import async_client_name\n"
        "async_client_name()\n"
    )
    assert "aiohttp" in _top_level(_imported_after(["concviz.workloads"], code))


def test_the_dashboard_modules_are_not_needed_to_run() -> None:
    """Importing the command line does not import Textual (fast start for `concviz run`)."""
    loaded = _top_level(_imported_after(["concviz.cli"]))
    assert "textual" not in loaded


def test_one_run_loads_nothing_that_only_a_series_uses() -> None:
    """What ``concviz run`` loads for its progress bar and report (cli.run's
    ``_load_the_rest``) leaves out ``concviz.experiments`` (~8 ms)."""
    loaded = _imported_after(
        ["concviz.cli.run"], "from concviz.cli.run import _load_the_rest\n_load_the_rest()"
    )
    assert "concviz.progress" in loaded
    assert "concviz.experiments" not in loaded


def test_numpy_waits_for_the_first_busy_stream() -> None:
    """NumPy (the observer's bulk decoding, ~60 ms to import) stays off the start-up path."""
    loaded = _top_level(_imported_after(["concviz.tui.app", "concviz.observer.session"]))
    assert "numpy" not in loaded


def test_the_runner_starts_without_argparse_traceback_or_tempfile() -> None:
    """#21: what only a failure or a new calibration needs is not imported to start a run."""
    loaded = _imported_after(["concviz.runner.run"])
    assert not loaded & {"argparse", "traceback", "tempfile", "platform"}


def test_the_runner_starts_without_pathlib() -> None:
    """#21: pathlib (~4 ms with urllib.parse and ipaddress) is for the code panel and the
    calibration cache, not a run's start. Without site, whose .pth files (an editable
    install's finder) may load it first, as an installed concviz's runner starts."""
    loaded = _imported_after(["concviz.runner.run"], site=False)
    assert "pathlib" not in loaded
    assert "concviz.runner.run" in loaded


@pytest.mark.parametrize(
    "argv",
    [["--spec", "{}"], ["--connect"], ["--connect", "x", "--spec", "{}", "--bogus", "1"]],
    ids=["no-connect", "no-value", "unknown"],
)
def test_the_runner_refuses_bad_arguments_in_one_line(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "concviz.runner", *argv],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("concviz-runner: ")


def test_the_dashboards_first_frame_waits_for_no_code_highlighter_or_scenario_loader() -> None:
    """Pygments (the code panel) and the scenario loader (tomllib) come after frame 1 (#21)."""
    loaded = _imported_after(["concviz.cli", "concviz.tui.app"])
    assert not loaded & {"pygments", "rich.syntax", "tomllib", "concviz.scenario"}
    assert "textual.app" in loaded  # what was imported is the dashboard


#: Put on PYTHONPATH as ``sitecustomize``: every Python process of a run (the
#: observer, the runner) writes the modules it had loaded when it exited, and
#: those it had loaded when it started the runner.
MODULES_AT_EXIT = """
import atexit, json, os, sys

at_spawn = []

def _spawned(event, args):
    if event == "subprocess.Popen" and "concviz.runner" in list(args[1] or ()):
        at_spawn.append(sorted(sys.modules))

def _dump():
    path = os.path.join(os.environ["CONCVIZ_TEST_MODULES"], f"{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump({"argv": sys.argv, "modules": sorted(sys.modules), "at_spawn": at_spawn}, f)

sys.addaudithook(_spawned)
atexit.register(_dump)
"""


def _loaded_by_role(tmp_path: Path, *args: str) -> dict[str, set[str]]:
    """``concviz ARGS``: the top-level modules its observer and its runner had loaded at exit.

    And as "observer at spawn": those the observer had loaded when it started the runner.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(MODULES_AT_EXIT)
    out = tmp_path / "modules"
    out.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    env["CONCVIZ_TEST_MODULES"] = str(out)
    done = subprocess.run(
        [sys.executable, "-m", "concviz", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    roles: dict[str, set[str]] = {}
    for dump in out.glob("*.json"):
        facts = json.loads(dump.read_text())
        script = Path(facts["argv"][0])
        # python -m concviz (observer) and python -m concviz.runner (runner)
        role = {"concviz": "observer", "runner": "runner"}.get(script.parent.name, script.name)
        assert role not in roles, f"two {role} processes"
        roles[role] = _top_level(set(facts["modules"]))
        if facts["at_spawn"]:
            roles[f"{role} at spawn"] = _top_level(set(facts["at_spawn"][0]))
    assert {"observer", "runner"} <= set(roles), roles.keys()
    return roles


@pytest.mark.parametrize(
    ("model", "workload"), [("sequential", "sleep"), ("threads", "sleep"), ("threads", "cpu")]
)
def test_a_small_sync_run_imports_neither_asyncio_nor_numpy(
    tmp_path: Path, model: str, workload: str
) -> None:
    """What a short ``concviz run`` pays for at start-up, and what it must not (issue #21).

    Its runner never imports asyncio (~40 ms; a sync model does not use it) nor
    multiprocessing (a thread's run does not);
    its observer never imports NumPy (~60 ms; a few tasks never make a frame
    long enough for the bulk path) nor Textual (the dashboard's).
    """
    args = ("run", "-m", model, "-w", workload, "-n", "2", "-t", "3", "--task-ms", "1", "--quiet")
    loaded = _loaded_by_role(tmp_path, *args)
    assert not {"asyncio", "multiprocessing", "numpy"} & loaded["runner"]
    assert not {"numpy", "textual"} & loaded["observer"]
    # Rich (the progress bar, the report) and psutil (the sampler) load while the runner starts.
    assert "rich" in loaded["observer"]
    assert not {"rich", "psutil"} & loaded["observer at spawn"]


def test_an_async_runs_runner_does_import_asyncio(tmp_path: Path) -> None:
    """The probe above sees asyncio where it is used: an async model's runner."""
    args = ("run", "-m", "asyncio", "-w", "sleep", "-t", "3", "--task-ms", "1", "--quiet")
    assert "asyncio" in _loaded_by_role(tmp_path, *args)["runner"]


def test_a_session_starts_its_runner_before_the_observers_heavier_imports() -> None:
    """What ``concviz run`` needs before it can start the runner is light (issue #21).

    The sampler's psutil, the interpreter probe's thread pool, Rich's progress
    bar and report are imported after the runner is started, while it starts.
    """
    code = (
        "from concviz.observer.session import RunSession\n"
        "from concviz.runner.spec import RunSpec\n"
        "spec = RunSpec(model='sequential', workload='sleep', tasks=1, task_ms=1)\n"
        "before = set(sys.modules)\n"
        "session = RunSession(spec).start()\n"
        "assert not {'psutil', 'concviz.observer.sampler'} & before, before\n"
        "assert 'psutil' in sys.modules  # the sampler runs from start() on\n"
        "session.wait(60)\n"
        "session.close()\n"
    )
    loaded = _top_level(_imported_after(["concviz.observer.session"], code))
    assert not {"rich", "textual", "numpy", "concurrent"} & loaded
