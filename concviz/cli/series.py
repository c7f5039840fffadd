"""``concviz compare`` and ``concviz sweep``: series of runs one after another, then the
comparison table or the sweep's table, plot, CSV or JSON."""

from __future__ import annotations

import argparse
import contextlib
from typing import IO, TYPE_CHECKING

from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    check_trace_dir,
    open_for_writing,
    print_envelope,
    resolve_python,
    spec_from_args,
)

if TYPE_CHECKING:
    from ..experiments import RunResult, SeriesEntry
    from ..runner.spec import RunSpec


def run_series(
    entries: list[SeriesEntry], args: argparse.Namespace, title: str
) -> tuple[list[RunResult], bool]:
    """Runs (label, spec, python) entries one after another with a two-level progress display.

    With ``--repeat N`` every entry runs N times (see :func:`experiments.run_series`).
    Returns the results so far, one per entry run at least once, and whether
    Ctrl+C cut the series short.
    """
    from rich.console import Console  # noqa: PLC0415

    from .. import experiments  # noqa: PLC0415
    from ..observer.session import SessionError  # noqa: PLC0415
    from ..series_progress import SeriesProgress  # noqa: PLC0415

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
    from ..experiments import parse_variants  # noqa: PLC0415
    from ..runner.spec import SpecError  # noqa: PLC0415

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
    from ..experiments import baseline_index, speedups  # noqa: PLC0415

    check_trace_dir(args.trace_dir)
    results, interrupted = run_series(entries, args, "compare")
    rows = speedups(results)
    baseline = results[baseline_index([r.label for r in results])].label if results else "-"
    ceilings = (
        machine_ceilings(entries[0][1].workload, [r.summary.workers for r in rows]) if rows else {}
    )
    if args.json:
        from ..report_multi import compare_json_runs  # noqa: PLC0415

        compare = {"baseline": baseline if results else None}
        print_envelope(
            args,
            "compare",
            compare_json_runs(rows, ceilings),
            out,
            interrupted=interrupted,
            compare=compare,
        )
    else:
        from rich.console import Console  # noqa: PLC0415

        from ..report_multi import compare_table  # noqa: PLC0415

        spec = entries[0][1]
        counts = {entry[1].tasks for entry in entries}
        tasks = f"{spec.tasks} tasks" if len(counts) == 1 else "tasks"  # variants may differ
        title = f"concviz compare: {spec.workload}, {tasks} of {spec.size}"
        console = Console(file=out)
        console.print(compare_table(rows, baseline, title, console.width, keep, ceilings))
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def machine_ceilings(workload: str, counts: list[int]) -> dict[int, float | None]:
    """The machine ceiling per count for CPU-bound work (measured once, cached); none for I/O."""
    from ..observer.ceiling import ceilings  # noqa: PLC0415
    from ..workloads import CATALOG as KINDS  # noqa: PLC0415

    kind = KINDS.get(workload)
    if kind is None or kind.nature == "io":
        return {}
    return ceilings(counts)


def cmd_sweep(args: argparse.Namespace, out: IO[str]) -> int:
    from ..experiments import parse_counts  # noqa: PLC0415
    from ..runner.spec import SpecError  # noqa: PLC0415

    try:
        counts = parse_counts(args.workers)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    python = resolve_python(args.python)
    entries = [(f"{args.model} × {n}", spec_from_args(args, workers=n), python) for n in counts]
    from ..experiments import check_available  # noqa: PLC0415

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

    from ..experiments import analyse_sweep  # noqa: PLC0415

    check_trace_dir(args.trace_dir)
    csv_file = None
    if args.csv:
        csv_file = open_for_writing(args.csv, "CSV file", newline="")
    try:
        results, interrupted = run_series(entries, args, "sweep")
        done = counts[: len(results)]
        if not results:
            if args.json:  # still one envelope: no run finished
                print_envelope(args, "sweep", [], out, interrupted=True, sweep=None)
            return EXIT_INTERRUPTED
        cores = results[0].summary.cores
        analysis = analyse_sweep(
            done,
            [r.summary.wall_s for r in results],
            [r.summary.parallelism for r in results],
            cores=cores,
            ceilings=machine_ceilings(args.workload, done),
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
        from ..report_multi import sweep_json  # noqa: PLC0415

        runs, fit = sweep_json(analysis, results, args.model, args.workload)
        print_envelope(args, "sweep", runs, out, interrupted=interrupted, sweep=fit)
    else:
        from rich.console import Console  # noqa: PLC0415

        from ..report_multi import strip_ansi, sweep_plot, sweep_table  # noqa: PLC0415
        from ..workloads import CATALOG as WORKLOADS  # noqa: PLC0415

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
