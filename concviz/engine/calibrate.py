"""Times the CPU kernels once per interpreter and caches the result.

Standard library only; runs inside the runner, so the figures belong to the
interpreter that runs the workload (a free-threaded build is slower per
iteration than a GIL build, for instance). ``--task-ms`` is turned into an
iteration count with these figures.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_VERSION = 1


def _kernels() -> dict[str, Callable[[], float]]:
    from ..workloads import cpu, factorize  # noqa: PLC0415

    return {"sum_of_squares": cpu.calibrate, "trial_division": factorize.calibrate}


def cache_path() -> Path:
    base = os.environ.get("CONCVIZ_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("CONCVIZ_CACHE_DIR"):
        root = root / "concviz"
    return root / "calibration.json"


def interpreter_key() -> str:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return "|".join(
        [
            sys.executable,
            sys.version.split()[0],
            sys.implementation.cache_tag or "",
            "gil" if gil else "nogil",
            platform.node(),
            platform.machine(),
        ]
    )


def _load() -> dict[str, dict[str, float]]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries", {})
    return entries if isinstance(entries, dict) else {}


def _store(entries: dict[str, dict[str, float]]) -> None:
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as tmp:
            json.dump({"version": CACHE_VERSION, "entries": entries}, tmp, indent=1)
        os.replace(tmp.name, path)
    except OSError:
        pass  # a read-only home only costs a re-calibration next time


def calibration(names: tuple[str, ...], refresh: bool = False) -> tuple[dict[str, float], bool]:
    """Returns ``{kernel: units per ms}`` and whether anything was measured now."""
    if not names:
        return {}, False
    entries = _load()
    key = interpreter_key()
    mine = dict(entries.get(key, {}))
    missing = [n for n in names if refresh or n not in mine]
    if missing:
        kernels = _kernels()
        for name in missing:
            mine[name] = kernels[name]()
        entries[key] = mine
        _store(entries)
    return {n: mine[n] for n in names}, bool(missing)
