"""concviz's own cost, measured where it is paid: the observing process's CPU during a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any

import pytest

from concviz.observer.aggregate import BULK_PAYS_RECORDS, most_records
from concviz.observer.session import RunSession
from concviz.runner.spec import RunSpec


def observed_cpu(busy_s: float) -> float:
    """A 1 s wait observed, while this (the observing) process computes for ``busy_s``."""
    spec = RunSpec(model="sequential", workload="sleep", workers=1, tasks=1, task_ms=1000)
    with RunSession(spec) as session:
        deadline = time.monotonic() + 0.3  # let the run start, then keep a core busy
        while time.monotonic() < deadline:
            time.sleep(0.01)
        end = time.monotonic() + busy_s
        while time.monotonic() < end:
            sum(i * i for i in range(1000))
        assert session.wait(60)
        summary = session.summary()
    assert summary.status == "done"
    assert summary.observer_cpu is not None
    return summary.observer_cpu


def test_the_observers_own_cpu_is_measured_and_shows_work_done_in_it() -> None:
    quiet = observed_cpu(0.0)
    busy = observed_cpu(0.5)
    assert 0.0 <= quiet < 0.2  # reading the stream and sampling: a few % of a core
    assert busy > quiet + 0.2  # ~0.5 s of CPU in a ~1 s run


#: In a fresh interpreter: a session of ``spec``, with a tap noting, for every RECORDS
#: frame long enough for the bulk path, whether the bulk path was loaded by then.
BULK_PROBE = """
import json, os, sys
from pathlib import Path
from concviz.observer.aggregate import _BULK_BYTES
from concviz.observer.session import RunSession
from concviz.runner.spec import RunSpec

def threads():
    return len(list(Path("/proc/self/task").iterdir()))

long_frames = []
def tap(ftype, payload):
    if len(payload) >= _BULK_BYTES:
        long_frames.append("concviz.observer.bulk" in sys.modules)

before = threads()
session = RunSession(RunSpec(**json.loads(sys.argv[1])), tap=tap)
session.start()
loaded = "numpy" in sys.modules
session.wait(60)
summary = session.summary()
session.close()
print(json.dumps({"before": before, "after": threads(), "loaded": loaded,
                  "loaded_at_end": "numpy" in sys.modules, "long_frames": long_frames,
                  "completed": summary.completed,
                  "blas_env": [n for n in os.environ if n.endswith("_NUM_THREADS")]}))
"""


def _bulk_probe(**spec: object) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", BULK_PROBE, json.dumps(spec)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


def test_numpy_loads_before_a_busy_run_and_without_a_spinning_blas_pool() -> None:
    """OpenBLAS starts a thread per core at import, and it spins: ~100 ms of a core.

    In a fresh interpreter: starting a session of a run that can send long
    frames loads the bulk path (NumPy) before its runner, so it is there for
    the first long frame; no thread is left behind by NumPy's BLAS, and the
    environment the runner and its workload inherit is as it was.
    """
    pytest.importorskip("numpy", reason="the bulk path is the [fast] extra")
    tasks = BULK_PAYS_RECORDS // 16 + 1  # most_records: 16 a task at most (4 attempts)
    assert most_records(asdict(RunSpec(tasks=tasks))) >= BULK_PAYS_RECORDS
    facts = _bulk_probe(model="sequential", workload="sleep", workers=1, tasks=tasks, task_ms=0)
    assert facts["completed"] == tasks
    assert facts["loaded"]  # before the run, not on its first long frame
    assert facts["long_frames"], "no frame was long enough for the bulk path: make more tasks"
    assert all(facts["long_frames"])
    assert facts["after"] == facts["before"]  # OpenBLAS made one per extra core before
    assert facts["blas_env"] == []


def test_a_run_too_small_for_numpy_to_pay_keeps_to_the_record_loop() -> None:
    """NumPy's import (~50 ms) would cost a run of a few hundred tasks more than it saves.

    Such a run sends frames long enough for the bulk path, yet never loads it:
    not before its start (start-up, #21), nor on a long frame (mid-run).
    """
    facts = _bulk_probe(model="sequential", workload="sleep", workers=1, tasks=400, task_ms=0)
    assert facts["completed"] == 400
    assert facts["long_frames"], "no frame was long enough for the bulk path: make more tasks"
    assert not any(facts["long_frames"])
    assert not facts["loaded"]
    assert not facts["loaded_at_end"]


def test_a_run_of_a_few_tasks_never_loads_numpy() -> None:
    """A few tasks make a few records each: no frame long enough for the bulk path.

    Such a run does not pay NumPy's import (~60 ms) at its start, nor later.
    """
    facts = _bulk_probe(model="threads", workload="sleep", workers=2, tasks=5, task_ms=1)
    assert facts["completed"] == 5
    assert facts["long_frames"] == []
    assert not facts["loaded"]
    assert not facts["loaded_at_end"]
