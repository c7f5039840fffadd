"""Finds out what a Python interpreter is before a run is trusted to it.

The runner is standard-library only, so any CPython >= 3.11 can run it: the
user's own build, another version under pyenv, a free-threaded ``python3.13t``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import ModelInfo

MIN_VERSION = (3, 11)

_PROBE = (
    "import json, sys, sysconfig;"
    "g = getattr(sys, '_is_gil_enabled', None);"
    "print(json.dumps({'version': list(sys.version_info[:3]),"
    " 'implementation': sys.implementation.name,"
    " 'executable': sys.executable, 'prefix': sys.prefix,"
    " 'gil_enabled': True if g is None else g(),"
    " 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)


class InterpreterError(ValueError):
    """The path is not a usable interpreter; the message says why in one line."""


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]
    implementation: str
    gil_enabled: bool
    free_threaded: bool
    prefix: str = ""

    @property
    def short(self) -> str:
        """``3.12`` or ``3.13t``: how the dashboard and comparisons name it."""
        return f"{self.version[0]}.{self.version[1]}{'t' if self.free_threaded else ''}"

    @property
    def label(self) -> str:
        v = ".".join(map(str, self.version))
        build = (
            "free-threaded, GIL off"
            if not self.gil_enabled
            else ("free-threaded build, GIL on" if self.free_threaded else "GIL")
        )
        return f"{self.implementation} {v} ({build})"


#: Seconds a probed interpreter gets to answer (a CPython does in well under one).
PROBE_TIMEOUT_S = 5.0


def _run_probe(cmd: list[str], timeout: float) -> tuple[int, str, str]:
    """Runs the probe in its own session; on timeout kills its whole group and re-raises."""
    with subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: whatever it starts dies with it
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:  # the timeout, or Ctrl+C while waiting
            _kill_group(proc.pid)
            proc.communicate()
            raise
        _kill_group(proc.pid)  # anything it left running in the background
        return proc.returncode, out, err


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def probe(path: str, timeout: float = PROBE_TIMEOUT_S) -> Interpreter:
    resolved = shutil.which(path) if os.sep not in path else path
    if resolved is None or not os.path.exists(resolved):
        raise InterpreterError(f"--python {path}: no such interpreter (not a file, not on PATH)")
    if os.path.isdir(resolved) or not os.access(resolved, os.X_OK):
        raise InterpreterError(f"--python {path}: not an executable file")
    try:
        returncode, stdout, stderr = _run_probe([resolved, "-I", "-c", _PROBE], timeout)
    except subprocess.TimeoutExpired:
        raise InterpreterError(
            f"--python {path}: no answer within {timeout:g} s (not a Python interpreter?)"
        ) from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise InterpreterError(
            f"--python {path}: cannot run it ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if returncode != 0:
        said = (stderr.strip().splitlines() or ["no output"])[0]
        if len(said) > 100:
            said = said[:99] + "…"
        raise InterpreterError(
            f"--python {path}: not a working Python 3 interpreter (exit code {returncode}: {said})"
        )
    try:
        import json  # noqa: PLC0415  (the dashboard imports this module before its first frame)

        facts = json.loads(stdout.strip().splitlines()[-1])
        if not isinstance(facts, dict):
            raise TypeError(facts)
        version = tuple(int(x) for x in facts["version"])
        if len(version) != 3:
            raise ValueError(version)
    except (ValueError, KeyError, IndexError, TypeError):
        raise InterpreterError(f"--python {path}: not a Python 3 interpreter") from None
    if facts.get("implementation") != "cpython":
        raise InterpreterError(
            f"--python {path}: is {facts.get('implementation')}; concviz needs CPython"
        )
    if version[:2] < MIN_VERSION:
        have = ".".join(map(str, version))
        raise InterpreterError(
            f"--python {path}: Python {have} is too old; concviz needs CPython >= 3.11"
        )
    return Interpreter(
        path=str(facts.get("executable") or resolved),
        version=(version[0], version[1], version[2]),
        implementation=str(facts["implementation"]),
        gil_enabled=bool(facts["gil_enabled"]),
        free_threaded=bool(facts["free_threaded"]),
        prefix=str(facts.get("prefix", "")),
    )


def _candidates() -> list[str]:
    """Paths that may be CPythons: PATH names, pyenv and uv installs, concviz's own builds."""
    home = Path.home()
    found: list[str] = [sys.executable]
    pyenv = Path(os.environ.get("PYENV_ROOT") or home / ".pyenv")
    uv = os.environ.get("UV_PYTHON_INSTALL_DIR")
    uv_dir = Path(uv) if uv else home / ".local/share/uv/python"
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        found += [os.path.join(directory, n) for n in names if _NAME.fullmatch(n)]
    # concviz's own builds (tools/build-cpython, tools/debian-cpython) live in its cache.
    caches = {home / ".cache", Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")}
    for root, pattern in (
        (pyenv, "versions/*/bin/python3.*"),
        (uv_dir, "*/bin/python3.*"),
        *((cache, "concviz/*/bin/python3.*") for cache in caches),
    ):
        found += [str(p) for p in sorted(root.glob(pattern)) if _NAME.fullmatch(p.name)]
    extra = os.environ.get("CONCVIZ_FT_PYTHON")
    if extra:
        found.append(extra)
    return found


_NAME = re.compile(r"python3\.(1[1-9]|[2-9]\d)t?")


def discover(timeout: float = 10.0) -> list[Interpreter]:
    """Every usable CPython >= 3.11 on this machine, newest first, one per binary."""
    seen: dict[str, str] = {}
    for path in _candidates():
        try:
            real = os.path.realpath(path)
        except OSError:
            continue
        if real not in seen and os.access(real, os.X_OK) and not os.path.isdir(real):
            seen[real] = path
    shims = os.sep + "shims" + os.sep
    paths = [p for p in seen.values() if shims not in p]  # pyenv shims may point nowhere
    found: dict[tuple[str, tuple[int, int, int], bool], Interpreter] = {}
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(max_workers=8) as pool:
        # Probed at once, taken in the candidates' order: of two names for one
        # interpreter (a build's python3.13 and python3.13t), the same one is shown
        # every time, and --python LABEL resolves to the path that was listed.
        for future in [pool.submit(probe, path, timeout) for path in paths]:
            try:
                interp = future.result()
            except InterpreterError:
                continue
            key = (
                interp.prefix or os.path.realpath(interp.path),
                interp.version,
                interp.free_threaded,
            )
            found.setdefault(key, interp)
    return sorted(found.values(), key=lambda i: (i.version, not i.free_threaded), reverse=True)


def first_that(fits: Callable[[Interpreter], bool]) -> Interpreter | None:
    """The newest interpreter discovery finds here that ``fits`` (to name in a refusal)."""
    return next((i for i in discover() if fits(i)), None)


def unavailable_reason(info: ModelInfo, python: str | None, suggest: bool = True) -> str | None:
    """Why ``python`` (None: this one) cannot run the model; with ``suggest``, naming one that can.

    The one check behind every refusal: the CLI's, the dashboard's, compare and
    sweep's up front, and the session's own (which does not look for another
    interpreter: discovery probes every one it finds).
    """
    if info.requires is None:
        return None
    if python is None:
        version: tuple[int, ...] = tuple(sys.version_info[:3])
    else:
        try:
            version = probe(python).version
        except InterpreterError as exc:
            return str(exc)
    reason = info.unavailable(version)
    if reason is None or not suggest:
        return reason
    able = first_that(lambda i: info.unavailable(i.version) is None)
    if able is None:
        return f"{reason}; none found on this machine"
    return f"{reason}; {able.short} can: --python {able.path}"


_LABEL = re.compile(r"(?:python)?(3\.\d+)(\.\d+)?(t?)")


def resolve_name(name: str) -> str:
    """A path for an interpreter named as concviz shows it: ``3.13t``, ``python3.13t``, ``3.12.1``.

    A path, or a name on PATH, is left as it is; so is a name nothing matches
    (probing it then says why it is refused).
    """
    if os.sep in name or shutil.which(name) is not None:
        return name
    label = _LABEL.fullmatch(name)
    if label is None:
        return name
    minor, patch, t = label.groups()
    for interp in discover():
        full = ".".join(map(str, interp.version))
        if interp.short == f"{minor}{t}" and (patch is None or full == f"{minor}{patch}"):
            return interp.path
    return name
