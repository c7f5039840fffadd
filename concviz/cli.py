"""The ``concviz`` command line.

Imports are deferred to the command that needs them: ``concviz models`` must
not pay for Textual, and the dashboard must not pay for the engine's sampler
before it runs anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn

from . import __version__

if TYPE_CHECKING:  # imported by the command that needs them (see the module's docstring)
    from .experiments import RunResult, SeriesEntry
    from .runner.spec import RunSpec
    from .scenario import Scenario
    from .tui.app import ConcvizApp

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


def _positive_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


#: Most runs of each variant ``--repeat`` asks for (each is a whole run).
MAX_REPEAT = 50


def _repeat_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_REPEAT:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_REPEAT}, got {value}")
    return value


JSON_HELP = (
    "print one JSON object on stdout instead of a table: its runs, with the tool, "
    "version and schema_version (see docs/json.md)"
)

REPEAT_HELP = (
    "run each variant N times, interleaved, and show its median run with the spread of "
    "the wall times (a noisy machine moves single runs by several %%)"
)


def add_run_options(p: argparse.ArgumentParser, kind: str = "run") -> None:
    """The options that describe one run (``run`` and the dashboard share them).

    Made from the run parameters' declarations (``runner.spec.PARAMS``): each
    option's flags, type, default and help. ``compare`` takes ``--models``
    instead of ``--model``; ``sweep`` takes a list of worker counts.
    """
    from .runner.params import PYTHON  # noqa: PLC0415
    from .runner.spec import PARAMS  # noqa: PLC0415

    groups = {
        "run": p.add_argument_group("what to run"),
        "pattern": p.add_argument_group("pattern options"),
    }
    for param in PARAMS:
        if not param.flags:
            continue
        g = groups[param.group]
        if kind == "compare" and param.name == "model":
            g.add_argument(
                "-m",
                "--models",
                required=True,
                help="comma-separated models, each optionally MODEL@PYTHON "
                "(e.g. sequential,threads,threads@python3.13t,processes)",
            )
        elif kind == "sweep" and param.name == "workers":
            g.add_argument(
                *param.flags,
                default="1,2,4,8,16",
                help="comma-separated worker counts (default 1,2,4,8,16)",
            )
        else:
            param.add_option(g)
        if param.name == "switch_interval":
            PYTHON.add_option(g)  # not a RunSpec field, but chosen with them


def spec_from_args(
    args: argparse.Namespace, model: str | None = None, workers: int | None = None
) -> Any:
    from .runner.spec import PARAMS, RunSpec, SpecError  # noqa: PLC0415

    values = {p.name: getattr(args, p.name) for p in PARAMS if hasattr(args, p.name)}
    if model is not None:
        values["model"] = model
    if workers is not None:
        values["workers"] = workers
    if args.task is not None and values["workload"] == "cpu":  # the default: --task implies custom
        values["workload"] = "custom"
    values["task_path"] = os.getcwd() if args.task else None
    try:
        return RunSpec(**values).validated()
    except SpecError as exc:
        raise UsageError(str(exc)) from None


def resolve_python(path: str | None) -> str | None:
    if path is None:
        return None
    from .observer.interpreters import InterpreterError, probe, resolve_name  # noqa: PLC0415

    try:
        return probe(resolve_name(path)).path
    except InterpreterError as exc:
        raise UsageError(str(exc)) from None


def refuse_unavailable(model: str, python: str | None) -> None:
    """A model the chosen interpreter cannot run: refused up front, naming one that can."""
    from .models import CATALOG as MODELS  # noqa: PLC0415
    from .tui.controller import unavailable_reason  # noqa: PLC0415

    reason = unavailable_reason(MODELS[model], python)
    if reason:
        raise UsageError(reason)


def add_series_output(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help=JSON_HELP)
    out.add_argument("--trace-dir", metavar="DIR", default=None, help="a Chrome trace per run here")
    out.add_argument("--quiet", action="store_true", help="no progress display")
    out.add_argument("--repeat", metavar="N", type=_repeat_count, default=1, help=REPEAT_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="concviz",
        description="Watch Python concurrency happen: run a model for real and see it.",
        epilog="With no command (or only run options), opens the dashboard.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"concviz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run one model headless and print its figures")
    add_run_options(run)
    out = run.add_argument_group("output")
    out.add_argument("--json", action="store_true", help=JSON_HELP)
    out.add_argument(
        "--trace", metavar="FILE", default=None, help="write a Chrome trace (opens in Perfetto)"
    )
    out.add_argument("--sample-hz", type=_positive_float, default=10.0, help="sampler rate (10-50)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    out.add_argument(
        "--record", metavar="FILE", default=None, help="save the event stream for 'concviz replay'"
    )
    run.add_argument(
        "--scenario",
        default=None,
        help="run a named scenario (see 'concviz scenarios') or a .toml file; "
        "its settings replace the run options (--python still applies)",
    )
    run.add_argument(
        "--repeat",
        metavar="N",
        type=_repeat_count,
        default=1,
        help="with a compare or sweep scenario: " + REPEAT_HELP,
    )
    run.add_argument("--csv", default=None, help=argparse.SUPPRESS)
    run.add_argument("--no-plot", action="store_true", help=argparse.SUPPRESS)

    dash = sub.add_parser("dashboard", help="open the dashboard (the default command)")
    add_run_options(dash)
    dash.add_argument("--run", action="store_true", help="start the run at once")

    replay = sub.add_parser("replay", help="play a recorded run back in the dashboard")
    replay.add_argument(
        "file", help="a recording from 'concviz run --record' or ctrl+s in the dashboard"
    )
    replay.add_argument(
        "--speed", type=_positive_float, default=1.0, help="playback speed (default 1)"
    )
    convert = replay.add_argument_group("convert instead of playing back")
    convert.add_argument(
        "--trace",
        metavar="FILE",
        default=None,
        help="write the recording as a Chrome trace (opens in Perfetto)",
    )
    convert.add_argument(
        "--json",
        action="store_true",
        help="print the recording's figures as one JSON object (see docs/json.md)",
    )

    compare = sub.add_parser(
        "compare", help="run the same workload under several models, one after another"
    )
    add_run_options(compare, kind="compare")
    add_series_output(compare)

    sweep = sub.add_parser("sweep", help="run one model at several worker counts")
    add_run_options(sweep, kind="sweep")
    add_series_output(sweep)
    sweep.add_argument("--csv", metavar="FILE", default=None, help="also write the points as CSV")
    sweep.add_argument("--no-plot", action="store_true", help="no terminal plot")

    sub.add_parser("serve", help="serve the dashboard in a browser (see 'concviz serve --help')")
    sub.add_parser("scenarios", help="list the ready-made demonstrations")
    scenario = sub.add_parser("scenario", help="open scenarios in the dashboard (a talk: several)")
    scenario.add_argument("names", nargs="+", help="scenario names or .toml files, in order")
    scenario.add_argument("--python", default=None, help="run them under this interpreter")

    advise = sub.add_parser(
        "advise",
        help="which model, and how many workers, for your function: measured here",
        description="Probes your function (or a built-in workload), runs the models that "
        "make sense for it at growing worker counts within a time budget, and says which "
        "is fastest here and why the others lose, each figure measured in this run.",
    )
    advise.add_argument("--task", default=None, help="your function, module:function")
    advise.add_argument("--task-args", default="[]", help="its arguments, a JSON list")
    advise.add_argument("--task-kwargs", default="{}", help="its keyword arguments (JSON)")
    advise.add_argument("-w", "--workload", default=None, help="or a built-in workload")
    advise.add_argument(
        "--task-ms", type=_positive_float, default=100.0, help="a built-in workload's task size"
    )
    advise.add_argument("--python", default=None, help="advise for this interpreter")
    advise.add_argument(
        "--budget", type=_positive_float, default=60.0, help="seconds it may take (default 60)"
    )
    advise.add_argument("--json", action="store_true", help="print one JSON object")
    advise.add_argument("--quiet", action="store_true", help="no progress display")

    sub.add_parser("models", help="list the concurrency models")
    sub.add_parser("workloads", help="list the workloads")
    sub.add_parser("interpreters", help="list the CPythons (>= 3.11) found on this machine")
    cal = sub.add_parser("calibrate", help="time the CPU kernels for --task-ms (cached)")
    cal.add_argument("--python", default=None, help="calibrate this interpreter")
    return parser


# -- commands ----------------------------------------------------------------


def cmd_models(out: IO[str]) -> int:
    from .models import CATALOG  # noqa: PLC0415

    width = max(map(len, CATALOG))
    for info in CATALOG.values():
        reason = info.unavailable(tuple(sys.version_info[:3]))
        note = f"  [unavailable here: {reason}]" if reason else ""
        print(f"{info.name:<{width}}  {info.summary}{note}", file=out)
    return EXIT_OK


def cmd_workloads(out: IO[str]) -> int:
    from .workloads import CATALOG  # noqa: PLC0415

    width = max(map(len, CATALOG))
    for info in CATALOG.values():
        print(f"{info.name:<{width}}  {info.nature:<5}  {info.summary}", file=out)
    return EXIT_OK


def cmd_scenarios(out: IO[str]) -> int:
    from .scenario import load, shipped  # noqa: PLC0415

    names = shipped()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {load(name).title}", file=out)
    return EXIT_OK


def cmd_scenario(args: argparse.Namespace) -> int:
    playlist = [load_scenario(name) for name in args.names]
    python = resolve_python(args.python)
    need_terminal()
    from .tui.app import ConcvizApp  # noqa: PLC0415

    return run_app(ConcvizApp(python=python, playlist=playlist))


def cmd_interpreters(out: IO[str]) -> int:
    from .observer.interpreters import discover  # noqa: PLC0415

    found = discover()
    width = max((len(i.short) for i in found), default=4)
    for interp in found:
        gil = "GIL on " if interp.gil_enabled else "GIL off"
        version = ".".join(map(str, interp.version))
        print(f"{interp.short:<{width}}  {version:<8} {gil}  {interp.path}", file=out)
    if not found:
        print("no CPython >= 3.11 found (concviz needs one)", file=out)
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace, out: IO[str]) -> int:
    import subprocess  # noqa: PLC0415

    from .observer.session import child_env  # noqa: PLC0415

    python = resolve_python(args.python) or sys.executable
    code = (
        "import json; from concviz.runner.calibrate import calibration;"
        "from concviz.workloads.base import units_for;"
        "c, _ = calibration(('sum_of_squares', 'trial_division'), refresh=True);"
        "print(json.dumps({k: units_for(t, 100.0) / 100.0 for k, t in c.items()}))"
    )
    done = subprocess.run(
        [python, "-c", code], env=child_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(
            f"concviz calibrate: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr
        )
        return EXIT_RUN_FAILED
    figures = json.loads(done.stdout)
    print(f"{python}:", file=out)
    print(
        f"  sum of squares: {figures['sum_of_squares']:,.0f} iterations/ms (100 ms tasks)", file=out
    )
    print(
        f"  trial division: {figures['trial_division']:,.0f} divisions/ms (100 ms tasks)", file=out
    )
    return EXIT_OK


def need_terminal() -> None:
    """The dashboard draws full-screen: refuse, in one line, where it cannot.

    Without a terminal (stdin or stdout redirected) or with ``TERM=dumb`` it would
    write escape codes nobody sees and wait for keys that never come. Under
    ``concviz serve`` a browser is the terminal (Textual's web driver).
    """
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the dashboard needs a terminal (stdin and stdout are not one); "
            "for a headless run use 'concviz run' (see 'concviz run --help')"
        )
    if os.environ.get("TERM", "") in ("dumb", ""):
        raise UsageError(
            f"the dashboard needs a full-screen terminal (TERM={os.environ.get('TERM', '')!r}); "
            "for a headless run use 'concviz run' (see 'concviz run --help')"
        )


def cmd_dashboard(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    python = resolve_python(args.python)
    refuse_unavailable(spec.model, python)
    need_terminal()
    from .tui.app import ConcvizApp  # noqa: PLC0415

    return run_app(ConcvizApp(spec, python=python, autorun=args.run))


#: Seconds a dashboard gets to close after SIGTERM/SIGHUP before it is ended outright.
HANGUP_GRACE_S = 3.0


def run_app(app: ConcvizApp) -> int:
    """Runs a Textual app; SIGTERM/SIGHUP (its terminal closed) make it quit, not hang.

    Raising SystemExit from the signal handler, as the other commands do, unwinds
    through Textual's event loop without stopping its driver, whose input thread
    (not a daemon) then spins on the hung-up terminal forever and holds the
    interpreter's shutdown. So the app is asked to exit; if it has not within
    HANGUP_GRACE_S, what concviz started is ended and the process leaves.
    """

    def hang_up(signum: int, _frame: FrameType | None) -> None:
        def last_resort() -> None:
            time.sleep(HANGUP_GRACE_S)
            from .observer.session import close_all  # noqa: PLC0415

            close_all()
            os._exit(128 + signum)

        threading.Thread(target=last_resort, name="concviz-hangup", daemon=True).start()
        app.exit(return_code=128 + signum)

    previous = {sig: signal.signal(sig, hang_up) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        app.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return int(app.return_code or EXIT_OK)


def cmd_replay(args: argparse.Namespace) -> int:
    if not 0.01 <= args.speed <= 1000:
        raise UsageError(f"speed must be between 0.01 and 1000, got {args.speed:g}")
    from .observer.recording import RecordingError, read_frames  # noqa: PLC0415

    try:
        read_frames(args.file)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    if args.trace or args.json:
        return convert_recording(args, sys.stdout)
    need_terminal()
    from .tui.app import ConcvizApp  # noqa: PLC0415

    return run_app(ConcvizApp(replay=args.file, replay_speed=args.speed))


def convert_recording(args: argparse.Namespace, out: IO[str]) -> int:
    """``replay FILE --trace OUT`` / ``--json``: the recording played back at once, no UI."""
    from rich.console import Console  # noqa: PLC0415

    from .findings import summarise  # noqa: PLC0415
    from .observer.trace import recording_aggregate, write_trace  # noqa: PLC0415

    trace_file = _open_trace(args.trace)
    try:
        agg = recording_aggregate(args.file)
        for note in agg.transport_errors:  # a damaged file: what was played, and where it ended
            print(f"concviz replay: warning: {note}", file=sys.stderr)
        summary = summarise(agg)
        if trace_file is not None:
            write_trace(agg, trace_file, summary)
    finally:
        if trace_file is not None:
            trace_file.close()
    if args.json:
        _print_json(args, "replay", [summary.as_dict()], out, recording=args.file)
    if args.trace:
        Console(stderr=True).print(
            f"trace written to {args.trace} (open it in https://ui.perfetto.dev)",
            soft_wrap=True,  # one line, whatever the path's length
        )
    return EXIT_OK


def _print_json(
    args: argparse.Namespace,
    command: str,
    runs: list[dict[str, Any]],
    out: IO[str],
    interrupted: bool = False,
    **extra: Any,
) -> None:
    """Every ``--json``: one envelope (report.json_envelope); a scenario says which."""
    from .report import json_envelope, print_json  # noqa: PLC0415

    scenario = getattr(args, "json_scenario", None)
    if scenario is not None:
        command = "scenario"
        extra["scenario"] = scenario
    print_json(json_envelope(command, runs, interrupted=interrupted, **extra), out)


def _open_trace(path: str | None) -> IO[str] | None:
    """The trace's file, checked now (not after the run): ``-`` is stdout."""
    if path is None:
        return None
    if path == "-":
        return sys.stdout
    return open_for_writing(path, "trace file")


def open_for_writing(path: str, what: str, newline: str | None = None) -> IO[str]:
    """Opens ``path`` to write, checked now, not after a run: UsageError if it cannot be."""
    fd = -1
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.write(fd, b" ")  # a file that opens may still refuse writes (/proc/version: EIO)
        with contextlib.suppress(OSError):  # not a regular file (a pipe): nothing to undo
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        f = os.fdopen(fd, "w", newline=newline)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        raise UsageError(f"cannot write {what} {path!r}: {exc.strerror}") from None
    return f


def cmd_run(args: argparse.Namespace, out: IO[str]) -> int:
    if args.scenario:
        return cmd_run_scenario(args, out)
    if args.repeat > 1:
        raise UsageError("--repeat is for compare and sweep (or such a --scenario)")
    return run_single(spec_from_args(args), resolve_python(args.python), args, out)


def load_scenario(name: str) -> Scenario:
    from .scenario import ScenarioError, load  # noqa: PLC0415

    try:
        return load(name)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


def cmd_run_scenario(args: argparse.Namespace, out: IO[str]) -> int:
    """A scenario headless: one run, a comparison of its variants, or a sweep."""
    from rich.console import Console  # noqa: PLC0415

    scenario = load_scenario(args.scenario)
    if scenario.kind == "run" and args.repeat > 1:
        raise UsageError(
            f"--repeat is for compare and sweep scenarios; {args.scenario!r} is a single run"
        )
    python = resolve_python(args.python or scenario.python)
    args.json_scenario = {"name": args.scenario, "kind": scenario.kind, "title": scenario.title}
    if not args.json:
        err = Console(stderr=True)
        err.print(f"[bold]{scenario.title}[/]")
        err.print(scenario.explanation, style="dim")
    if scenario.kind == "run":
        return run_single(scenario.spec, python, args, out, stop_after=scenario.stop_after_s)
    args.workload = scenario.spec.workload
    args.trace_dir = getattr(args, "trace_dir", None)
    if scenario.kind == "compare":
        entries = [
            (v.label, v.spec, resolve_python(args.python or v.python) or python)
            for v in scenario.variants
        ]
        return compare_entries(entries, args, out, keep=scenario.focus)
    from dataclasses import replace  # noqa: PLC0415

    args.model = scenario.spec.model
    entries = [
        (f"{scenario.spec.model} × {n}", replace(scenario.spec, workers=n).validated(), python)
        for n in scenario.sweep
    ]
    return sweep_entries(entries, scenario.sweep, args, out)


def run_single(
    spec: RunSpec,
    python: str | None,
    args: argparse.Namespace,
    out: IO[str],
    stop_after: float | None = None,
) -> int:
    if not 1.0 <= args.sample_hz <= 50.0:
        raise UsageError(f"sample-hz must be between 1 and 50, got {args.sample_hz:g}")
    if args.trace == "-" and args.json:
        raise UsageError("--trace - and --json both write to stdout: give --trace a file")
    trace_file = _open_trace(args.trace)
    if args.trace == "-":
        out = sys.stderr  # stdout carries the trace; the table goes beside the progress bar
    if args.record is not None:
        try:
            open(args.record, "ab").close()
        except OSError as exc:
            raise UsageError(f"cannot write recording {args.record!r}: {exc.strerror}") from None

    from .observer.session import RunSession, SessionError  # noqa: PLC0415

    session = RunSession(
        spec,
        python=python,
        keep_all_spans=trace_file is not None,
        sample_hz=args.sample_hz,
        record_to=args.record,
    )
    interrupted = False
    try:
        try:
            session.start()
        except SessionError as exc:
            raise UsageError(str(exc)) from None
        # Imported while the runner starts (~100 ms before its first event), not before:
        # a Ctrl+C meanwhile is still start-up's (main() ends the run, exit 130).
        # So is what the end of the run needs (the summary's findings, the report and
        # its rich.table: ~10 ms), rather than after the run (#21).
        from rich.console import Console  # noqa: PLC0415

        from . import findings  # noqa: F401, PLC0415
        from .progress import RunProgress  # noqa: PLC0415
        from .report import summary_table  # noqa: PLC0415

        err = Console(stderr=True)
        if stop_after is not None:
            session.stop_after(stop_after)
        with RunProgress(session, err, enabled=not args.quiet) as progress:
            try:
                while not session.wait(0.1):
                    progress.update()
            except KeyboardInterrupt:
                interrupted = True
                progress.note("stopping: running tasks may finish, the rest are cancelled")
                session.stop(grace=0.6)
            progress.update()
        from .findings import session_summary  # noqa: PLC0415

        summary = session_summary(session)
        if trace_file is not None:
            from .observer.trace import write_trace  # noqa: PLC0415

            try:
                with session.lock:
                    write_trace(session.aggregate, trace_file, summary)
                trace_file.flush()
            except OSError as exc:
                raise UsageError(
                    f"cannot write trace file {args.trace!r}: {exc.strerror}"
                ) from None
    finally:
        session.close()
        if trace_file is not None and trace_file is not sys.stdout:
            trace_file.close()

    if args.json:
        _print_json(args, "run", [summary.as_dict()], out, interrupted=interrupted)
    else:
        Console(file=out).print(summary_table(summary))
    if args.trace and args.trace != "-":
        err.print(f"trace written to {args.trace} (open it in https://ui.perfetto.dev)")
    if args.record:
        err.print(
            f"recording written to {args.record} (play it with: concviz replay {args.record})"
        )
    if summary.run_error and not interrupted:
        err.print(f"[red]concviz: the run failed: {summary.run_error}[/]", soft_wrap=True)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_RUN_FAILED if summary.status in ("error", "crashed") else EXIT_OK


def _trace_dir(path: str | None) -> str | None:
    if path is None:
        return None
    import os  # noqa: PLC0415

    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".concviz-write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as exc:
        raise UsageError(f"cannot write traces to {path!r}: {exc.strerror}") from None
    return path


def run_series(
    entries: list[SeriesEntry], args: argparse.Namespace, title: str
) -> tuple[list[RunResult], bool]:
    """Runs (label, spec, python) entries one after another with a two-level progress display.

    With ``--repeat N`` every entry runs N times (see :func:`experiments.run_series`).
    Returns the results so far, one per entry run at least once, and whether
    Ctrl+C cut the series short.
    """
    from rich.console import Console  # noqa: PLC0415

    from . import experiments  # noqa: PLC0415
    from .observer.session import SessionError  # noqa: PLC0415
    from .progress import SeriesProgress  # noqa: PLC0415

    repeats = getattr(args, "repeat", 1)
    shown = SeriesProgress(
        title, len(entries) * repeats, repeats, Console(stderr=True), enabled=not args.quiet
    )
    try:
        with shown:
            outcome = experiments.run_series(entries, shown, repeats, trace_dir=args.trace_dir)
    except SessionError as exc:
        raise UsageError(str(exc)) from None
    return outcome.results, outcome.interrupted


def _with_start_method(spec: RunSpec, method: str | None) -> RunSpec:
    from dataclasses import replace  # noqa: PLC0415

    return replace(spec, start_method=method) if method else spec


def cmd_compare(args: argparse.Namespace, out: IO[str]) -> int:
    from .experiments import parse_variants  # noqa: PLC0415
    from .runner.spec import SpecError  # noqa: PLC0415

    python = resolve_python(args.python)
    try:
        variants = parse_variants(args.models, python)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    entries = [
        (v.name, _with_start_method(spec_from_args(args, model=v.model), v.start_method), v.python)
        for v in variants
    ]
    return compare_entries(entries, args, out)


def compare_entries(
    entries: list[SeriesEntry],
    args: argparse.Namespace,
    out: IO[str],
    keep: tuple[str, ...] = (),
) -> int:
    from .experiments import baseline_index, speedups  # noqa: PLC0415

    _trace_dir(args.trace_dir)
    results, interrupted = run_series(entries, args, "compare")
    rows = speedups(results)
    baseline = results[baseline_index([r.label for r in results])].label if results else "-"
    ceilings = (
        _machine_ceilings(entries[0][1].workload, [r.summary.workers for r in rows]) if rows else {}
    )
    if args.json:
        from .report_multi import compare_json_runs  # noqa: PLC0415

        compare = {"baseline": baseline if results else None}
        _print_json(
            args,
            "compare",
            compare_json_runs(rows, ceilings),
            out,
            interrupted=interrupted,
            compare=compare,
        )
    else:
        from rich.console import Console  # noqa: PLC0415

        from .report_multi import compare_table  # noqa: PLC0415

        spec = entries[0][1]
        counts = {entry[1].tasks for entry in entries}
        tasks = f"{spec.tasks} tasks" if len(counts) == 1 else "tasks"  # variants may differ
        title = f"concviz compare: {spec.workload}, {tasks} of {spec.size}"
        console = Console(file=out)
        console.print(compare_table(rows, baseline, title, console.width, keep, ceilings))
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _machine_ceilings(workload: str, counts: list[int]) -> dict[int, float | None]:
    """The machine ceiling per count for CPU-bound work (measured once, cached); none for I/O."""
    from .observer.ceiling import ceilings  # noqa: PLC0415
    from .workloads import CATALOG as KINDS  # noqa: PLC0415

    kind = KINDS.get(workload)
    if kind is None or kind.nature == "io":
        return {}
    return ceilings(counts)


def cmd_sweep(args: argparse.Namespace, out: IO[str]) -> int:
    from .experiments import parse_counts  # noqa: PLC0415
    from .runner.spec import SpecError  # noqa: PLC0415

    try:
        counts = parse_counts(args.workers)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    python = resolve_python(args.python)
    entries = [(f"{args.model} × {n}", spec_from_args(args, workers=n), python) for n in counts]
    from .experiments import check_available  # noqa: PLC0415

    try:
        check_available(args.model, python)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    return sweep_entries(entries, counts, args, out)


def sweep_entries(
    entries: list[SeriesEntry],
    counts: list[int],
    args: argparse.Namespace,
    out: IO[str],
) -> int:
    import csv  # noqa: PLC0415

    from .experiments import analyse_sweep  # noqa: PLC0415

    _trace_dir(args.trace_dir)
    csv_file = None
    if args.csv:
        csv_file = open_for_writing(args.csv, "CSV file", newline="")
    try:
        results, interrupted = run_series(entries, args, "sweep")
        done = counts[: len(results)]
        if not results:
            if args.json:  # still one envelope: no run finished
                _print_json(args, "sweep", [], out, interrupted=True, sweep=None)
            return EXIT_INTERRUPTED
        cores = results[0].summary.cores
        analysis = analyse_sweep(
            done,
            [r.summary.wall_s for r in results],
            [r.summary.parallelism for r in results],
            cores=cores,
            ceilings=_machine_ceilings(args.workload, done),
        )
        if csv_file is not None:
            writer = csv.writer(csv_file)
            writer.writerow(
                [
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
            )
            for point, amdahl, r in zip(analysis.points, analysis.amdahl, results, strict=True):
                writer.writerow(
                    [
                        point.workers,
                        f"{point.wall_s:.6f}",
                        f"{point.speedup:.4f}",
                        f"{point.efficiency:.4f}",
                        point.workers,
                        f"{amdahl:.4f}",
                        f"{point.parallelism:.4f}",
                        f"{r.summary.on_cpu_fraction:.4f}",
                        r.summary.completed,
                        r.summary.failed,
                        r.summary.peak_memory,
                        f"{min(r.walls):.6f}",
                        f"{max(r.walls):.6f}",
                    ]
                )
        if csv_file is not None:
            try:
                csv_file.flush()
            except OSError as exc:
                raise UsageError(f"cannot write CSV file {args.csv!r}: {exc.strerror}") from None
    finally:
        if csv_file is not None:
            with contextlib.suppress(OSError):  # reported above
                csv_file.close()
    if args.json:
        from .report_multi import sweep_json  # noqa: PLC0415

        runs, fit = sweep_json(analysis, results, args.model, args.workload)
        _print_json(args, "sweep", runs, out, interrupted=interrupted, sweep=fit)
    else:
        from rich.console import Console  # noqa: PLC0415

        from .report_multi import strip_ansi, sweep_plot, sweep_table  # noqa: PLC0415
        from .workloads import CATALOG as WORKLOADS  # noqa: PLC0415

        spec = entries[0][1]
        title = f"concviz sweep: {args.model} on {spec.workload}, {spec.tasks} tasks of {spec.size}"
        console = Console(file=out)
        cpu_bound = WORKLOADS[spec.workload].nature != "io"
        memory = [r.summary.peak_memory for r in results]
        spreads = [r.spread for r in results]
        table = sweep_table(analysis, title, cpu_bound, memory, console.width, spreads)
        console.print(table)
        if not args.no_plot and len(done) > 1:
            plot = sweep_plot(analysis, title="speedup vs workers")
            colour = out.isatty() and console.color_system is not None  # not TERM=dumb
            print(plot if colour else strip_ansi(plot), file=out)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def cmd_advise(args: argparse.Namespace, out: IO[str]) -> int:
    """``concviz advise``: the verdict for a function or a workload (see concviz/advise.py)."""
    if not 5 <= args.budget <= 3600:
        raise UsageError(f"--budget must be 5 to 3600 seconds, got {args.budget:g}")
    if (args.task is None) == (args.workload is None):
        raise UsageError("give either --task module:function or --workload NAME")
    argv = ["run", "--task-ms", str(args.task_ms), "-w", args.workload or "custom"]
    if args.task is not None:
        argv += ["--task", args.task, "--task-args", args.task_args]
        argv += ["--task-kwargs", args.task_kwargs]
    spec = spec_from_args(build_parser().parse_args(argv), model="sequential", workers=1)
    python = resolve_python(args.python)
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import TextColumn  # noqa: PLC0415

    from .advise import (  # noqa: PLC0415
        AdviseError,
        Advisor,
        advice_table,
        closing_lines,
        report_lines,
    )
    from .progress import bars  # noqa: PLC0415

    err = Console(stderr=True)
    progress = bars(
        err,
        TextColumn("{task.fields[left]}"),
        enabled=not args.quiet,
        label="[bold]advise[/] {task.description}",
        transient=True,
    )
    bar = progress.add_task("", total=1, left="")
    advisor = Advisor(spec, python=python, budget_s=args.budget)
    advisor.progress = lambda done, planned, what: progress.update(
        bar,
        completed=done,
        total=max(planned, done, 1),
        description=what,
        left=f"{max(0.0, advisor.left()):.0f} s of budget left",
    )
    try:
        with progress:
            advice = advisor.run()
    except AdviseError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        from .report import json_envelope, print_json  # noqa: PLC0415

        verdict = advice.as_dict()
        print_json(json_envelope("advise", verdict.pop("runs"), advise=verdict), out)
        return EXIT_OK
    console = Console(file=out)
    for line in report_lines(advice):
        console.print(line, highlight=False)
    console.print(advice_table(advice, console.width))
    for line in closing_lines(advice):
        console.print(line, highlight=False)
    return EXIT_OK


def _terminate(signum: int, _frame: FrameType | None) -> NoReturn:
    # SIGTERM/SIGHUP: unwind so every ``finally`` (and atexit) ends what we started.
    raise SystemExit(128 + signum)


#: ``serve --big``: in Chromium a 1920x1080 page shows 137 x 33 cells, a 1280x720 one 91 x 22.
BIG_FONT = 24
#: ``serve --font-size`` bounds, in px: readable, and a page that still holds the dashboard.
MIN_FONT, MAX_FONT = 6, 96


def serve_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="concviz serve",
        description="Serve the dashboard in a browser (one dashboard per tab). Any other "
        "options are the dashboard's, e.g. -m processes -n 2.",
        epilog="examples:\n"
        "  concviz serve --big --scenario gil io-threads-vs-async race\n"
        "      a talk: PageDown / PageUp (or a slide clicker) step through the demos\n"
        "  concviz serve --replay demo.cvrec\n"
        "      the fallback: a recorded run, when the room's machine is too slow or busy\n"
        "  concviz serve --host 0.0.0.0 --public-url http://192.168.1.20:8000\n"
        "      reachable from other machines (the page's assets use the public URL)\n\n"
        "Nothing the page loads leaves this machine. Every dashboard, its run and its\n"
        "workers end when its tab closes; Ctrl+C ends them all. Only this server's own\n"
        "page (or --public-url's) may open a dashboard: other web sites cannot.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--public-url",
        default=None,
        help="the URL browsers reach it at (needed for any --host other than loopback)",
    )
    p.add_argument(
        "--big", action="store_true", help=f"a large font ({BIG_FONT}px), for the back of a room"
    )
    p.add_argument("--font-size", type=int, default=None, help="the browser's font size (16)")
    p.add_argument("--replay", metavar="FILE", default=None, help="serve a recording's replay")
    p.add_argument("--scenario", nargs="+", default=None, help="serve scenarios (a talk)")
    p.add_argument(
        "--max-dashboards",
        metavar="N",
        type=int,
        default=4,
        help="dashboards running at once, at most (default 4); more tabs are told to wait",
    )
    return p


def cmd_serve(argv: list[str]) -> int:
    """``concviz serve``: checks everything up front, then serves until Ctrl+C."""
    parser = serve_parser()
    args, rest = parser.parse_known_args(argv)
    if not 1 <= args.port <= 65535:
        raise UsageError(f"concviz serve: error: port must be 1-65535, got {args.port}")
    if args.font_size is not None and not MIN_FONT <= args.font_size <= MAX_FONT:
        raise UsageError(
            f"concviz serve: error: font-size must be {MIN_FONT}-{MAX_FONT} (px), "
            f"got {args.font_size}"
        )
    if args.max_dashboards < 1:
        raise UsageError(
            f"concviz serve: error: --max-dashboards must be at least 1, got {args.max_dashboards}"
        )
    from .web.access import AccessError, allowed_origins, public_addresses  # noqa: PLC0415

    try:  # resolved as it will be bound: "", "0", "::0" and "0.0.0.00" are every interface
        public = public_addresses(args.host, args.port)
        origins = allowed_origins(args.host, args.port, args.public_url)
    except AccessError as exc:
        raise UsageError(f"concviz serve: error: {exc}") from None
    if public and not args.public_url:
        raise UsageError(
            f"concviz serve: error: --host {args.host!r} listens beyond this machine "
            f"({', '.join(public)}): that needs --public-url "
            "(the address browsers will use, e.g. http://192.168.1.20:8000)"
        )
    if args.replay:
        read = ["replay", args.replay, *rest]
        what = f"the replay of {args.replay}"
    elif args.scenario:
        read = ["scenario", *args.scenario, *rest]
        what = f"a talk: {' → '.join(args.scenario)} (PageDown / PageUp step through)"
    else:
        read = ["dashboard", *rest]
        what = f"the dashboard {shlex.join(rest)}".rstrip()
    try:  # the same checks the dashboard makes, but now, with one line, not per browser tab
        checked = build_parser().parse_args(read)
        if checked.command == "dashboard":
            spec_from_args(checked)
            resolve_python(checked.python)
        elif checked.command == "scenario":
            for name in checked.names:
                load_scenario(name)
        else:
            from .observer.recording import RecordingError, read_frames  # noqa: PLC0415

            try:
                read_frames(checked.file)
            except RecordingError as exc:
                raise UsageError(str(exc)) from None
    except UsageError as exc:
        message = str(exc)
        raise UsageError(
            message if message.startswith("concviz") else f"concviz serve: {message}"
        ) from None
    from .web.server import ConcvizServer, dashboard_command  # noqa: PLC0415

    font_size = args.font_size or (BIG_FONT if args.big else 16)
    server = ConcvizServer(
        dashboard_command(read),
        font_size=font_size,
        what=what,
        host=args.host,
        port=args.port,
        title="concviz",
        public_url=args.public_url,
        origins=origins,
        max_dashboards=args.max_dashboards,
    )
    if public:
        print(
            f"concviz serve: warning: listening on {', '.join(public)}: anyone who can reach "
            f"port {args.port} can open dashboards, which run code on this machine",
            file=sys.stderr,
        )
    try:
        server.serve()
    except OSError as exc:
        raise UsageError(
            f"concviz serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror}"
        ) from None
    return EXIT_OK


def _safe_streams() -> None:
    """Output the terminal cannot encode (``PYTHONIOENCODING=ascii``) degrades, never raises."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: bad input is one line on stderr and exit code 2, Ctrl+C exit 130."""
    try:
        # Explicit, in case we were started with SIGINT ignored (a background job).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGHUP, _terminate)
        _safe_streams()
        code = _main(argv)
    except KeyboardInterrupt:  # at any moment, even before a command began
        print("concviz: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED and argv is None:  # the program itself, not a caller
        _leave(code)
    return code


def _leave(code: int) -> NoReturn:
    """Exits with ``code`` after the usual clean-up (atexit), whatever CPython noted.

    A KeyboardInterrupt that passed through ``exec()`` of a string (dataclasses
    and namedtuple build methods that way at import) marks the interpreter to end
    by SIGINT at exit even when concviz handled it: the exit status would be
    -SIGINT, not 130. So the interrupted program ends here, its clean-up done.
    """
    import atexit  # noqa: PLC0415

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def one_line(message: str) -> str:
    """The message as one line: what the user typed may hold newlines or other controls."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message
    )


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    out = sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-V", "--version")):
        argv.insert(0, "dashboard")  # plain `concviz [options]` opens the dashboard
    if argv[0] == "serve":
        try:
            return cmd_serve(argv[1:])
        except UsageError as exc:
            print(one_line(str(exc)), file=sys.stderr)
            return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(one_line(str(exc)), file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "run":
            return cmd_run(args, out)
        if args.command == "scenarios":
            return cmd_scenarios(out)
        if args.command == "scenario":
            return cmd_scenario(args)
        if args.command == "models":
            return cmd_models(out)
        if args.command == "workloads":
            return cmd_workloads(out)
        if args.command == "interpreters":
            return cmd_interpreters(out)
        if args.command == "calibrate":
            return cmd_calibrate(args, out)
        if args.command == "compare":
            return cmd_compare(args, out)
        if args.command == "sweep":
            return cmd_sweep(args, out)
        if args.command == "dashboard":
            return cmd_dashboard(args)
        if args.command == "replay":
            return cmd_replay(args)
        if args.command == "advise":
            return cmd_advise(args, out)
        parser.print_help(out)
        return EXIT_OK
    except UsageError as exc:
        print(one_line(f"concviz {args.command}: error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
