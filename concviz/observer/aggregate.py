"""Turns the event stream and the sampler's readings into a run model.

Plain Python with no terminal and no I/O: the reader thread feeds it records,
the sampler feeds it samples, and the command line and the dashboard read
figures from it (under the session's lock). Memory stays bounded however long
a run lasts: per-lane span rings, a ring of samples, running sums for the
summary, and capped lane and error tables.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from ..runner.protocol import RECORD, RECORD_SIZE, START_COROUTINE, START_IN_PARTS, Kind, Status
from ..runner.spec import RunSpec
from .spans import Span
from .timeline import (
    BIN_HISTORY_NS,
    BIN_NS,
    BLOCK_NS,
    BLOCK_SEALED_NS,
    FINE_BINS_MAX,
    FOLD_WORK_PER_CALL,
    SEAL_WORK_PER_CALL,
    Lane,
    busy_between,
    count_failure,
    failed_between,
    fold_lane,
    forget_before,
    seal_blocks,
    spread,
    unseal,
)

#: Samples kept (at 10 Hz, ten minutes).
SAMPLES_KEPT = 6000
#: Ticks held until the run's start event arrives (ten seconds at 10 Hz).
EARLY_TICKS_KEPT = 100
#: Lanes that have gone down are forgotten beyond this many (thread-per-task
#: runs start a thread per task; their totals stay in the summary).
DOWN_LANES_KEPT = 2048
#: Distinct error messages remembered (their total count is always kept).
ERRORS_KEPT = 50
#: The newest RECORDS frames kept for the event log (decoded only when shown).
RECENT_FRAMES = 16

_iter_records = RECORD.iter_unpack
#: Frames at least this long go to the bulk path (shorter: the loop is cheaper).
_BULK_BYTES = 192 * RECORD_SIZE
_bulk: ModuleType | None = None
_bulk_tried = False


def _bulk_module() -> ModuleType | None:
    """concviz.observer.bulk, imported on first use: NumPy's ~60 ms stay off the start-up path."""
    global _bulk, _bulk_tried
    if not _bulk_tried:
        module: ModuleType | None
        with _interrupts_noted() as interrupted:
            try:
                with _one_blas_thread():
                    from . import bulk as module  # noqa: PLC0415
            except ImportError:  # NumPy is the [fast] extra: without it, record by record
                if interrupted:  # not a missing NumPy: a Ctrl+C, made into an ImportError
                    raise KeyboardInterrupt from None
                module = None
        _bulk, _bulk_tried = module, True
        if interrupted:
            # Raised where Python could only print it ("Exception ignored in" the
            # import system's weakref callback) and the load went on: still the user's.
            raise KeyboardInterrupt
    return _bulk


@contextmanager
def _interrupts_noted() -> Iterator[list[int]]:
    """Notes each SIGINT that comes meanwhile (in the main thread, while Ctrl+C raises).

    NumPy's C start imports ``datetime`` through ``PyCapsule_Import``, which turns a
    KeyboardInterrupt raised meanwhile into an ImportError: caught as "no NumPy",
    the Ctrl+C was lost and the run went on to its end (exit 0). The handler still
    raises KeyboardInterrupt as the default one does; it also says it did.
    """
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    noted: list[int] = []
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield noted  # signals are the main thread's to handle; a custom handler stays
        return

    def note(signum: int, frame: object) -> None:
        noted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


#: The most records one task can make: queued, started and finished (or cancelled),
#: a thread of its own coming and going (thread-per-task), a CPU part drawn as a span
#: (hybrid); and two for each attempt drawn as its own bar (retry), counted apart.
_MOST_RECORDS_PER_TASK = 8
#: Besides the tasks': the run's start and end, each worker's coming and going, a few more.
_MOST_RECORDS_PER_RUN = 16
#: Runs that may make fewer records than this (most_records: an upper bound,
#: 3-5x what a run makes) stay on the record-by-record path: NumPy's import
#: (~50 ms) costs them more than the bulk path saves (~0.34 µs an event).
BULK_PAYS_RECORDS = 500_000


def most_records(spec: dict[str, Any]) -> int:
    """An upper bound on the records a run of ``spec`` makes (queue-depth samples aside).

    Queue depths are sampled once per flush (20 Hz) whatever the tasks do: they
    add one record per frame, never a frame's worth.
    """
    tasks = int(spec.get("tasks", 0))
    per_task = _MOST_RECORDS_PER_TASK + 2 * int(spec.get("attempts", 1))
    return tasks * per_task + 2 * int(spec.get("workers", 1)) + _MOST_RECORDS_PER_RUN


def load_bulk() -> None:
    """Imports the bulk path (NumPy) now: before a run, not on its first long frame.

    Mid-run, the import took ~80 ms of the event reader's time (and the GIL)
    inside the window the run is measured in; and it changes the environment
    for a moment, which must not be the moment a runner is started.
    """
    _bulk_module()


