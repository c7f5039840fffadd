"""The timeline's lanes and their busy-time bins: what a zoomed-out timeline draws from.

Observer side, plain Python. A lane is a thread, a worker process or an async
task slot. Its spans (a ring of the newest) give exact pictures of the recent
past; its bins keep busy and on-CPU time per 10 ms for two minutes, so a view of
the whole run stays honest when tasks are far shorter than a screen cell. Bins
a span covers whole are one *run* entry; past a budget the oldest bins are
*folded* into one-second *blocks*; once a second is sealed (nothing lands in it
finely any more) the engine sums its bins into a block too, so a zoomed-out
timeline reads one entry a second. :class:`~concviz.observer.aggregate.RunAggregate`
owns the lanes and calls these as events arrive (:func:`spread`) and after each
batch (:func:`seal_blocks`, :func:`fold_lane`); views read them through
:func:`busy_between` and :func:`failed_between`, which write nothing.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass, field

from .spans import SpanRing

#: Spans kept per lane for drawing (the full run only with ``keep_all_spans``).
SPANS_PER_LANE = 2048
#: Busy-time bins (dashboard only): their width, and how much history they keep.
#: Spans give exact pictures of the recent past; bins keep zoomed-out ones honest
#: when tasks are far shorter than a screen cell.
BIN_NS = 10_000_000
BIN_HISTORY_NS = 120 * 1_000_000_000
#: Bins are summed in one-second blocks once a block is this far in the past
#: (its sums are then kept: a zoomed-out timeline stays cheap however long the run).
BLOCK_NS = 1_000_000_000
BLOCK_SEALED_NS = 3_000_000_000
#: Fine bins kept across all lanes (about 160 bytes each, busy and CPU together).
#: Past it the oldest are folded into their one-second blocks: a thousand busy
#: lanes made a megabyte a lane a minute (2 GiB for a 1000-slot asyncio run),
#: ten thousand ten times that. Older history is then drawn a second per bin.
FINE_BINS_MAX = 1_000_000
#: Bins looked at per prune_bins call while folding (a few ms of a refresh).
FOLD_WORK_PER_CALL = 100_000
#: The same for summing sealed seconds into blocks (see seal_blocks): the reader
#: holds the run's lock meanwhile, so a smaller share (about 2 ms); a pass over a
#: thousand lanes' newest second takes about 100 000.
SEAL_WORK_PER_CALL = 20_000


@dataclass(slots=True)
class Lane:
    """One row of the timeline: a thread, a worker process, or an async task slot."""

    index: int
    pid: int
    tid: int
    slot: int
    up_ns: int
    down_ns: int | None = None
    #: Set when a coroutine ran here: the lane is an async task slot, not a thread.
    coroutine: bool = False
    #: The id of the sub-interpreter this thread runs (0: none, the main interpreter).
    interpreter: int = 0
    current_task: int | None = None
    current_start: int = 0
    #: When its latest span finished (a lane's events arrive in order).
    last_finish_ns: int = 0
    done: int = 0
    failed: int = 0
    busy_ns: int = 0
    cpu_ns: int = 0
    spans: SpanRing = field(default_factory=lambda: SpanRing(SPANS_PER_LANE))
    #: Busy and on-CPU nanoseconds per BIN_NS bin (bin index = t_ns // BIN_NS).
    busy_bins: dict[int, int] = field(default_factory=dict)
    cpu_bins: dict[int, int] = field(default_factory=dict)
    #: Bins a span covers whole, as (first, end, cpu ns each): a bin each of
    #: ``busy_bins`` and ``cpu_bins`` worth BIN_NS busy, in one entry. Sorted,
    #: apart (a lane runs one task at a time). Ten thousand coroutines waiting a
    #: second each made a million dict entries a second; now ten thousand runs.
    runs: list[tuple[int, int, int]] = field(default_factory=list)
    #: Failed spans per BIN_NS bin of their finish: a timeline marks them ✗ where it
    #: draws from the bins (a dense run's spans are long gone from the ring).
    fail_bins: dict[int, int] = field(default_factory=dict)
    #: Sums of whole one-second blocks of bins, computed once they are sealed.
    blocks: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: Bins before this one were folded into ``blocks`` (block-aligned): there the
    #: blocks are all there is, and a span reaching back adds to them.
    fine_from: int = 0
    #: The fine bins before this one (block-aligned) are summed in ``blocks`` as
    #: well, a missing block summing to nothing (see seal_blocks); a span landing
    #: there moves it back.
    sealed_to: int = 0
    #: Bumped whenever a finishing task changes bins older than BLOCK_SEALED_NS,
    #: so anything derived from sealed bins knows to recompute.
    bins_revision: int = 0

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.pid, self.tid, self.slot)


def spread(lane: Lane, start: int, end: int, cpu: int) -> None:
    """Adds a span to the bins it covers, in proportion to its time in each."""
    wall = max(end - start, 1)
    busy_bins = lane.busy_bins
    cpu_bins = lane.cpu_bins
    b = start // BIN_NS
    last = end // BIN_NS
    if last - b > BIN_HISTORY_NS // BIN_NS:  # older than anything kept
        b = last - BIN_HISTORY_NS // BIN_NS
        start = b * BIN_NS
    if end - start > BLOCK_SEALED_NS:
        lane.bins_revision += 1
    if b < lane.fine_from:  # reaching back past the fine bins: its share of the blocks
        horizon = lane.fine_from * BIN_NS
        head = min(end, horizon)
        add_to_blocks(lane, start, head, cpu * (head - start) // wall)
        if end <= horizon:
            return
        cpu -= cpu * (head - start) // wall
        start, b, wall = horizon, lane.fine_from, max(end - horizon, 1)
    unseal(lane, b)  # a task reaching back into summed blocks: sum its two ends' again
    unseal(lane, last)
    if b == last:  # within one bin (a zero-length span still marks it)
        busy_bins[b] = busy_bins.get(b, 0) + (end - start)
        cpu_bins[b] = cpu_bins.get(b, 0) + cpu * (end - start) // wall
        return
    part = (b + 1) * BIN_NS - start
    busy_bins[b] = busy_bins.get(b, 0) + part
    cpu_bins[b] = cpu_bins.get(b, 0) + cpu * part // wall
    # The bins in between are covered whole, the same share each: one run.
    # (A thousand coroutines finish a 200 ms task each every 200 ms: 20 bins each.)
    if last > b + 1:
        run = (b + 1, last, cpu * BIN_NS // wall)
        runs = lane.runs
        if not runs or runs[-1][0] <= b:
            runs.append(run)
        else:  # an older span arriving late (not on a lane running one task at a time)
            insort(runs, run)
    part = end - last * BIN_NS
    if part > 0:
        busy_bins[last] = busy_bins.get(last, 0) + part
        cpu_bins[last] = cpu_bins.get(last, 0) + cpu * part // wall


def unseal(lane: Lane, b: int) -> None:
    """Fine bin ``b`` is about to change: its block's sum (if taken) is no more."""
    if b < lane.sealed_to:
        per_block = BLOCK_NS // BIN_NS
        lane.sealed_to = b // per_block * per_block
        lane.blocks.pop(b // per_block, None)


def seal_blocks(lane: Lane, before: int) -> int:
    """Sums ``lane``'s fine bins in whole blocks before block ``before`` into ``lane.blocks``.

    The engine calls it once those seconds are sealed (BLOCK_SEALED_NS in the past),
    so a view reads a second in one entry instead of a hundred. Only the dict's
    bins are summed (its runs are read as runs). Returns the work done.
    """
    per_block = BLOCK_NS // BIN_NS
    # Its bins lie between its start and its latest finish: nothing to sum outside.
    first = max(lane.sealed_to, lane.fine_from, lane.up_ns // BIN_NS) // per_block
    last = min(before, lane.last_finish_ns // BLOCK_NS + 1)
    work = 1
    if last > first:
        bins, cpu_bins, blocks = lane.busy_bins, lane.cpu_bins, lane.blocks
        for block in range(first, last):
            whole = range(block * per_block, (block + 1) * per_block)
            busy = sum(filter(None, map(bins.get, whole)))
            if busy:
                blocks[block] = (busy, sum(filter(None, map(cpu_bins.get, whole))))
            else:
                blocks.pop(block, None)
        work += (last - first) * per_block
    lane.sealed_to = max(lane.sealed_to, before * per_block)
    return work


def runs_between(lane: Lane, t0: int, t1: int) -> tuple[int, float]:
    """Busy and on-CPU ns of ``lane``'s runs in [t0, t1) (partly covered bins pro rata)."""
    runs = lane.runs
    busy = 0
    cpu = 0.0
    first_bin = t0 // BIN_NS
    i = bisect_right(runs, first_bin, key=run_end_bin)  # the first run ending past t0's bin
    while i < len(runs):
        first, end, per_bin = runs[i]
        lo = max(t0, first * BIN_NS)
        hi = min(t1, end * BIN_NS)
        if lo >= t1:
            break
        if hi > lo:
            busy += hi - lo
            cpu += per_bin * (hi - lo) / BIN_NS
        i += 1
    return busy, cpu


def run_end_bin(run: tuple[int, int, int]) -> int:
    """A run's end bin: the key runs are searched by (they are sorted and apart)."""
    return run[1]


def expanded_bins(lane: Lane) -> tuple[dict[int, int], dict[int, int]]:
    """The lane's fine bins with its runs written out bin by bin (tests, debugging)."""
    busy, cpu = dict(lane.busy_bins), dict(lane.cpu_bins)
    for first, end, per_bin in lane.runs:
        for k in range(first, end):
            busy[k] = busy.get(k, 0) + BIN_NS
            cpu[k] = cpu.get(k, 0) + per_bin
    return busy, cpu


def add_to_blocks(lane: Lane, start: int, end: int, cpu: int) -> None:
    """Adds a span below the lane's fine bins to the blocks it covers, pro rata."""
    wall = max(end - start, 1)
    blocks = lane.blocks
    block = start // BLOCK_NS
    while block * BLOCK_NS < end or block == start // BLOCK_NS:
        lo = max(start, block * BLOCK_NS)
        hi = min(end, (block + 1) * BLOCK_NS)
        busy, used = blocks.get(block, (0, 0))
        blocks[block] = (busy + hi - lo, used + cpu * (hi - lo) // wall)
        block += 1


def fold_lane(lane: Lane, horizon: int) -> int:
    """Folds ``lane``'s bins before ``horizon`` (block-aligned) into blocks; returns the work."""
    if horizon <= lane.fine_from:
        return 1
    per_block = BLOCK_NS // BIN_NS
    bins, cpu_bins, blocks = lane.busy_bins, lane.cpu_bins, lane.blocks
    # Its bins lie after its start (what the timeline assumes too).
    scan_from = max(lane.fine_from, lane.up_ns // BIN_NS // per_block * per_block)
    work = min(len(bins), horizon - scan_from)
    if len(bins) < horizon - scan_from:  # fewer bins than places to look: look at the bins
        old = [b for b in bins if b < horizon]
    else:
        old = [b for b in range(scan_from, horizon) if b in bins]
    sums: dict[int, tuple[int, int]] = {}
    for b in old:
        block = b // per_block
        busy, used = sums.get(block, (0, 0))
        sums[block] = (busy + bins.pop(b), used + cpu_bins.pop(b, 0))
    runs = lane.runs
    folded = 0
    for first, end, per_bin in runs:
        if first >= horizon:
            break
        folded += 1
        for block in range(first // per_block, (min(end, horizon) - 1) // per_block + 1):
            whole = min(end, horizon, (block + 1) * per_block) - max(first, block * per_block)
            busy, used = sums.get(block, (0, 0))
            sums[block] = (busy + whole * BIN_NS, used + whole * per_bin)
    if folded:
        first, end, per_bin = runs[folded - 1]
        del runs[:folded]
        if end > horizon:  # the part above the horizon stays a run
            runs.insert(0, (horizon, end, per_bin))
    for block, (busy, used) in sums.items():
        had_busy, had_cpu = (0, 0)
        if block * per_block < lane.fine_from:  # a stray late bin: adds to the block
            had_busy, had_cpu = blocks.get(block, (0, 0))
        # (above the old horizon it replaces any block summed from these bins)
        blocks[block] = (busy + had_busy, used + had_cpu)
    for block in [k for k in blocks if lane.fine_from // per_block <= k < horizon // per_block]:
        if block not in sums:
            del blocks[block]  # summed once, but its bins were all empty
    lane.fine_from = horizon
    return 1 + work + len(old) + folded


def count_failure(lane: Lane, end: int) -> None:
    """A failed span, in the bin of its finish (what the bulk path counts in bulk)."""
    lane.fail_bins[end // BIN_NS] = lane.fail_bins.get(end // BIN_NS, 0) + 1


def forget_before(lane: Lane, oldest: int) -> None:
    """Drops ``lane``'s bins, runs, failures and blocks before bin ``oldest``."""
    runs = lane.runs
    while runs and runs[0][1] <= oldest:
        del runs[0]
    if runs and runs[0][0] < oldest:
        runs[0] = (oldest, *runs[0][1:])
    if lane.busy_bins and min(lane.busy_bins) < oldest:
        for b in [b for b in lane.busy_bins if b < oldest]:
            del lane.busy_bins[b]
            lane.cpu_bins.pop(b, None)
    # Each table on its own: a lane whose old bins were folded has none left
    # to say that its failures and blocks are old too.
    for b in [b for b in lane.fail_bins if b < oldest]:
        del lane.fail_bins[b]
    oldest_block = oldest * BIN_NS // BLOCK_NS
    for block in [k for k in lane.blocks if k < oldest_block]:
        del lane.blocks[block]


def busy_between(lane: Lane, t0: int, t1: int) -> tuple[float, float]:
    """Busy and on-CPU ns of ``lane`` in [t0, t1), from its bins (BIN_NS resolution).

    Whole blocks the engine has summed (:func:`seal_blocks`) are read from
    ``lane.blocks``: a zoomed-out timeline stays cheap however long the run. It
    only reads: the same answer whether or not they were summed yet.
    """
    busy = 0.0
    cpu = 0.0
    busy_bins = lane.busy_bins
    if (not busy_bins and not lane.blocks and not lane.runs) or t1 <= t0:
        return busy, cpu
    if lane.runs:  # (the blocks above the horizon sum the dict's bins only)
        busy, cpu = runs_between(lane, max(t0, lane.fine_from * BIN_NS), t1)
    cpu_bins = lane.cpu_bins
    per_block = BLOCK_NS // BIN_NS
    sealed_to = lane.sealed_to
    b = t0 // BIN_NS
    last = (t1 - 1) // BIN_NS
    while b < lane.fine_from and b <= last:  # folded: whole blocks, pro rata at the ends
        block = b // per_block
        sums = lane.blocks.get(block)
        if sums is not None:
            lo = max(t0, block * BLOCK_NS)
            hi = min(t1, (block + 1) * BLOCK_NS)
            share = (hi - lo) / BLOCK_NS
            busy += sums[0] * share
            cpu += sums[1] * share
        b = (block + 1) * per_block
    while b <= last:
        block = b // per_block
        if b % per_block == 0 and b + per_block - 1 <= last and b < sealed_to:
            sums = lane.blocks.get(block)
            if sums is not None:
                busy += sums[0]
                cpu += sums[1]
            b += per_block
            continue
        value = busy_bins.get(b)
        if value:
            lo = max(t0, b * BIN_NS)
            hi = min(t1, (b + 1) * BIN_NS)
            share = (hi - lo) / BIN_NS  # a partly covered bin counts in proportion
            busy += value * share
            cpu += cpu_bins.get(b, 0) * share
        b += 1
    return busy, cpu


def failed_between(lane: Lane, t0: int, t1: int) -> bool:
    """Whether a span of ``lane`` failed in a bin that starts in [t0, t1)."""
    fail_bins = lane.fail_bins
    if not fail_bins or t1 <= t0:
        return False
    first = -(-t0 // BIN_NS)
    last = -(-t1 // BIN_NS)
    if last - first > len(fail_bins):
        return any(first <= b < last for b in fail_bins)
    return any(b in fail_bins for b in range(first, last))
