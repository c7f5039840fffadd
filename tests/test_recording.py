"""Record a run, play it back: the replay rebuilds the same run model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from concviz.observer.recording import RecordingError, Replay, read_frames


def test_a_replay_rebuilds_the_recorded_run(tmp_path: Path) -> None:
    rec = tmp_path / "run.cvrec"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "concviz",
            "run",
            "-m",
            "threads",
            "-w",
            "cpu",
            "-n",
            "3",
            "-t",
            "9",
            "--task-ms",
            "20",
            "--fail-rate",
            "0.2",
            "--json",
            "--record",
            str(rec),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    (live,) = json.loads(out.stdout)["runs"]
    header, frames = read_frames(rec)
    assert header["spec"]["model"] == "threads"
    assert frames[-1].ftype == 22  # END

    replay = Replay(rec).play_all()
    assert replay.done.is_set()
    summary = replay.aggregate.summary()
    for key in (
        "completed",
        "failed",
        "events",
        "peak_queue_depth",
        "lanes",
        "python",
        "peak_memory",
        "memory_at_start",
    ):
        assert getattr(summary, key) == live[key], key
    assert summary.wall_s == pytest.approx(live["wall_s"])
    assert summary.cpu_s == pytest.approx(live["cpu_s"])
    assert summary.observer_cpu == pytest.approx(live["observer_cpu"])
    assert summary.status == "done"
    assert replay.aggregate.samples  # the sampler's readings came back too


def test_replay_advances_on_its_own_clock(tmp_path: Path) -> None:
    rec = tmp_path / "run.cvrec"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "concviz",
            "run",
            "-w",
            "sleep",
            "-n",
            "2",
            "-t",
            "8",
            "--task-ms",
            "100",
            "--quiet",
            "--record",
            str(rec),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    replay = Replay(rec)
    middle = replay.start_ns + (replay.end_ns - replay.start_ns) // 2
    replay.advance_to(middle)
    halfway = replay.aggregate.completed
    assert replay.now_ns() == middle
    assert not replay.done.is_set()
    replay.advance_to(replay.end_ns)
    # Four waves of 100 ms; events reach the observer within a 50 ms flush.
    assert 0 < halfway < replay.aggregate.completed == 8


def test_bad_recordings_are_refused_with_the_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.cvrec"
    junk.write_bytes(b"not a recording at all")
    with pytest.raises(RecordingError, match=r"truncated|not a concviz recording"):
        read_frames(junk)
    out = subprocess.run(
        [sys.executable, "-m", "concviz", "replay", str(junk)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    missing = subprocess.run(
        [sys.executable, "-m", "concviz", "replay", str(tmp_path / "nope.cvrec")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