#: Read by NumPy's BLAS when it loads: OpenBLAS, or MKL, or an OpenMP build's pool.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Loads NumPy's BLAS with no thread pool, then puts the environment back.

    The observer uses no linear algebra, but OpenBLAS starts a thread per core at
    import, and it spins: ~100 ms of another core within the first half second,
    taken from the run being watched. Only this process's load sees the setting:
    the runners it starts, and their workloads, inherit the environment as it was.
    """
    saved = {name: os.environ.get(name) for name in _BLAS_THREADS}
    for name in _BLAS_THREADS:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_RUN_START = Kind.RUN_START
_RUN_END = Kind.RUN_END
_UP = Kind.WORKER_UP
_DOWN = Kind.WORKER_DOWN
_QUEUED = Kind.TASK_QUEUED
_START = Kind.TASK_START
_FINISH = Kind.TASK_FINISH
_CANCELLED = Kind.TASK_CANCELLED
_DEPTH = Kind.QUEUE_DEPTH
_DROPPED = Kind.DROPPED
_SPAN_START = Kind.SPAN_START
_SPAN_FINISH = Kind.SPAN_FINISH
_COROUTINE = START_COROUTINE
_IN_PARTS = START_IN_PARTS
_OK = Status.OK
_ERROR = Status.ERROR


#: Growth of a run's memory below which "per task" is not worked out: Python's
#: allocator takes memory from the system in arenas (256 KiB; 1 MiB from 3.13),
#: and a run of a few CPU tasks grows by a few of those whatever it does.
MEMORY_RESOLUTION = 1 << 20


@dataclass(slots=True)
class Sample:
    """One tick of the sampler (all percentages are of one core)."""

    t_ns: int
    cores: tuple[float, ...]
    #: CPU % of each observed OS thread, keyed by (pid, tid).
    threads: dict[tuple[int, int], float]
    #: Resident set size of each observed process, keyed by pid.
    rss: dict[int, int]
    queue_depth: int
    #: The observed processes' memory added up (PSS, see :mod:`.memory`); None: not read this tick.
    memory: int | None = None
    #: ns the observed threads spent runnable with no core free since the last tick
    #: (None: not measurable here).
    core_wait_ns: int | None = None
    #: % of the interval each observed thread spent runnable with no core free.
    waits: dict[tuple[int, int], float] = field(default_factory=dict)
    #: CPU ns the observing process itself (UI, event reader, sampler) used since
    #: the last tick (None: not measured, e.g. a recording made before it was).
    observer_ns: int | None = None


@dataclass(slots=True)
class TickSums:
    """The part of the sampler's ticks that overlaps the run, summed."""

    #: CPU seconds busy and in all, per core.
    core_busy: list[float] = field(default_factory=list)
    core_total: list[float] = field(default_factory=list)
    #: Run-queue wait of the workers within the run (None until measured).
    core_wait_ns: float | None = None
    #: The observer's own CPU within the run, and the sampled time it covers.
    observer_ns: float = 0.0
    observer_span_ns: float = 0.0

    def add(
        self,
        sample: Sample,
        since_ns: int,
        core_busy: Sequence[float],
        core_total: Sequence[float],
        start: int | None,
        end: int | None,
    ) -> None:
        """Adds the part of a tick covering ``since_ns``..``sample.t_ns`` within the run
        (from ``start`` to ``end``, None: not ended; an unstarted run takes none)."""
        if start is None or sample.t_ns <= since_ns:
            return
        end = end if end is not None else sample.t_ns
        overlap = min(end, sample.t_ns) - max(start, since_ns)
        if overlap <= 0:
            return
        weight = overlap / (sample.t_ns - since_ns)
        if sample.core_wait_ns is not None:
            self.core_wait_ns = (self.core_wait_ns or 0.0) + sample.core_wait_ns * weight
        if sample.observer_ns is not None:
            self.observer_ns += sample.observer_ns * weight
            self.observer_span_ns += overlap
        if not self.core_busy:
            self.core_busy = [0.0] * len(core_busy)
            self.core_total = [0.0] * len(core_total)
        for i, (b, tot) in enumerate(zip(core_busy, core_total, strict=False)):
            self.core_busy[i] += b * weight
            self.core_total[i] += tot * weight

    def copy(self) -> TickSums:
        return TickSums(
            list(self.core_busy),
            list(self.core_total),
            self.core_wait_ns,
            self.observer_ns,
            self.observer_span_ns,
        )


