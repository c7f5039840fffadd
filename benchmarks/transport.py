"""Transport: sustained events per second from worker processes into the observer's aggregate.

The observer side is set up exactly as :class:`concviz.observer.session.RunSession`
sets it up internally: an :class:`~concviz.observer.session.EventServer` on an
AF_UNIX socket feeding a :class:`~concviz.observer.aggregate.RunAggregate` under a
lock. Two producer processes each hold a real
:class:`~concviz.runner.recorder.Recorder` (its flusher thread, its framing, its
back-pressure and drop accounting) and push TASK_START/TASK_FINISH records
through ``recorder.append``, one 40-byte record per event, packed beforehand
(real ``time.monotonic_ns()`` timestamps, distinct task ids per producer) so the
timed loop is the hot path a traced task runs: an append.

The clock starts when both producers are connected and ready and are told to
go; it stops when every connection has been closed by its producer and read to
its end, i.e. when every event sent is in the aggregate. It reports, it does
not gate: it exits 0 whatever the verdict.

Usage: ``python benchmarks/transport.py [--events 3000000] [--repeats 5] [--rate 0]
[--json FILE]``
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import queue
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from host import cpu_model

from concviz.observer.aggregate import RunAggregate
from concviz.observer.session import RECV_BYTES, EventServer
from concviz.runner.protocol import RECORD, FrameDecoder, FrameType, Kind, Status, encode_frame
from concviz.runner.recorder import FLUSH_INTERVAL, MAX_BACKLOG_BYTES, MAX_QUEUED

PRODUCERS = 2
#: Issue #21: >= 3 M events/s from worker processes into the aggregate, nothing lost.
TARGET_EVENTS_S = 3_000_000
#: Events per append burst when pacing (``--rate``): a clock read per burst, not per event.
PACE_CHUNK = 1000
READY_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 300.0
#: Each producer's pace in the paced scenarios: 2 x 1.5 M/s offers exactly the target,
#: 2 x 1.875 M/s offers a quarter more. A paced run passes when the observer keeps pace:
#: nothing dropped or lost, and everything in the aggregate within a short tail after the
#: producers stop (then it sustained the offered rate).
PACED_RATES = (TARGET_EVENTS_S / 2, TARGET_EVENTS_S / 2 * 1.25)
#: The longest tail (last append -> all aggregated) that still counts as keeping pace.
MAX_TAIL_S = 0.25
StartMethod = Literal["spawn", "fork", "forkserver"]


# -- the producers (run in child processes) -------------------------------------------------------


def make_records(pid: int, tid: int, first_task: int, events: int) -> list[bytes]:
    """``events`` records, one per event: START/FINISH pairs of distinct tasks."""
    pack = RECORD.pack
    mono = time.monotonic_ns
    start, finish, ok = Kind.TASK_START, Kind.TASK_FINISH, Status.OK
    records: list[bytes] = []
    for k in range(events // 2):
        task = first_task + k
        t = mono()
        records.append(pack(start, 0, 0, pid, tid, task, t, 0, 0))
        records.append(pack(finish, ok, 0, pid, tid, task, t + 1000, 1000, 1000))
    if events % 2:
        records.append(pack(start, 0, 0, pid, tid, first_task + events // 2, mono(), 0, 0))
    return records


def producer(
    path: str,
    index: int,
    events: int,
    rate: float,
    go: Any,
    results: Any,
) -> None:
    """One worker process: connect a Recorder, wait for go, append flat out (or paced), close."""
    from concviz.runner.recorder import Recorder  # noqa: PLC0415  (the child's own import)

    pid = os.getpid()
    tid = threading.get_native_id()
    packed_at = time.perf_counter()
    records = make_records(pid, tid, index * events, events)
    pack_s = time.perf_counter() - packed_at
    recorder = Recorder(path, "worker")
    results.put(("ready", index, None))
    go.wait()
    append = recorder.append
    cpu0 = time.process_time()
    t0 = time.monotonic()
    if rate <= 0:
        for record in records:
            append(record)
    else:
        for begin in range(0, len(records), PACE_CHUNK):
            ahead = t0 + begin / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            for record in records[begin : begin + PACE_CHUNK]:
                append(record)
    t1 = time.monotonic()
    recorder.close()
    t2 = time.monotonic()
    results.put(
        (
            "done",
            index,
            {
                "appended": len(records),
                "pack_s": pack_s,
                "t_go": t0,
                "t_appended": t1,
                "t_closed": t2,
                "append_s": t1 - t0,
                "close_s": t2 - t1,
                "process_cpu_s": time.process_time() - cpu0,
                "dropped_total": recorder.dropped_total,
            },
        )
    )


# -- one repeat, seen from the parent --------------------------------------------------------------


@dataclass
class Repeat:
    """The figures of one repeat (all rates in events per second)."""

    sent: int = 0
    aggregated: int = 0
    task_events: int = 0
    dropped_reported: int = 0
    dropped_by_recorders: int = 0
    unaccounted: int = 0
    protocol_errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    e2e_rate: float = 0.0
    busy_s: float = 0.0
    consumer_rate: float = 0.0
    reader_cpu_s: float | None = None
    #: Time the reader thread was runnable but waiting for a core (schedstat run delay).
    reader_runqueue_s: float | None = None
    producers: list[dict[str, Any]] = field(default_factory=list)
    producer_rates: list[float] = field(default_factory=list)
    last_append_to_end_s: float = 0.0


def thread_sched_s(native_id: int | None) -> tuple[float, float] | None:
    """(CPU seconds, seconds runnable but waiting for a core) of one thread, or None.

    From Linux's schedstat: what separates "the reader had nothing to read" from
    "the reader had no core to run on".
    """
    if native_id is None:
        return None
    try:
        with open(f"/proc/self/task/{native_id}/schedstat", "rb") as f:
            fields = f.read().split()
        return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def mp_context(
    method: StartMethod,
) -> (
    multiprocessing.context.SpawnContext
    | multiprocessing.context.ForkContext
    | (multiprocessing.context.ForkServerContext)
):
    """The start method's context, typed (get_context(str) is typed as a bare BaseContext)."""
    if method == "fork":
        return multiprocessing.get_context("fork")
    if method == "forkserver":
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def next_result(results: Any, procs: list[Any], timeout: float) -> tuple[str, int, Any]:
    """The next message from a producer; fails fast if one died instead of waiting it out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            message: tuple[str, int, Any] = results.get(timeout=0.5)
            return message
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a producer died (exit codes {dead})") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"no word from the producers in {timeout:g} s") from None


def run_once(events: int, rate: float, start_method: StartMethod, track_bins: bool) -> Repeat:
    ctx = mp_context(start_method)
    tmp = tempfile.mkdtemp(prefix="concviz-bench-")
    path = os.path.join(tmp, "events.sock")
    aggregate = RunAggregate(track_bins=track_bins)
    lock = threading.Lock()
    server = EventServer(path, aggregate, lock)
    server.start()
    go = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=producer, args=(path, i, events, rate, go, results), daemon=True)
        for i in range(PRODUCERS)
    ]
    out = Repeat()
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            kind, index, _payload = next_result(results, procs, READY_TIMEOUT_S)
            assert kind == "ready", (kind, index)
        deadline = time.monotonic() + 10
        while server.accepted < PRODUCERS:  # the reader thread accepts asynchronously
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {server.accepted} producers connected")
            time.sleep(0.001)
        reader0 = thread_sched_s(server._thread.native_id)
        began = time.monotonic()
        go.set()
        if not server.wait_all_closed(timeout=RUN_TIMEOUT_S):
            raise RuntimeError("producers' connections still open after the timeout")
        ended = time.monotonic()
        reader1 = thread_sched_s(server._thread.native_id)
        for _ in procs:
            kind, index, payload = next_result(results, procs, RUN_TIMEOUT_S)
            assert kind == "done", (kind, index)
            out.producers.append(payload)
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        results.close()
        results.join_thread()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)

    out.producers.sort(key=lambda p: p["t_go"])
    with lock:
        out.aggregated = aggregate.events
        out.task_events = aggregate.started + aggregate.completed
        out.dropped_reported = aggregate.dropped
    out.sent = sum(p["appended"] for p in out.producers)
    out.dropped_by_recorders = sum(p["dropped_total"] for p in out.producers)
    out.unaccounted = out.sent - out.task_events - out.dropped_by_recorders
    out.protocol_errors = list(server.protocol_errors)
    out.wall_s = ended - began
    out.e2e_rate = out.task_events / out.wall_s
    out.busy_s = server.busy_s
    out.consumer_rate = out.aggregated / out.busy_s if out.busy_s > 0 else 0.0
    if reader0 is not None and reader1 is not None:
        out.reader_cpu_s = reader1[0] - reader0[0]
        out.reader_runqueue_s = reader1[1] - reader0[1]
    out.producer_rates = [p["appended"] / p["append_s"] for p in out.producers]
    out.last_append_to_end_s = ended - max(p["t_appended"] for p in out.producers)
    return out


# -- where the time goes: the consumer alone, on a captured payload --------------------------------


def consumer_breakdown(events: int, track_bins: bool) -> dict[str, Any]:
    """Times decode and aggregation separately, on a stream framed as a flusher frames it.

    The stream is the records one producer sends, cut into RECORDS frames of the
    size a flusher drains in one wake-up at the measured producer rate, read back
    in RECV_BYTES chunks as the EventServer reads them.
    """
    records = make_records(4242, 4243, 0, events)
    per_frame = 65_536  # records per frame: ~2.6 MB, a few ms of a producer's output
    stream = b"".join(
        encode_frame(FrameType.RECORDS, b"".join(records[i : i + per_frame]))
        for i in range(0, len(records), per_frame)
    )
    del records
    view = memoryview(stream)

    def decode_only() -> list[bytes]:
        decoder = FrameDecoder()
        frames: list[bytes] = []
        for pos in range(0, len(stream), RECV_BYTES):
            frames.extend(payload for _, payload in decoder.feed(view[pos : pos + RECV_BYTES]))
        return frames

    began = time.perf_counter()
    frames = decode_only()
    decode_s = time.perf_counter() - began

    # The floor: unpacking every record in a Python loop and doing nothing with it.
    iter_unpack = RECORD.iter_unpack
    began = time.perf_counter()
    for payload in frames:
        for _record in iter_unpack(payload):
            pass
    unpack_s = time.perf_counter() - began

    aggregate = RunAggregate(track_bins=track_bins)
    began = time.perf_counter()
    for payload in frames:
        aggregate.feed_records(payload)
    feed_s = time.perf_counter() - began

    profiler = cProfile.Profile()
    aggregate = RunAggregate(track_bins=track_bins)
    profiler.enable()
    for payload in frames:
        aggregate.feed_records(payload)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(8)
    return {
        "events": events,
        "stream_bytes": len(stream),
        "decode_s": decode_s,
        "feed_s": feed_s,
        "decode_rate": events / decode_s,
        "unpack_rate": events / unpack_s,
        "feed_rate": events / feed_s,
        "combined_rate": events / (decode_s + feed_s),
        "profile": text.getvalue(),
    }


# -- reporting ---------------------------------------------------------------------------------


def m(rate: float) -> str:
    return f"{rate / 1e6:.2f} M/s"


def spread(values: list[float], fmt: Any = m) -> str:
    return f"{fmt(statistics.median(values))}  (range {fmt(min(values))} - {fmt(max(values))})"


def print_repeat(i: int, r: Repeat) -> None:
    rates = ", ".join(m(x) for x in r.producer_rates)
    closes = ", ".join(f"{p['close_s']:.3f}" for p in r.producers)
    reader = "n/a"
    if r.reader_cpu_s is not None and r.reader_runqueue_s is not None:
        reader = f"{r.reader_cpu_s:.3f} s (+{r.reader_runqueue_s:.3f} s waiting for a core)"
    print(
        f"  repeat {i + 1}: {r.task_events:,}/{r.sent:,} task events aggregated in "
        f"{r.wall_s:.3f} s = {m(r.e2e_rate)} end to end; dropped {r.dropped_by_recorders:,} "
        f"(reported {r.dropped_reported:,}), unaccounted {r.unaccounted:,}"
    )
    print(
        f"            producers append {rates}, then close() took {closes} s; "
        f"reader busy {r.busy_s:.3f} s ({m(r.consumer_rate)}), reader thread CPU {reader}"
    )
    for err in r.protocol_errors:
        print(f"            PROTOCOL ERROR: {err}")


def diagnose(runs: list[Repeat], breakdown: dict[str, Any]) -> list[str]:
    """Says whether the producers or the consumer set the pace, with the evidence."""
    wall = statistics.median(r.wall_s for r in runs)
    busy = statistics.median(r.busy_s for r in runs)
    append = statistics.median(max(p["append_s"] for p in r.producers) for r in runs)
    tail = statistics.median(r.last_append_to_end_s for r in runs)
    lines = [
        f"median wall {wall:.3f} s: the producers had appended everything after {append:.3f} s;"
        f" the remaining {tail:.3f} s went on getting it into the aggregate",
        f"reader thread busy decoding+aggregating {busy:.3f} s = {100 * busy / wall:.0f}% of "
        f"the wall",
    ]
    sched = [
        (r.reader_cpu_s, r.reader_runqueue_s, r.wall_s)
        for r in runs
        if r.reader_cpu_s is not None and r.reader_runqueue_s is not None
    ]
    idle_share = None
    if sched:
        cpu = statistics.median(c / w for c, _, w in sched)
        waiting = statistics.median(q / w for _, q, w in sched)
        idle_share = max(0.0, 1.0 - cpu - waiting)
        lines.append(
            f"reader thread, share of the wall: on a core {100 * cpu:.0f}% (recv included), "
            f"runnable but waiting for a core {100 * waiting:.0f}%, blocked with nothing to "
            f"read {100 * idle_share:.0f}%"
        )
    lost = [r for r in runs if r.protocol_errors]
    if lost:
        lines.append(
            f"=> {len(lost)}/{len(runs)} repeats lost whole connections to oversized frames "
            f"(see PROTOCOL ERROR above): their figures measure the failure, not the transport"
        )
    if any(r.dropped_by_recorders for r in runs):
        lines.append(
            f"=> drops: a producer's queue passed MAX_QUEUED ({MAX_QUEUED:,} records) or its "
            f"unsent bytes passed MAX_BACKLOG_BYTES ({MAX_BACKLOG_BYTES >> 20} MiB), so it "
            f"shed the excess and counted it (recorder.py _drain): events were offered faster "
            f"than the observer took them"
        )
    if lost:
        pass  # a bound would describe the failure, not the transport
    elif tail > max(0.1, 0.1 * wall) or busy > 0.6 * wall:
        producer_rate = statistics.median(sum(r.producer_rates) for r in runs)
        consumer_rate = statistics.median(r.consumer_rate for r in runs)
        lines.append(
            f"=> consumer-bound: the producers append at {m(producer_rate)} together; the "
            f"observer's one reader thread aggregates {m(consumer_rate)} of its busy time, "
            f"and shares {os.cpu_count()} cores with both producers"
        )
    else:
        lines.append("=> the observer kept up: the producers (or their pace) set the rate")
    return lines


def run_scenario(name: str, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    """``args.repeats`` repeats at one pace; prints each and returns the raw figures."""
    pace = "as fast as they can" if rate <= 0 else f"paced at {m(rate)} each"
    print(f"[{name}] {PRODUCERS} producers x {args.events:,} events, {pace}")
    runs: list[Repeat] = []
    for i in range(args.repeats):
        run = run_once(args.events, rate, args.start_method, args.track_bins)
        runs.append(run)
        print_repeat(i, run)
    return {"name": name, "rate": rate, "runs": runs}


def summarise(scenario: dict[str, Any], breakdown: dict[str, Any]) -> str:
    """Prints one scenario's medians, diagnosis and verdict; returns the verdict."""
    runs: list[Repeat] = scenario["runs"]
    e2e = [r.e2e_rate for r in runs]
    dropped = sum(r.dropped_by_recorders for r in runs)
    unaccounted = sum(abs(r.unaccounted) for r in runs)
    errors = sum(len(r.protocol_errors) for r in runs)
    print(f"[{scenario['name']}] {len(runs)} repeats")
    print(f"  end to end (task events aggregated / wall):  {spread(e2e)}")
    print(
        f"  producer side, per producer (appends/s):     "
        f"{spread([x for r in runs for x in r.producer_rates])}"
    )
    print(
        f"  consumer only (events / EventServer.busy_s): {spread([r.consumer_rate for r in runs])}"
    )
    print(
        f"  wall:                                        "
        f"{spread([r.wall_s for r in runs], lambda s: f'{s:.3f} s')}"
    )
    print(
        f"  dropped: {dropped:,} in all (per repeat: "
        f"{', '.join(f'{r.dropped_by_recorders:,}' for r in runs)}); reported in DROPPED "
        f"records: {sum(r.dropped_reported for r in runs):,}; lost without a count: "
        f"{unaccounted:,}; protocol errors: {errors}"
    )
    print("  where the time goes:")
    for line in diagnose(runs, breakdown):
        print(f"    {line}")
    offered = scenario["rate"] * PRODUCERS
    tail = statistics.median(r.last_append_to_end_s for r in runs)
    kept_pace = tail <= MAX_TAIL_S
    ok_rate = offered >= TARGET_EVENTS_S and kept_pace
    ok_loss = dropped == 0 and unaccounted == 0 and errors == 0
    if scenario["rate"] <= 0:
        # Producers that append at ~25 M/s offer far more than any observer can take;
        # what matters here is that nothing is lost without a count and memory stays
        # bounded (the recorder sheds and counts past its cap). Reported, not judged.
        honest = unaccounted == 0 and errors == 0
        outcome = (
            "every event aggregated or counted as dropped"
            if honest
            else "EVENTS LOST WITHOUT A COUNT"
        )
        print(f"  burst, not a sustained rate: {outcome} (the target is judged on the paced run)")
        return "counted" if honest else "LOST"
    verdict = "PASS" if ok_rate and ok_loss else "MISS"
    reasons = []
    if not kept_pace:
        reasons.append(f"fell behind: {tail:.2f} s to drain after the producers stopped")
    elif offered < TARGET_EVENTS_S:
        reasons.append(f"offered only {m(offered)}")
    if not ok_loss:
        reasons.append(
            f"{dropped:,} dropped, {unaccounted:,} lost without a count, {errors} protocol errors"
        )
    print(
        f"  target: sustain >= {m(TARGET_EVENTS_S)} with 0 dropped (offered {m(offered)}; kept "
        f"pace = all aggregated within {MAX_TAIL_S:g} s of the last append): {verdict}"
        + (f" ({'; '.join(reasons)})" if reasons else "")
    )
    return verdict


