"""Measures what the CPU kernels cost on this interpreter, and caches it.

Standard library only; runs inside the runner, so the figures belong to the
interpreter that runs the workload (a free-threaded build is slower per
iteration than a GIL build, for instance). Each kernel gets a cost table,
``[[units, CPU ns], ...]`` measured in thread CPU time across the sizes
``--task-ms`` can ask for (the cost per unit is not constant: ints grow), and
``--task-ms`` is turned into units with it (:func:`concviz.workloads.base.units_for`).

A cached table is checked at each run: one short probe (a few ms) must cost
what the table predicts, within :data:`STALE_TOLERANCE`, else it is measured
again (a slower machine, another CPU frequency, a rebuilt interpreter).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded only where the cache is read or written (see cache_dir)
    from pathlib import Path

#: The calibration scheme: a cache written by another scheme is not read.
CACHE_VERSION = 2
#: The stale-cache check: a probe of this size ...
CHECK_MS = 3.0
#: ... must cost the predicted CPU time within this fraction (one of three tries).
STALE_TOLERANCE = 0.12
CHECK_TRIES = 3
#: A new table must pass that check too; else it is measured again, at most this often.
MEASURE_TRIES = 3

Table = list[list[float]]


def _kernels() -> dict[str, tuple[Callable[[], Table], Callable[[int], int], Callable[[], None]]]:
    """Per kernel: what measures its cost table, what times one run of n units, and
    what warms it up (a table is measured warm: a cold probe would call it stale)."""
    from ..workloads import cpu, factorize  # noqa: PLC0415

    return {
        "sum_of_squares": (cpu.cost_table, cpu.probe_ns, cpu.warm_up),
        "trial_division": (factorize.cost_table, factorize.probe_ns, factorize.warm_up),
    }


def cache_dir() -> Path:
    """Where concviz keeps what it measured once (calibration, the machine ceiling)."""
    from pathlib import Path  # noqa: PLC0415  (a run with nothing to calibrate never needs it)

    base = os.environ.get("CONCVIZ_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("CONCVIZ_CACHE_DIR"):
        root = root / "concviz"
    return root


def cache_path() -> Path:
    return cache_dir() / f"calibration-v{CACHE_VERSION}.json"


def read_entries(path: Path, version: int) -> dict[str, Any]:
    """A cache file's entries; empty if it is missing, unreadable or of another version."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != version:
        return {}
    entries = data.get("entries", {})
    return entries if isinstance(entries, dict) else {}


def write_entries(path: Path, version: int, entries: dict[str, Any]) -> None:
    """Replaces a cache file at once; a read-only home only costs a measurement next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # noqa: PLC0415  (only a new measurement writes: start-up is spared it)

        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as tmp:
            json.dump({"version": version, "entries": entries}, tmp, indent=1)
        os.replace(tmp.name, path)
    except OSError:
        pass


def interpreter_build() -> str:
    """When this interpreter's binary was written: a rebuilt one (same version) differs."""
    try:
        return str(os.stat(os.path.realpath(sys.executable)).st_mtime_ns)
    except OSError:
        return "?"


def cpu_model() -> str:
    """The CPU's model name (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform  # noqa: PLC0415  (not on Linux: the runner starts without it, #21)

    return platform.processor() or platform.machine()


def interpreter_key() -> str:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return "|".join(
        [
            f"v{CACHE_VERSION}",
            sys.executable,
            interpreter_build(),
            sys.version,
            sys.implementation.cache_tag or "",
            "gil" if gil else "nogil",
            os.uname().nodename,  # platform.node() and platform.machine(), without
            os.uname().machine,  # importing platform (runner start-up, #21)
        ]
    )


def _load() -> dict[str, dict[str, Table]]:
    return read_entries(cache_path(), CACHE_VERSION)


def _store(entries: dict[str, dict[str, Table]]) -> None:
    write_entries(cache_path(), CACHE_VERSION, entries)


def still_holds(table: Table, probe: Callable[[int], int]) -> bool:
    """Whether a short probe costs what ``table`` predicts (one of a few tries)."""
    from ..workloads.base import cost_ns, units_for  # noqa: PLC0415

    units = units_for(table, CHECK_MS)
    expected = cost_ns(table, units)
    tries = (probe(units) / expected for _ in range(CHECK_TRIES))
    return any(abs(ratio - 1.0) <= STALE_TOLERANCE for ratio in tries)


def measure_checked(measure: Callable[[], Table], probe: Callable[[int], int]) -> Table:
    """A new table that its own check confirms.

    One measurement takes ~60 ms, and on a shared machine one in several lands in
    a slow patch (another VM's burst, a clock still ramping up) and comes out 10-60 %
    high: cached, it would make tasks that much smaller, and fail the check at the
    next run anyway. Where no try is confirmed, each point is the median of the tries.
    """
    tries: list[Table] = []
    for _ in range(MEASURE_TRIES):
        table = measure()
        if still_holds(table, probe):
            return table
        tries.append(table)
    return [
        [points[0][0], sorted(p[1] for p in points)[len(points) // 2]]
        for points in zip(*tries, strict=True)
    ]


def _valid(table: object) -> bool:
    return (
        isinstance(table, list)
        and len(table) >= 2
        and all(isinstance(p, list) and len(p) == 2 for p in table)
    )


def calibration(names: tuple[str, ...], refresh: bool = False) -> tuple[dict[str, Table], bool]:
    """Returns ``{kernel: cost table}`` and whether anything was measured now.

    A cached table is used once a short probe confirms it (else it is measured again).
    """
    if not names:
        return {}, False
    entries = _load()
    key = interpreter_key()
    mine = dict(entries.get(key, {}))
    kernels = _kernels()
    measured = False
    for name in names:
        measure, probe, warm_up = kernels[name]
        warm_up()
        table = mine.get(name)
        if refresh or not _valid(table) or not still_holds(table, probe):  # type: ignore[arg-type]
            mine[name] = measure_checked(measure, probe)
            measured = True
    if measured:
        entries[key] = mine
        _store(entries)
    return {n: mine[n] for n in names}, measured
