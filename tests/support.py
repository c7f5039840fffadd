"""Helpers for tests that run real models, with every event captured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from concviz.observer.aggregate import Summary
from concviz.observer.session import LocalHttpServer, RunSession
from concviz.runner.protocol import RECORD, FrameType, Kind
from concviz.runner.spec import RunSpec


@dataclass
class Captured:
    summary: Summary
    records: list[tuple[int, ...]] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)
    session: RunSession | None = None

    def of_kind(self, kind: Kind) -> list[tuple[int, ...]]:
        return [r for r in self.records if r[0] == kind]


def run_captured(
    spec: RunSpec,
    python: str | None = None,
    http: LocalHttpServer | None = None,
    timeout: float = 60.0,
    keep_all_spans: bool = False,
) -> Captured:
    records: list[tuple[int, ...]] = []
    texts: list[dict[str, Any]] = []

    def tap(ftype: int, payload: bytes) -> None:
        if ftype == FrameType.RECORDS:
            records.extend(RECORD.iter_unpack(payload))
        elif ftype == FrameType.TEXT:
            texts.append(json.loads(payload))

    session = RunSession(spec, python=python, http=http, tap=tap, keep_all_spans=keep_all_spans)
    with session:
        assert session.wait(timeout), f"run {spec} did not finish in {timeout} s"
        summary = session.summary()
    return Captured(summary, records, texts, session)


FREE_THREADED_DEFAULT = Path.home() / ".cache/concviz/python3.13t/bin/python3.13t"


def free_threaded_python() -> str | None:
    candidate = os.environ.get("CONCVIZ_FT_PYTHON") or str(FREE_THREADED_DEFAULT)
    return candidate if os.access(candidate, os.X_OK) else None


#: Each bare probe process spins this long on its own CPU clock.
BARE_PROBE_CPU_S = 0.3
_BARE_SPIN = (
    "import time\n"
    "start = time.thread_time()\n"
    "while time.thread_time() - start < {cpu}:\n"
    "    sum(i * i for i in range(2000))\n"
    "print(time.thread_time())\n"
)


def bare_parallelism(workers: int = 2, cpu_s: float = BARE_PROBE_CPU_S) -> float:
    """How many cores ``workers`` bare busy processes get right now: their CPU ÷ wall.

    The ceiling a parallel run can reach on this machine at this moment, with
    no concviz in the way: on a shared 2-core machine a neighbour's load takes
    it below 2 as surely as it takes concviz's runs below it. Tests that show
    parallelism compare with it, measured in the same test, rather than with
    the 2.0 an idle machine would give.
    """
    began = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BARE_SPIN.format(cpu=cpu_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    cpu = sum(float(p.communicate(timeout=60)[0]) for p in procs)
    return cpu / (time.monotonic() - began)


def with_free_cores(
    measure: Callable[[float], float | None],
    enough: float,
    workers: int = 2,
    attempts: int = 3,
    need: float | None = None,
) -> float:
    """The best ``measure(bare)`` of the attempts made while ``workers`` cores were free.

    Each attempt first measures the machine's free cores with
    :func:`bare_parallelism` (``bare``), then runs ``measure(bare)`` if at least
    ``need`` (three quarters of ``workers`` by default) were free. ``measure``
    returns None when the run itself saw the cores taken (its tasks' core wait,
    which concviz measures): a neighbour's burst can start after the probe. A
    parallel run cannot show parallelism the machine does not have at that
    moment: when no attempt had the cores free, the test is skipped and says
    what the probe saw, rather than failing on the neighbours' load. A real
    regression fails every attempt made on free cores.
    """
    need = 0.75 * workers if need is None else need
    best: float | None = None
    probes: list[float] = []
    for _ in range(attempts):
        bare = bare_parallelism(workers)
        probes.append(bare)
        if bare < need:
            continue
        got = measure(bare)
        if got is None:
            probes.append(-1.0)
            continue
        best = got if best is None else max(best, got)
        if best >= enough:
            break
    if best is None:
        seen = ", ".join("then taken during the run" if p < 0 else f"{p:.2f}" for p in probes)
        pytest.skip(f"cores busy: {workers} bare busy processes got {seen} cores (need {need})")
    return best


def against_bare(
    measure: Callable[[], float | None], enough: float = 0.8, workers: int = 2
) -> float:
    """The best ratio of a run's parallelism to a bare probe's, measured just before it."""

    def ratio(bare: float) -> float | None:
        got = measure()
        return None if got is None else got / bare

    return with_free_cores(ratio, enough, workers)


#: The ``concviz`` script as installed beside this interpreter (a venv's bin/).
CONSOLE_SCRIPT = Path(sys.executable).with_name("concviz")


def concviz(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m concviz ARGS`` as a user runs it: output captured, exit code not checked."""
    return subprocess.run(
        [sys.executable, "-m", "concviz", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def still_running(pid: int) -> bool:
    """Alive and not a zombie; a process that exits while we ask is not running."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_pids_gone(pids: set[int], timeout: float = 5.0) -> set[int]:
    """Waits for ``pids`` to exit; returns those still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := {pid for pid in pids if still_running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (none if it is gone)."""
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()
