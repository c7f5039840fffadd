"""A light, correct install (issue #21): what the package declares is what it imports.

NumPy is the ``fast`` extra: without it concviz runs and counts the same, record
by record. The build is checked from the project's own files; building the sdist
itself is checked where ``build`` is installed (``make dist`` installs it).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tarfile
import tomllib
from importlib.metadata import packages_distributions, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import concviz

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]

#: numpy blocked the way a missing install blocks it: ``import numpy`` raises ImportError.
WITHOUT_NUMPY = "import sys\nsys.modules['numpy'] = None\n"


def _requirements(entries: list[str]) -> dict[str, Requirement]:
    found = (Requirement(entry) for entry in entries)
    return {canonicalize_name(r.name): r for r in found}


DEPENDENCIES = _requirements(PROJECT["dependencies"])
EXTRAS = {
    name: _requirements(entries) for name, entries in PROJECT["optional-dependencies"].items()
}


def _run_json(prelude: str, *args: str) -> tuple[dict[str, object], str]:
    """``concviz run --json`` in a fresh interpreter, after ``prelude``; its result and stderr."""
    code = (
        prelude + "from concviz.cli import main\n"
        f"code = main({list(args)!r})\n"
        "print('bulk path loaded:', 'concviz.observer.bulk' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["runs"][0], done.stderr


#: Big enough for the bulk path (BULK_PAYS_RECORDS), and still short.
RUN = ("run", "-m", "threads", "-w", "cpu", "-n", "2", "-t", "40000", "--task-ms", "0.02", "--json")
#: What must not depend on how the observer aggregates (timings, memory may).
COUNTS = ("status", "completed", "failed", "cancelled", "events", "dropped_events", "lanes")


def test_a_run_without_numpy_works_and_counts_the_same() -> None:
    pytest.importorskip("numpy", reason="the comparison needs the fast extra installed")
    fast, fast_err = _run_json("import sys\n", *RUN)
    light, light_err = _run_json(WITHOUT_NUMPY, *RUN)
    assert "bulk path loaded: True" in fast_err, fast_err
    assert "bulk path loaded: False" in light_err, light_err
    assert "Traceback" not in light_err
    assert fast["status"] == "done"
    assert {k: light[k] for k in COUNTS} == {k: fast[k] for k in COUNTS}
    assert light["completed"] == 40000


def test_the_bulk_path_is_skipped_quietly_without_numpy() -> None:
    code = (
        WITHOUT_NUMPY + "from concviz.observer.aggregate import _bulk_module, load_bulk\n"
        "load_bulk()\n"
        "assert _bulk_module() is None\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_numpy_is_the_fast_extra_and_the_test_extra_pulls_it() -> None:
    assert "numpy" not in DEPENDENCIES, "NumPy is 63 % of the install: it is the [fast] extra"
    assert "numpy" in EXTRAS["fast"]
    assert "concviz[fast]" in PROJECT["optional-dependencies"]["test"]


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules concviz's code imports that are not concviz or the standard library."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "concviz").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "concviz" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared() -> None:
    """report_multi.py imported plotext without depending on it (textual-plotext did)."""
    declared = set(DEPENDENCIES) | set(EXTRAS["fast"])
    distributions = packages_distributions()
    undeclared = {}
    for module, files in _third_party_imports().items():
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if not names & declared:
            undeclared[module] = sorted(files)
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"


def test_each_lower_bound_satisfies_what_the_other_dependencies_need() -> None:
    """``rich>=13.7`` could never be used with textual 8.2, which needs rich >= 14.2."""
    conflicts = []
    for name in DEPENDENCIES:
        for needed in map(Requirement, requires(name) or []):
            if needed.marker is not None and not needed.marker.evaluate({"extra": ""}):
                continue
            ours = DEPENDENCIES.get(canonicalize_name(needed.name))
            if ours is None:
                continue
            floors = [Version(s.version) for s in ours.specifier if s.operator in (">=", "~=")]
            if floors and not needed.specifier.contains(min(floors), prereleases=True):
                conflicts.append(f"{ours} allows {min(floors)}, but {name} needs {needed}")
    assert not conflicts, conflicts


def test_textual_serve_is_pinned_to_the_release_whose_internals_are_used() -> None:
    ours = DEPENDENCIES["textual-serve"]
    assert str(ours.specifier) == "~=1.1.3"
    assert ours.specifier.contains(version("textual-serve"))


def test_one_version_and_the_metadata_the_index_shows() -> None:
    assert "version" in PROJECT["dynamic"]
    assert "version" not in PROJECT
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "concviz.__version__"}
    for flag in ("-V", "--version"):
        done = subprocess.run(
            [sys.executable, "-m", "concviz", flag], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"concviz {concviz.__version__}"
    setuptools = Requirement(PYPROJECT["build-system"]["requires"][0])
    assert setuptools.name == "setuptools"
    assert not setuptools.specifier.contains("76.1"), "76.1 fails on license = 'MIT'"
    classifiers = PROJECT["classifiers"]
    for minor in (11, 12, 13, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
    assert PROJECT["urls"]["Homepage"] == "https://github.com/concviz/concviz"
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_readme_images_work_off_github() -> None:
    """PyPI shows the README without the repository: images need absolute URLs."""
    readme = (ROOT / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert images
    relative = [url for url in images if not url.startswith("https://")]
    assert not relative, relative


def test_sdist_ships_the_whole_test_suite(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="python -m build: `make dist` installs it")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = done.stdout[-2000:] + done.stderr[-2000:]
    if done.returncode != 0 and "No matching distribution found for setuptools" in said:
        pytest.skip("no package index here for the build's setuptools>=77")
    assert done.returncode == 0, said
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        shipped = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "tests"], capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    missing = sorted(set(tracked) - shipped)
    assert not missing, f"the sdist ships part of the test suite; missing: {missing}"
    assert "LICENSE" in shipped
