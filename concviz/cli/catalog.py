"""The listings: ``concviz models``, ``workloads``, ``scenarios``, ``interpreters``, and
``calibrate`` (the CPU kernels' speed under an interpreter)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO

from .common import EXIT_OK, EXIT_RUN_FAILED, resolve_python


def cmd_models(out: IO[str]) -> int:
    from ..models import CATALOG  # noqa: PLC0415

    width = max(map(len, CATALOG))
    for info in CATALOG.values():
        reason = info.unavailable(tuple(sys.version_info[:3]))
        note = f"  [unavailable here: {reason}]" if reason else ""
        print(f"{info.name:<{width}}  {info.summary}{note}", file=out)
    return EXIT_OK


def cmd_workloads(out: IO[str]) -> int:
    from ..workloads import CATALOG  # noqa: PLC0415

    width = max(map(len, CATALOG))
    for info in CATALOG.values():
        print(f"{info.name:<{width}}  {info.nature:<5}  {info.summary}", file=out)
    return EXIT_OK


def cmd_scenarios(out: IO[str]) -> int:
    from ..scenario import load, shipped  # noqa: PLC0415

    names = shipped()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {load(name).title}", file=out)
    return EXIT_OK


def cmd_interpreters(out: IO[str]) -> int:
    from ..observer.interpreters import discover  # noqa: PLC0415

    found = discover()
    width = max((len(i.short) for i in found), default=4)
    for interp in found:
        gil = "GIL on " if interp.gil_enabled else "GIL off"
        version = ".".join(map(str, interp.version))
        print(f"{interp.short:<{width}}  {version:<8} {gil}  {interp.path}", file=out)
    if not found:
        print("no CPython >= 3.11 found (concviz needs one)", file=out)
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace, out: IO[str]) -> int:
    import subprocess  # noqa: PLC0415

    from ..observer.launch import child_env  # noqa: PLC0415

    python = resolve_python(args.python) or sys.executable
    code = (
        "import json; from concviz.runner.calibrate import calibration;"
        "from concviz.workloads.base import units_for;"
        "c, _ = calibration(('sum_of_squares', 'trial_division'), refresh=True);"
        "print(json.dumps({k: units_for(t, 100.0) / 100.0 for k, t in c.items()}))"
    )
    done = subprocess.run(
        [python, "-c", code], env=child_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(
            f"concviz calibrate: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr
        )
        return EXIT_RUN_FAILED
    figures = json.loads(done.stdout)
    print(f"{python}:", file=out)
    print(
        f"  sum of squares: {figures['sum_of_squares']:,.0f} iterations/ms (100 ms tasks)", file=out
    )
    print(
        f"  trial division: {figures['trial_division']:,.0f} divisions/ms (100 ms tasks)", file=out
    )
    return EXIT_OK
