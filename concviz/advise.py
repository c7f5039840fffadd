"""The verdict: which concurrency model, and how many workers, for *your* function.

``concviz advise`` probes a task (its own function, or a built-in workload),
plans a bounded experiment from what the probe found, runs it (real runs, one
after another, repeats interleaved as ``compare --repeat`` does) and says the
answer plainly, first line first, each figure measured in this run. Plain
Python: the command line and the dashboard's verdict screen both use it.

The probe runs the user's code in a child process (``PROBE_CODE``, standard
library only, like every runner): its figures are the call's wall and CPU
time, whether it is a coroutine function, what its arguments and result cost to
pickle and send through a pipe, and what one call allocates.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .experiments import (
    STALL_GAIN,
    RunResult,
    SeriesEntry,
    SeriesListener,
    SeriesRun,
    run_series,
)
from .models import CATALOG as MODELS
from .observer.aggregate import Summary
from .observer.interpreters import Interpreter, discover
from .observer.launch import child_env
from .observer.session import LocalHttpServer, SessionError
from .runner.spec import RunSpec
from .workloads import CATALOG as WORKLOADS

if TYPE_CHECKING:  # Rich only for the command line's table (the dashboard has its own)
    from rich.table import Table

#: Seconds the whole advice may take (probe and runs), by default.
BUDGET_S = 60.0
#: A run's cost beyond its wall time: starting the runner, its pool, closing (s),
#: for planning only (measured here: 0.2-0.4 s a run on the busy 2-core machine).
RUN_OVERHEAD_S = 0.35
#: A cheaper model within this share of the fastest is the answer (threads before
#: processes, asyncio before threads): the gap is within run-to-run noise here.
PREFER_WITHIN = 0.10
#: A task is CPU-bound when it is on a CPU (or runnable, waiting for one) at least
#: this share of its time.
CPU_BOUND = 0.5
#: Computing (or waiting for a core) at least this share: more workers than cores
#: cannot help it, so worker counts stop at twice the cores.
MOSTLY_CPU = 0.8
#: ...counting the wait for a core only for tasks on a CPU at least this share.
MIN_COMPUTING = 0.15
#: The sequential run's tasks waited for a core this share of their time: the machine
#: is saturated by others (one task alone on 2 idle cores waits 0-5 %).
SATURATED_WAIT = 0.25
#: What one experiment run should take sequentially, for sizing its task count (s).
SEQUENTIAL_TARGET_S = 0.6
#: ...for waiting code, whose runs are short once concurrent: enough tasks to show it.
WAITING_TARGET_S = 2.0
#: The cheaper of two equally fast models (lower first): memory and start-up per worker.
COST_ORDER = (
    "sequential",
    "asyncio",
    "to-thread",
    "threads",
    "hybrid",
    "interpreters",
    "processes",
)

PROBE_CODE = r"""
import asyncio, inspect, json, os, pickle, sys, threading, time, tracemalloc, importlib
cfg = json.loads(sys.stdin.read())
if cfg["path"]:
    sys.path.insert(0, cfg["path"])
module, _, name = cfg["task"].partition(":")
try:
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
except Exception as exc:
    sys.exit(f"cannot import {cfg['task']}: {type(exc).__name__}: {exc}")
args, kwargs = cfg["args"], cfg["kwargs"]
coroutine = inspect.iscoroutinefunction(fn)
def call():
    r = fn(*args, **kwargs)
    return asyncio.run(r) if coroutine else r
call()  # warm: imports, caches
w0, c0 = time.perf_counter(), time.thread_time()
result = call()
wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
memory = None
if wall < 1.0:
    tracemalloc.start()
    call()
    memory = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
def bandwidth():
    # Bytes a second through a pipe, one 4 MiB buffer read by another thread.
    data = b"x" * (4 << 20)
    r, w = os.pipe()
    def read():
        n = 0
        while n < len(data):
            n += len(os.read(r, 1 << 20))
    reader = threading.Thread(target=read)
    t0 = time.perf_counter()
    reader.start()
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]
    reader.join()
    os.close(r); os.close(w)
    return len(data) / (time.perf_counter() - t0)
