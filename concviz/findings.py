"""Findings: the concurrency pitfalls a run's own figures show, named with the figure.

A pure function of a run's :class:`~concviz.observer.aggregate.Summary` and a few
figures read off its aggregate (:class:`Shape`): plain Python, no terminal, so
the command line's JSON, the dashboard's findings line and the tests all get
the same list. Each finding carries the measured figure that triggered it, a
one-line suggestion, and the shipped scenario that demonstrates it.

The thresholds come from the shipped scenarios, run on this project's busy
shared 2-core machine (``python tools/finding_figures.py`` prints the figures;
the ranges are quoted beside each threshold). Each sits between what the
scenario that shows the pitfall measured and what every healthy one did, with
room on both sides for a neighbour's load.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from .units import fmt_seconds

if TYPE_CHECKING:
    from .observer.aggregate import RunAggregate, Summary
    from .observer.session import RunSession

#: Model names whose worker lanes are OS threads sharing one interpreter.
THREAD_MODELS = frozenset(
    {"threads", "thread-per-task", "thread-queue", "to-thread", "thread-timeout"}
)

# -- thresholds (each with the figures it was set from; see the module docstring) --
# Measured with tools/finding_figures.py, three passes on the shared 2-core machine at
# load averages of 2.5 to 7 (other people's runs): the ranges below span all three.

#: GIL-bound threads: worker CPU over wall time at most about one core, and not the
#: near-zero of threads that wait on I/O. The gil scenario's 4 threads: 0.34-0.91 (0.91
#: at load 2.5, 0.34 at load 7: the neighbours take the core); I/O threads: 0.02-0.11.
GIL_PARALLELISM = (0.25, 1.4)
#: ...and their tasks blocked (neither on a CPU nor waiting for one) this share of
#: their time at least: the gil scenario's 4 threads 0.32-0.68.
GIL_BLOCKED = 0.3
#: Oversubscription: tasks runnable but without a core this share of their time, with
#: more workers in flight than cores. 4 processes on 2 cores: 0.50-0.90; 8 on 2:
#: 0.78-0.94. (2 processes on 2 cores under the neighbours' load: up to 0.79, which is
#: why the workers must outnumber the cores.)
CORE_WAIT = 0.3
#: Event loop blocked: coroutines held the loop, with others in flight, this share of
#: the wall time. blocking-loop (every 5th of 20 sleeps in time.sleep): 0.60 in every
#: pass; every healthy asyncio run (sleep, http, semaphore, timeouts, retries, CPU
#: tasks, gather/TaskGroup, back-pressure): 0.00.
LOOP_HELD_SHARE = 0.2
#: ...of tasks that compute at all: a spawned pool's sleeping tasks read a core wait of
#: 0.84-1.00 (its workers' start-up) with 0.00 on-CPU; 8 CPU-bound processes on 2 cores
#: under load were on a CPU 0.05-0.23 of their time.
OVERSUBSCRIBED_ON_CPU = 0.03
OVERSUBSCRIBED_BLOCKED = 0.3
#: Start-up dominates: the median worker process came up this share of the wall time
#: into the run. startup-cost under spawn/forkserver: 0.86-0.99; main-guard under spawn:
#: 0.72-0.98; healthy process runs (gil, oversubscribed, shared-memory, main-guard fork):
#: 0.01-0.13; memory-per-worker's spawned pool (1 s tasks): 0.30-0.52 under load.
STARTUP_SHARE = 0.6
#: ...or a process pool's workers had a task to run under this share of the run (the
#: rest went to start-up, pickling and the pipe). startup-cost under fork: 0.01-0.04
#: (its start-up only 0.17-0.44 of the run); main-guard spawn 0.07-0.24; healthy
#: process runs: 0.45 (memory-per-worker spawned, under load) to 0.97.
POOL_BUSY = 0.25
#: Back-pressure: the queue at its maxsize in this share of the samples, and the
#: producer blocked this share of the wall time. backpressure: full 0.67-0.88 of the
#: samples; no other shipped run was ever full.
PINNED_SHARE = 0.5
PRODUCER_WAIT_SHARE = 0.3
#: Starvation: a queue model's consumers busy under this share of the run while
#: the queue stood empty in most samples (the shipped queue runs: busy 0.80-0.97).
STARVED_BUSY = 0.5
#: Serialised by a lock: workers that lock (--lock) and could run in parallel
#: (processes, or a build without the GIL) kept at most this share of the cores they
#: could use busy, blocked this share of their time at least. No shipped scenario
#: collapses that far here: shared-memory with get_lock() blocked 0.03-0.25 (without
#: the lock 0.02-0.14); the race with a Lock on python3.13t kept 1.75 cores busy,
#: blocked 0.06: each holds the lock for one increment only.
LOCK_PARALLELISM = 0.6
LOCK_BLOCKED = 0.3
#: Stragglers: the last task alone held the run this share of its wall time, and it
#: took this many times the median task. Healthy shipped runs: tail 0.00-0.20.
TAIL_SHARE = 0.25
TAIL_TASK_RATIO = 2.0


@dataclass(frozen=True)
class Finding:
    """A pitfall the run's own figures show."""

    #: Stable identifier ("gil-bound", "oversubscribed", ...): the JSON's key.
    code: str
    #: What was seen, in a few words.
    title: str
    #: The measured figure that triggered it, worded.
    figure: str
    #: That figure in a few words (the dashboard's summary border).
    short: str
    #: What to do about it, in one line.
    suggestion: str
    #: The shipped scenario that demonstrates it (``concviz scenario NAME``); "" if none.
    scenario: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.title}: {self.figure}; {self.suggestion}"


