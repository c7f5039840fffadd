"""The runner started ahead of its run (#21): used when it fits, gone when it does not.

``concviz run`` starts the runner's interpreter before it has parsed its own
arguments, so a guess that turns out wrong (bad input, another interpreter)
must leave nothing behind: no process, no folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from concviz.observer import launch
from concviz.observer.launch import EarlyRunner
from concviz.observer.session import RunSession, remove_stale_folders
from concviz.runner import run as runner_run
from concviz.runner.spec import RunSpec
from tests.support import CONSOLE_SCRIPT, still_running, wait_pids_gone

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="subreapers and /proc: Linux"
)


def test_the_observer_and_the_runner_agree_on_how_arguments_come() -> None:
    assert launch.AWAIT_ARGS == runner_run.AWAIT_ARGS


def test_a_discarded_early_runner_leaves_no_process_and_no_folder() -> None:
    early = EarlyRunner(sys.executable)
    assert early.proc is not None
    assert early.folder is not None
    pid, folder = early.proc.pid, early.folder
    early.discard()
    assert not still_running(pid)
    assert not os.path.exists(folder)
    early.discard()  # twice is harmless


def test_an_early_runner_given_nothing_exits_quietly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "concviz.runner", "--await-args"],
        input=b"",
        capture_output=True,
        timeout=60,
        env=launch.child_env(),
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


def test_an_early_runner_given_garbage_says_so_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "concviz.runner", "--await-args"],
        input='{"not": "a list"}\n',
        capture_output=True,
        timeout=60,
        env=launch.child_env(),
        check=False,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("concviz-runner: --await-args: expected a JSON list")


def test_an_early_runner_whose_observer_is_killed_exits_by_itself(tmp_path: Path) -> None:
    """kill -9 of concviz closes the runner's stdin: it exits, and a later run removes
    the folder its dead owner left. (In a temporary folder of its own: any concviz
    on this machine removes the stale folders it finds in /tmp.)"""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import json, sys, time\n"
            "from concviz.observer.launch import EarlyRunner\n"
            "early = EarlyRunner(sys.executable)\n"
            "print(json.dumps([early.proc.pid, early.folder]), flush=True)\n"
            "time.sleep(300)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        assert owner.stdout is not None
        pid, folder = json.loads(owner.stdout.readline())
        assert os.path.dirname(folder) == str(tmp_path)
    finally:
        owner.kill()
        owner.wait()
    try:
        assert not wait_pids_gone({pid}, timeout=20), "the early runner outlived its observer"
    finally:
        if still_running(pid):
            os.killpg(pid, signal.SIGKILL)
    assert folder in remove_stale_folders(str(tmp_path))


def test_a_session_runs_its_run_in_the_early_runner() -> None:
    early = EarlyRunner(sys.executable)
    assert early.proc is not None
    pid, folder = early.proc.pid, early.folder
    spec = RunSpec(model="threads", workload="cpu", workers=2, tasks=4, task_ms=1)
    with RunSession(spec, early=early) as session:
        assert session.pgid == pid
        assert session.wait(60)
        summary = session.summary()
    assert summary.status == "done"
    assert summary.completed == 4
    assert not os.path.exists(folder or "")


def test_a_session_on_another_interpreter_discards_the_early_runner(tmp_path: Path) -> None:
    other = tmp_path / "python"
    other.symlink_to(os.path.realpath(sys.executable))
    early = EarlyRunner(sys.executable)
    assert early.proc is not None
    pid, folder = early.proc.pid, early.folder
    spec = RunSpec(model="threads", workload="cpu", workers=2, tasks=2, task_ms=1)
    with RunSession(spec, python=str(other), early=early) as session:
        assert not still_running(pid)
        assert not os.path.exists(folder or "")
        assert session.pgid != pid
        assert session.wait(60)
        assert session.summary().status == "done"


def test_a_session_never_started_discards_its_early_runner() -> None:
    early = EarlyRunner(sys.executable)
    assert early.proc is not None
    pid = early.proc.pid
    RunSession(RunSpec(model="threads", workload="cpu"), early=early).close()
    assert not still_running(pid)


#: Runs a command as a subreaper: whatever it leaves running is reparented here, where
#: it can be seen (the runner is in a session of its own, not below concviz's pid).
_LEFT_BEHIND = """
import contextlib, json, os, subprocess, sys, time
from concviz.runner.run import _descendants, become_subreaper
assert become_subreaper()
cmd = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
err = cmd.communicate()[1]
left = []
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    left = _descendants(os.getpid())[0]
    if not left:
        break
    time.sleep(0.02)
