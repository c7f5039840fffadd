"""Several runs compared: models side by side, and one model swept over worker counts.

Plain Python (no terminal): the command line and the dashboard both use it.
Runs happen one after another, never at once, so they never compete for cores:
:func:`run_series` is that loop, and a :class:`SeriesListener` is how the
command line's progress bars and the dashboard's screens hear of it. The
analysis (speedup, efficiency, an Amdahl's-law fit, where adding workers stops
helping) is pure and unit-tested.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .findings import session_summary
from .models import CATALOG as MODELS
from .observer.aggregate import RunAggregate, Summary
from .observer.interpreters import InterpreterError, probe, resolve_name, unavailable_reason
from .observer.launch import EarlyRunner
from .observer.session import LocalHttpServer, RunSession, SessionError
from .observer.trace import write_trace
from .runner.spec import START_METHODS, RunSpec, SpecError
from .workloads import CATALOG as WORKLOADS


@dataclass(frozen=True)
class Variant:
    """One entry of a comparison: a model, optionally with a start method and an interpreter."""

    model: str
    python: str | None = None
    label: str = ""
    start_method: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.model


def parse_variants(text: str, default_python: str | None = None) -> list[Variant]:
    """``"threads,processes:spawn,threads@/usr/bin/python3.13t"`` → variants.

    Bad entries raise SpecError.
    """
    variants = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        head, _, at = item.partition("@")
        model, _, method = head.strip().partition(":")
        model = model.strip()
        method = method.strip()
        if method and method not in START_METHODS:
            choices = ", ".join(START_METHODS)
            raise SpecError(f"unknown start method {method!r} in --models (choose from {choices})")
        if model not in MODELS:
            raise SpecError(
                f"unknown model {model!r} in --models (choose from {', '.join(MODELS)})"
            )
        python = at.strip() or None
        if python is not None:
            try:
                interp = probe(resolve_name(python))
            except InterpreterError as exc:
                raise SpecError(str(exc).replace("--python", f"--models {item}:")) from None
            reason = MODELS[model].unavailable(interp.version)
            if reason:
                raise SpecError(reason)
            label = f"{head.strip()}@{interp.short}"
            variants.append(Variant(model, interp.path, label, method or None))
        else:
            check_available(model, default_python)
            variants.append(Variant(model, default_python, head.strip(), method or None))
    if not variants:
        raise SpecError("--models needs at least one model")
    return variants


def check_available(model: str, python: str | None) -> None:
    """Refuses, up front, a model that the chosen interpreter cannot run."""
    reason = unavailable_reason(MODELS[model], python)
    if reason:
        raise SpecError(reason)


@dataclass
class RunResult:
    label: str
    python: str | None
    summary: Summary
    #: The run's aggregate, kept for drawing (timelines stacked on one scale).
    aggregate: RunAggregate | None = None
    #: Every run's wall time, in the order they ran (``--repeat``: ``summary`` is
    #: the median run's); empty for a run not gathered by :func:`median_run`.
    walls: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, **self.summary.as_dict()}

    @property
    def spread(self) -> float | None:
        return wall_spread(self.walls, self.summary.wall_s)


def wall_spread(walls: Sequence[float], median: float) -> float | None:
    """Half the range of the wall times, over the median's ("±3 %"); None: one run."""
    if len(walls) < 2 or median <= 0:
        return None
    return (max(walls) - min(walls)) / 2 / median


def run_order(entries: int, repeats: int) -> list[tuple[int, int]]:
    """(round, entry) in the order a repeated series runs them: rounds alternate direction.

    A machine that drifts (a neighbour starts, the CPU warms) then slows the
    first and the last entries alike instead of always the same one.
    """
    forward = list(range(entries))
    return [(r, i) for r in range(repeats) for i in (forward if r % 2 == 0 else forward[::-1])]


