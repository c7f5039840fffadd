"""Starting the runner's interpreter: its environment, its folder, and a start ahead of its spec.

An interpreter and the runner's imports take ~50 ms, and the command line
takes about as long again to import the rest of concviz and build the run's
spec. Those can overlap: :class:`EarlyRunner` starts the runner as soon as
the command line knows a run is coming, and the runner imports what every
run needs, then waits on its stdin for its arguments (#21).

Light on purpose: the command line imports this before the session, the
aggregate and the spec, so that the runner starts while they load.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile

import concviz

#: Where the concviz package lives: put on the runner's PYTHONPATH so any
#: interpreter can run it without concviz being installed there. (os.path, not
#: pathlib: this runs before the command line loads, and pathlib is ~5 ms.)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(concviz.__file__)))

#: A run's folder: FOLDER_PREFIX, the owner's pid, "-", and mkdtemp's random part.
FOLDER_PREFIX = "concviz-"

#: What the runner is given instead of its arguments when it is started early:
#: they come as one line of JSON on its stdin (see concviz.runner.run).
AWAIT_ARGS = "--await-args"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONSTARTUP", None)
    return env


def run_folder() -> str:
    """A new folder for one run's socket and log, named for its owner (see remove_stale_folders)."""
    return tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")


def spawn_runner(
    python: str, args: list[str], folder: str, stdin: int | None
) -> subprocess.Popen[bytes]:
    """The runner in a session of its own (one ``killpg`` ends it and its workers), run in
    ``folder``, its output in ``folder``/runner.log."""
    with open(os.path.join(folder, "runner.log"), "wb") as log:
        return subprocess.Popen(
            [python, "-m", "concviz.runner", *args],
            stdin=stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(),
            start_new_session=True,
            cwd=folder,
        )


class EarlyRunner:
    """A runner started before its run is known, under the interpreter a run will use.

    Whoever starts one either hands it to the run's session (:meth:`take`) or
    lets it go (:meth:`discard`, always safe to call). If the observer dies
    first, the runner reads the end of its stdin and exits; its folder is
    removed by a later run (``remove_stale_folders``).
    """

    def __init__(self, python: str) -> None:
        self.python = python
        self.folder: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        try:
            self.folder = run_folder()
            self.proc = spawn_runner(python, [AWAIT_ARGS], self.folder, subprocess.PIPE)
        except OSError:
            self.discard()  # the session will start one the usual way, and say why it can't

    @property
    def ready(self) -> bool:
        return self.proc is not None

    def take(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Gives the runner its arguments; the caller owns its folder and process from here."""
        proc = self.proc
        assert proc is not None
        assert proc.stdin is not None
        self.proc = self.folder = None
        import json  # noqa: PLC0415  (loaded by now: the spec is JSON)

        try:
            proc.stdin.write(json.dumps(args).encode() + b"\n")
            proc.stdin.close()
        except OSError:
            pass  # it died already: the session sees it exit, with its log, as with any start
        return proc

    def discard(self) -> None:
        """Ends the runner (it has started nothing yet) and removes its folder."""
        proc, folder = self.proc, self.folder
        self.proc = self.folder = None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            proc.wait()
        if folder is not None:
            import shutil  # noqa: PLC0415  (tempfile has loaded it)

            shutil.rmtree(folder, ignore_errors=True)
