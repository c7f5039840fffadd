"""Bad input, as issue #16 found it: one clear line on stderr, exit code 2, never a traceback.

Each case is one the issue reproduced on 51ad4d5. Most run the real command in
a subprocess (a user's view); the slow ones (time limits) call the check itself
with a short limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from concviz import __version__
from concviz.observer.interpreters import PROBE_TIMEOUT_S, InterpreterError, probe
from concviz.observer.recording import (
    HEADER,
    FileFrame,
    RecordingError,
    Replay,
    read_recording,
)
from concviz.observer.session import TASK_IMPORT_TIMEOUT_S, RunSession, SessionError
from concviz.runner.protocol import FrameType
from concviz.runner.spec import RunSpec
from tests.support import concviz, wait_pids_gone

DATA = Path(__file__).parent / "data"
RECORDING = DATA / "threads-cpu.cvrec"


def one_line_exit_2(out: subprocess.CompletedProcess[str], needle: str) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


def run_in(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "concviz", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


# -- scenario files -------------------------------------------------------------------


SCENARIO_HEAD = '[scenario]\ntitle = "t"\nexplanation = "e"\n'


def test_a_scenario_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[scenario]\ntitle = "caf\xe9"\n')
    for args in (["scenario", str(path)], ["run", "--scenario", str(path)]):
        line = one_line_exit_2(concviz(*args), "not UTF-8")
        assert str(path) in line


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[sweep]\nworkers = [1, 100000]\n", "workers for threads must be at most"),
        ("[run]\nmodel = 'processes'\n[sweep]\nworkers = [2, 600]\n", "at most 512"),
        ("stop_after_s = inf\n", "stop_after_s must be a number of seconds"),
        ("stop_after_s = 1e300\n", "at most 86400"),
        ("stop_after_s = nan\n", "got nan"),
        ("stop_after_s = -inf\n", "stop_after_s"),
    ],
)
def test_scenario_values_no_run_can_have_are_refused(
    tmp_path: Path, body: str, needle: str
) -> None:
    head, _, rest = body.partition("[")
    path = tmp_path / "s.toml"
    # stop_after_s belongs in [scenario]; the rest are tables of their own
    text = SCENARIO_HEAD + body if body.startswith("stop") else SCENARIO_HEAD + head + "[" + rest
    path.write_text(text)
    one_line_exit_2(concviz("run", "--scenario", str(path), "--json"), needle)


# -- --python ----------------------------------------------------------------------------


def fake_python(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "python3.99"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_an_interpreter_reporting_a_short_version_is_refused(tmp_path: Path) -> None:
    facts = {"version": [3, 11], "implementation": "cpython", "gil_enabled": True}
    script = fake_python(tmp_path, f"echo '{json.dumps(facts)}'\n")
    one_line_exit_2(
        concviz("run", "--python", str(script), "-w", "sleep"), "not a Python 3 interpreter"
    )


def test_an_interpreter_that_hangs_is_given_up_on_and_all_it_started_ends(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = fake_python(tmp_path, f"echo $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\nwait\n")
    started = time.monotonic()
    with pytest.raises(InterpreterError, match=r"no answer within 0\.5 s"):
        probe(str(script), timeout=0.5)
    assert time.monotonic() - started < 30  # not the sleep's 300 s
    left = wait_pids_gone({int(p) for p in pids.read_text().split()}, timeout=10)
    assert not left, f"the probe left {left} running"
    assert PROBE_TIMEOUT_S <= 5  # the limit the command line uses is short


# -- output files ----------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="needs Linux /proc")
def test_a_trace_path_that_refuses_writes_is_refused_before_the_run() -> None:
    out = concviz("run", "-w", "sleep", "-t", "2", "--task-ms", "1", "--trace=/proc/version")
    one_line_exit_2(out, "cannot write trace file '/proc/version'")
    assert out.stdout == ""  # refused up front: no run, no table


def test_trace_dash_writes_the_trace_to_stdout(tmp_path: Path) -> None:
    out = run_in(
        tmp_path, "run", "-w", "sleep", "-t", "3", "--task-ms", "1", "--quiet", "--trace", "-"
    )
    assert out.returncode == 0, out.stderr
    trace = json.loads(out.stdout)  # nothing but the trace on stdout
    assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == 3
    assert not (tmp_path / "-").exists()
    assert "Model" in out.stderr  # the table moved beside the progress display


def test_trace_dash_into_a_reader_that_leaves_early_is_quiet(tmp_path: Path) -> None:
    """``concviz run --trace - | head``: the reader goes away mid-trace. A broken pipe
    on stdout ends the command quietly, as for every command's output (it said
    "cannot write trace file '-': Broken pipe" and exit 2)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "concviz", "run", "-w", "sleep", "-n", "8", "-t", "3000",
         "--task-ms", "1", "--quiet", "--trace", "-"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    head = proc.stdout.read(16)
    proc.stdout.close()  # ~1 MB of trace is still to come: far more than a pipe holds
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert head.startswith(b'{"traceEvents"')
    assert err == "", err