@dataclass(frozen=True)
class Summary:
    """The figures ``concviz run`` prints; the JSON keys are these field names."""

    model: str
    workload: str
    workers: int
    tasks: int
    status: str
    completed: int
    failed: int
    cancelled: int
    wall_s: float
    cpu_s: float
    throughput: float
    parallelism: float
    on_cpu_fraction: float
    peak_queue_depth: int
    cores: int
    core_utilisation: list[float]
    peak_rss: int
    python: str
    gil_enabled: bool | None
    events: int
    dropped_events: int
    start_method: str | None
    task_ms: float
    lanes: int
    errors: dict[str, int]
    run_error: str | None
    #: Connections the observer had to drop (corrupt or incompatible streams):
    #: what they would have sent is missing, so the figures are incomplete.
    transport_errors: list[str]
    #: Most tasks running at the same moment (a semaphore's cap shows here).
    peak_in_flight: int = 0
    #: Time the producer spent blocked handing tasks over (back-pressure).
    producer_wait_s: float = 0.0
    #: Median time from the run's start to each worker process's (or sub-interpreter's)
    #: start (None: neither).
    worker_startup_s: float | None = None
    #: What the workload or the pattern measured (the race's expected and actual count...).
    result: dict[str, Any] = field(default_factory=dict)
    #: Warnings the run's code raised ("RuntimeWarning: ... (file.py:12)": times shown).
    warnings: dict[str, int] = field(default_factory=dict)
    #: The task size in iterations, when the run was sized that way (--iterations).
    iterations: int | None = None
    #: The custom workload's function, "module:function" (None for the others).
    task: str | None = None
    #: Most memory the run's processes (runner and worker processes) took at once,
    #: sampled, in bytes (0: not measured); see :attr:`memory_measure`.
    peak_memory: int = 0
    #: The runner's own memory just before the model started (None: not measured).
    memory_at_start: int | None = None
    #: "PSS" (shared pages split between the processes that share them) or "RSS".
    memory_measure: str = ""
    #: Of the tasks' time, the share their threads were runnable but had no core
    #: (more workers than cores); None: not measurable. The rest of what is not
    #: on-CPU is waiting for the GIL, a lock or I/O.
    core_wait_fraction: float | None = None
    #: What each task cost: (peak_memory - memory_at_start) / memory_tasks.
    #: Threads' stacks, worker processes, coroutines... None: not measured, or the
    #: run grew by less than :data:`MEMORY_RESOLUTION` (then it says nothing).
    memory_per_task: float | None = None
    #: The tasks that growth is divided among: the most in flight at once, or, where
    #: the model creates every task before any runs (asyncio's TaskGroup, gather),
    #: the most alive at once, waiting ones included (:attr:`memory_tasks_basis`).
    memory_tasks: int = 0
    #: "in flight" or "alive" ("" when there is no per-task figure).
    memory_tasks_basis: str = ""
    #: Cores of CPU concviz's own process (the dashboard or ``concviz run``: its
    #: drawing, event reader and sampler) used during the run, from its CPU clock.
    #: The core figures are system-wide and include it. None: not measured.
    observer_cpu: float | None = None
    #: The pitfalls the figures show, as dicts: attached by the layer above
    #: (:func:`concviz.findings.summarise`); the aggregate's own summary has none.
    findings: list[dict[str, str]] = field(default_factory=list)
    #: The median CPU time of a completed task, in ms, over the spans kept (the
    #: latest :data:`TASK_CPU_SAMPLE` at most): what --task-ms delivered (None: no task done).
    task_cpu_ms_median: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


#: Most spans (the newest, shared among the lanes) the median task CPU is taken over.
TASK_CPU_SAMPLE = 4096


