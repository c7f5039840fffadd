"""``concviz advise``: which model, and how many workers, for a function (concviz/advise.py)."""

from __future__ import annotations

import argparse
from typing import IO

from .common import EXIT_OK, UsageError, resolve_python, spec_from_args
from .parser import build_parser


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

    from ..advise import (  # noqa: PLC0415
        AdviseError,
        Advisor,
        advice_table,
        closing_lines,
        report_lines,
    )
    from ..progress import bars  # noqa: PLC0415

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
        from ..report import json_envelope, print_json  # noqa: PLC0415

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