def test_trace_dash_with_json_is_refused() -> None:
    one_line_exit_2(concviz("run", "--trace", "-", "--json"), "both write to stdout")


def test_version_flags_print_the_version() -> None:
    for flag in ("-V", "--version"):
        out = concviz(flag)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"concviz {__version__}"


def test_output_the_terminal_cannot_encode_degrades_instead_of_raising(tmp_path: Path) -> None:
    out = run_in(
        tmp_path,
        "run",
        "-w",
        "sleep",
        "-t",
        "2",
        "--task-ms",
        "1",
        env={"PYTHONIOENCODING": "ascii"},
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "Model" in out.stdout
    out.stdout.encode("ascii")  # what reached the pipe is all ASCII


def test_serve_refuses_a_font_size_no_browser_can_show() -> None:
    for size in ("-5", "0", "1000"):
        one_line_exit_2(concviz("serve", "--font-size", size, timeout=30), "font-size must be")


# -- the dashboard without a terminal ----------------------------------------------------


def test_the_dashboard_without_a_terminal_refuses_and_points_at_run(tmp_path: Path) -> None:
    # `concviz </dev/null >out 2>err`: it drew 26 KB of escape codes and never exited
    out = run_in(tmp_path)
    line = one_line_exit_2(out, "needs a terminal")
    assert "concviz run" in line
    assert out.stdout == ""
    replay = run_in(tmp_path, "replay", str(RECORDING))
    one_line_exit_2(replay, "needs a terminal")


def test_the_dashboard_on_a_dumb_terminal_refuses_and_points_at_run(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "concviz"],
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={**os.environ, "TERM": "dumb"},
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "TERM='dumb'" in lines[0]
    assert "concviz run" in lines[0]


# -- recordings --------------------------------------------------------------------------


def frames_of(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, type, length) of each frame of a sound recording."""
    pos = 0
    while pos < len(data):
        length, ftype, _ = HEADER.unpack_from(data, pos)
        yield pos, ftype, length
        pos += HEADER.size + length


def damaged(tmp_path: Path, ftype: int, at: int, value: int | None = None) -> tuple[Path, int]:
    """The test recording with one byte of the third frame of type ``ftype`` changed.

    ``at``: the byte's offset in the frame (negative: in its 13-byte header).
    Returns the file and the frame's offset.
    """
    data = bytearray(RECORDING.read_bytes())
    offset, _, _ = [f for f in frames_of(bytes(data)) if f[1] == ftype][2]  # a few play first
    i = offset + HEADER.size + at
    data[i] = value if value is not None else data[i] ^ 0xFF
    path = tmp_path / "damaged.cvrec"
    path.write_bytes(bytes(data))
    return path, offset


def test_a_recording_whose_header_is_a_json_list_is_refused(tmp_path: Path) -> None:
    payload = b'["concviz-recording", 1]'
    path = tmp_path / "list.cvrec"
    path.write_bytes(HEADER.pack(len(payload), FileFrame.HEADER, 0) + payload)
    with pytest.raises(RecordingError, match="not a concviz recording"):
        read_recording(path)
    one_line_exit_2(concviz("replay", str(path)), "not a concviz recording")


@pytest.mark.parametrize(
    ("ftype", "at", "value"),
    [
        (FrameType.TEXT, 0, None),  # the JSON's opening brace: a traceback
        (FileFrame.SAMPLE, 2, ord("x")),  # inside a SAMPLE: froze at "replay 0/20"
        (FileFrame.SAMPLE, -5, None),  # the frame-type byte: froze too
    ],
)
def test_a_damaged_recording_plays_up_to_the_damage_and_says_where(
    tmp_path: Path, ftype: int, at: int, value: int | None
) -> None:
    path, offset = damaged(tmp_path, ftype, at, value)
    sound = Replay(RECORDING)
    replay = Replay(path)
    assert replay.damage is not None
    assert f"damaged at byte {offset}" in replay.damage
    assert 0 < len(replay.frames) < len(sound.frames)
    replay.play_all()  # raises nothing, and ends
    assert replay.done.is_set()
    assert any("replay stopped" in e for e in replay.aggregate.transport_errors)
    assert sound.play_all().aggregate.transport_errors == []


def test_converting_a_damaged_recording_says_where_it_stopped(tmp_path: Path) -> None:
    """``replay FILE --json``/``--trace`` played up to the damage without a word."""
    path, offset = damaged(tmp_path, FileFrame.SAMPLE, 2, ord("x"))
    out = concviz("replay", str(path), "--json", "--trace", str(tmp_path / "t.json"))
    assert out.returncode == 0, out.stderr
    warning = [line for line in out.stderr.splitlines() if "warning:" in line]
    assert len(warning) == 1, out.stderr
    assert f"damaged at byte {offset}" in warning[0]
    assert "Traceback" not in out.stderr
    (run,) = json.loads(out.stdout)["runs"]
    assert any(f"damaged at byte {offset}" in e for e in run["transport_errors"])
    sound = concviz("replay", str(RECORDING), "--json")
    assert "damaged" not in sound.stderr
    assert json.loads(sound.stdout)["runs"][0]["transport_errors"] == []


def test_a_frame_length_past_any_recording_is_not_allocated(tmp_path: Path) -> None:
    data = RECORDING.read_bytes()
    offset, _, _ = list(frames_of(data))[3]
    path = tmp_path / "long.cvrec"
    path.write_bytes(data[:offset] + HEADER.pack(0xFFFFFFFF, FrameType.RECORDS, 0) + b"\0" * 64)
    recording = read_recording(path)
    assert recording.damage is not None
    assert "larger than any recorded" in recording.damage


def test_an_endless_file_is_refused_at_once() -> None:
    # it read /dev/zero at ~2 GB/s until MemoryError
    with pytest.raises(RecordingError, match="not a concviz recording"):
        read_recording("/dev/zero")
    one_line_exit_2(concviz("replay", "/dev/zero", timeout=30), "not a concviz recording")


# -- --task modules ----------------------------------------------------------------------


def test_a_task_module_that_exits_at_import_is_named_with_what_it_did(tmp_path: Path) -> None:
    (tmp_path / "quitter.py").write_text("import sys\nsys.exit(3)\ndef work(): pass\n")
    out = run_in(tmp_path, "run", "--task", "quitter:work", "-t", "2")
    one_line_exit_2(out, "--task quitter:work: importing quitter called sys.exit(3)")


def test_a_task_module_whose_import_hangs_is_given_up_on_and_ended(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    (tmp_path / "stuck.py").write_text(
        "import os, subprocess, time\n"
        f"child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(300)\n"
        "def work(): pass\n"
    )
    spec = RunSpec(model="threads", workload="custom", task="stuck:work", task_path=str(tmp_path))
    session = RunSession(spec, import_timeout=1.0)
    with pytest.raises(SessionError) as raised:
        session.start()
    assert str(raised.value) == (
        "--task stuck:work: importing stuck did not finish within 1 s "
        "(does it wait for something at import?)"
    )
    left = wait_pids_gone({int(p) for p in pids.read_text().split()}, timeout=10)
    assert not left, f"the runner's import left {left} running"
    assert TASK_IMPORT_TIMEOUT_S <= 10  # shorter than the 30 s it was


def test_a_task_that_fails_to_import_ends_the_runner_before_any_task(tmp_path: Path) -> None:
    """The runner imports the --task where it will run, before any task (#21: no check
    process beside it); start() raises its one line and leaves nothing running."""
    marks = tmp_path / "marks"
    marks.mkdir()
    ran = tmp_path / "ran"
    (tmp_path / "late.py").write_text(
        "import os\n"
        f"open(os.path.join({str(marks)!r}, str(os.getpid())), 'w').close()\n"
        "raise RuntimeError('not today')\n"
        f"def work(): open({str(ran)!r}, 'w').close()\n"
    )
    spec = RunSpec(model="threads", workload="custom", task="late:work", task_path=str(tmp_path))
    session = RunSession(spec)
    said = r"^cannot import 'late' for --task late:work: not today$"
    with pytest.raises(SessionError, match=said):
        session.start()
    importers = {int(p.name) for p in marks.iterdir()}
    assert importers == {session.pgid}, "the task was imported by the runner, and only there"
    assert not wait_pids_gone(importers, timeout=10)
    assert not ran.exists()
    assert session.done.is_set()
    assert not os.path.exists(session._tmp or "")


@pytest.mark.parametrize("model", ["processes", "mp-pool"])
def test_a_task_a_process_model_cannot_pickle_is_refused_in_one_line(
    tmp_path: Path, model: str
) -> None:
    (tmp_path / "lam.py").write_text("work = lambda: None\n")
    out = run_in(tmp_path, "run", "-m", model, "--task", "lam:work", "-t", "2")
    one_line_exit_2(out, f"--task lam:work cannot be pickled for {model}: ")


def test_a_runner_that_never_starts_is_not_blamed_on_the_task(tmp_path: Path) -> None:
    """Only a runner that connected and then died before its verdict is the task's
    import's doing; one that never started ends the run saying so, as without --task."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'cannot start at all' >&2\nexit 3\n")
    broken.chmod(0o755)
    (tmp_path / "fine.py").write_text("def work(): pass\n")
    spec = RunSpec(model="threads", workload="custom", task="fine:work", task_path=str(tmp_path))
    with RunSession(spec, python=str(broken)) as session:
        assert session.wait(30)
        summary = session.summary()
    assert summary.status in ("error", "crashed"), summary.status
    assert "cannot start at all" in (summary.run_error or "")


def test_a_task_module_that_ends_its_process_at_import_is_named(tmp_path: Path) -> None:
    (tmp_path / "ender.py").write_text("import os\nos._exit(4)\ndef work(): pass\n")
    out = run_in(tmp_path, "run", "--task", "ender:work", "-t", "2")
    one_line_exit_2(
        out, "--task ender:work: importing ender ended the process (exit code 4) without a word"
    )


# -- Ctrl+C ---------------------------------------------------------------------------------


def interpreter_start_s() -> float:
    """How long this machine takes, now, to start a bare interpreter (site and all)."""
    times = []
    for _ in range(3):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.monotonic() - began)
    return sorted(times)[1]


