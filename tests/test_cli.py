"""The command line as a user meets it: real subprocesses, real output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from concviz.models import CATALOG as MODELS
from concviz.workloads import CATALOG as WORKLOADS
from tests.support import concviz

REQUIRED_KEYS = {
    "model",
    "workload",
    "workers",
    "tasks",
    "completed",
    "failed",
    "wall_s",
    "cpu_s",
    "parallelism",
    "on_cpu_fraction",
    "peak_queue_depth",
    "cores",
    "core_utilisation",
    "python",
    "gil_enabled",
    "events",
    "dropped_events",
}


def test_models_lists_every_model_with_a_description() -> None:
    out = concviz("models")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(MODELS)
    assert all(len(line.split(maxsplit=1)[1]) > 10 for line in lines)


def test_workloads_lists_every_workload() -> None:
    out = concviz("workloads")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.strip().splitlines()] == list(WORKLOADS)


def test_run_json_prints_one_object_with_the_documented_keys() -> None:
    out = concviz(
        "run", "-m", "threads", "-w", "sleep", "-n", "4", "-t", "8", "--task-ms", "20", "--json"
    )
    assert out.returncode == 0, out.stderr
    (data,) = json.loads(out.stdout)["runs"]  # nothing but the JSON on stdout
    assert set(data) >= REQUIRED_KEYS
    assert data["completed"] == 8
    assert data["workers"] == 4
    assert data["dropped_events"] == 0
    assert isinstance(data["core_utilisation"], list)
    assert data["cores"] == len(data["core_utilisation"])


@pytest.mark.parametrize("model", ["threads", "processes"])
def test_a_run_shorter_than_a_sampler_tick_still_reports_its_peak_memory(model: str) -> None:
    """Two 1 ms tasks end before the 10 Hz sampler looks; the kernel's peak still counts."""
    out = concviz("run", "-m", model, "-w", "cpu", "-n", "2", "-t", "2", "--task-ms", "1", "--json")
    assert out.returncode == 0, out.stderr
    (data,) = json.loads(out.stdout)["runs"]
    assert data["completed"] == 2
    assert 5 * 2**20 < data["peak_rss"] < 2**32  # a Python process: megabytes, not 0 or absurd


def test_run_prints_a_summary_table() -> None:
    out = concviz("run", "-m", "processes", "-n", "2", "-t", "4", "--task-ms", "10")
    assert out.returncode == 0, out.stderr
    for label in (
        "Wall time",
        "Parallelism",
        "On-CPU fraction",
        "Peak queue depth",
        "Core utilisation",
        "Interpreter",
        "GIL enabled",
        "Worker CPU time",
    ):
        assert label in out.stdout


def test_failing_tasks_do_not_fail_the_command() -> None:
    out = concviz(
        "run", "-w", "sleep", "-t", "10", "--task-ms", "5", "--fail-rate", "0.5", "--json"
    )
    assert out.returncode == 0
    (data,) = json.loads(out.stdout)["runs"]
    assert data["failed"] > 0
    assert data["completed"] + data["failed"] == 10


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-m", "nope"], "unknown model 'nope' (choose from sequential, threads"),
        (["-w", "nope"], "unknown workload 'nope' (choose from cpu, factorize"),
        (["-n", "0"], "workers for threads must be at least 1, got 0"),
        (["-n", "100000"], "workers for threads must be at most 4,096"),
        (["-m", "processes", "-n", "5000"], "workers for processes must be at most 512"),
        (["-t", "0"], "tasks must be at least 1"),
        (["--task-ms", "-5"], "task-ms must be at least 0"),
        (["--task-ms", "abc"], "task-ms must be a number, got 'abc'"),
        (["-n", "many"], "workers must be a whole number, got 'many'"),
        (["--fail-rate", "2"], "fail-rate must be at most 1"),
        (
            ["--start-method", "clone"],
            "unknown start method 'clone' (choose from fork, spawn, forkserver)",
        ),
        (
            ["--trace", "/nonexistent/dir/t.json"],
            "cannot write trace file '/nonexistent/dir/t.json'",
        ),
        (["--python", "/nonexistent/python"], "no such interpreter"),
        (["--python", "/bin/ls"], "not a working Python 3 interpreter"),
        (["--python", "/bin/echo"], "not a Python 3 interpreter"),
        (
            ["-w", "deadlock", "--lock-order", "sideways"],
            "unknown lock order 'sideways' (choose from opposite, fixed)",
        ),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(args: list[str], needle: str) -> None:
    out = concviz("run", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert needle in lines[0]
    assert "Traceback" not in out.stderr


def test_trace_is_chrome_trace_json_with_a_track_per_worker(tmp_path: Path) -> None:
    trace = tmp_path / "run.json"
    out = concviz(
        "run",
        "-m",
        "threads",
        "-w",
        "cpu",
        "-n",
        "2",
        "-t",
        "6",
        "--task-ms",
        "20",
        "--trace",
        str(trace),
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(trace.read_text())
    events = doc["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert sorted(e["args"]["task"] for e in slices) == list(range(6))
    assert all(e["dur"] > 0 and 0 <= e["args"]["on_cpu"] <= 1 for e in slices)
    tracks = {(e["pid"], e["tid"]) for e in slices}
    assert len(tracks) == 2  # one per worker thread
    names = [e for e in events if e["ph"] == "M" and e["name"] == "thread_name"]
    assert {(e["pid"], e["tid"]) for e in names} >= tracks
    counters = {e["name"] for e in events if e["ph"] == "C"}
    assert {"CPU %", "queue", "memory"} <= counters
    assert doc["otherData"]["summary"]["completed"] == 6


def test_no_command_prints_help() -> None:
    out = concviz("--help")
    assert out.returncode == 0
    assert "run" in out.stdout
    assert "models" in out.stdout
