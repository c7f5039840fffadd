"""Applies long runs of task records to a :class:`RunAggregate` with NumPy, in bulk.

The observer's hot path. At 100k+ events/s the per-record Python loop of
:meth:`RunAggregate.feed_records` costs the UI process ~5 % of a core on its
own; done column-wise, most of a segment's work happens in C. The loop stays
the reference: a segment this module cannot apply *exactly* as the loop would
(duplicate task ids, many lanes, mixed processes) is handed back to it, and a
property test feeds random streams to both and compares every field.

Only TASK_QUEUED, TASK_START and TASK_FINISH records are applied here; every
other kind (lanes coming and going, run start and end, spans, drops) goes
through the loop one record at a time, in its place in the stream.

Observer side only: the runner never imports this (it is standard library only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

# aggregate imports this module lazily (on its first long frame), never at import time.
from .timeline import BIN_NS, Lane, add_to_blocks, spread, unseal

if TYPE_CHECKING:  # bulk is the aggregate's loop, column-wise; it never imports it
    from .aggregate import RunAggregate
from ..runner.protocol import RECORD_SIZE, START_COROUTINE, START_IN_PARTS, Kind, Status

#: Shorter segments go through the loop: below this, NumPy's fixed costs win.
MIN_SEGMENT = 192
#: More distinct lanes in one segment than this: the loop is as fast (thread-per-task).
MAX_LANES = 32

DTYPE = np.dtype(
    [
        ("kind", "u1"),
        ("flags", "u1"),
        ("slot", "<u2"),
        ("pid", "<u4"),
        ("tid", "<u4"),
        ("task", "<i4"),
        ("t", "<i8"),
        ("cpu", "<i8"),
        ("aux", "<i8"),
    ]
)
assert DTYPE.itemsize == RECORD_SIZE

_QUEUED = int(Kind.TASK_QUEUED)
_START = int(Kind.TASK_START)
_FINISH = int(Kind.TASK_FINISH)
_OK = int(Status.OK)
_ERROR = int(Status.ERROR)
#: Bins within a frame are keyed (lane << _LANE_SHIFT | bin - first bin): a frame
#: spans far fewer than 2**40 bins of 10 ms.
_LANE_SHIFT = 40
_BIN_MASK = (1 << _LANE_SHIFT) - 1


def feed(agg: RunAggregate, payload: bytes, loop: Callable[[bytes], None]) -> None:
    """Applies a RECORDS payload: segments of task records in bulk, the rest via ``loop``."""
    records = np.frombuffer(payload, DTYPE)
    kind = records["kind"]
    others = np.flatnonzero((kind < _QUEUED) | (kind > _FINISH)).tolist()
    others.append(len(records))
    pos = 0
    for index in others:
        if index > pos and not (index - pos >= MIN_SEGMENT and _segment(agg, records[pos:index])):
            loop(payload[pos * RECORD_SIZE : index * RECORD_SIZE])
        if index < len(records):
            loop(payload[index * RECORD_SIZE : (index + 1) * RECORD_SIZE])
        pos = index + 1


def _segment(agg: RunAggregate, seg: np.ndarray[Any, Any]) -> bool:
    """Applies a segment holding only queued/start/finish records; False: untouched, use the loop.

    Everything that could make the result differ from the loop's is checked
    before the first change to ``agg``.
    """
    kind = seg["kind"]
    is_start = kind == _START
    is_finish = kind == _FINISH
    si = np.flatnonzero(is_start)
    fi = np.flatnonzero(is_finish)
    task = seg["task"]
    t = seg["t"]
    s_task = task[si]
    f_task = task[fi]
    inflight = agg.inflight

    # -- checks ---------------------------------------------------------------
    worker = si if len(si) else fi
    pid = seg["pid"]
    pid0 = 0
    if len(worker):
        pid0 = int(pid[worker[0]])
        if (pid[si] != pid0).any() or (pid[fi] != pid0).any():
            return False
    s_order = np.argsort(s_task, kind="stable")
    s_sorted = s_task[s_order]
    if len(si) > 1 and (s_sorted[1:] == s_sorted[:-1]).any():
        return False
    if len(fi) > 1:
        f_sorted = np.sort(f_task)
        if (f_sorted[1:] == f_sorted[:-1]).any():
            return False
    if inflight and len(si):
        # A task still in flight from an earlier frame starting again: the loop's business.
        # (Few tasks are in flight: look each up in the sorted starts.)
        known = np.fromiter(inflight, dtype=np.int64, count=len(inflight))
        at = np.minimum(np.searchsorted(s_sorted, known), len(si) - 1)
        if (s_sorted[at] == known).any():
            return False
    # Each finish's start in this segment, if any (at most one: ids are unique here).
    if len(si):
        at = np.minimum(np.searchsorted(s_sorted, f_task), len(si) - 1)
        found = s_sorted[at] == f_task
        f_start = np.where(found, s_order[at], -1)  # index into si
        if (si[f_start[found]] > fi[found]).any():
            return False
    else:
        found = np.zeros(len(fi), dtype=bool)
        f_start = np.full(len(fi), -1)
    lane_key = seg["tid"].astype(np.int64) << 16 | seg["slot"]
    # Many lanes (thread-per-task): the loop is as fast. Only a speed choice (both
    # paths give the same result), so a sample of the lanes decides, not a sort.
    active = lane_key[is_start | is_finish]
    if len(set(active[:: max(1, len(active) // 256)].tolist())) > MAX_LANES:
        return False

    # -- queued ---------------------------------------------------------------
    is_queued = kind == _QUEUED
    n_queued = int(np.count_nonzero(is_queued))
    if n_queued:
        agg.producer_wait_ns += int(seg["aux"][is_queued].sum())
        depth0 = agg.queued - agg.started - agg.cancelled
        if not agg.real_queue and depth0 + n_queued > agg.peak_queue_depth:
            depth = np.cumsum(is_queued.astype(np.int64) - is_start) + depth0
            agg.peak_queue_depth = max(agg.peak_queue_depth, int(depth[is_queued].max()))
        alive0 = agg.queued - agg.completed - agg.failed - agg.stopped - agg.cancelled
        if alive0 + n_queued > agg.peak_alive:  # handed out and not done: waiting or running
            alive = np.cumsum(is_queued.astype(np.int64) - is_finish) + alive0
            agg.peak_alive = max(agg.peak_alive, int(alive[is_queued].max()))
        agg.queued += n_queued

    # -- lanes, in the order the loop would create them -------------------------
    # Lanes are numbered locally (lanes[n]); records carry those numbers.
    unmatched = np.flatnonzero(~found).tolist()
    f_entry: dict[int, tuple[Lane, int, int]] = {}  # finish (index into fi) -> inflight entry
    for j in unmatched:
        entry = inflight.pop(int(f_task[j]), None)
        if entry is not None:
            f_entry[j] = entry
    orphans = [j for j in unmatched if j not in f_entry]  # no start anywhere: lane from the finish
    creates = is_start.copy()
    creates[fi[orphans]] = True
    creator_pos = np.flatnonzero(creates)
    keys, first = np.unique(lane_key[creator_pos], return_index=True)
    lanes: list[Lane] = []
    key_lane = np.empty(len(keys), dtype=np.int64)
    tid = seg["tid"]
    slot = seg["slot"]
    for n in np.argsort(first).tolist():
        i = int(creator_pos[first[n]])
        key_lane[n] = len(lanes)
        lanes.append(agg.lane_for(pid0, int(tid[i]), int(slot[i]), int(t[i])))

    # -- starts -----------------------------------------------------------------
    s_t = t[si]
    s_flags = seg["flags"][si]
    s_lane = key_lane[np.searchsorted(keys, lane_key[si])] if len(si) else np.zeros(0, np.int64)
    matched_start = np.zeros(len(si), dtype=bool)  # its finish is in this segment too
    matched_start[f_start[found]] = True
    if len(si):
        for n in np.unique(s_lane[(s_flags & START_COROUTINE) != 0]).tolist():
            lanes[n].coroutine = True
        for j in np.flatnonzero(~matched_start).tolist():
            inflight[int(s_task[j])] = (
                lanes[int(s_lane[j])],
                int(s_t[j]),
                int(s_flags[j]) & START_IN_PARTS,
            )
        agg.started += len(si)

    # -- finishes: each one's lane, start and whether it is drawn in parts -----
    f_t = t[fi]
    f_aux = seg["aux"][fi]
    f_flags = seg["flags"][fi]
    safe_start = np.maximum(f_start, 0)
    f_lane = np.where(found, s_lane[safe_start], -1) if len(si) else np.full(len(fi), -1)
    f_begin = np.where(found, s_t[safe_start], f_t) if len(si) else f_t.copy()
    f_parts = np.zeros(len(fi), dtype=bool)
    if len(si):
        f_parts[found] = (s_flags[f_start[found]] & START_IN_PARTS) != 0
    matched = found.copy()
    for j in orphans:
        f_lane[j] = key_lane[np.searchsorted(keys, lane_key[fi[j]])]
    for j, (entry_lane, entry_start, entry_parts) in f_entry.items():
        f_lane[j] = next((n for n, known in enumerate(lanes) if known is entry_lane), len(lanes))
        if f_lane[j] == len(lanes):
            lanes.append(entry_lane)
        f_begin[j] = entry_start
        f_parts[j] = entry_parts != 0
        matched[j] = True

    # -- in flight --------------------------------------------------------------
    step = np.zeros(len(seg), dtype=np.int64)
    step[si] = 1
    step[fi[matched]] = -1
    level = np.cumsum(step) + agg.in_flight
    if len(si):
        agg.peak_in_flight = max(agg.peak_in_flight, int(level[si].max()))
    if len(level):
        agg.in_flight = int(level[-1])

    # -- finishes: totals -------------------------------------------------------
    wall = f_t - f_begin
    ok = f_flags == _OK
    err = f_flags == _ERROR
    agg.completed += int(np.count_nonzero(ok))
    agg.failed += int(np.count_nonzero(err))
    agg.stopped += int(len(fi) - np.count_nonzero(ok) - np.count_nonzero(err))
    agg.busy_ns += int(wall.sum())
    agg.cpu_ns += int(f_aux.sum())

    # -- bins: every lane's finishes at once (few bins each, many lanes) -------------
    whole = np.flatnonzero(~f_parts)  # a task drawn in parts is binned by its parts
    if agg.track_bins and len(whole):
        _bin(lanes, f_lane[whole], f_begin[whole], f_t[whole], f_aux[whole])
        failed = whole[f_flags[whole] == _ERROR]
        if len(failed):
            _count_failures(lanes, f_lane[failed], f_t[failed])

    # -- per lane: its finishes in order, and the task it is left running --------
    for n, lane in enumerate(lanes):
        mine = f_lane == n
        rows = np.flatnonzero(mine)
        if len(rows):
            lane.done += int(np.count_nonzero(ok[rows]))
            lane.failed += int(np.count_nonzero(err[rows]))
            lane.busy_ns += int(wall[rows].sum())
            lane.cpu_ns += int(f_aux[rows].sum())
            lane.last_finish_ns = int(f_t[rows[-1]])
            rows = rows[~f_parts[rows]]
        if len(rows):
            begin = f_begin[rows]
            end = f_t[rows]
            aux = f_aux[rows]
            # All fresh arrays (fancy indexing copies): the ring may keep them as they are.
            lane.spans.extend_columns(f_task[rows], begin, end, aux, f_flags[rows], owned=True)
        # The loop sets current_task at each start and clears it at that task's finish:
        # for the lane's last start here, the finish matched to it (ids are unique here).
        starts = np.flatnonzero(s_lane == n)
        if len(starts):
            last = starts[-1]
            lane.current_start = int(s_t[last])
            lane.current_task = None if matched_start[last] else int(s_task[last])
        elif lane.current_task is not None and (mine & (f_task == lane.current_task)).any():
            lane.current_task = None
    return True


def _bin(
    lanes: list[Lane],
    lane: np.ndarray[Any, Any],
    begin: np.ndarray[Any, Any],
    end: np.ndarray[Any, Any],
    cpu: np.ndarray[Any, Any],
) -> None:
    """Adds spans to their lanes' busy-time bins: those inside one bin summed in bulk.

    One pass for every lane (keyed by lane and bin): per-lane NumPy calls cost
    more than the few bins a frame touches on each lane.
    """
    b0 = begin // BIN_NS
    inside = b0 == end // BIN_NS
    if not inside.all():
        cross = np.flatnonzero(~inside)
        for n, s, e, c in zip(
            lane[cross].tolist(),
            begin[cross].tolist(),
            end[cross].tolist(),
            cpu[cross].tolist(),
            strict=True,
        ):
            spread(lanes[n], s, e, c)
        if not inside.any():
            return
        b0 = b0[inside]
        lane = lane[inside]
        wall = (end - begin)[inside]
        cpu = cpu[inside]
    else:
        wall = end - begin
    key, base = _keys(lane, b0)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    busy_sums = np.add.reduceat(wall[order], starts).tolist()
    cpu_sums = np.add.reduceat(cpu[order], starts).tolist()
    for k, busy, c in zip(key[starts].tolist(), busy_sums, cpu_sums, strict=True):
        target, b = lanes[k >> _LANE_SHIFT], (k & _BIN_MASK) + base
        if b < target.fine_from:  # later than any event should be: into the folded blocks
            add_to_blocks(target, b * BIN_NS, b * BIN_NS + busy, c)
            continue
        if b < target.sealed_to:  # a second already summed
            unseal(target, b)
        target.busy_bins[b] = target.busy_bins.get(b, 0) + busy
        target.cpu_bins[b] = target.cpu_bins.get(b, 0) + c


def _count_failures(
    lanes: list[Lane], lane: np.ndarray[Any, Any], end: np.ndarray[Any, Any]
) -> None:
    """Counts failed spans in the bin of their finish, every lane at once (see _bin)."""
    key, base = _keys(lane, end // BIN_NS)
    keys, counts = np.unique(key, return_counts=True)
    for k, n_failed in zip(keys.tolist(), counts.tolist(), strict=True):
        target, b = lanes[k >> _LANE_SHIFT], (k & _BIN_MASK) + base
        target.fail_bins[b] = target.fail_bins.get(b, 0) + n_failed


def _keys(lane: np.ndarray[Any, Any], bins: np.ndarray[Any, Any]) -> tuple[Any, int]:
    """One int64 key per (lane, bin), and the first bin they count from."""
    base = int(bins.min())
    return lane.astype(np.int64) << _LANE_SHIFT | (bins - base), base
