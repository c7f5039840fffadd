"""The runner side imports only the standard library (so any CPython >= 3.11 can run it)."""

from __future__ import annotations

import json
import subprocess
import sys

from concviz.engine.session import PACKAGE_ROOT, child_env

RUNNER_SIDE = [
    "concviz",
    "concviz.engine",
    "concviz.engine.protocol",
    "concviz.engine.recorder",
    "concviz.engine.worker",
    "concviz.engine.job",
    "concviz.engine.spec",
    "concviz.engine.calibrate",
    "concviz.engine.runner",
    "concviz.models",
    "concviz.workloads",
    "concviz.workloads.cpu",
    "concviz.workloads.factorize",
    "concviz.workloads.sleep",
    "concviz.workloads.http",
]
FORBIDDEN = ("textual", "rich", "psutil", "aiohttp", "plotext", "textual_plotext", "numpy")


def _imported_after(modules: list[str], code: str = "") -> set[str]:
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
    loaded = _top_level(
        _imported_after(
            RUNNER_SIDE
            + [
                f"concviz.models.{m}"
                for m in (
                    "sequential",
                    "threads",
                    "thread_per_task",
                    "thread_queue",
                    "processes",
                    "mp_pool",
                    "asyncio_tasks",
                    "async_queue",
                    "to_thread",
                    "hybrid",
                )
            ]
        )
    )
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
    stdlib = set(sys.stdlib_module_names) | {"concviz", "__main__", "_virtualenv"}
    assert loaded <= stdlib | {name for name in loaded if name.startswith("_")}, loaded - stdlib


def test_only_async_http_tasks_reach_for_aiohttp() -> None:
    """aiohttp is optional on the runner side: imported lazily, by async HTTP tasks alone."""
    code = (
        "from concviz.workloads import WorkloadParams, load\n"
        "w = load(WorkloadParams(name='http', base_url='http://127.0.0.1:1'))\n"
        "assert 'aiohttp' not in sys.modules\n"
        "from concviz.workloads.http import async_client_name\n"
        "async_client_name()\n"
    )
    assert "aiohttp" in _top_level(_imported_after(["concviz.workloads"], code))


def test_the_dashboard_modules_are_not_needed_to_run() -> None:
    """Importing the command line does not import Textual (fast start for `concviz run`)."""
    loaded = _top_level(_imported_after(["concviz.cli"]))
    assert "textual" not in loaded


def test_numpy_waits_for_the_first_busy_stream() -> None:
    """NumPy (the observer's bulk decoding, ~60 ms to import) stays off the start-up path."""
    loaded = _top_level(_imported_after(["concviz.tui.app", "concviz.engine.session"]))
    assert "numpy" not in loaded
