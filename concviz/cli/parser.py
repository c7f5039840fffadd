"""The command line's parser: every command's options (``serve`` has its own, in serve.py)."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .. import __version__
from .common import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


def positive_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


#: Most runs of each variant ``--repeat`` asks for (each is a whole run).
MAX_REPEAT = 50


def repeat_count(text: str) -> int:
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
    from ..runner.params import PYTHON  # noqa: PLC0415
    from ..runner.spec import PARAMS  # noqa: PLC0415

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


def add_series_output(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help=JSON_HELP)
    out.add_argument("--trace-dir", metavar="DIR", default=None, help="a Chrome trace per run here")
    out.add_argument("--quiet", action="store_true", help="no progress display")
    out.add_argument("--repeat", metavar="N", type=repeat_count, default=1, help=REPEAT_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="concviz",
        description="Watch Python concurrency happen: run a model for real and see it.",
        epilog="With no command (or only run options), opens the dashboard.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"concviz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="run one model headless and print its figures")
    add_run_options(run)
    out = run.add_argument_group("output")
    out.add_argument("--json", action="store_true", help=JSON_HELP)
    out.add_argument(
        "--trace", metavar="FILE", default=None, help="write a Chrome trace (opens in Perfetto)"
    )
    out.add_argument("--sample-hz", type=positive_float, default=10.0, help="sampler rate (10-50)")
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
        type=repeat_count,
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
        "--speed", type=positive_float, default=1.0, help="playback speed (default 1)"
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
        "--task-ms", type=positive_float, default=100.0, help="a built-in workload's task size"
    )
    advise.add_argument("--python", default=None, help="advise for this interpreter")
    advise.add_argument(
        "--budget", type=positive_float, default=60.0, help="seconds it may take (default 60)"
    )
    advise.add_argument("--json", action="store_true", help="print one JSON object")
    advise.add_argument("--quiet", action="store_true", help="no progress display")

    sub.add_parser("models", help="list the concurrency models")
    sub.add_parser("workloads", help="list the workloads")
    sub.add_parser("interpreters", help="list the CPythons (>= 3.11) found on this machine")
    cal = sub.add_parser("calibrate", help="time the CPU kernels for --task-ms (cached)")
    cal.add_argument("--python", default=None, help="calibrate this interpreter")
    return parser
