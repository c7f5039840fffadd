"""Compare and sweep: the analysis, pure; then the commands, on small real workloads."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from concviz.experiments import (
    amdahl_speedup,
    analyse_sweep,
    baseline_index,
    fit_serial_fraction,
    parse_counts,
    parse_variants,
)
from concviz.runner.spec import SpecError
from tests.support import concviz as run_concviz
from tests.support import free_threaded_python, with_free_cores


def concviz(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_concviz(*args, timeout=timeout)


# -- analysis ---------------------------------------------------------------------


def test_amdahl_fit_recovers_the_serial_fraction() -> None:
    counts = [1, 2, 4, 8, 16]
    speedups = [amdahl_speedup(n, 0.2) for n in counts]
    assert fit_serial_fraction(counts, speedups) == pytest.approx(0.2, abs=0.002)


def test_sweep_analysis_finds_where_more_workers_stop_helping() -> None:
    counts = [1, 2, 4, 8]
    walls = [4.0, 2.0, 2.05, 2.1]  # two cores' worth of CPU work
    analysis = analyse_sweep(counts, walls, [1.0, 2.0, 2.0, 2.0], cores=2)
    assert [round(p.speedup, 2) for p in analysis.points] == [1.0, 2.0, 1.95, 1.9]
    assert [round(p.efficiency, 2) for p in analysis.points] == [1.0, 1.0, 0.49, 0.24]
    assert analysis.knee == 2
    assert [p.stalled for p in analysis.points] == [False, False, True, True]
    # Issue #17.3: the cores, not serial code, stopped it: the fit must not blame the code.
    assert analysis.core_limited
    assert analysis.serial_fraction < 0.05
    assert analysis.amdahl == pytest.approx([1.0, 2.0, 2.0, 2.0], abs=0.1)
    assert "the cores are the limit" in analysis.fit_text()


def test_a_gil_that_holds_one_core_is_still_blamed_on_serial_code() -> None:
    """Four GIL threads on two cores: one core busy, no speedup. The cores are not
    what stopped it (they were half idle): the fit keeps its serial fraction."""
    analysis = analyse_sweep([1, 2, 4], [1.0, 1.02, 1.03], [1.0, 1.0, 1.0], cores=2)
    assert not analysis.core_limited
    assert analysis.serial_fraction > 0.9
    assert "cores are the limit" not in analysis.fit_text()


def test_waiting_work_past_the_cores_is_not_capped_at_the_cores() -> None:
    analysis = analyse_sweep([1, 4, 16], [1.6, 0.4, 0.1], [0.01, 0.02, 0.05], cores=2)
    assert not analysis.core_limited
    assert analysis.serial_fraction < 0.02


def test_sweep_table_shows_memory_when_measured_and_fits_narrow_terminals() -> None:
    from rich.console import Console  # noqa: PLC0415

    from concviz.report_multi import sweep_table  # noqa: PLC0415

    analysis = analyse_sweep([10, 100, 400], [12.0, 1.2, 0.35], [0.0, 0.01, 0.02], cores=2)

    def render(width: int, memory: list[int], spreads: tuple[float | None, ...] = ()) -> str:
        console = Console(width=width, record=True)
        with console.capture() as captured:
            console.print(sweep_table(analysis, "t", False, memory, width, spreads))
        return captured.get()

    wide = render(120, [20 << 20, 21 << 20, 26 << 20])
    assert "memory" in wide
    assert "26 MiB" in wide
    assert "ideal" in wide
    narrow = render(80, [20 << 20, 21 << 20, 26 << 20])
    assert "ideal" not in narrow  # N× for N workers: the workers column says it
    assert "…" not in narrow  # nothing cut short
    assert "memory" not in render(120, [0, 0, 0])  # not measured: no column
    assert "±" not in wide  # one run per point: no spread
    repeated = render(80, [20 << 20, 21 << 20, 26 << 20], (0.012, 0.034, None))
    assert "±3%" in repeated
    assert "the median of its runs" in repeated
    assert "…" not in repeated
    # A CPU sweep past the cores has notes; beside the figures they cut them all
    # ("425…") in 80 columns: there they go under the table.
    stalled = analyse_sweep([1, 2, 4], [0.42, 0.23, 0.25], [0.97, 1.8, 1.7], cores=2)
    for width in (80, 120):
        console = Console(width=width, record=True)
        with console.capture() as captured:
            console.print(sweep_table(stalled, "t", True, [23 << 20, 26 << 20, 32 << 20], width))
        text = captured.get()
        assert "…" not in text, text
        assert "250 ms" in text
        assert "no faster; > 2 cores" in text
        assert ("4 workers: no faster" in text) == (width == 80)  # a note under, or beside


def test_compare_table_fits_80_columns_dropping_what_tells_the_runs_apart_least() -> None:
    from rich.console import Console  # noqa: PLC0415

    from concviz.experiments import CompareRow  # noqa: PLC0415
    from concviz.observer.aggregate import RunAggregate  # noqa: PLC0415
    from concviz.report_multi import compare_table  # noqa: PLC0415

    def row(
        label: str, wait: float, speedup: float, queue: int = 0, mib: int = 42, each: float = 2.8
    ) -> CompareRow:
        summary = replace(
            RunAggregate({"model": "processes", "workload": "cpu"}).summary(),
            completed=8,
            tasks=8,
            wall_s=0.95,
            parallelism=1.9 * speedup,
            on_cpu_fraction=1 - wait,
            core_wait_fraction=wait,
            peak_queue_depth=queue,
            peak_memory=mib << 20,
            memory_per_task=each * 2**20,
        )
        return CompareRow(label, summary, speedup)

    rows = [row("one per core", 0.02, 1.0), row("four per core", 0.75, 0.97)]

    def render(width: int, keep: tuple[str, ...] = ()) -> list[str]:
        console = Console(width=width, record=True)
        with console.capture() as captured:
            console.print(compare_table(rows, "one per core", "t", width, keep))
        return captured.get().splitlines()

    wide = "\n".join(render(120))
    assert " wait " in wide
    assert "75%" in wide
    assert "42 MiB" in wide
    narrow = render(80)
    assert all(len(line) <= 80 for line in narrow)
    header = narrow[1].split()
    assert "queue" not in header  # 0 in both runs: it goes first
    assert "75%" in "\n".join(narrow)  # so the wait, the point here, stays
    assert "+2.8 MiB" in "\n".join(narrow)
    # Every figure differs: the peak memory goes, then the wait; what each task added stays.
    tight_rows = [
        row("one per core", 0.02, 1.0, 8, 27, 3.6),
        row("four per core", 0.75, 0.97, 9, 42),
    ]
    rows = tight_rows
    tight = render(80)
    assert all(len(line) <= 80 for line in tight)
    assert "memory" not in tight[1].split()
    assert "75%" in "\n".join(tight)  # that was enough: the wait stays
    assert "+2.8 MiB" in "\n".join(tight)
    # Repeated runs: a ± column beside the wall; a series cut short says "up to".
    rows = [
        replace(row("one per core", 0.02, 1.0), walls=(0.95, 0.97, 0.93)),
        replace(row("four per core", 0.75, 0.97), walls=(0.98,)),
    ]
    repeated = render(120)
    assert repeated[1].split()[:3] == ["model", "wall", "±"]
    assert "±2%" in repeated[3]
    assert "the median of up to 3 runs" in " ".join(repeated)
    rows = tight_rows
    # A scenario's focus is never dropped: keeping the memory costs the wait instead.
    focused = render(80, keep=("memory",))
    assert all(len(line) <= 80 for line in focused)
    assert "memory" in focused[1].split()
    assert "wait" not in focused[1].split()


def test_ideal_scaling_has_no_knee() -> None:
    analysis = analyse_sweep([1, 2, 4], [4.0, 2.0, 1.0], [1.0, 2.0, 4.0], cores=4)
    assert analysis.knee is None
    assert analysis.serial_fraction == 0.0


def test_speedups_are_against_sequential_when_present() -> None:
    assert baseline_index(["threads", "sequential", "processes"]) == 1
    assert baseline_index(["threads", "processes"]) == 0


def test_bad_model_lists_and_counts_are_refused() -> None:
    with pytest.raises(SpecError, match="unknown model 'nope'"):
        parse_variants("threads,nope")
    with pytest.raises(SpecError, match="no such interpreter"):
        parse_variants("threads@/nonexistent/python3")
    with pytest.raises(SpecError, match="comma-separated"):
        parse_counts("1,two")
    with pytest.raises(SpecError, match="at least 1"):
        parse_counts("0,2")


# -- the commands ---------------------------------------------------------------------


def compare(models: str, workload: str, *extra: str) -> dict[str, dict[str, object]]:
    out = concviz("compare", "--models", models, "-w", workload, "--json", "--quiet", *extra)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["runs"]
    # Interpreters given by path are labelled by version: threads@/x/python3.13t -> threads@3.13t
    assert [r["label"].split("@")[0] for r in rows] == [m.split("@")[0] for m in models.split(",")]
    return {str(r["label"]): r for r in rows}


def test_compare_json_is_a_list_of_run_objects_with_speedup() -> None:
    rows = compare("sequential,threads,asyncio", "sleep", "-n", "20", "-t", "20", "--task-ms", "50")
    for row in rows.values():
        for key in (
            "model",
            "workload",
            "wall_s",
            "parallelism",
            "on_cpu_fraction",
            "peak_queue_depth",
            "peak_rss",
            "events",
            "speedup",
            "completed",
        ):
            assert key in row
    assert rows["sequential"]["speedup"] == 1.0
    # I/O-bound waits overlap: both beat sequential by far.
    assert float(rows["threads"]["speedup"]) > 4  # type: ignore[arg-type]
    assert float(rows["asyncio"]["speedup"]) > 4  # type: ignore[arg-type]


def test_compare_cpu_work_processes_beat_threads_on_a_gil_build() -> None:
    def ratio() -> float:
        rows = compare("threads,processes", "cpu", "-n", "2", "-t", "8", "--task-ms", "60")
        return float(rows["processes"]["speedup"])  # type: ignore[arg-type]

    # speedup is against the first (threads); it needs two free cores to show
    assert with_free_cores(lambda _bare: ratio(), enough=1.3) > 1.3


def test_compare_writes_a_trace_per_run(tmp_path: Path) -> None:
    out = concviz(
        "compare",
        "--models",
        "sequential,threads",
        "-w",
        "sleep",
        "-t",
        "4",
        "--task-ms",
        "10",
        "--quiet",
        "--trace-dir",
        str(tmp_path / "traces"),
    )
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in (tmp_path / "traces").iterdir())
    assert names == ["00-sequential.json", "01-threads.json"]
    assert json.loads((tmp_path / "traces" / names[1]).read_text())["traceEvents"]


def test_sweep_reports_points_and_writes_csv(tmp_path: Path) -> None:
    table = tmp_path / "sweep.csv"
    out = concviz(
        "sweep",
        "-m",
        "threads",
        "-w",
        "sleep",
        "-n",
        "1,2,4",
        "-t",
        "8",
        "--task-ms",
        "40",
        "--json",
        "--quiet",
        "--csv",
        str(table),
        "--repeat",
        "3",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [p["workers"] for p in data["runs"]] == [1, 2, 4]
    for point in data["runs"]:  # each point is its median run of three
        assert len(point["walls"]) == 3
        assert point["wall_s"] == sorted(point["walls"])[1]
        assert point["spread"] == pytest.approx(
            (max(point["walls"]) - min(point["walls"])) / 2 / point["wall_s"]
        )
    speedups = [p["speedup"] for p in data["runs"]]
    assert speedups[0] == 1.0
    assert speedups[2] > 2.5  # waits overlap: four threads, nearly four times faster
    assert 0 <= data["sweep"]["serial_fraction"] <= 1
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "workers",
        "wall_s",
        "speedup",
        "efficiency",
        "ideal",
        "amdahl",
        "parallelism",
        "on_cpu_fraction",
        "completed",
        "failed",
        "peak_memory",
        "wall_min_s",
        "wall_max_s",
    ]
    assert [r["workers"] for r in rows] == ["1", "2", "4"]
    assert all(float(r["wall_min_s"]) <= float(r["wall_s"]) <= float(r["wall_max_s"]) for r in rows)


def test_sweep_prints_table_and_plot() -> None:
    out = concviz(
        "sweep",
        "-m",
        "threads",
        "-w",
        "sleep",
        "-n",
        "1,2",
        "-t",
        "4",
        "--task-ms",
        "20",
        "--quiet",
    )
    assert out.returncode == 0, out.stderr
    assert "Amdahl fit" in out.stdout
    assert "speedup vs workers" in out.stdout
    assert "\x1b[" not in out.stdout  # no colour codes when not a terminal


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["compare", "--models", "threads,bogus"], "unknown model 'bogus'"),
        (["compare", "--models", "threads@/no/such/python"], "no such interpreter"),
        (["compare", "--models", "threads", "-n", "0"], "workers for threads must be at least 1"),
        (["sweep", "-m", "threads", "-n", "1,x"], "comma-separated list of counts"),
        (["sweep", "-m", "threads", "-n", "0"], "at least 1"),
        (["sweep", "-m", "threads", "--csv", "/no/dir/x.csv"], "cannot write"),
        (["compare", "--models", "threads", "--trace-dir", "/proc/nope"], "cannot write traces"),
        (["compare", "--models", "threads", "--repeat", "0"], "--repeat: must be 1 to 50, got 0"),
        (["sweep", "-m", "threads", "--repeat", "two"], "--repeat: not a whole number"),
        (["run", "--repeat", "2"], "--repeat is for compare and sweep"),
        (["run", "--scenario", "semaphore", "--repeat", "2"], "'semaphore' is a single run"),
    ],
)
def test_bad_input_one_line(args: list[str], needle: str) -> None:
    out = concviz(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert needle in lines[0]


# -- other interpreters ------------------------------------------------------------------

PYENV = Path.home() / ".pyenv" / "versions"


def other_cpython() -> str | None:
    """A CPython >= 3.11 other than the one running the tests (pyenv's, here)."""
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in sorted(PYENV.glob("3.1[1-9]*/bin/python3.*")):
        name = candidate.name
        if name.count(".") == 1 and name[len("python") :] != mine and not name.endswith("-config"):
            return str(candidate)
    return None


@pytest.mark.skipif(other_cpython() is None, reason="no other CPython >= 3.11 under ~/.pyenv")
def test_run_under_another_interpreter() -> None:
    python = other_cpython()
    assert python is not None
    out = concviz(
        "run",
        "-m",
        "processes",
        "-w",
        "cpu",
        "-n",
        "2",
        "-t",
        "4",
        "--task-ms",
        "20",
        "--json",
        "--python",
        python,
    )
    assert out.returncode == 0, out.stderr
    (data,) = json.loads(out.stdout)["runs"]
    assert data["completed"] == 4
    version = Path(python).name[len("python") :]
    assert data["python"].startswith(version)
    assert data["gil_enabled"] is True


@pytest.mark.skipif(free_threaded_python() is None, reason="no free-threaded CPython built here")
def test_compare_gil_and_free_threaded_threads_side_by_side() -> None:
    ft = free_threaded_python()
    seen: list[dict[str, dict[str, object]]] = []

    def gain(_bare: float) -> float | None:
        seen.append(
            compare(f"threads,threads@{ft}", "cpu", "-n", "2", "-t", "8", "--task-ms", "60")
        )
        free, gil = seen[-1]["threads@3.13t"], seen[-1]["threads"]
        if float(free["core_wait_fraction"]) > 0.25:  # type: ignore[arg-type]
            return None  # a neighbour took a core during the run: it could not show
        return float(free["parallelism"]) / float(gil["parallelism"])  # type: ignore[arg-type]

    # Without the GIL two threads use two cores, when the machine has two free.
    assert with_free_cores(gain, enough=1.3) > 1.3
    rows = seen[-1]
    assert rows["threads"]["gil_enabled"] is True
    assert rows["threads@3.13t"]["gil_enabled"] is False


@pytest.mark.parametrize(
    ("python", "needle"),
    [
        ("/nonexistent/python3", "no such interpreter"),
        ("/bin/echo", "not a Python 3 interpreter"),
        ("/etc", "not an executable file"),
    ],
)
def test_bad_interpreters_get_one_line(python: str, needle: str) -> None:
    out = concviz("run", "--python", python)
    assert out.returncode == 2
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not (PYENV / "3.9.18/bin/python3.9").exists(), reason="no Python 3.9 here")
def test_too_old_an_interpreter_is_refused() -> None:
    out = concviz("run", "--python", str(PYENV / "3.9.18/bin/python3.9"))
    assert out.returncode == 2
    assert "Python 3.9.18 is too old; concviz needs CPython >= 3.11" in out.stderr


