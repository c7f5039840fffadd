"""The Chrome / Perfetto trace export: the format's rules, real ids, every model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from concviz import __version__
from concviz.models import CATALOG as MODELS
from concviz.observer import aggregate as agg_mod
from concviz.observer.aggregate import RunAggregate, Sample
from concviz.observer.recording import Replay
from concviz.observer.trace import SYNTHETIC_TID_BASE, trace_document, trace_events
from concviz.runner.protocol import RECORD, START_COROUTINE, Kind
from tests.support import concviz
from tests.trace_format import model_trace, problems, strict_json

RUNNER = 5000
MS = 1_000_000
DATA = Path(__file__).parent / "data"
#: Every model; those this interpreter lacks (interpreters) run under a newer CPython if found.
RUNNABLE = list(MODELS)


def rec(
    kind: Kind, t_ms: float, task: int = 0, pid: int = RUNNER, tid: int = 1, **kw: int
) -> bytes:
    return RECORD.pack(
        kind,
        kw.get("flags", 0),
        kw.get("slot", 0),
        pid,
        tid,
        task,
        int(t_ms * MS),
        kw.get("cpu", 0),
        0,
    )


def aggregate(model: str = "threads") -> RunAggregate:
    agg = RunAggregate({"model": model, "workload": "cpu", "workers": 2, "tasks": 4})
    agg.feed_text({"type": "run_start", "pid": RUNNER, "memory_at_start": 24 << 20})
    return agg


def sample(t_ms: float, threads: dict[tuple[int, int], float] | None = None) -> Sample:
    return Sample(int(t_ms * MS), (50.0, 25.0), threads or {}, {}, 3, memory=30 << 20)


# -- the checker itself: each rule it enforces catches what breaks it ---------

GOOD: list[dict[str, Any]] = [
    {"ph": "M", "name": "process_name", "pid": 1, "tid": 1, "args": {"name": "p"}},
    {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "t"}},
    {"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": 0, "dur": 10},
    {"ph": "X", "name": "child", "pid": 1, "tid": 2, "ts": 2, "dur": 3},
    {"ph": "B", "name": "b", "pid": 1, "tid": 3, "ts": 1},
    {"ph": "E", "name": "b", "pid": 1, "tid": 3, "ts": 4},
    {"ph": "C", "name": "queue", "pid": 1, "tid": 1, "ts": 1, "args": {"depth": 2}},
    {"ph": "i", "s": "g", "name": "mark", "pid": 1, "tid": 1, "ts": 0},
]


def test_the_checker_passes_a_well_formed_trace() -> None:
    assert problems({"traceEvents": GOOD, "displayTimeUnit": "ms"}) == []


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": -1.5, "dur": 1}, ">= 0"),
        (
            {"ph": "C", "name": "q", "pid": 1, "tid": 1, "ts": float("inf"), "args": {"d": 1}},
            "finite",
        ),
        ({"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": 1}, "dur"),
        ({"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": 1, "dur": -2}, "dur"),
        ({"ph": "E", "name": "b", "pid": 1, "tid": 9, "ts": 5}, "no B open"),
        ({"ph": "B", "name": "b", "pid": 1, "tid": 9, "ts": 5}, "never ends"),
        ({"ph": "C", "name": "q", "pid": 1, "tid": 1, "ts": 1, "args": {"d": "x"}}, "not a number"),
        ({"ph": "C", "name": "q", "pid": 1, "tid": 1, "ts": 1, "args": {}}, "non-empty"),
        ({"ph": "X", "name": "a", "pid": "1", "tid": 2, "ts": 1, "dur": 1}, "pid"),
        ({"ph": "X", "name": "a", "pid": 1, "tid": 2.5, "ts": 1, "dur": 1}, "tid"),
        ({"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": 5, "dur": 10}, "without nesting"),
        ({"ph": "X", "name": "a", "pid": 7, "tid": 2, "ts": 20, "dur": 1}, "in pid 7 and in pid 1"),
        ({"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "u"}}, "named"),
        ({"ph": "M", "name": "colour", "pid": 1, "tid": 2, "args": {}}, "unknown metadata"),
        ({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": 2, "args": {}}, "sort_index"),
        ({"ph": "Q", "name": "a", "pid": 1, "tid": 2, "ts": 1}, "unknown phase"),
        ({"ph": "i", "s": "x", "name": "a", "pid": 1, "tid": 2, "ts": 1}, "scope"),
        ({"ph": "b", "name": "a", "cat": "c", "pid": 1, "tid": 2, "ts": 1}, "async event"),
        ({"ph": "s", "name": "a", "cat": "c", "pid": 1, "tid": 2, "ts": 1}, "flow event"),
    ],
)
def test_the_checker_catches_each_rule(bad: dict[str, Any], needle: str) -> None:
    found = problems({"traceEvents": [*GOOD, bad]})
    assert found, bad
    assert any(needle in line for line in found), found


def test_strict_json_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        strict_json('{"traceEvents": [], "x": NaN}')


# -- the export, from a hand-made run -----------------------------------------


def test_a_sample_before_the_run_starts_is_kept_at_a_non_negative_time() -> None:
    """Perfetto drops negative timestamps (trace_sorter_negative_timestamp_dropped)."""
    agg = aggregate()
    agg.add_sample(sample(90), 10 * MS, [0.0], [0.1])  # the sampler's first tick: before the start
    agg.feed_records(
        rec(Kind.RUN_START, 100)
        + rec(Kind.TASK_START, 100, 0, tid=4242)
        + rec(Kind.TASK_FINISH, 130, 0, tid=4242, cpu=30 * MS)
        + rec(Kind.RUN_END, 140)
    )
    doc = trace_document(agg)
    events = doc["traceEvents"]
    assert problems(doc) == []
    assert min(e["ts"] for e in events if "ts" in e) == 0.0
    counters = [e for e in events if e["ph"] == "C" and e["name"] == "queue"]
    assert [c["ts"] for c in counters] == [0.0]  # the early tick is there, at time zero
    (task,) = (e for e in events if e["ph"] == "X")
    assert task["ts"] == pytest.approx(10_000.0)  # 10 ms after the tick, in µs
    assert doc["otherData"]["run_start_us"] == pytest.approx(10_000.0)
    marks = {e["name"]: e["ts"] for e in events if e["ph"] == "i"}
    assert marks == {
        "run start": pytest.approx(10_000.0),
        "run end (done)": pytest.approx(50_000.0),
    }


def test_tracks_are_the_real_os_threads_named_after_their_lanes() -> None:
    agg = aggregate()
    agg.feed_records(
        rec(Kind.RUN_START, 0)
        + b"".join(
            rec(Kind.TASK_START, 0, n, tid=tid) + rec(Kind.TASK_FINISH, 10, n, tid=tid)
            for n, tid in enumerate((23759, 23760))
        )
    )
    events = trace_events(agg)
    assert {(e["pid"], e["tid"]) for e in events if e["ph"] == "X"} == {
        (RUNNER, 23759),
        (RUNNER, 23760),
    }
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert names == {23759: "tid 23759", 23760: "tid 23760"}


def test_async_slots_sharing_a_thread_get_a_track_each() -> None:
    """Three coroutines at once on the loop's thread: one real tid, three overlapping tasks."""
    agg = aggregate("asyncio")
    stream = [rec(Kind.RUN_START, 0)]
    for n in range(3):
        stream.append(rec(Kind.TASK_START, n, n, tid=777, slot=n, flags=START_COROUTINE))
    for n in range(3):
        stream.append(rec(Kind.TASK_FINISH, 50 + n, n, tid=777, slot=n))
    agg.feed_records(b"".join(stream))
    doc = trace_document(agg)
    assert problems(doc) == []
    events = doc["traceEvents"]
    tids = sorted(e["tid"] for e in events if e["ph"] == "X")
    assert len(set(tids)) == 3
    assert all(tid >= SYNTHETIC_TID_BASE for tid in tids)
    names = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert names == {"slot 0 (tid 777)", "slot 1 (tid 777)", "slot 2 (tid 777)"}


