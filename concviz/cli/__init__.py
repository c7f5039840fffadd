"""The ``concviz`` command line: ``main`` and the dispatch to each command's module.

Each command lives in its own module, imported only when that command runs:
``concviz models`` must not pay for Textual, and the dashboard must not pay for
the engine's sampler before it runs anything.

- common.py: exit codes, UsageError, the checks every command shares
- parser.py: the parser (every command's options but ``serve``'s)
- run.py: ``run`` (and ``run --scenario``)
- series.py: ``compare``, ``sweep``
- dashboard.py: ``dashboard``, ``scenario`` (the TUI, and how it is run)
- replay.py: ``replay`` (played back, or converted)
- serve.py: ``serve``
- advise.py: ``advise``
- catalog.py: ``models``, ``workloads``, ``scenarios``, ``interpreters``, ``calibrate``
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from ..startup import release_collector, runner_ahead
from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, one_line
from .parser import build_parser

if TYPE_CHECKING:
    from ..observer.launch import EarlyRunner

__all__ = ["build_parser", "main"]

#: Commands whose start-up ends later than here, where they let the collector go
#: themselves (concviz.startup): the dashboard after its first frame, run once its
#: runner is started.
STARTS_LATER = frozenset(("dashboard", "scenario", "run"))


def _terminate(signum: int, _frame: FrameType | None) -> NoReturn:
    # SIGTERM/SIGHUP: unwind so every ``finally`` (and atexit) ends what we started.
    raise SystemExit(128 + signum)


def _safe_streams() -> None:
    """Output the terminal cannot encode (``PYTHONIOENCODING=ascii``) degrades, never raises."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None, early: EarlyRunner | None = None) -> int:
    """The command line: bad input is one line on stderr and exit code 2, Ctrl+C exit 130.

    ``early``: the runner the front door started for a ``concviz run`` (see
    concviz.startup.runner_ahead); used by the run's session, or discarded.
    """
    try:
        # Explicit, in case we were started with SIGINT ignored (a background job).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGHUP, _terminate)
        _safe_streams()
        code = _main(argv, early)
    except (KeyboardInterrupt, Exception) as exc:  # at any moment, even before a command began
        if not _caused_by_ctrl_c(exc):
            raise
        print("concviz: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED and argv is None:  # the program itself, not a caller
        _leave(code)
    return code


def _caused_by_ctrl_c(exc: BaseException) -> bool:
    """A Ctrl+C, or one that CPython handed on wrapped: on 3.11 one that lands while a
    class is made (a dataclass's fields, at import) is a RuntimeError from ``__set_name__``."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__
    return False


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


def _main(argv: Sequence[str] | None, early: EarlyRunner | None = None) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if not argv or (
            argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-V", "--version")
        ):
            argv.insert(0, "dashboard")  # plain `concviz [options]` opens the dashboard
        if early is None:
            # Not started by the front door (a caller of main()): started here, before
            # the parser (it imports the run's parameters, ~16 ms) and the rest load.
            early = runner_ahead(argv)
        return _command(argv, early)
    finally:
        if early is not None:
            early.discard()  # a no-op once the run's session took it


def _command(argv: list[str], early: EarlyRunner | None) -> int:
    parser = build_parser()
    out = sys.stdout
    if argv[0] == "serve":
        release_collector()
        try:
            from .serve import cmd_serve  # noqa: PLC0415

            return cmd_serve(argv[1:])
        except UsageError as exc:
            print(one_line(str(exc)), file=sys.stderr)
            return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(one_line(str(exc)), file=sys.stderr)
        return EXIT_USAGE
    if args.command not in STARTS_LATER:
        release_collector()
    try:
        if args.command == "run":
            from .run import cmd_run  # noqa: PLC0415

            return cmd_run(args, out, early)
        if args.command == "scenarios":
            from .catalog import cmd_scenarios  # noqa: PLC0415

            return cmd_scenarios(out)
        if args.command == "scenario":
            from .dashboard import cmd_scenario  # noqa: PLC0415

            return cmd_scenario(args)
        if args.command == "models":
            from .catalog import cmd_models  # noqa: PLC0415

            return cmd_models(out)
        if args.command == "workloads":
            from .catalog import cmd_workloads  # noqa: PLC0415

            return cmd_workloads(out)
        if args.command == "interpreters":
            from .catalog import cmd_interpreters  # noqa: PLC0415

            return cmd_interpreters(out)
        if args.command == "calibrate":
            from .catalog import cmd_calibrate  # noqa: PLC0415

            return cmd_calibrate(args, out)
        if args.command == "compare":
            from .series import cmd_compare  # noqa: PLC0415

            return cmd_compare(args, out)
        if args.command == "sweep":
            from .series import cmd_sweep  # noqa: PLC0415

            return cmd_sweep(args, out)
        if args.command == "dashboard":
            from .dashboard import cmd_dashboard  # noqa: PLC0415

            return cmd_dashboard(args)
        if args.command == "replay":
            from .replay import cmd_replay  # noqa: PLC0415

            return cmd_replay(args)
        if args.command == "advise":
            from .advise import cmd_advise  # noqa: PLC0415

            return cmd_advise(args, out)
        parser.print_help(out)
        return EXIT_OK
    except UsageError as exc:
        print(one_line(f"concviz {args.command}: error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