def task_cpu_ms_median(lanes: Sequence[Lane]) -> float | None:
    """The median CPU time of the newest completed tasks kept in ``lanes``' spans, in ms."""
    if not lanes:
        return None
    per_lane = max(16, TASK_CPU_SAMPLE // len(lanes))
    cpu: list[int] = []
    for lane in lanes:
        taken = 0
        for span in reversed(lane.spans):
            if taken >= per_lane:
                break
            if span[4] == _OK:
                cpu.append(span[3])
                taken += 1
    if not cpu:
        return None
    cpu.sort()
    mid = len(cpu) // 2
    ns = cpu[mid] if len(cpu) % 2 else (cpu[mid - 1] + cpu[mid]) / 2
    return ns / 1e6


def spec_iterations(spec: dict[str, Any]) -> int | None:
    """A run's --iterations, from its spec as the runner reported it (None: not set)."""
    value = spec.get("iterations")
    return value if isinstance(value, int) else None


def _count_kept(counts: Counter[str], key: str) -> None:
    """Counts ``key``; a flood of distinct messages keeps only the first ERRORS_KEPT kinds."""
    if key in counts or len(counts) < ERRORS_KEPT:
        counts[key] += 1


class RunAggregate:
    def __init__(
        self,
        spec: RunSpec | dict[str, Any] | None = None,
        keep_all_spans: bool = False,
        track_bins: bool = False,
        bulk: bool | None = None,
    ) -> None:
        #: The spec the observer started the run with: what ran, typed. None for a
        #: recording, whose spec is known only as the JSON it was saved as (``spec``).
        self.run_spec = spec if isinstance(spec, RunSpec) else None
        self.spec: dict[str, Any] = asdict(spec) if isinstance(spec, RunSpec) else dict(spec or {})
        #: Long RECORDS frames go through :mod:`concviz.observer.bulk` (False: always the
        #: loop). By default, only in a run big enough for NumPy's import to pay.
        self.bulk = bulk if bulk is not None else most_records(self.spec) >= BULK_PAYS_RECORDS
        self.track_bins = track_bins
        #: The model reports its queue's real size: depth comes from that alone
        #: (the run_start message says so, before any task).
        self.real_queue = False
        #: The model makes every task before any runs (see ModelInfo.tasks_upfront).
        self.tasks_upfront = False
        self.recent_frames: deque[bytes] = deque(maxlen=RECENT_FRAMES)
        self._pruned_at = 0
        #: See FINE_BINS_MAX (an attribute, so a test can make it small).
        self.fine_bins_max = FINE_BINS_MAX
        self._fold_cursor = 0  # the next lane to fold (see _fold_fine_bins)
        self._fold_to = 0
        self._fold_counted = -(10**18)  # when the bins were last counted
        self._seal_cursor = 0  # the next lane to seal (see _seal_blocks)
        self._seal_to = -1  # the block the pass under way seals up to (-1: none yet)
        self.meta: dict[str, Any] = {}
        self.keep_all_spans = keep_all_spans
        #: Every finished span with its lane index, in arrival order (keep_all_spans only).
        self.all_spans: list[tuple[int, Span]] = []
        self.lanes: dict[tuple[int, int, int], Lane] = {}
        self.lane_list: list[Lane] = []
        #: Tasks started and not finished: task id -> (lane, start, flags). The
        #: record loop and the bulk path (bulk.py) both advance it.
        self.inflight: dict[int, tuple[Lane, int, int]] = {}
        self._span_inflight: dict[int, tuple[Lane, int, int]] = {}
        self.run_start_ns: int | None = None
        self.run_end_ns: int | None = None
        self.status: str = "starting"
        self.run_error: dict[str, Any] | None = None
        self.queued = 0
        self.started = 0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        self.stopped = 0
        self.busy_ns = 0
        self.cpu_ns = 0
        self.events = 0
        self.dropped = 0
        self.peak_queue_depth = 0
        self.queue_sizes: dict[int, int] = {}
        self.errors: Counter[str] = Counter()
        self.error_total = 0
        self.warnings: Counter[str] = Counter()
        self.transport_errors: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        #: Most tasks handed out and not yet done at once (waiting or running).
        self.peak_alive = 0
        self.producer_wait_ns = 0
        self.results: dict[str, Any] = {}
        self.samples: deque[Sample] = deque(maxlen=SAMPLES_KEPT)
        self.peak_rss = 0
        self.peak_memory = 0
        #: What the sampler's ticks add up to within the run (read: tick_sums()).
        self._ticks = TickSums()
        #: Ticks recorded before the run's start event arrived: on a busy machine
        #: the events of a 40 ms run can reach us after the sampler's last tick,
        #: and those ticks still cover the run.
        self._early_ticks: deque[tuple[Sample, int, Sequence[float], Sequence[float]]] = deque(
            maxlen=EARLY_TICKS_KEPT
        )
        self._down_lanes = 0
        #: Lanes not yet down, by OS thread: a WORKER_DOWN ends them all (a scan of
        #: every lane per thread was quadratic in thread-per-task's thousands).
        self._live_threads: dict[tuple[int, int], list[Lane]] = {}

    def may_take_bulk(self) -> bool:
        """Whether this run could send a frame long enough for the bulk path.

        A run of a few tasks cannot (each makes a handful of records): it never
        needs NumPy, and its start need not pay ~60 ms to import it.
        """
        return (
            self.bulk
            and not self.keep_all_spans
            and most_records(self.spec) * RECORD_SIZE >= _BULK_BYTES
        )

    # -- the event stream -----------------------------------------------------

    def feed_records(self, payload: bytes) -> None:
        """Applies a RECORDS frame: long ones in bulk (NumPy), short ones record by record."""
        if self.track_bins:
            self.recent_frames.append(payload)
        long = self.bulk and len(payload) >= _BULK_BYTES and not self.keep_all_spans
        bulk = _bulk_module() if long else None
        if bulk is not None:
            bulk.feed(self, payload, self.feed_loop)
        else:
            self.feed_loop(payload)
        self.events += len(payload) // RECORD_SIZE

    def feed_loop(self, payload: bytes) -> None:
        """Applies records one by one: the reference the bulk path must match exactly."""
        lanes = self.lanes
        inflight = self.inflight
        queued = self.queued
        started = self.started
        completed = self.completed
        failed = self.failed
        busy = self.busy_ns
        cpu_total = self.cpu_ns
        keep_all = self.all_spans.append if self.keep_all_spans else None
        binning = self.track_bins
        in_flight = self.in_flight
        peak_in_flight = self.peak_in_flight
        producer_wait = self.producer_wait_ns
        # The last lane seen: consecutive records nearly always come from the
        # same worker, and comparing ints is cheaper than hashing a key tuple.
        lane_pid = lane_tid = lane_slot = -1
        lane: Lane | None = None
        for kind, flags, slot, pid, tid, task, t, cpu, aux in _iter_records(payload):
            if kind == _START:
                if pid != lane_pid or tid != lane_tid or slot != lane_slot:
                    lane = lanes.get((pid, tid, slot))
                    if lane is None:
                        lane = self._new_lane(pid, tid, slot, t)
                    lane_pid, lane_tid, lane_slot = pid, tid, slot
                assert lane is not None
                if flags & _COROUTINE:
                    lane.coroutine = True
                inflight[task] = (lane, t, flags & _IN_PARTS)
                lane.current_task = task
                lane.current_start = t
                started += 1
                in_flight += 1
                peak_in_flight = max(peak_in_flight, in_flight)
            elif kind == _FINISH:
                entry = inflight.pop(task, None)
                if entry is not None:
                    span_lane, start, in_parts = entry
                    in_flight -= 1
                else:  # its start came on another connection and is not here yet
                    span_lane = self.lane_for(pid, tid, slot, t)
                    start = t
                    in_parts = 0
                wall = t - start
                if flags == _OK:
                    completed += 1
                    span_lane.done += 1
                elif flags == _ERROR:
                    failed += 1
                    span_lane.failed += 1
                else:
                    self.stopped += 1
                span_lane.busy_ns += wall
                span_lane.cpu_ns += aux
                busy += wall
                cpu_total += aux
                if span_lane.current_task == task:
                    span_lane.current_task = None
                span_lane.last_finish_ns = t
                if in_parts:  # drawn as its parts (retry attempts), not as one bar
                    continue
                span = (task, start, t, aux, flags, 0)
                span_lane.spans.append(span)
                if keep_all is not None:
                    keep_all((span_lane.index, span))
                if binning:
                    b0 = start // BIN_NS
                    if b0 == t // BIN_NS:
                        if b0 < span_lane.sealed_to:  # a second already summed
                            unseal(span_lane, b0)
                        bb = span_lane.busy_bins
                        bb[b0] = bb.get(b0, 0) + wall
                        cb = span_lane.cpu_bins
                        cb[b0] = cb.get(b0, 0) + aux
                    else:
                        spread(span_lane, start, t, aux)
                    if flags == _ERROR:
                        count_failure(span_lane, t)
            elif kind == _QUEUED:
                queued += 1
                producer_wait += aux
                depth = queued - started - self.cancelled
                if depth > self.peak_queue_depth and not self.real_queue:
                    self.peak_queue_depth = depth
                alive = queued - completed - failed - self.stopped - self.cancelled
                if alive > self.peak_alive:  # noqa: PLR1730  (max() costs a call per task)
                    self.peak_alive = alive
            else:
                self.queued, self.started, self.completed, self.failed = (
                    queued,
                    started,
                    completed,
                    failed,
                )
                self.busy_ns, self.cpu_ns = busy, cpu_total
                self._rare(kind, flags, slot, pid, tid, task, t, cpu, aux)
                busy, cpu_total = self.busy_ns, self.cpu_ns
                lane_pid = -1  # lanes may have been renumbered or forgotten
        self.queued, self.started, self.completed, self.failed = queued, started, completed, failed
        self.busy_ns, self.cpu_ns = busy, cpu_total
        self.in_flight, self.peak_in_flight = in_flight, peak_in_flight
        self.producer_wait_ns = producer_wait

    def _rare(
        self,
        kind: int,
        flags: int,
        slot: int,
        pid: int,
        tid: int,
        task: int,
        t: int,
        cpu: int,
        aux: int,
    ) -> None:
        if kind == _UP:
            lane = self.lane_for(pid, tid, slot, t)
            if aux:  # a thread running its own sub-interpreter (aux: its id)
                lane.interpreter = aux
        elif kind == _DOWN:
            for lane in self._live_threads.pop((pid, tid), ()):
                if lane.down_ns is None:
                    lane.down_ns = t
                    self._down_lanes += 1
            # A trace (keep_all_spans) names every span's lane: it forgets none.
            if self._down_lanes > DOWN_LANES_KEPT and not self.keep_all_spans:
                self._forget_down_lanes()
        elif kind == _CANCELLED:
            self.cancelled += 1
        elif kind == _DEPTH:
            self.queue_sizes[task] = aux
            total = sum(self.queue_sizes.values())
            self.peak_queue_depth = max(self.peak_queue_depth, total)
        elif kind == _SPAN_START:
            lane = self.lane_for(pid, tid, slot, t)
            self._span_inflight[task] = (lane, t, flags)
            lane.current_task = task
            lane.current_start = t
        elif kind == _SPAN_FINISH:
            entry = self._span_inflight.pop(task, None)
            lane = self.lane_for(pid, tid, slot, t) if entry is None else entry[0]
            start = t if entry is None else entry[1]
            part = 1 + (0 if entry is None else entry[2])
            lane.busy_ns += t - start
            lane.cpu_ns += aux
            self.cpu_ns += aux
            if flags == _ERROR:
                lane.failed += 1
            else:
                lane.done += 1
            if lane.current_task == task:
                lane.current_task = None
            lane.last_finish_ns = t
            span = (task, start, t, aux, flags, part)
            lane.spans.append(span)
            if self.keep_all_spans:
                self.all_spans.append((lane.index, span))
            if self.track_bins:
                spread(lane, start, t, aux)
                if flags == _ERROR:
                    count_failure(lane, t)
        elif kind == _RUN_START:
            self.run_start_ns = t
            self.status = "running"
        elif kind == _RUN_END:
            self.run_end_ns = t
            self.status = "done" if flags == _OK else "error" if flags == _ERROR else "stopped"
            for lane in self.lane_list:
                if lane.down_ns is None:
                    lane.down_ns = t
            self._live_threads.clear()
        elif kind == _DROPPED:
            self.dropped += aux

    def feed_text(self, obj: dict[str, Any]) -> None:
        self.events += 1
        kind = obj.get("type")
        if kind == "run_start":
            self.meta = obj
            if self.run_spec is None:  # a recording: the runner's echo is all there is
                self.spec = dict(obj.get("spec", self.spec))
            # What the model tells the figures, said by the runner: the aggregate
            # needs no catalogue (models import the runner side, not the observer).
            self.real_queue = bool(obj.get("queue"))
            self.tasks_upfront = bool(obj.get("tasks_upfront"))
        elif kind == "task_error":
            self.error_total += 1
            _count_kept(self.errors, f"{obj.get('error')}: {obj.get('message')}")
        elif kind == "warning":
            where = obj.get("where")
            _count_kept(self.warnings, f"{obj.get('category')}: {obj.get('message')} ({where})")
        elif kind == "run_error":
            self.run_error = obj
        elif kind == "result":
            self.results.update({k: v for k, v in obj.items() if k != "type"})
        elif kind == "memory":  # the kernel's exact peaks: what sampling missed
            for key in ("maxrss", "children_maxrss"):
                value = obj.get(key)
                if isinstance(value, int):
                    self.peak_rss = max(self.peak_rss, value)

    def lane_for(self, pid: int, tid: int, slot: int, t: int) -> Lane:
        """The lane of (pid, tid, slot), made at ``t`` if new (the bulk path uses it too)."""
        lane = self.lanes.get((pid, tid, slot))
        return self._new_lane(pid, tid, slot, t) if lane is None else lane

    def _new_lane(self, pid: int, tid: int, slot: int, t: int) -> Lane:
        lane = Lane(len(self.lane_list), pid, tid, slot, t)
        self.lanes[(pid, tid, slot)] = lane
        self.lane_list.append(lane)
        self._live_threads.setdefault((pid, tid), []).append(lane)
        return lane

    def lane_kind(self, lane: Lane) -> str:
        """ "slot" (an async task slot), "process" (a worker process), "interpreter"
        (a thread running its own sub-interpreter) or "thread"."""
        if lane.coroutine:
            return "slot"
        if lane.interpreter:
            return "interpreter"
        if lane.pid != self.meta.get("pid", lane.pid):
            return "process"
        return "thread"

    def lane_label(self, lane: Lane) -> str:
        kind = self.lane_kind(lane)
        if kind == "slot":
            return f"slot {lane.slot}"
        if kind == "process":
            return f"pid {lane.pid}"
        if kind == "interpreter":
            return f"interp {lane.interpreter}"
        return f"tid {lane.tid}"

    def _forget_down_lanes(self) -> None:
        """Keeps the newest down lanes only; totals live on in the run's sums."""
        down = [lane for lane in self.lane_list if lane.down_ns is not None]
        drop = {id(lane) for lane in down[: len(down) - DOWN_LANES_KEPT // 2]}
        self.lane_list = [lane for lane in self.lane_list if id(lane) not in drop]
        for index, lane in enumerate(self.lane_list):
            lane.index = index
        self.lanes = {lane.key: lane for lane in self.lane_list}
        self._down_lanes = sum(1 for lane in self.lane_list if lane.down_ns is not None)

    def busy_between(self, lane: Lane, t0: int, t1: int) -> tuple[float, float]:
        """Busy and on-CPU ns of ``lane`` in [t0, t1), from its bins (see timeline.py)."""
        return busy_between(lane, t0, t1)

    def failed_between(self, lane: Lane, t0: int, t1: int) -> bool:
        """Whether a span of ``lane`` failed in a bin that starts in [t0, t1)."""
        return failed_between(lane, t0, t1)

    def settled_before(self, now_ns: int) -> dict[int, int]:
        """Per lane index: the time before which its bins can no longer change.

        A lane's future spans cannot start before its oldest task still in flight,
        nor (its events arrive in order) before its latest finish; and nothing is
        assumed to arrive more than BLOCK_SEALED_NS late. So on a busy lane only the
        last moments stay open, and a timeline recomputes just those cells.
        """
        floor = now_ns - BLOCK_SEALED_NS
        # A lane that went down mid-run sent its WORKER_DOWN after all its records
        # (one connection, in order): nothing of it can change any more. (At the
        # run's end every lane is marked down, worker processes' records possibly
        # still on their way: then the floor holds.)
        gone = now_ns if self.run_end_ns is None else None
        settled = {
            lane.index: gone
            if gone is not None and lane.down_ns is not None
            else max(floor, min(lane.last_finish_ns, now_ns))
            for lane in self.lane_list
        }
        open_since: dict[int, int] = {}
        for table in (self.inflight, self._span_inflight):
            for lane, start, _flags in table.values():
                if start < open_since.get(lane.index, now_ns):
                    open_since[lane.index] = start
        settled.update(open_since)
        return settled

    def maintain(self, now_ns: int) -> None:
        """Keeps the aggregate within its bounds; whoever feeds it calls this after a batch.

        The engine owns its invariants: the event reader (live runs, compare and
        sweep alike) and a replay's player call it, never a view. Cheap to call
        often: a bounded share of the work each time.
        """
        if self.track_bins:
            self.prune_bins(now_ns)

    def prune_bins(self, now_ns: int) -> None:
        """Folds the oldest fine bins into blocks past ``fine_bins_max``, and forgets
        bins older than BIN_HISTORY_NS, and sums sealed seconds of bins into blocks
        (cheap to call often: a bounded share each time)."""
        self._fold_fine_bins(now_ns)
        if now_ns - self._pruned_at >= 5_000_000_000:
            self._pruned_at = now_ns
            oldest = (now_ns - BIN_HISTORY_NS) // BIN_NS
            for lane in self.lane_list:
                forget_before(lane, oldest)
        self._seal_blocks(now_ns)  # (after forgetting: no sums of bins about to go)

    def fine_bins(self) -> int:
        """Entries the lanes' fine bins take (a run counts one): what FINE_BINS_MAX bounds."""
        return sum(len(lane.busy_bins) + len(lane.runs) for lane in self.lane_list)

    def _fold_fine_bins(self, now_ns: int) -> None:
        """Past the budget, folds the oldest sealed blocks, a few lanes per call.

        A block below a lane's horizon is exactly the sum of the bins it
        replaced (whole blocks only; nothing can still land in a sealed one
        finely). The work is spread over the dashboard's refreshes: folding ten
        thousand lanes' bins at once held the screen for seconds.
        """
        lanes = self.lane_list
        if not self._fold_to or self._fold_cursor >= len(lanes):
            # Counting is a pass over every lane: once a second is often enough.
            if now_ns - self._fold_counted < 1_000_000_000:
                return
            self._fold_counted = now_ns
            self._fold_cursor = 0
            per_block = BLOCK_NS // BIN_NS
            total = self.fine_bins()
            if total <= self.fine_bins_max:
                self._fold_to = 0
                return
            # Keep the newest half-budget's worth at the rate the bins come in (from
            # where each lane's bins begin: min() over them all would cost a scan).
            oldest = min(
                max(lane.fine_from, lane.up_ns // BIN_NS)
                for lane in lanes
                if lane.busy_bins or lane.runs
            )
            newest = now_ns // BIN_NS
            keep = (newest - oldest) * self.fine_bins_max // 2 // total
            limit = (now_ns - BLOCK_SEALED_NS - BLOCK_NS) // BLOCK_NS * per_block
            self._fold_to = min((newest - keep) // per_block * per_block, limit)
        work = 0
        while self._fold_cursor < len(lanes) and work < FOLD_WORK_PER_CALL:
            work += fold_lane(lanes[self._fold_cursor], self._fold_to)
            self._fold_cursor += 1

    def _seal_blocks(self, now_ns: int) -> None:
        """Sums each lane's newly sealed seconds of bins into blocks, a few lanes per call.

        Once a second a new block is sealed on every lane: a pass over the lanes
        then, spread over refreshes like folding. A view reads the sums and
        writes nothing; one it reads before they are taken sums the bins itself.
        """
        lanes = self.lane_list
        if self._seal_cursor >= len(lanes) or self._seal_to < 0:
            sealed_to = (now_ns - BLOCK_SEALED_NS) // BLOCK_NS
            if sealed_to <= self._seal_to:
                return
            self._seal_to, self._seal_cursor = sealed_to, 0
        work = 0
        while self._seal_cursor < len(lanes) and work < SEAL_WORK_PER_CALL:
            work += seal_blocks(lanes[self._seal_cursor], self._seal_to)
            self._seal_cursor += 1

    # -- the sampler ----------------------------------------------------------

    def observed(self) -> tuple[list[tuple[int, int]], list[int]]:
        """The OS threads and processes the sampler should read: live workers and the runner."""
        threads: dict[tuple[int, int], None] = {}
        pids: dict[int, None] = {}
        runner = self.meta.get("pid")
        if isinstance(runner, int):
            pids[runner] = None
        for lane in self.lane_list:
            if lane.down_ns is None:
                threads[(lane.pid, lane.tid)] = None
                pids[lane.pid] = None
        return list(threads), list(pids)

    def born_in_run(self) -> set[tuple[int, int]]:
        """Worker threads that came up after the run started (a pool's, a worker process's).

        Their counters started with the run, so their first reading counts whole;
        the runner's own threads (the event loop's) had a life before it.
        """
        start = self.run_start_ns
        if start is None:
            return set()
        return {(lane.pid, lane.tid) for lane in self.lane_list if lane.up_ns >= start}

    def queue_depth(self) -> int:
        """Real queue size for the queue models, otherwise submitted-but-not-started."""
        if self.queue_sizes:
            return sum(self.queue_sizes.values())
        return max(0, self.queued - self.started - self.cancelled)

    def add_sample(
        self,
        sample: Sample,
        since_ns: int,
        core_busy: Sequence[float],
        core_total: Sequence[float],
    ) -> None:
        """Records a tick covering ``since_ns``..``sample.t_ns``.

        ``core_busy``/``core_total`` are that interval's CPU seconds per core; the
        part of the interval that overlaps the run counts towards its utilisation.
        """
        self.samples.append(sample)
        if sample.rss:
            self.peak_rss = max(self.peak_rss, *sample.rss.values())
        if sample.memory is not None and sample.memory > self.peak_memory:
            self.peak_memory = sample.memory
        if self.run_start_ns is None:
            self._early_ticks.append((sample, since_ns, core_busy, core_total))
            return
        self._fold_early_ticks()
        self._fold_tick(sample, since_ns, core_busy, core_total)

    def _fold_early_ticks(self) -> None:
        while self._early_ticks:
            self._fold_tick(*self._early_ticks.popleft())

    def _fold_tick(
        self,
        sample: Sample,
        since_ns: int,
        core_busy: Sequence[float],
        core_total: Sequence[float],
    ) -> None:
        """Adds the part of one tick that overlaps the run to the run's CPU totals."""
        self._ticks.add(sample, since_ns, core_busy, core_total, self.run_start_ns, self.run_end_ns)

    def tick_sums(self) -> TickSums:
        """The ticks' sums over the run, those taken before its start arrived included.

        Reading writes nothing: ticks still held from before the start are added to
        a copy (add_sample folds them in for good at the next tick).
        """
        if self.run_start_ns is None or not self._early_ticks:
            return self._ticks
        sums = self._ticks.copy()
        for sample, since_ns, core_busy, core_total in self._early_ticks:
            sums.add(sample, since_ns, core_busy, core_total, self.run_start_ns, self.run_end_ns)
        return sums

    # -- reading --------------------------------------------------------------

    def wall_ns(self, now_ns: int | None = None) -> int:
        if self.run_start_ns is None:
            return 0
        end = self.run_end_ns if self.run_end_ns is not None else now_ns
        return max(0, (end or self.run_start_ns) - self.run_start_ns)

    def core_utilisation(self) -> list[float]:
        return self._core_utilisation(self.tick_sums())

    @staticmethod
    def _core_utilisation(ticks: TickSums) -> list[float]:
        return [
            100.0 * b / tot if tot > 0 else 0.0
            for b, tot in zip(ticks.core_busy, ticks.core_total, strict=False)
        ]

    def summary(self, now_ns: int | None = None) -> Summary:
        ticks = self.tick_sums()
        wall_s = self.wall_ns(now_ns) / 1e9
        cpu_s = self.cpu_ns / 1e9
        meta = self.meta
        cores = meta.get("cpu_count") or len(ticks.core_busy) or 0
        run_error = None
        if self.run_error is not None:
            run_error = f"{self.run_error.get('error')}: {self.run_error.get('message')}"
        return Summary(
            **self._what_ran(),
            status=self.status,
            completed=self.completed,
            failed=self.failed,
            cancelled=self.cancelled + self.stopped,
            wall_s=wall_s,
            cpu_s=cpu_s,
            throughput=self.completed / wall_s if wall_s > 0 else 0.0,
            parallelism=cpu_s / wall_s if wall_s > 0 else 0.0,
            on_cpu_fraction=self.cpu_ns / self.busy_ns if self.busy_ns > 0 else 0.0,
            peak_queue_depth=self.peak_queue_depth,
            cores=int(cores),
            core_utilisation=[round(u, 1) for u in self._core_utilisation(ticks)],
            peak_rss=self.peak_rss,
            python=str(meta.get("python", "?")),
            gil_enabled=meta.get("gil_enabled"),
            events=self.events,
            dropped_events=self.dropped,
            start_method=meta.get("start_method"),
            lanes=len(self.lane_list),
            errors=dict(self.errors.most_common(10)),
            run_error=run_error,
            transport_errors=list(self.transport_errors),
            peak_in_flight=self.peak_in_flight,
            producer_wait_s=self.producer_wait_ns / 1e9,
            worker_startup_s=self._worker_startup_s(),
            result=dict(self.results),
            warnings=dict(self.warnings.most_common(10)),
            core_wait_fraction=self._core_wait_fraction(ticks, now_ns),
            observer_cpu=(
                ticks.observer_ns / ticks.observer_span_ns if ticks.observer_span_ns > 0 else None
            ),
            task_cpu_ms_median=task_cpu_ms_median(self.lane_list),
            **self._memory_figures(),
        )

    def _what_ran(self) -> dict[str, Any]:
        """The settings a summary names: from the typed spec where the observer holds it."""
        ran = self.run_spec
        if ran is None:  # a recording (or a bare aggregate): the spec as JSON
            spec = self.spec
            return {
                "model": str(spec.get("model", "?")),
                "workload": str(spec.get("workload", "?")),
                "workers": int(spec.get("workers", 0)),
                "tasks": int(spec.get("tasks", 0)),
                "task_ms": float(spec.get("task_ms", 0.0)),
                "iterations": spec_iterations(spec),
                "task": spec.get("task"),
            }
        names = ("model", "workload", "workers", "tasks", "iterations", "task")
        return {**{name: getattr(ran, name) for name in names}, "task_ms": float(ran.task_ms)}

    def _core_wait_fraction(self, ticks: TickSums, now_ns: int | None) -> float | None:
        """Run-queue wait over the tasks' time, the running tasks' time so far included
        (the wait already counts theirs)."""
        if ticks.core_wait_ns is None:
            return None
        busy = self.busy_ns
        if self.run_end_ns is None and now_ns is not None:
            busy += sum(
                max(0, now_ns - lane.current_start)
                for lane in self.lane_list
                if lane.current_task is not None
            )
        return min(1.0, ticks.core_wait_ns / busy) if busy > 0 else None

    def _memory_figures(self) -> dict[str, Any]:
        at_start = self.meta.get("memory_at_start")
        if not isinstance(at_start, int) or at_start <= 0:
            at_start = None
        measure = str(self.meta.get("memory_measure") or ("RSS" if self.peak_memory else ""))
        # A TaskGroup's waiting tasks are Tasks and coroutines already; a pool's are
        # small work items while its workers (stacks, processes) are the cost.
        basis, tasks = "in flight", self.peak_in_flight
        if self.tasks_upfront and self.peak_alive > tasks:
            basis, tasks = "alive", self.peak_alive
        per_task = None
        if at_start is not None and self.peak_memory and tasks:
            growth = self.peak_memory - at_start
            if growth >= MEMORY_RESOLUTION:
                per_task = growth / tasks
        return {
            "peak_memory": self.peak_memory,
            "memory_at_start": at_start,
            "memory_measure": measure,
            "memory_per_task": per_task,
            "memory_tasks": tasks if per_task is not None else 0,
            "memory_tasks_basis": basis if per_task is not None else "",
        }

    def _worker_startup_s(self) -> float | None:
        start = self.run_start_ns
        if start is None:
            return None
        delays = sorted(
            (lane.up_ns - start) / 1e9
            for lane in self.lane_list
            if self.lane_kind(lane) in ("process", "interpreter") and lane.up_ns >= start
        )
        return delays[len(delays) // 2] if delays else None

    def recent_spans(self, since_ns: int) -> Iterable[tuple[Lane, Span]]:
        for lane in self.lane_list:
            for span in reversed(lane.spans):
                if span[2] < since_ns:
                    break
                yield lane, span