@dataclass(frozen=True)
class Shape:
    """What the findings need beyond the summary, read off the aggregate."""

    #: Lane kinds that ran tasks ("thread", "process", "interpreter", "slot").
    lane_kinds: frozenset[str] = frozenset()
    #: Time coroutine tasks held their event loop (ran from start to finish without
    #: yielding) while other tasks were in flight (s), and the longest such hold.
    loop_held_s: float = 0.0
    longest_hold_s: float = 0.0
    #: Median task wall time (s; None: no task finished).
    median_task_s: float | None = None
    #: Seconds from the second-to-last lane's last finish to the last lane's.
    tail_s: float = 0.0
    #: Wall time of the task that finished last (s).
    last_task_s: float = 0.0
    #: A real queue's maxsize (0: unbounded or not a queue model).
    queue_size: int = 0
    #: Share of the run's samples that saw the queue at its maxsize, and empty.
    queue_full_share: float = 0.0
    queue_empty_share: float = 0.0
    #: The model reports a real queue (thread-queue, async-queue).
    real_queue: bool = False
    #: Workers' busy time over (lanes × wall): how much of the run they had work.
    busy_share: float = 0.0
    #: The workload's nature: "cpu", "io", "mixed" or "custom".
    nature: str = ""
    #: The workload locks (--lock).
    lock: bool = False
    #: The workload's tasks share state in memory: threads are its only option.
    threads_only: bool = False


#: Spans looked at per lane (newest first) for the task-time figures.
SPANS_READ = 512


def shape_of(agg: RunAggregate, wall_s: float) -> Shape:
    """The figures :func:`findings` needs from a run's aggregate (caller holds its lock)."""
    from .workloads import CATALOG as WORKLOADS  # noqa: PLC0415

    spec = agg.spec
    kinds: set[str] = set()
    durations: list[int] = []
    #: Per event-loop thread: (time, 0 finish / 1 start, task) of its coroutine tasks.
    loop_events: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    last_finishes: list[tuple[int, int]] = []  # (finish, that task's wall)
    for lane in agg.lane_list:
        if not lane.done and not lane.failed:
            continue
        kinds.add(agg.lane_kind(lane))
        newest: tuple[int, int] | None = None
        for n, span in enumerate(reversed(lane.spans)):
            if n >= SPANS_READ:
                break
            _task, start, end, _cpu, status, part = span
            if part:
                continue
            if newest is None:
                newest = (end, end - start)
            if status == 0:
                durations.append(end - start)
            if lane.coroutine:
                events = loop_events.setdefault((lane.pid, lane.tid), [])
                events += ((start, 1, _task), (end, 0, _task))
        if newest is not None:
            last_finishes.append(newest)
    last_finishes.sort()
    held, longest = _loop_held(loop_events.values())
    tail = last = 0
    if len(last_finishes) >= 2:
        tail = last_finishes[-1][0] - last_finishes[-2][0]
        last = last_finishes[-1][1]
    wall = wall_s * 1e9
    workload = WORKLOADS.get(str(spec.get("workload", "")))
    queue_size = int(spec.get("queue_size") or 0) if agg.real_queue else 0
    full = empty = 0
    samples = [
        s
        for s in agg.samples
        if agg.run_start_ns is not None
        and s.t_ns >= agg.run_start_ns
        and (agg.run_end_ns is None or s.t_ns <= agg.run_end_ns)
    ]
    for s in samples:
        if queue_size and s.queue_depth >= queue_size:
            full += 1
        if s.queue_depth == 0:
            empty += 1
    lanes = sum(1 for lane in agg.lane_list if lane.done or lane.failed)
    return Shape(
        lane_kinds=frozenset(kinds),
        loop_held_s=held / 1e9,
        longest_hold_s=longest / 1e9,
        median_task_s=statistics.median(durations) / 1e9 if durations else None,
        tail_s=tail / 1e9,
        last_task_s=last / 1e9,
        queue_size=queue_size,
        queue_full_share=full / len(samples) if samples else 0.0,
        queue_empty_share=empty / len(samples) if samples else 0.0,
        real_queue=agg.real_queue,
        busy_share=agg.busy_ns / (lanes * wall) if lanes and wall > 0 else 0.0,
        nature=workload.nature if workload is not None else "",
        lock=bool(spec.get("lock")),
        threads_only=workload is not None and workload.threads_only,
    )