print(json.dumps({"rc": cmd.returncode, "stderr": err, "left": left, "pid": cmd.pid}))
"""


def left_behind(*args: str, cwd: Path) -> dict[str, object]:
    cmd = [sys.executable, "-m", "concviz", *args]
    done = subprocess.run(
        [sys.executable, "-c", _LEFT_BEHIND, json.dumps(cmd)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=cwd,
    )
    found: dict[str, object] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize(
    ("args", "rc", "said"),
    [
        (["-t", "2", "--task-ms", "1"], 0, ""),
        (["-t", "2", "--sample-hz", "999"], 2, "sample-hz must be between 1 and 50"),
        (["-t", "2", "--task", "nowhere:work"], 2, "cannot import 'nowhere'"),
        (["-t", "2", "--task-args", "[1"], 2, "--task-args"),
    ],
    ids=["a run", "bad input after the early start", "a task refused", "bad json"],
)
def test_concviz_run_leaves_nothing_running_and_no_folder(
    tmp_path: Path, args: list[str], rc: int, said: str
) -> None:
    found = left_behind("run", "--quiet", *args, cwd=tmp_path)
    assert found["rc"] == rc, found["stderr"]
    assert said in str(found["stderr"])
    assert found["left"] == []
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    assert not list(tmp.glob(f"{launch.FOLDER_PREFIX}{found['pid']}-*"))


@pytest.mark.parametrize("how", ["ahead", "ahead with a task", "spawned with a task"])
def test_the_sampler_looks_before_the_run_can_begin(how: str, tmp_path: Path) -> None:
    """A runner started ahead begins its run the moment it has its arguments, and one
    that imports a --task begins before start() returns: the sampler's first look
    (its baseline) must come before either, or a short run has no figures at all."""
    (tmp_path / "quick.py").write_text("def work(): pass\n")
    task = None if how == "ahead" else "quick:work"
    spec = RunSpec(
        model="threads",
        workload="custom" if task else "sleep",
        workers=2,
        tasks=2,
        task_ms=1,
        task=task,
        task_path=str(tmp_path) if task else None,
    )
    for _ in range(3):  # the run is over within a few ms: late sampling would miss it
        early = EarlyRunner(sys.executable) if how.startswith("ahead") else None
        with RunSession(spec, early=early) as session:
            assert session.wait(60)
            summary = session.summary()
        assert summary.status == "done"
        assert len(summary.core_utilisation) == summary.cores, summary.core_utilisation


def _console_script() -> str:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"no concviz script beside {sys.executable}")
    return str(CONSOLE_SCRIPT)


def test_nothing_in_the_users_folder_shadows_what_the_runner_imports(tmp_path: Path) -> None:
    """A ``json.py`` (say) in the folder concviz is run from must not stand in for
    the standard library's in the runner: it starts in the run's own folder, and
    only a --task's folder is put on its path. (The ``concviz`` script itself
    never has its folder on the path.)"""
    marker = tmp_path / "shadowed"
    for name in ("json", "socket", "queue"):
        (tmp_path / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r} + ' imported by ' + __import__('sys')"
            ".argv[0] + '\\n')\nraise ImportError('the user\\'s own module')\n"
        )
    done = subprocess.run(
        [_console_script(), "run", "-t", "2", "--task-ms", "1", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()


def test_a_task_runs_in_the_run_folder_however_its_runner_started(tmp_path: Path) -> None:
    """Started ahead or spawned with its arguments (``--python`` names the interpreter:
    no early start), the runner works in the run's folder."""
    (tmp_path / "where.py").write_text(
        "import os\ndef work(out):\n    open(out, 'a').write(os.getcwd() + '\\n')\n"
    )
    for extra in ([], ["--python", sys.executable]):
        out = tmp_path / f"cwd{len(extra)}"
        done = subprocess.run(
            [_console_script(), "run", "-n", "1", "-t", "1", "--task", "where:work",
             "--task-args", json.dumps([str(out)]), "--quiet", *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (cwd,) = out.read_text().split()
        assert os.path.basename(cwd).startswith(launch.FOLDER_PREFIX), cwd
        assert not os.path.exists(cwd)  # the run's folder, removed with the run
