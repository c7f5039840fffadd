"""Start-up runs without the cyclic collector, and each command lets it go (#21).

Each case runs in a fresh interpreter, as the program starts: the collector's
state is process-wide, and this test process keeps its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def run_python(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_plain_command_lets_the_collector_go_before_it_begins() -> None:
    seen = run_python(
        """
        import gc, io, json, contextlib
        import concviz.entry  # the front door: start-up begins
        held = not gc.isenabled()
        from concviz import cli, startup
        import concviz.cli.catalog as catalog
        real = catalog.cmd_models
        during = {}
        def models(out):
            during["enabled"] = gc.isenabled()
            return real(out)
        catalog.cmd_models = models
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(["models"])
        print(json.dumps({"held": held, "code": code, "during": during["enabled"],
                          "frozen": gc.get_freeze_count()}))
        """
    )
    assert seen["held"], "start-up did not hold the collector"
    assert seen["code"] == 0
    assert seen["during"], "the command ran without the collector"
    frozen = seen["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 10_000, seen


def test_run_lets_the_collector_go_once_its_runner_is_started() -> None:
    seen = run_python(
        """
        import gc, io, json, contextlib
        import concviz.entry
        from concviz import cli
        from concviz.observer.session import RunSession
        real = RunSession.wait
        during = []
        def wait(self, timeout=None):
            during.append(gc.isenabled())
            return real(self, timeout)
        RunSession.wait = wait
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli.main(["run", "-w", "sleep", "-t", "4", "--task-ms", "20", "--json"])
        print(json.dumps({"code": code, "during": during, "frozen": gc.get_freeze_count()}))
        """
    )
    assert seen["code"] == 0
    during = seen["during"]
    assert isinstance(during, list)
    assert during, "the run was never waited on"
    assert all(during), "the run went on without the collector"
    frozen = seen["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 10_000, seen


def test_a_scenario_of_many_runs_lets_the_collector_go_before_its_first() -> None:
    seen = run_python(
        """
        import gc, io, json, contextlib
        import concviz.entry
        from concviz import cli
        import concviz.cli.run as run
        during = {}
        def compare_entries(entries, args, out, keep=()):
            during["enabled"] = gc.isenabled()
            return 0
        run.compare_entries = compare_entries
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli.main(["run", "--scenario", "gil"])
        print(json.dumps({"code": code, "during": during.get("enabled")}))
        """
    )
    assert seen == {"code": 0, "during": True}


def test_the_dashboard_lets_the_collector_go_after_its_first_frame() -> None:
    seen = run_python(
        """
        import asyncio, gc, json
        import concviz.entry
        from concviz.tui.app import ConcvizApp

        async def main():
            app = ConcvizApp()
            async with app.run_test(size=(120, 40)) as pilot:
                at_mount = not gc.isenabled()
                for _ in range(200):  # the rest of start-up follows the first frame
                    await pilot.pause(0.05)
                    if gc.isenabled():
                        break
                return {"held_at_start": at_mount, "drawn": app.first_frame_at is not None,
                        "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}

        print(json.dumps(asyncio.run(main())))
        """
    )
    assert seen["held_at_start"], "the collector ran during the dashboard's start-up"
    assert seen["drawn"]
    assert seen["enabled"], "the dashboard never let the collector go"
    frozen = seen["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 10_000, seen


# -- the end: the front door exits without tearing the interpreter down ----------------


def leave(code: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` then the front door's exit, in a fresh interpreter."""
    program = textwrap.dedent(code) + "\nfrom concviz.entry import _leave\n_leave(3)\n"
    # Buffered, as the program's output is outside a test harness: what is left to
    # flush at the end is what these tests are about.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", program], check=False, text=True, timeout=120, env=env, **kwargs
    )


def test_the_end_still_runs_atexit_and_flushes_what_was_printed() -> None:
    out = leave(
        """
        import atexit, sys
        atexit.register(lambda: print("atexit ran"))
        print("printed", end="")  # unflushed: a pipe is block-buffered
        sys.stderr.write("to stderr")
        """,
        capture_output=True,
    )
    assert out.returncode == 3
    assert out.stdout == "printedatexit ran\n"
    assert out.stderr == "to stderr"


def test_the_end_waits_for_a_thread_still_running() -> None:
    out = leave(
        """
        import threading, time
        started = threading.Event()
        def late():
            started.set()
            time.sleep(0.3)
            print("the thread finished")
        threading.Thread(target=late).start()
        started.wait()
        """,
        capture_output=True,
    )
    assert out.returncode == 3
    assert out.stdout == "the thread finished\n"


def test_output_that_cannot_be_written_fails_the_end_as_python_would() -> None:
    # A pipe nobody reads any more: the write is buffered, the flush at the end fails.
    # The interpreter's own exit says so on stderr and exits 120; a silent exit 3
    # would hide that the output was lost.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = leave('print("lost")', stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert out.returncode == 120
    assert "BrokenPipeError" in out.stderr