#: A coroutine step shorter than this is ordinary work, not a blocked loop.
HOLD_MIN_NS = 5_000_000


def _loop_held(threads: Iterable[list[tuple[int, int, int]]]) -> tuple[int, int]:
    """ns coroutine tasks held their loop while others were in flight, and the longest hold.

    A task whose start and finish are consecutive events on its loop's thread
    never gave the loop back (no other task started or finished meanwhile); if
    other tasks were in flight all that time, they could not run: the loop was
    blocked (``time.sleep`` or CPU work in a coroutine).
    """
    held = longest = 0
    for events in threads:
        events.sort()
        in_flight = 0
        for (t0, kind0, task0), (t1, kind1, task1) in itertools.pairwise(events):
            in_flight += 1 if kind0 else -1
            if kind0 == 1 and kind1 == 0 and task0 == task1 and in_flight >= 2:
                d = t1 - t0
                if d >= HOLD_MIN_NS:
                    held += d
                    longest = max(longest, d)
    return held, longest


def _pct(x: float) -> str:
    return f"{x:.0%}"


def findings(s: Summary, shape: Shape) -> list[Finding]:
    """Every pitfall the figures show, most consequential first (empty: none)."""
    found: list[Finding] = []
    finished = s.completed + s.failed
    if not finished or s.wall_s <= 0:
        return found
    wait = s.core_wait_fraction or 0.0
    blocked = max(0.0, 1.0 - s.on_cpu_fraction - wait)
    in_flight = max(s.peak_in_flight, 1)

    gil_threads = (
        s.gil_enabled is True
        and s.model in THREAD_MODELS
        and shape.lane_kinds == {"thread"}
        and in_flight >= 2
    )
    if (
        gil_threads
        and not shape.threads_only
        and GIL_PARALLELISM[0] <= s.parallelism <= GIL_PARALLELISM[1]
        and blocked >= GIL_BLOCKED
    ):
        found.append(
            Finding(
                "gil-bound",
                "GIL-bound threads",
                f"{in_flight} threads kept {s.parallelism:.2f} cores busy; "
                f"their tasks were blocked {_pct(blocked)} of their time (the GIL)",
                f"{s.parallelism:.2f} cores, {_pct(blocked)} blocked",
                "CPU-bound Python: use processes, or a free-threaded build (python3.13t)",
                "gil",
            )
        )

    if (
        wait >= CORE_WAIT
        and in_flight > s.cores > 0
        and not gil_threads  # one runs at a time: the GIL, not the cores, is what they wait for
        and s.on_cpu_fraction >= OVERSUBSCRIBED_ON_CPU
        and blocked <= OVERSUBSCRIBED_BLOCKED
    ):
        found.append(
            Finding(
                "oversubscribed",
                "More workers than cores",
                f"{in_flight} workers on {s.cores} cores waited for a core "
                f"{_pct(wait)} of their task time",
                f"{_pct(wait)} waiting for a core",
                "about one CPU-bound worker per core: more only add memory and switches",
                "oversubscribed",
            )
        )

    if shape.loop_held_s >= LOOP_HELD_SHARE * s.wall_s:
        found.append(
            Finding(
                "loop-blocked",
                "Event loop blocked",
                f"coroutines held the loop {fmt_seconds(shape.loop_held_s)} of "
                f"{fmt_seconds(s.wall_s)} while others waited (longest "
                f"{fmt_seconds(shape.longest_hold_s)} without an await)",
                f"held {fmt_seconds(shape.loop_held_s)} of {fmt_seconds(s.wall_s)}",
                "await instead of blocking; push blocking calls out with asyncio.to_thread",
                "blocking-loop",
            )
        )

    startup = s.worker_startup_s
    processes = bool(shape.lane_kinds) and shape.lane_kinds <= {"process", "interpreter"}
    slow_start = startup is not None and startup >= STARTUP_SHARE * s.wall_s
    idle_pool = processes and s.status == "done" and shape.busy_share < POOL_BUSY
    if slow_start or idle_pool:
        came_up = (
            f"worker processes came up {fmt_seconds(startup)} into a {fmt_seconds(s.wall_s)} run; "
            if startup is not None
            else ""
        )
        found.append(
            Finding(
                "startup",
                "Start-up and hand-over dominate",
                f"{came_up}they had a task to run {_pct(shape.busy_share)} of it",
                f"workers busy {_pct(shape.busy_share)}",
                "give each worker more work per task (batch, chunksize), start the pool once "
                "and reuse it, or stay in one process",
                "startup-cost",
            )
        )

    if (
        shape.queue_size
        and shape.queue_full_share >= PINNED_SHARE
        and s.producer_wait_s >= PRODUCER_WAIT_SHARE * s.wall_s
    ):
        found.append(
            Finding(
                "back-pressure",
                "Back-pressure",
                f"the queue sat at its maxsize {shape.queue_size} in "
                f"{_pct(shape.queue_full_share)} of the samples; the producer was blocked "
                f"{fmt_seconds(s.producer_wait_s)} of {fmt_seconds(s.wall_s)}",
                f"full {_pct(shape.queue_full_share)} of the time",
                "the consumers are the bottleneck: add consumers or make each task cheaper "
                "(the bound is doing its job)",
                "backpressure",
            )
        )
    if (
        shape.real_queue
        and shape.busy_share < STARVED_BUSY
        and shape.queue_empty_share >= PINNED_SHARE
    ):
        found.append(
            Finding(
                "starvation",
                "Consumers starved",
                f"the queue stood empty in {_pct(shape.queue_empty_share)} of the samples; "
                f"the consumers had work {_pct(shape.busy_share)} of the run",
                f"consumers busy {_pct(shape.busy_share)}",
                "the producer is the bottleneck: fewer consumers, or a faster producer",
                "",
            )
        )

    parallel_capable = (
        shape.lane_kinds <= {"process", "interpreter"} and bool(shape.lane_kinds)
    ) or (s.gil_enabled is False and shape.lane_kinds == {"thread"})
    could = min(in_flight, s.cores or in_flight)
    if (
        shape.lock
        and parallel_capable
        and in_flight >= 2
        and s.parallelism <= LOCK_PARALLELISM * could
        and blocked >= LOCK_BLOCKED
    ):
        found.append(
            Finding(
                "lock-serialised",
                "Serialised by a lock",
                f"{in_flight} workers that could run in parallel kept {s.parallelism:.2f} "
                f"cores busy; their tasks were blocked {_pct(blocked)} of their time",
                f"{s.parallelism:.2f} cores, {_pct(blocked)} blocked",
                "hold the lock for less (batch the updates, then add them once) or share less",
                "shared-memory",
            )
        )

    if (
        s.status == "done"
        and not s.cancelled
        and shape.median_task_s
        and shape.tail_s >= TAIL_SHARE * s.wall_s
        and shape.last_task_s >= TAIL_TASK_RATIO * shape.median_task_s
    ):
        found.append(
            Finding(
                "stragglers",
                "A straggler holds the run",
                f"the last task ran alone for {fmt_seconds(shape.tail_s)} of "
                f"{fmt_seconds(s.wall_s)}; it took {fmt_seconds(shape.last_task_s)}, "
                f"the median task {fmt_seconds(shape.median_task_s)}",
                f"alone {fmt_seconds(shape.tail_s)} of {fmt_seconds(s.wall_s)}",
                "split big tasks, or hand out the biggest first",
                "",
            )
        )

    result: dict[str, Any] = s.result
    lost = result.get("lost_updates")
    if isinstance(lost, int) and lost > 0:
        found.append(
            Finding(
                "lost-updates",
                "Lost updates (a race)",
                f"expected {_count(result.get('expected'))}, "
                f"got {_count(result.get('actual'))}: {lost:,} updates lost",
                f"{lost:,} lost",
                "guard the read-modify-write with a lock (or give each worker its own count)",
                "shared-memory" if "process" in shape.lane_kinds else "race",
            )
        )
    return found


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def findings_of(agg: RunAggregate, summary: Summary) -> list[Finding]:
    """:func:`findings` for a run's aggregate (caller holds its lock)."""
    return findings(summary, shape_of(agg, summary.wall_s))


def summarise(agg: RunAggregate, now_ns: int | None = None) -> Summary:
    """A run's summary as concviz shows it: the aggregate's figures and their findings.

    The aggregate (the observer) does not know of findings; whoever shows a
    summary (the command line, the dashboard, a series) gets it here. The
    caller holds the aggregate's lock.
    """
    summary = agg.summary(now_ns)
    return replace(summary, findings=[f.as_dict() for f in findings_of(agg, summary)])


def session_summary(session: RunSession) -> Summary:
    """:func:`summarise` for a session's run (takes the session's lock)."""
    with session.lock:
        return summarise(session.aggregate, session.now_ns())