def test_repeated_series_alternate_their_order_and_keep_the_median_run() -> None:
    from concviz.experiments import RunResult, median_run, run_order  # noqa: PLC0415
    from concviz.observer.aggregate import RunAggregate  # noqa: PLC0415

    assert run_order(3, 1) == [(0, 0), (0, 1), (0, 2)]
    assert run_order(3, 2) == [(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0)]

    def result(wall: float, completed: int) -> RunResult:
        summary = replace(RunAggregate({}).summary(), wall_s=wall, completed=completed)
        return RunResult("threads", None, summary)

    runs = [result(1.10, 1), result(0.90, 2), result(1.00, 3), result(1.30, 4)]
    median = median_run(runs)
    assert median.summary.completed == 3  # a real run's figures, all of them: the 1.00 s one
    assert median.walls == [1.10, 0.90, 1.00, 1.30]  # in the order they ran
    assert median.spread == pytest.approx((1.30 - 0.90) / 2 / 1.00)
    assert median_run(runs[:1]).spread is None


def test_compare_repeat_reports_every_runs_wall_and_the_spread() -> None:
    rows = compare(
        "sequential,threads", "sleep", "-n", "2", "-t", "2", "--task-ms", "20", "--repeat", "3"
    )
    for row in rows.values():
        walls = row["walls"]
        assert isinstance(walls, list)
        assert len(walls) == 3
        assert row["wall_s"] == sorted(walls)[1]
        assert isinstance(row["spread"], float)
        assert row["spread"] >= 0


def test_each_runs_progress_bar_times_that_run_alone() -> None:
    """The per-run bar kept the series' clock: a 0.6 s run read as three seconds."""
    out = concviz(
        "compare", "--models", "sequential,threads", "-w", "sleep", "-n", "4", "-t", "8",
        "--task-ms", "300",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr

    def elapsed(label: str) -> int:
        line = [ln for ln in out.stderr.splitlines() if ln.lstrip().startswith(label)][-1]
        h, m, s = line.split()[-1].split(":")
        return int(h) * 3600 + int(m) * 60 + int(s)

    assert elapsed("compare: runs") >= 2  # sequential alone: 8 x 300 ms
    assert elapsed("threads") < elapsed("compare: runs") - 1  # 0.6 s, its own