def in_python_start(err: str) -> bool:
    """The signal came during CPython's own start-up (site, .pth files, runpy finding
    the package): a KeyboardInterrupt there is CPython's, before any concviz code ran."""
    return "init_import_site" in err or (
        "KeyboardInterrupt" in err and "concviz" not in err.replace("<frozen runpy>", "")
    )


@pytest.mark.parametrize("delay_ms", [5, 20, 40, 80, 120, 300])
def test_ctrl_c_at_any_moment_exits_130_with_one_line(delay_ms: int) -> None:
    bare = interpreter_start_s()
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "concviz", "run", "-w", "sleep", "-t", "40", "--task-ms", "50"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(bare + delay_ms / 1000)  # from about when concviz's own code begins
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if not in_python_start(err):
            break
    else:
        pytest.skip("the machine is so busy that every signal came during CPython's start-up")
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert proc.returncode == 130, (proc.returncode, err, out)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "an interrupted run says so"
    assert len(lines) <= 2, err  # "interrupted" (and, mid-run, what stopping means)


def test_ctrl_c_while_a_class_is_made_is_still_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI found it: a Ctrl+C that lands while a module defines a dataclass (field()
    is a descriptor) reaches CPython 3.11 as a RuntimeError from __set_name__ whose
    cause is the KeyboardInterrupt, and printed a traceback."""
    from concviz import cli  # noqa: PLC0415

    class Interrupts:
        def __set_name__(self, owner: type, name: str) -> None:
            signal.raise_signal(signal.SIGINT)  # the real signal, at that moment

    def command(argv: object, early: object = None) -> int:
        type("Late", (), {"x": Interrupts()})  # a class body, as an import makes one
        return 0

    monkeypatch.setattr(cli, "_main", command)
    # main() installs the program's signal handlers: this test process keeps its own
    # (a SIGTERM that raises SystemExit here would outlive the test in every fork).
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        assert cli.main(["run"]) == 130
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert capsys.readouterr().err == "concviz: interrupted\n"


def test_what_the_user_typed_cannot_break_the_one_line() -> None:
    # found by tests/test_fuzz.py: a control character echoed back split the message
    line = one_line_exit_2(concviz("run", "-m", "a\nb"), "unknown model")
    assert "a\\nb" in line
    line = one_line_exit_2(concviz("run", "--bogus\x85x"), "unrecognized arguments")
    assert "--bogus\\x85x" in line


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="needs Linux /proc")
def test_a_csv_path_that_refuses_writes_is_refused_before_the_runs() -> None:
    out = concviz(
        "sweep", "-w", "sleep", "-t", "2", "--task-ms", "1", "-n", "1,2", "--csv", "/proc/version"
    )
    one_line_exit_2(out, "cannot write CSV file '/proc/version'")
    assert out.stdout == ""
