"""``concviz replay``: a recording played back in the dashboard, or converted at once
(``--trace``, ``--json``) with no UI."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from .common import EXIT_OK, UsageError, open_trace, print_envelope
from .dashboard import need_terminal, run_app


def cmd_replay(args: argparse.Namespace) -> int:
    if not 0.01 <= args.speed <= 1000:
        raise UsageError(f"speed must be between 0.01 and 1000, got {args.speed:g}")
    from ..observer.recording import RecordingError, read_frames  # noqa: PLC0415

    try:
        read_frames(args.file)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    if args.trace or args.json:
        return convert_recording(args, sys.stdout)
    need_terminal()
    from ..tui.app import ConcvizApp  # noqa: PLC0415

    return run_app(ConcvizApp(replay=args.file, replay_speed=args.speed))


def convert_recording(args: argparse.Namespace, out: IO[str]) -> int:
    """``replay FILE --trace OUT`` / ``--json``: the recording played back at once, no UI."""
    from rich.console import Console  # noqa: PLC0415

    from ..findings import summarise  # noqa: PLC0415
    from ..observer.trace import recording_aggregate, write_trace  # noqa: PLC0415

    trace_file = open_trace(args.trace)
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
        print_envelope(args, "replay", [summary.as_dict()], out, recording=args.file)
    if args.trace:
        Console(stderr=True).print(
            f"trace written to {args.trace} (open it in https://ui.perfetto.dev)",
            soft_wrap=True,  # one line, whatever the path's length
        )
    return EXIT_OK