def test_counters_are_named_once_and_per_thread_cpu_sits_in_its_own_process() -> None:
    """Perfetto names a counter track "<name> <arg key>": no word said twice."""
    worker = 6000
    agg = aggregate("processes")
    agg.feed_records(
        rec(Kind.RUN_START, 0)
        + rec(Kind.TASK_START, 1, 0, pid=worker, tid=worker)
        + rec(Kind.TASK_FINISH, 20, 0, pid=worker, tid=worker)
    )
    agg.add_sample(sample(10, {(worker, worker): 97.0, (RUNNER, RUNNER): 3.0}), 10 * MS, [0], [1])
    counters = [e for e in trace_events(agg) if e["ph"] == "C"]
    perfetto_names = {(e["pid"], f"{e['name']} {key}") for e in counters for key in e["args"]}
    assert perfetto_names == {
        (RUNNER, "memory MiB"),
        (RUNNER, "CPU % core 0"),
        (RUNNER, "CPU % core 1"),
        (RUNNER, "queue depth"),
        (RUNNER, f"thread CPU % tid {RUNNER}"),
        (worker, f"thread CPU % tid {worker}"),  # the worker's, in the worker's process
    }
    assert all(e["tid"] == e["pid"] for e in counters)  # the process's main thread, a real id


def test_thread_per_task_past_the_lanes_kept_puts_every_task_on_its_own_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A live view forgets old down lanes; a trace must not move their tasks elsewhere.

    (Seen with thread-per-task, 2500 tasks: 356 slices on the runner's thread,
    dropped by Perfetto as slice_drop_overlapping_complete_event.)
    """
    monkeypatch.setattr(agg_mod, "DOWN_LANES_KEPT", 4)
    agg = RunAggregate(
        {"model": "thread-per-task", "workload": "sleep", "workers": 3, "tasks": 12},
        keep_all_spans=True,
    )
    agg.feed_text({"type": "run_start", "pid": RUNNER})
    stream = [rec(Kind.RUN_START, 0)]
    for n in range(12):  # three threads alive at a time, each one task, overlapping
        tid = 9000 + n
        stream += [
            rec(Kind.WORKER_UP, n, tid=tid),
            rec(Kind.TASK_START, n, n, tid=tid),
            rec(Kind.TASK_FINISH, n + 3, n, tid=tid),
            rec(Kind.WORKER_DOWN, n + 3, tid=tid),
        ]
    agg.feed_records(b"".join(stream))
    doc = trace_document(agg)
    assert problems(doc) == []
    slices = {e["args"]["task"]: e["tid"] for e in doc["traceEvents"] if e["ph"] == "X"}
    assert slices == {n: 9000 + n for n in range(12)}


def test_other_data_says_which_tool_and_version_wrote_it() -> None:
    agg = aggregate()
    agg.feed_records(rec(Kind.RUN_START, 0))
    other = trace_document(agg)["otherData"]
    assert (other["tool"], other["version"]) == ("concviz", __version__)
    assert other["spec"]["model"] == "threads"


# -- real runs and recordings ---------------------------------------------------


@pytest.fixture(scope="module")
def trace_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.mark.slow
@pytest.mark.parametrize("model", RUNNABLE)
def test_every_models_trace_follows_the_format(model: str, trace_folder: Path) -> None:
    text = model_trace(model, trace_folder).read_text()  # skips if no CPython can run it
    doc = strict_json(text)
    assert problems(doc) == []
    events = doc["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert sorted({e["args"]["task"] for e in slices}) == list(range(6))  # some in parts
    runner = doc["otherData"]["summary"]
    assert runner["completed"] + runner["failed"] + runner["cancelled"] == 6
    named = {(e["pid"], e["tid"]) for e in events if e["name"] == "thread_name"}
    assert {(e["pid"], e["tid"]) for e in slices} <= named
    workers = {e["pid"] for e in events if e["name"] == "process_name"} - {
        e["pid"] for e in events if e["name"] == "process_name" and "runner" in e["args"]["name"]
    }
    for e in events:
        if e["ph"] == "X" and e["pid"] in workers:  # a worker process's task: its main thread
            assert e["tid"] == e["pid"], e


@pytest.mark.parametrize("recording", ["threads-cpu.cvrec", "processes-cpu.cvrec"])
def test_replay_converts_a_recording_to_a_trace(recording: str, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    done = concviz("replay", str(DATA / recording), "--trace", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    doc = strict_json(out.read_text())
    assert problems(doc) == []
    tasks = doc["otherData"]["summary"]["tasks"]
    assert sorted(e["args"]["task"] for e in doc["traceEvents"] if e["ph"] == "X") == list(
        range(tasks)
    )
    assert str(out) in done.stderr


def test_replay_json_prints_the_recordings_figures(tmp_path: Path) -> None:
    done = concviz("replay", str(DATA / "threads-cpu.cvrec"), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["command"], data["tool"], data["schema_version"]) == ("replay", "concviz", 1)
    (run,) = data["runs"]
    played = Replay(DATA / "threads-cpu.cvrec").play_all().aggregate.summary()
    for key in ("model", "completed", "failed", "events", "lanes", "wall_s"):
        assert run[key] == getattr(played, key), key


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["/nonexistent/x.cvrec", "--json"], "cannot read"),
        ([str(DATA / "threads-cpu.cvrec"), "--trace", "/nonexistent/dir/t.json"], "cannot write"),
    ],
)
def test_replay_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    done = concviz("replay", *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