def ship(obj, rate):
    # Pickle, pipe and unpickle: what a pool pays to move obj (the pipe at its rate).
    n, t0 = 0, time.perf_counter()
    while True:  # small objects: many rounds, for a clock that can see them
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        n += 1
        spent = time.perf_counter() - t0
        if spent > 0.05 or n >= 1000:
            break
    return len(data), spent / n + len(data) / rate
try:
    rate = bandwidth()
    args_bytes, args_s = ship((fn, args, kwargs), rate)
    result_bytes, result_s = ship(result, rate)
    picklable = True
except Exception as exc:
    args_bytes = result_bytes = 0; args_s = result_s = 0.0; picklable = False
print(json.dumps({"coroutine": coroutine, "wall_s": wall, "cpu_s": cpu, "memory": memory,
    "args_bytes": args_bytes, "result_bytes": result_bytes, "ship_s": args_s + result_s,
    "picklable": picklable}))
"""


class AdviseError(Exception):
    """The task cannot be advised on (it fails, or cannot be imported); one line says why."""


@dataclass(frozen=True)
class Probe:
    """What one call of the task costs, measured in a child process (None: a built-in)."""

    coroutine: bool
    call_wall_s: float
    call_cpu_s: float
    #: Bytes of (function, args, kwargs) and of the result, pickled.
    args_bytes: int
    result_bytes: int
    #: Seconds to pickle both, send them through a pipe and unpickle them: a process
    #: pool pays it on every task (concviz's own runs send only a task number).
    ship_s: float
    #: Most memory one call allocated (tracemalloc; None: the call was too long to trace).
    memory: int | None
    picklable: bool = True


def probe_task(spec: RunSpec, python: str | None, timeout: float = 60.0) -> Probe:
    """Probes a custom task (``--task``) in a child process under ``python``."""
    assert spec.task is not None
    cfg = {
        "task": spec.task,
        "path": spec.task_path or "",
        "args": spec.task_args,
        "kwargs": spec.task_kwargs,
    }
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", PROBE_CODE],
            input=json.dumps(cfg),
            env=child_env(),
            cwd=spec.task_path or None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AdviseError(f"one call of {spec.task} took over {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if last.startswith("cannot import"):
            raise AdviseError(last)
        raise AdviseError(f"calling {spec.task} failed: {last}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Probe(
        coroutine=bool(data["coroutine"]),
        call_wall_s=float(data["wall_s"]),
        call_cpu_s=float(data["cpu_s"]),
        args_bytes=int(data["args_bytes"]),
        result_bytes=int(data["result_bytes"]),
        ship_s=float(data["ship_s"]),
        memory=data["memory"],
        picklable=bool(data["picklable"]),
    )


@dataclass(frozen=True)
class Candidate:
    """A model to try: on an interpreter, with its most workers worth trying."""

    model: str
    python: str | None = None
    #: "3.13t" for another interpreter than the one advised on ("" otherwise).
    on: str = ""
    max_workers: int = 1

    @property
    def label(self) -> str:
        return f"{self.model}@{self.on}" if self.on else self.model

    @property
    def ships_arguments(self) -> bool:
        """Its tasks cross to another interpreter by pickling (a process pool, sub-interpreters)."""
        return MODELS[self.model].processes or self.model == "interpreters"


@dataclass
class Point:
    """One candidate at one worker count: its median run."""

    candidate: Candidate
    workers: int
    result: RunResult
    #: Estimated seconds the run would add shipping your arguments and results.
    ship_s: float = 0.0

    @property
    def summary(self) -> Summary:
        return self.result.summary

    @property
    def wall_s(self) -> float:
        """The measured wall time, plus the pickling a real pool would add."""
        return self.summary.wall_s + self.ship_s


@dataclass
class Advice:
    """The verdict, its evidence and the reasons behind each loss (see :meth:`as_dict`)."""

    task: str
    python: str
    gil_enabled: bool | None
    cores: int
    tasks: int
    cpu_bound: bool
    on_cpu: float
    probe: Probe | None
    points: list[Point]
    baseline_wall_s: float
    best: Point
    answer: str
    #: One line per model that did worse: its mechanism, with the figure.
    losses: list[str] = field(default_factory=list)
    knee: int | None = None
    machine: str = ""
    load: tuple[float, float] = (0.0, 0.0)
    elapsed_s: float = 0.0
    budget_s: float = BUDGET_S
    cut_short: bool = False
    #: Runs made in all (each point is the median of its repeats).
    runs: int = 0
    #: It computes nearly all the time (no waits for more workers to overlap).
    mostly_cpu: bool = False

    def speedup(self, point: Point) -> float:
        return self.baseline_wall_s / point.wall_s if point.wall_s > 0 else 0.0

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for p in self.points:
            s = p.summary
            speedup = self.speedup(p)
            out.append(
                {
                    "model": p.candidate.model,
                    "label": p.candidate.label,
                    "python": s.python,
                    "workers": p.workers,
                    "wall_s": p.wall_s,
                    "measured_wall_s": s.wall_s,
                    "pickling_s": p.ship_s,
                    "throughput": s.completed / p.wall_s if p.wall_s > 0 else 0.0,
                    "speedup": speedup,
                    "efficiency": speedup / p.workers,
                    "parallelism": s.parallelism,
                    "on_cpu_fraction": s.on_cpu_fraction,
                    "core_wait_fraction": s.core_wait_fraction,
                    "peak_memory": s.peak_memory,
                    "memory_per_task": s.memory_per_task,
                    "walls": list(p.result.walls),
                    "spread": p.result.spread,
                    "findings": [f["code"] for f in s.findings],
                }
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """The verdict's stable keys: ``advise`` in ``concviz advise --json``'s envelope
        (``runs`` is the envelope's list)."""
        return {
            "answer": self.answer,
            "model": self.best.candidate.model,
            "python": self.best.summary.python,
            "workers": self.best.workers,
            "speedup": self.speedup(self.best),
            "task": self.task,
            "cores": self.cores,
            "gil_enabled": self.gil_enabled,
            "tasks": self.tasks,
            "cpu_bound": self.cpu_bound,
            "mostly_cpu": self.mostly_cpu,
            "on_cpu_fraction": self.on_cpu,
            "probe": None if self.probe is None else self.probe.__dict__,
            "knee": self.knee,
            "losses": self.losses,
            "machine": self.machine,
            "load": list(self.load),
            "elapsed_s": self.elapsed_s,
            "budget_s": self.budget_s,
            "cut_short": self.cut_short,
            "run_count": self.runs,
            "runs": self.rows(),
        }


def fmt_s(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.0f} ms"
    return f"{s:.2f} s"


def fmt_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


#: (done, planned, what is running now): the progress callback's arguments.
ProgressFn = Callable[[int, int, str], None]


class _Measuring(SeriesListener):
    """What the advisor hears of its runs: progress, a stop, runs that did not do their work."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    def stopping(self) -> bool:
        return self.advisor.stop.is_set()

    def started(self, run: SeriesRun) -> None:
        advisor = self.advisor
        advisor.progress(advisor.done, advisor.planned, f"{run.label} × {run.spec.workers}")

    def failed(self, run: SeriesRun, error: SessionError) -> None:
        raise AdviseError(str(error)) from None

    def finished(self, run: SeriesRun, summary: Summary) -> None:
        if run.cut_short:
            return  # stopped: the advice ends there (KeyboardInterrupt)
        advisor, label = self.advisor, f"{run.label} × {run.spec.workers}"
        advisor.done += 1
        advisor.progress(advisor.done, advisor.planned, label)
        if summary.status != "done":
            raise AdviseError(f"{label}: the run ended {summary.status}: {summary.run_error}")
        if summary.failed:
            first = next(iter(summary.errors), "?")
            raise AdviseError(f"{label}: {summary.failed} tasks failed ({first})")


class Advisor:
    """Plans and runs the experiment for one task; :meth:`run` returns the :class:`Advice`."""

    def __init__(
        self,
        spec: RunSpec,
        python: str | None = None,
        budget_s: float = BUDGET_S,
        progress: ProgressFn | None = None,
        interpreters: list[Interpreter] | None = None,
    ) -> None:
        self.spec = spec
        self.python = python
        self.budget_s = budget_s
        self.progress = progress or (lambda done, planned, what: None)
        self._interpreters = interpreters
        self.stop = threading.Event()
        self.started = 0.0
        self.done = 0
        self.planned = 0

    # -- running ------------------------------------------------------------------

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def _series(
        self, entries: list[SeriesEntry], repeats: int, http: LocalHttpServer | None
    ) -> list[RunResult]:
        """Runs entries ``repeats`` times in alternating rounds; each one's median run."""
        outcome = run_series(entries, _Measuring(self), repeats, http=http)
        if outcome.interrupted:
            raise KeyboardInterrupt
        return outcome.results

    def run(self) -> Advice:
        self.started = time.monotonic()
        load0 = os.getloadavg()[0]
        spec = self.spec
        probe = None
        if spec.workload == "custom":
            self.progress(0, 1, "probing your function")
            probe = probe_task(spec, self.python)
        http = LocalHttpServer() if WORKLOADS[spec.workload].needs_server else None
        try:
            return self._advise(spec, probe, http, load0)
        finally:
            if http is not None:
                http.close()

    def _advise(
        self, spec: RunSpec, probe: Probe | None, http: LocalHttpServer | None, load0: float
    ) -> Advice:
        # 1. The probe run: a few tasks in sequence (wall vs CPU per task).
        call = probe.call_wall_s if probe is not None else spec.task_ms / 1e3
        few = max(3, min(20, math.ceil(0.3 / max(call, 1e-3))))
        probe_spec = replace(spec, model="sequential", workers=1, tasks=few).validated()
        (first_run,) = self._series([("probe: sequential", probe_spec, self.python)], 1, http)
        first = first_run.summary
        per_task = first.wall_s / max(first.completed, 1)
        # On a CPU, or runnable and waiting for one (a busy machine): what it would
        # use of a core to itself. The rest it waits (I/O, sleep, locks).
        # (The core wait of a short run of sleeping tasks can read high: the runner's own
        # start-up waits too. So it only counts for tasks seen computing.)
        on_cpu = first.on_cpu_fraction
        if on_cpu >= MIN_COMPUTING:
            on_cpu = min(1.0, on_cpu + (first.core_wait_fraction or 0.0))
        if probe is not None and probe.call_wall_s > 0:  # one call, measured on its own
            on_cpu = max(on_cpu, min(1.0, probe.call_cpu_s / probe.call_wall_s))
        computing = on_cpu
        info = WORKLOADS[spec.workload]
        if info.name != "custom":  # a built-in says what it does; a busy machine blurs it
            computing = {"cpu": 1.0, "io": 0.0}.get(info.nature, 1.0 - spec.io_fraction)
        cpu_bound = computing >= CPU_BOUND
        mostly_cpu = computing >= MOSTLY_CPU
        cores = first.cores or os.cpu_count() or 1
        coroutine = (
            probe.coroutine if probe is not None else WORKLOADS[spec.workload].nature != "cpu"
        )
        # 2. The plan: task count, candidates, their worker-count ceilings.
        if mostly_cpu:
            tasks = max(4 * cores, min(400, math.ceil(SEQUENTIAL_TARGET_S / max(per_task, 1e-4))))
        else:
            tasks = max(8, min(64, math.ceil(WAITING_TARGET_S / max(per_task, 1e-4))))
        # Work that computes all the time stops gaining near a worker per core; work that
        # also waits (mixed) overlaps its waits with more.
        ceiling = 2 * cores if mostly_cpu else tasks
        candidates = self._candidates(spec, cpu_bound, coroutine, probe, cores, ceiling)
        base = replace(spec, tasks=tasks)

        def entry(c: Candidate, n: int) -> SeriesEntry:
            return (c.label, replace(base, model=c.model, workers=n).validated(), c.python)

        # Round 1: the baseline and every candidate at 2 workers; repeats if they fit.
        sequential = replace(base, model="sequential", workers=1).validated()
        round1 = [("sequential", sequential, self.python), *(entry(c, 2) for c in candidates)]
        estimate = len(round1) * (tasks * per_task / 1.5 + RUN_OVERHEAD_S)
        # Single runs on a shared machine move by 10-30 %: three, interleaved, unless
        # even round 1 would not fit three times in the budget.
        repeats = next((r for r in (3, 2) if r * estimate < 0.8 * self.left()), 1)
        self.planned = self.done + len(round1) * repeats
        results = self._series(round1, repeats, http)
        baseline = results[0]
        points = [Point(Candidate("sequential", self.python), 1, baseline)]
        ship = probe.ship_s if probe is not None else 0.0
        best_of: dict[str, Point] = {}
        for c, r in zip(candidates, results[1:], strict=True):
            p = Point(c, 2, r, ship * tasks if c.ships_arguments else 0.0)
            points.append(p)
            best_of[c.label] = p
        # Further rounds: double each candidate's workers while it keeps gaining.
        growing = [c for c in candidates if c.max_workers > 2]
        cut_short = False
        n = 2
        while growing:
            n = n * 2
            round_c = [c for c in growing if min(n, c.max_workers) > best_of[c.label].workers]
            if not round_c:
                break
            entries = [entry(c, min(n, c.max_workers)) for c in round_c]
            cost = sum(best_of[c.label].summary.wall_s + RUN_OVERHEAD_S for c in round_c)
            if cost * repeats > self.left():
                repeats = 1
                if cost > self.left():
                    cut_short = True
                    break
            self.planned = self.done + len(entries) * repeats
            growing = []
            for c, r in zip(round_c, self._series(entries, repeats, http), strict=True):
                p = Point(c, r.summary.workers, r, ship * tasks if c.ships_arguments else 0.0)
                points.append(p)
                previous = best_of[c.label]
                if previous.wall_s / p.wall_s >= STALL_GAIN:
                    best_of[c.label] = p
                    growing.append(c)
        return self._verdict(
            spec,
            probe,
            points,
            best_of,
            baseline,
            cpu_bound,
            mostly_cpu,
            on_cpu,
            cores,
            tasks,
            load0,
            cut_short,
        )

    def _candidates(
        self,
        spec: RunSpec,
        cpu_bound: bool,
        coroutine: bool,
        probe: Probe | None,
        cores: int,
        ceiling: int,
    ) -> list[Candidate]:
        info = WORKLOADS[spec.workload]
        out = [Candidate("threads", self.python, max_workers=ceiling)]
        if not info.threads_only and (probe is None or probe.picklable):
            # Processes beyond the cores only help code that waits.
            out.append(Candidate("processes", self.python, max_workers=ceiling))
        if coroutine:
            out.append(Candidate("asyncio", self.python, max_workers=ceiling))
        elif not cpu_bound:
            out.append(Candidate("to-thread", self.python, max_workers=ceiling))
        if spec.workload == "mixed":
            out.append(Candidate("hybrid", self.python, max_workers=ceiling))
        if cpu_bound and not info.threads_only:
            for interp in self.interpreters():
                if not interp.gil_enabled:
                    out.append(Candidate("threads", interp.path, interp.short, ceiling))
                    break
            for interp in self.interpreters():
                if interp.version >= (3, 14) and not info.no_interpreters:
                    out.append(Candidate("interpreters", interp.path, interp.short, ceiling))
                    break
        return out

    def interpreters(self) -> list[Interpreter]:
        """Other CPythons found here (discovery's probes run once)."""
        if self._interpreters is None:
            mine = os.path.realpath(self.python or sys.executable)
            self._interpreters = [i for i in discover() if os.path.realpath(i.path) != mine]
        return self._interpreters

    # -- the verdict --------------------------------------------------------------

    def _verdict(
        self,
        spec: RunSpec,
        probe: Probe | None,
        points: list[Point],
        best_of: dict[str, Point],
        baseline: RunResult,
        cpu_bound: bool,
        mostly_cpu: bool,
        on_cpu: float,
        cores: int,
        tasks: int,
        load0: float,
        cut_short: bool,
    ) -> Advice:
        base_wall = baseline.summary.wall_s
        # On the interpreter advised on; threads on a GIL build, with CPU-bound work that
        # kept at most one core busy, cannot have gained: what they seem to gain is the
        # machine's noise (a neighbour slowed the sequential run), so they do not win.
        mine = [p for p in points if not p.candidate.on and not _gil_bound(p, mostly_cpu)]
        fastest = min(mine, key=lambda p: p.wall_s)
        # The cheapest model within PREFER_WITHIN of the fastest, at its fewest workers.
        close = [p for p in mine if p.wall_s <= fastest.wall_s * (1 + PREFER_WITHIN)]
        best = min(
            close,
            key=lambda p: (
                (COST_ORDER.index(p.candidate.model), p.workers)
                if p.candidate.model in COST_ORDER
                else (len(COST_ORDER), p.workers)
            ),
        )
        speed = base_wall / best.wall_s if best.wall_s > 0 else 0.0
        s0 = baseline.summary
        task = spec.task or spec.workload
        if best.candidate.model == "sequential":
            head = f"sequential: no model here beat one task after another ({task})."
        else:
            head = f"{best.candidate.model} × {best.workers}: {speed:.1f}× faster than sequential."
        clauses: list[str] = []
        losses: list[str] = []
        for label, p in best_of.items():
            if p.candidate == best.candidate or p.candidate.on:
                continue
            sp = base_wall / p.wall_s if p.wall_s > 0 else 0.0
            if p.wall_s <= fastest.wall_s * (1 + PREFER_WITHIN) and not _gil_bound(p, mostly_cpu):
                rank = {m: i for i, m in enumerate(COST_ORDER)}
                if rank.get(best.candidate.model, 99) < rank.get(p.candidate.model, 99):
                    why = f"{best.candidate.model} costs less per worker"
                elif best.workers < p.workers:
                    why = f"{best.candidate.model} needs fewer workers"
                else:
                    why = f"{best.candidate.model} was the faster"
                losses.append(
                    f"{label} × {p.workers}: {sp:.2f}×, as fast (within {PREFER_WITHIN:.0%}); {why}"
                )
                continue
            why = self._mechanism(p, cpu_bound, probe, cores, tasks)
            losses.append(f"{label} × {p.workers}: {sp:.2f}×. {why}")
            if _gil_bound(p, mostly_cpu):
                clauses.append(f"threads gain nothing ({why})")
        for label, p in best_of.items():
            if p.candidate.on:
                sp = base_wall / p.wall_s if p.wall_s > 0 else 0.0
                free = "free-threaded " if p.summary.gil_enabled is False else ""
                clauses.append(
                    f"on the {free}{p.candidate.on} here, {label.split('@')[0]} × "
                    f"{p.workers} reach {sp:.1f}×"
                )
        answer = head + (" " + "; ".join(clauses) + "." if clauses else "")
        seq_wait = s0.core_wait_fraction or 0.0
        if cpu_bound and seq_wait >= SATURATED_WAIT:
            answer += (
                f" Careful: this machine has no core to spare now (one task alone waited "
                f"{seq_wait:.0%} of its time for a core, load {load0:.1f} on {cores} cores): "
                "parallel models cannot show their gain; run it again when it is quieter."
            )
        # The knee: where the winner stopped gaining.
        mine_best = sorted(
            (p for p in points if p.candidate.label == best.candidate.label),
            key=lambda p: p.workers,
        )
        knee = None
        for a, b in itertools.pairwise(mine_best):
            if a.wall_s / b.wall_s < STALL_GAIN:
                knee = a.workers
                break
        machine = self._machine(best, knee, cores, cpu_bound, load0)
        return Advice(
            task=task,
            python=s0.python,
            gil_enabled=s0.gil_enabled,
            cores=cores,
            tasks=tasks,
            cpu_bound=cpu_bound,
            on_cpu=on_cpu,
            probe=probe,
            points=points,
            baseline_wall_s=base_wall,
            best=best,
            answer=answer,
            losses=losses,
            knee=knee,
            machine=machine,
            load=(load0, os.getloadavg()[0]),
            elapsed_s=time.monotonic() - self.started,
            budget_s=self.budget_s,
            cut_short=cut_short,
            runs=self.done,
            mostly_cpu=mostly_cpu,
        )

    def _mechanism(
        self, p: Point, cpu_bound: bool, probe: Probe | None, cores: int, tasks: int
    ) -> str:
        """Why a model did no better, in one line, from its own run's figures."""
        s = p.summary
        wait = s.core_wait_fraction or 0.0
        model = p.candidate.model
        # Only threads that kept about one core busy waited on the GIL: ones that ran in
        # parallel (a function that releases it, e.g. hashing) lost for another reason.
        gil_bound = s.parallelism < GIL_RELEASED_PARALLELISM
        if model in ("threads", "to-thread") and s.gil_enabled and cpu_bound and gil_bound:
            return (
                f"the GIL: {p.workers} threads kept {s.parallelism:.2f} cores busy, each on a CPU "
                f"{s.on_cpu_fraction:.0%} of its time; your function holds the GIL"
            )
        if p.ship_s and p.ship_s >= 0.1 * p.wall_s and probe is not None:
            return (
                f"pickling: {fmt_size(probe.args_bytes)} of arguments and "
                f"{fmt_size(probe.result_bytes)} of result cross the pipe every task, "
                f"{fmt_s(probe.ship_s)} a call, {fmt_s(p.ship_s)} of {fmt_s(p.wall_s)}"
            )
        if s.worker_startup_s is not None and s.worker_startup_s >= 0.2 * s.wall_s:
            return (
                f"start-up: its workers came up {fmt_s(s.worker_startup_s)} into a "
                f"{fmt_s(s.wall_s)} run"
            )
        if model == "asyncio" and cpu_bound:
            return (
                f"one thread: the loop runs the CPU work one task at a time "
                f"(parallelism {s.parallelism:.2f})"
            )
        if wait >= 0.3:
            return (
                f"no free core: its tasks waited for one {wait:.0%} of their time ({cores} cores)"
            )
        if p.workers >= p.candidate.max_workers:
            return (
                f"still gaining at × {p.workers}, the most tried ({tasks} tasks a run); "
                f"parallelism {s.parallelism:.2f}"
            )
        if s.memory_per_task:
            return (
                f"no faster past × {p.workers} (parallelism {s.parallelism:.2f}); "
                f"{fmt_size(int(s.memory_per_task))} of memory a worker"
            )
        return f"no faster past × {p.workers} (parallelism {s.parallelism:.2f})"

    def _machine(
        self, best: Point, knee: int | None, cores: int, cpu_bound: bool, load0: float
    ) -> str:
        busy = (
            f" The machine was busy (load {load0:.1f} on {cores} cores): single runs move "
            "by several %."
            if load0 > cores
            else ""
        )
        parallel = best.candidate.model in ("processes", "interpreters", "hybrid") or (
            best.summary.gil_enabled is False
        )
        if cpu_bound and parallel:
            where = (
                f"here it stopped past × {knee}"
                if knee is not None
                else f"here it still gained at × {best.workers}"
            )
            return (
                f"This depends on the machine: {cores} cores here. CPU-bound work stops gaining "
                f"near one worker per core ({where}); on more cores "
                f"{best.candidate.model} would go further, on one core nothing would beat "
                f"sequential.{busy}"
            )
        if not cpu_bound:
            return (
                "Waiting code does not depend on the cores: more workers help until the "
                f"waits themselves (or the other side) are the limit.{busy}"
            )
        return busy.strip()


#: Worker CPU over wall time above which threads on a GIL build really ran in parallel
#: (their function released the GIL): four GIL-bound threads here keep 0.66-1.0 cores busy.
GIL_RELEASED_PARALLELISM = 1.3


def _gil_bound(p: Point, mostly_cpu: bool) -> bool:
    """Threads on a GIL build, on work that only computes, that kept about one core busy."""
    s = p.summary
    return (
        mostly_cpu
        and p.candidate.model in ("threads", "to-thread")
        and s.gil_enabled is True
        and s.parallelism < GIL_RELEASED_PARALLELISM
    )


# -- the text report -------------------------------------------------------------------


def report_lines(advice: Advice) -> list[str]:
    """The verdict in words: the answer first, then the evidence and the reasons."""
    lines = [advice.answer, ""]
    probe = advice.probe
    nature = (
        "CPU-bound"
        if advice.mostly_cpu
        else "computing and waiting"
        if advice.cpu_bound
        else "mostly waiting"
    )
    lines.append(
        f"Your task: {advice.task}, {nature} (wants a CPU {advice.on_cpu:.0%} of its time), "
        f"{advice.tasks} tasks per run, Python {advice.python}"
        + (
            " (GIL on)"
            if advice.gil_enabled
            else " (free-threaded)"
            if advice.gil_enabled is False
            else ""
        )
    )
    if probe is not None:
        mem = f", allocates {fmt_size(probe.memory)} a call" if probe.memory else ""
        kind = "a coroutine function" if probe.coroutine else "a plain function"
        lines.append(
            f"One call: {fmt_s(probe.call_wall_s)} wall, {fmt_s(probe.call_cpu_s)} CPU, "
            f"{kind}{mem}; arguments {fmt_size(probe.args_bytes)} and result "
            f"{fmt_size(probe.result_bytes)} pickled, {fmt_s(probe.ship_s)} to ship through a pipe"
        )
    return lines


def table_rows(advice: Advice) -> list[tuple[str, ...]]:
    """(model, workers, throughput, speedup, efficiency, on-CPU, memory, ±) for each run."""
    rows: list[tuple[str, ...]] = []
    for r in advice.rows():
        memory = fmt_size(r["peak_memory"]).replace(".0 ", " ") if r["peak_memory"] else "-"
        if len(memory) > 7:
            number, unit = memory.split()
            memory = f"{float(number):.0f} {unit}"
        spread = f"±{r['spread']:.0%}" if r["spread"] is not None else ""
        wall = fmt_s(r["wall_s"]) + (" *" if r["pickling_s"] else "")
        rows.append(
            (
                r["label"],
                str(r["workers"]),
                wall,
                f"{r['throughput']:,.1f}/s",
                f"{r['speedup']:.2f}×",
                f"{r['efficiency']:.0%}",
                f"{r['on_cpu_fraction']:.0%}",
                memory,
                spread,
            )
        )
    return rows


TABLE_HEADER = ("model", "n", "wall", "tasks/s", "speedup", "effic.", "on-CPU", "memory", "±")


def closing_lines(advice: Advice) -> list[str]:
    lines = []
    if any(r["pickling_s"] for r in advice.rows()):
        lines.append(
            "* wall time plus the pickling a process pool would add: concviz's runs send a "
            "task number, your pool would send your arguments (measured per call above)"
        )
    tried = max(p.workers for p in advice.points if p.candidate == advice.best.candidate)
    if advice.knee is not None:
        lines.append(f"Knee: {advice.best.candidate.label} stopped gaining past × {advice.knee}.")
    elif tried > 1:
        lines.append(
            f"No knee: {advice.best.candidate.label} kept gaining up to × {tried}, the most tried."
        )
    if advice.losses:
        lines.append("The others:")
        lines += [f"  {loss}" for loss in advice.losses]
    if advice.machine:
        lines.append(advice.machine)
    cut = " (budget reached: the largest worker counts were not tried)" if advice.cut_short else ""
    lines.append(
        f"{len(advice.points)} configurations, {advice.runs} runs, measured in "
        f"{advice.elapsed_s:.0f} s{cut}."
    )
    return lines


def advice_table(advice: Advice, width: int = 100) -> Table:
    """The evidence as a Rich table (the command line's); narrow: the spread, then tasks/s go."""
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title="evidence (median runs)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    rows = table_rows(advice)
    keep = list(range(len(TABLE_HEADER)))
    if width < 90 or not any(row[-1] for row in rows):
        keep.remove(len(TABLE_HEADER) - 1)
    if width < 80:
        keep.remove(TABLE_HEADER.index("tasks/s"))
    for i in keep:
        table.add_column(TABLE_HEADER[i], justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table
