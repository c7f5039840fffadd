"""The ``concviz`` console script, and ``python -m concviz``: the command line's front door.

Importing this module *is* concviz starting: its first act makes Ctrl+C end
the program with exit code 130 and one line, because loading the command line
(``concviz.cli`` and what it imports) takes a while and nothing has been
started yet that would need cleaning up. ``cli.main`` then installs its own
handling (a KeyboardInterrupt it turns into a stopped run, exit 130) as its
first act, and once it returns the first handling is back for the
interpreter's shutdown (joining threads, atexit). Without this, a Ctrl+C
during that import, or during that shutdown, printed a traceback.

Imports nothing that ``concviz.cli`` does not import anyway, and nothing that
takes time before the handler is in place: ``_signal`` is built into the
interpreter (the ``signal`` module would first find and load a file), ``os``
and ``sys`` are loaded when Python starts.
"""

from __future__ import annotations

# signal.py's core, built in (it has no type stub).
import _signal  # type: ignore[import-not-found]


def _interrupted_outside_main(_signum: int, _frame: object) -> None:
    import os  # noqa: PLC0415

    os.write(2, b"concviz: interrupted\n")
    os._exit(130)


_signal.signal(_signal.SIGINT, _interrupted_outside_main)

import sys  # noqa: E402

from concviz.startup import hold_collector, runner_ahead  # noqa: E402

# Not typing's (see concviz.startup): mypy reads a TYPE_CHECKING of any origin as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

hold_collector()  # until the command's start-up is over (see concviz.startup)


def main() -> None:
    """Runs the command line and exits with its code (never returns)."""
    # `concviz run`'s runner starts before the command line loads (concviz.startup);
    # if this process dies first, the runner reads the end of its stdin and exits.
    early = runner_ahead(sys.argv[1:])
    from concviz.cli import main as cli_main  # noqa: PLC0415  (after the handler: see above)

    code = cli_main(early=early)
    # Its work is done; what is left is the interpreter's shutdown.
    _signal.signal(_signal.SIGINT, _interrupted_outside_main)
    _leave(code)


def _leave(code: int) -> NoReturn:
    """Exits without tearing the interpreter down, where that changes nothing but time.

    Tearing down the modules a command loaded (Rich, psutil, concviz; Textual for
    the dashboard) and freeing their objects took 5-10 ms at the end of every
    ``concviz run`` (#21; mypy ends the same way). What a normal exit does that
    matters is kept: the atexit handlers (the runs' clean-up, ``weakref.finalize``,
    logging) and flushing stdout and stderr. Not where a thread other than this one
    is alive (the interpreter would join it), nor where a flush fails (the
    interpreter reports that, and exits with 120).
    """
    import os  # noqa: PLC0415  (loaded at start: see the module's docstring)
    import threading  # noqa: PLC0415  (loaded by every command)

    if threading.active_count() == 1:
        import atexit  # noqa: PLC0415  (built in)

        atexit._run_exitfuncs()
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except Exception:  # the interpreter's own exit reports it, as it would have
            sys.exit(code)
        os._exit(code)
    sys.exit(code)
