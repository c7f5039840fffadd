"""``concviz run``: one run headless (or a scenario: one run, a comparison or a sweep),
with a progress bar, then its table or JSON, a trace and a recording if asked."""

from __future__ import annotations

import argparse
import sys
from typing import IO, TYPE_CHECKING

from ..startup import release_collector
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    UsageError,
    load_scenario,
    open_trace,
    print_envelope,
    resolve_python,
    spec_from_args,
)
from .series import compare_entries, sweep_entries

if TYPE_CHECKING:
    from ..observer.launch import EarlyRunner
    from ..runner.spec import RunSpec


def cmd_run(args: argparse.Namespace, out: IO[str], early: EarlyRunner | None = None) -> int:
    if args.scenario:
        release_collector()  # its runs may be many: a single one lets it go later too
        return cmd_run_scenario(args, out)
    if args.repeat > 1:
        raise UsageError("--repeat is for compare and sweep (or such a --scenario)")
    return run_single(spec_from_args(args), resolve_python(args.python), args, out, early=early)


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
    early: EarlyRunner | None = None,
) -> int:
    if not 1.0 <= args.sample_hz <= 50.0:
        raise UsageError(f"sample-hz must be between 1 and 50, got {args.sample_hz:g}")
    if args.trace == "-" and args.json:
        raise UsageError("--trace - and --json both write to stdout: give --trace a file")
    trace_file = open_trace(args.trace)
    if args.trace == "-":
        out = sys.stderr  # stdout carries the trace; the table goes beside the progress bar
    if args.record is not None:
        try:
            open(args.record, "ab").close()
        except OSError as exc:
            raise UsageError(f"cannot write recording {args.record!r}: {exc.strerror}") from None

    from ..observer.session import RunSession, SessionError  # noqa: PLC0415

    session = RunSession(
        spec,
        python=python,
        keep_all_spans=trace_file is not None,
        sample_hz=args.sample_hz,
        record_to=args.record,
        early=early,
    )
    interrupted = False
    try:
        try:
            # What the rest needs is imported while the runner starts (~100 ms before its
            # first event), not before: a Ctrl+C meanwhile is still start-up's (main() ends
            # the run, exit 130). So is what the end of the run needs (the summary's
            # findings, the report and its rich.table: ~10 ms), rather than after it (#21).
            session.start(meanwhile=_load_the_rest)
        except SessionError as exc:
            raise UsageError(str(exc)) from None
        from rich.console import Console  # noqa: PLC0415

        from ..progress import RunProgress  # noqa: PLC0415
        from ..report import summary_table  # noqa: PLC0415

        release_collector()  # start-up is over (concviz.startup)
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
        from ..findings import session_summary  # noqa: PLC0415

        summary = session_summary(session)
        if trace_file is not None:
            from ..observer.trace import write_trace  # noqa: PLC0415

            try:
                with session.lock:
                    write_trace(session.aggregate, trace_file, summary)
                trace_file.flush()
            except BrokenPipeError:
                raise  # `--trace - | head`: the reader left; quiet, as for any command's output
            except OSError as exc:
                raise UsageError(
                    f"cannot write trace file {args.trace!r}: {exc.strerror}"
                ) from None
    finally:
        session.close()
        if trace_file is not None and trace_file is not sys.stdout:
            trace_file.close()

    if args.json:
        print_envelope(args, "run", [summary.as_dict()], out, interrupted=interrupted)
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


def _load_the_rest() -> None:
    """What a run's progress bar and report need, loaded while its runner starts."""
    import rich.console  # noqa: F401, PLC0415

    from .. import findings, progress, report  # noqa: F401, PLC0415