def parse_rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not rates or any(r < 0 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be >= 0: {text!r}")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3_000_000, help="events per producer")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per scenario")
    parser.add_argument(
        "--rates",
        type=parse_rates,
        default=[0.0, *PACED_RATES],
        help="comma-separated producer paces in events/s, one scenario each; 0: as fast as "
        f"they can (default: 0,{','.join(f'{r:.0f}' for r in PACED_RATES)})",
    )
    parser.add_argument(
        "--start-method",
        default="spawn",
        choices=("spawn", "fork", "forkserver"),
        help="how producers are started (spawn: they inherit none of the server's sockets)",
    )
    parser.add_argument(
        "--profile-events",
        type=int,
        default=1_000_000,
        help="events in the captured stream profiled for the consumer breakdown",
    )
    parser.add_argument(
        "--track-bins",
        action="store_true",
        help="aggregate with busy-time bins on, as the dashboard's aggregate may (RunSession's "
        "default is off)",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="write the raw numbers here")
    args = parser.parse_args(argv)
    if args.events < 2 or args.repeats < 1 or args.profile_events < 2:
        parser.error("--events and --profile-events must be >= 2, --repeats >= 1")
    args.start_method = cast(StartMethod, args.start_method)

    print("Transport: events/s from worker processes into the observer's aggregate")
    print(f"command:  {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine:  {os.cpu_count()} CPUs, {cpu_model()}, {platform.platform()}")
    print(
        f"python:   {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})"
    )
    print(
        f"setup:    {PRODUCERS} producer processes ({args.start_method}), one Recorder each "
        f"(flush interval {FLUSH_INTERVAL * 1000:g} ms, backlog cap "
        f"{MAX_BACKLOG_BYTES >> 20} MiB); one EventServer + RunAggregate (track_bins="
        f"{args.track_bins}) in this process; "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("wall:     from 'go' (both producers connected and ready) to every connection closed")
    print("          and read to its end (everything sent is in the aggregate)")
    print()

    scenarios = []
    for rate in args.rates:
        name = "burst (flat out)" if rate <= 0 else f"paced {rate / 1e6:g} M/s"
        scenarios.append(run_scenario(name, rate, args))
        print()

    print("consumer alone, on a captured stream ...", flush=True)
    breakdown = consumer_breakdown(args.profile_events, args.track_bins)
    print(
        f"  {breakdown['events']:,} events ({breakdown['stream_bytes'] / 1e6:.0f} MB) framed as a "
        f"flusher frames them, read in {RECV_BYTES >> 10} KiB chunks, no sockets, no other "
        f"process: decode {m(breakdown['decode_rate'])}, aggregate "
        f"{m(breakdown['feed_rate'])}, both {m(breakdown['combined_rate'])}"
    )
    print(
        f"  per event: aggregate {1e9 / breakdown['feed_rate']:.0f} ns, of which a bare "
        f"'for record in iter_unpack(payload): pass' loop is {1e9 / breakdown['unpack_rate']:.0f}"
        f" ns ({m(breakdown['unpack_rate'])}); decode {1e9 / breakdown['decode_rate']:.0f} ns"
    )
    print("  cProfile of RunAggregate.feed_records on it:")
    print("\n".join("    " + line for line in breakdown["profile"].strip().splitlines()))
    print()

    print("Results")
    verdicts = []
    for scenario in scenarios:
        verdicts.append((scenario["name"], summarise(scenario, breakdown)))
        print()
    print("targets: " + "; ".join(f"{name}: {v}" for name, v in verdicts))

    if args.json:
        data = {
            "command": [sys.executable, *sys.argv],
            "cpu_count": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "args": vars(args),
            "scenarios": [
                {"name": sc["name"], "rate": sc["rate"], "repeats": [asdict(r) for r in sc["runs"]]}
                for sc in scenarios
            ],
            "consumer_breakdown": {k: v for k, v in breakdown.items() if k != "profile"},
            "target_events_s": TARGET_EVENTS_S,
            "verdicts": dict(verdicts),
        }
        Path(args.json).write_text(json.dumps(data, indent=1))
        print(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
