"""What every command shares: exit codes, the one-line usage error, and the checks made
before a run starts (its spec, its interpreter, the files it will write)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the command that needs them
    from ..scenario import Scenario

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def spec_from_args(
    args: argparse.Namespace, model: str | None = None, workers: int | None = None
) -> Any:
    from ..runner.spec import PARAMS, RunSpec, SpecError  # noqa: PLC0415

    values = {p.name: getattr(args, p.name) for p in PARAMS if hasattr(args, p.name)}
    if model is not None:
        values["model"] = model
    if workers is not None:
        values["workers"] = workers
    if args.task is not None and values["workload"] == "cpu":  # the default: --task implies custom
        values["workload"] = "custom"
    values["task_path"] = os.getcwd() if args.task else None
    try:
        return RunSpec(**values).validated()
    except SpecError as exc:
        raise UsageError(str(exc)) from None


def resolve_python(path: str | None) -> str | None:
    if path is None:
        return None
    from ..observer.interpreters import InterpreterError, probe, resolve_name  # noqa: PLC0415

    try:
        return probe(resolve_name(path)).path
    except InterpreterError as exc:
        raise UsageError(str(exc)) from None


def refuse_unavailable(model: str, python: str | None) -> None:
    """A model the chosen interpreter cannot run: refused up front, naming one that can."""
    from ..models import CATALOG as MODELS  # noqa: PLC0415
    from ..observer.interpreters import unavailable_reason  # noqa: PLC0415

    reason = unavailable_reason(MODELS[model], python)
    if reason:
        raise UsageError(reason)


def load_scenario(name: str) -> Scenario:
    from ..scenario import ScenarioError, load  # noqa: PLC0415

    try:
        return load(name)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


def print_envelope(
    args: argparse.Namespace,
    command: str,
    runs: list[dict[str, Any]],
    out: IO[str],
    interrupted: bool = False,
    **extra: Any,
) -> None:
    """Every ``--json``: one envelope (report.json_envelope); a scenario says which."""
    from ..report import json_envelope, print_json  # noqa: PLC0415

    scenario = getattr(args, "json_scenario", None)
    if scenario is not None:
        command = "scenario"
        extra["scenario"] = scenario
    print_json(json_envelope(command, runs, interrupted=interrupted, **extra), out)


def open_trace(path: str | None) -> IO[str] | None:
    """The trace's file, checked now (not after the run): ``-`` is stdout."""
    if path is None:
        return None
    if path == "-":
        return sys.stdout
    return open_for_writing(path, "trace file")


def open_for_writing(path: str, what: str, newline: str | None = None) -> IO[str]:
    """Opens ``path`` to write, checked now, not after a run: UsageError if it cannot be."""
    fd = -1
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.write(fd, b" ")  # a file that opens may still refuse writes (/proc/version: EIO)
        with contextlib.suppress(OSError):  # not a regular file (a pipe): nothing to undo
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        f = os.fdopen(fd, "w", newline=newline)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        raise UsageError(f"cannot write {what} {path!r}: {exc.strerror}") from None
    return f


def check_trace_dir(path: str | None) -> str | None:
    if path is None:
        return None
    import os  # noqa: PLC0415

    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".concviz-write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as exc:
        raise UsageError(f"cannot write traces to {path!r}: {exc.strerror}") from None
    return path


def one_line(message: str) -> str:
    """The message as one line: what the user typed may hold newlines or other controls."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message
    )