def median_run(runs: Sequence[RunResult]) -> RunResult:
    """The run of median wall time (the lower of the two middle ones for an even count).

    A real run rather than averaged figures: every figure shown then comes from
    one and the same run, and the spread says how far the others were.
    """
    ranked = sorted(runs, key=lambda r: r.summary.wall_s)
    middle = ranked[(len(ranked) - 1) // 2]
    return replace(middle, walls=[r.summary.wall_s for r in runs])


def needs_server(workload: str) -> bool:
    return WORKLOADS[workload].needs_server


# -- running a series ------------------------------------------------------------------

#: One entry of a series: its label, what it runs, and on which interpreter (None: this one).
SeriesEntry = tuple[str, RunSpec, str | None]


@dataclass(frozen=True)
class SeriesRun:
    """One run of a series, as :class:`SeriesListener` hears of it."""

    #: The entry's index in the series, and which of its repeats this is (from 0).
    index: int
    round: int
    #: Which run of the series this is (from 1), of ``total``.
    position: int
    total: int
    label: str
    spec: RunSpec
    python: str | None
    session: RunSession
    #: (When finished) stopped or interrupted before its end.
    cut_short: bool = False
    #: (When finished) counted in the entry's result: a cut-short run only when
    #: the entry has no other.
    kept: bool = True


class SeriesListener:
    """What :func:`run_series` tells whoever shows it; override what you need.

    Every method is called from the thread that runs the series (the dashboard
    runs it in a worker thread, off the UI's).
    """

    def stopping(self) -> bool:
        """Asked every 0.1 s: True stops the run under way and ends the series."""
        return False

    def started(self, run: SeriesRun) -> None:
        """A run is about to start (its session is not started yet)."""

    def waiting(self, run: SeriesRun) -> None:
        """Every 0.1 s while a run goes."""

    def finished(self, run: SeriesRun, summary: Summary) -> None:
        """A run ended (its session is still open: its aggregate can be read)."""

    def failed(self, run: SeriesRun, error: SessionError) -> None:
        """A run did not start. By default that ends the series (the error propagates);
        a listener that returns instead has that entry's other runs skipped."""
        raise error


@dataclass(frozen=True)
class SeriesOutcome:
    #: One per entry that ran at least once, in the entries' order: its median run.
    results: list[RunResult]
    #: Stopped (or Ctrl+C) before the last run ended.
    interrupted: bool


def run_series(
    entries: Sequence[SeriesEntry],
    listener: SeriesListener | None = None,
    repeats: int = 1,
    *,
    trace_dir: str | None = None,
    track_bins: bool = False,
    http: LocalHttpServer | None = None,
) -> SeriesOutcome:
    """Runs the entries one after another, each ``repeats`` times (see :func:`run_order`).

    Each entry's result is its median run (:func:`median_run`). Stopping (the
    listener's :meth:`~SeriesListener.stopping`, or Ctrl+C) stops the run under
    way and ends the series; that cut-short run counts only for an entry that
    has no other. With ``trace_dir`` every whole run's Perfetto trace is written
    there. The runs whose workload needs one get a local HTTP server: ``http``,
    or one of the series' own.
    """
    listener = listener or SeriesListener()
    order = run_order(len(entries), repeats)
    runs: list[list[RunResult]] = [[] for _ in entries]
    failed: set[int] = set()
    interrupted = False
    own_http = None
    #: The next run's runner, started as the run before it ended (see EarlyRunner).
    ahead: EarlyRunner | None = None
    if http is None and any(needs_server(e[1].workload) for e in entries):
        http = own_http = LocalHttpServer()
    try:
        for position, (round_, i) in enumerate(order, 1):
            if listener.stopping():
                interrupted = True
                break
            if i in failed:
                continue
            label, spec, python = entries[i]
            session = RunSession(
                spec,
                python=python,
                http=http,
                keep_all_spans=trace_dir is not None,
                track_bins=track_bins,
                early=ahead,  # the session discards it if it is another interpreter's
            )
            ahead = None
            run = SeriesRun(i, round_, position, len(order), label, spec, python, session)
            try:
                listener.started(run)
                try:
                    session.start()
                except SessionError as exc:
                    failed.add(i)
                    listener.failed(run, exc)
                    continue
                cut_short = _wait(session, run, listener)
                if not cut_short:
                    # The next run's interpreter starts while this one's figures are made:
                    # this run is over (its runner has exited), the next has not begun.
                    ahead = _runner_for_next(entries, order[position:], failed)
                summary = session_summary(session)
                run = replace(run, cut_short=cut_short, kept=not (cut_short and runs[i]))
                if run.kept:
                    runs[i].append(RunResult(label, python, summary))
                if trace_dir is not None and not cut_short:
                    safe = label.replace("/", "_").replace("@", "-at-")
                    run_no = f"-run{round_ + 1}" if repeats > 1 else ""
                    with session.lock:
                        write_trace(
                            session.aggregate,
                            os.path.join(trace_dir, f"{i:02d}-{safe}{run_no}.json"),
                            summary,
                        )
                listener.finished(run, summary)
            finally:
                session.close()
            if cut_short:
                interrupted = True
                break
    finally:
        if ahead is not None:
            ahead.discard()
        if own_http is not None:
            own_http.close()
    return SeriesOutcome([median_run(each) for each in runs if each], interrupted)


def _runner_for_next(
    entries: Sequence[SeriesEntry], rest: Sequence[tuple[int, int]], failed: set[int]
) -> EarlyRunner | None:
    """A runner started now for the next entry of ``rest`` that will run (None: none left)."""
    for _round, i in rest:
        if i not in failed:
            return EarlyRunner(entries[i][2] or sys.executable)
    return None


def _wait(session: RunSession, run: SeriesRun, listener: SeriesListener) -> bool:
    """Waits for the run's end; whether it was cut short (stopped, or Ctrl+C)."""
    stopped = False
    try:
        while not session.wait(0.1):
            if not stopped and listener.stopping():
                stopped = True
                session.stop(grace=0.6)
            listener.waiting(run)
    except KeyboardInterrupt:
        session.stop(grace=0.6)
        return True
    return stopped or listener.stopping()


# -- compare ------------------------------------------------------------------------

#: A comparison's figures per run, in the order the tables show them.
FIGURES = ("wall", "speedup", "parallel", "on-CPU", "wait", "queue", "memory", "per task")
#: Every column a comparison can have beside the model's: what a scenario's
#: ``focus`` may name ("start": the worker processes' start-up).
COLUMNS = (*FIGURES, "start")


@dataclass(frozen=True)
class CompareRow:
    label: str
    summary: Summary
    speedup: float
    #: See :attr:`RunResult.walls`.
    walls: tuple[float, ...] = ()

    @property
    def spread(self) -> float | None:
        return wall_spread(self.walls, self.summary.wall_s)


def baseline_index(labels: Sequence[str]) -> int:
    """Speedups are against sequential when it is there, else the first entry."""
    for i, label in enumerate(labels):
        if label.split("@")[0] == "sequential":
            return i
    return 0


def speedups(results: Sequence[RunResult]) -> list[CompareRow]:
    if not results:
        return []
    base = results[baseline_index([r.label for r in results])].summary.wall_s
    return [
        CompareRow(
            r.label,
            r.summary,
            base / r.summary.wall_s if r.summary.wall_s > 0 else 0.0,
            tuple(r.walls),
        )
        for r in results
    ]


# -- sweep ----------------------------------------------------------------------------


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SpecError(
            f"--workers must be a comma-separated list of counts, got {text!r}"
        ) from None
    if not counts:
        raise SpecError("--workers needs at least one count")
    if any(c < 1 for c in counts):
        raise SpecError(f"worker counts must be at least 1, got {text!r}")
    return sorted(set(counts))


@dataclass(frozen=True)
class SweepPoint:
    workers: int
    wall_s: float
    speedup: float
    efficiency: float
    parallelism: float
    #: Adding workers from the previous point made things no faster (or slower).
    stalled: bool
    #: The machine ceiling: the speedup this many plain processes get on the bare
    #: CPU kernel (None: not measured). What the hardware allows, not the model.
    ceiling: float | None = None


@dataclass(frozen=True)
class SweepAnalysis:
    points: list[SweepPoint]
    #: Amdahl's law fit: the share of the work that does not parallelise.
    serial_fraction: float
    #: The speedup Amdahl's law predicts at each count, with that fraction.
    amdahl: list[float]
    #: The worker count after which more workers stop helping (None: they kept helping).
    knee: int | None
    cores: int
    #: The fit counts at most ``cores`` workers at work: past the cores the
    #: hardware, not serial code, is what stopped the speedup.
    core_limited: bool = False
    #: The fit counts each point's workers as its machine ceiling (what that many
    #: bare processes reach): the hardware explains the speedups better.
    machine_limited: bool = False

    def fit_text(self) -> str:
        """The fit in words, saying when the cores, not the code, are the limit."""
        text = f"Amdahl fit: serial fraction ≈ {self.serial_fraction:.0%}"
        if self.machine_limited:
            text += " (against the machine ceiling: the hardware is the limit)"
        elif self.core_limited:
            text += f" (counting at most {self.cores} workers: the cores are the limit)"
        return text


#: A step that adds less than 10 % speedup counts as "no faster": below that the
#: difference is within run-to-run noise on a shared machine.
STALL_GAIN = 1.10


def amdahl_speedup(n: float, serial: float) -> float:
    return 1.0 / (serial + (1.0 - serial) / n)


def fit_serial_fraction(counts: Sequence[float], speedup: Sequence[float]) -> float:
    """Least-squares fit of Amdahl's law, on a fine grid (robust, no dependencies)."""
    return _fit(counts, speedup)[0]


def _fit(counts: Sequence[float], speedup: Sequence[float]) -> tuple[float, float]:
    """The best serial fraction and its squared error."""
    usable = [(n, s) for n, s in zip(counts, speedup, strict=True) if s > 0]
    if len(usable) < 2:
        return 0.0, 0.0
    best, best_err = 0.0, math.inf
    for i in range(1001):
        f = i / 1000
        err = sum((amdahl_speedup(n, f) - s) ** 2 for n, s in usable)
        if err < best_err:
            best, best_err = f, err
    return best, best_err


#: Past the cores, a sweep counts as held back by them if its workers kept at
#: least this share of the cores busy (a GIL keeps them at one core: the code).
CORE_BUSY_SHARE = 0.75


def analyse_sweep(
    counts: Sequence[int],
    walls: Sequence[float],
    parallelism: Sequence[float],
    cores: int | None = None,
    ceilings: Mapping[int, float | None] | None = None,
) -> SweepAnalysis:
    """Speedup and efficiency against the smallest count, scaled to one worker.

    With counts starting at 1 this is the textbook definition; if the sweep
    starts higher, speedups are relative to the first count times that count,
    which assumes it scaled ideally up to there (stated in the output).
    """
    first_n, first_wall = counts[0], walls[0]
    points: list[SweepPoint] = []
    best = 0.0
    for n, wall, par in zip(counts, walls, parallelism, strict=True):
        s = first_wall / wall * first_n if wall > 0 else 0.0
        stalled = bool(points) and s < best * STALL_GAIN
        best = max(best, s)
        ceiling = (ceilings or {}).get(n)
        points.append(SweepPoint(n, wall, s, s / n, par, stalled, ceiling))
    n_cores = cores or os.cpu_count() or 1
    speeds = [p.speedup for p in points]
    serial, err = _fit(counts, speeds)
    # Amdahl's law assumes a core per worker. Where workers outnumber the cores, fit
    # with the workers that can run at once too: if that explains the speedups as
    # well (and the cores were kept busy) or better, the cores are the limit.
    capped: list[float] = [min(n, n_cores) for n in counts]
    core_limited = False
    if any(n > n_cores for n in counts):
        serial_capped, err_capped = _fit(capped, speeds)
        busy = max(parallelism, default=0.0) >= CORE_BUSY_SHARE * n_cores
        if err_capped < err * 0.9 or (err_capped <= err and busy):
            serial, err, core_limited = serial_capped, err_capped, True
    # Where the machine ceiling was measured, the workers' real worth is that.
    machine = [(ceilings or {}).get(n) for n in counts]
    machine_limited = False
    if all(m is not None for m in machine) and any(n > 1 for n in counts):
        reach = [max(1.0, m or 1.0) for m in machine]
        serial_machine, err_machine = _fit(reach, speeds)
        if err_machine < err * 0.9:
            serial, machine_limited, capped = serial_machine, True, reach
            core_limited = False
    knee = None
    for previous, point in itertools.pairwise(points):
        if point.stalled:
            knee = previous.workers
            break
    return SweepAnalysis(
        points=points,
        serial_fraction=serial,
        amdahl=[
            amdahl_speedup(n, serial)
            for n in (capped if core_limited or machine_limited else counts)
        ],
        knee=knee,
        cores=n_cores,
        core_limited=core_limited,
        machine_limited=machine_limited,
    )
