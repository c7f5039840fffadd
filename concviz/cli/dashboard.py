"""The commands that open the dashboard (``dashboard``, ``scenario``) and how it is run:
a terminal is required, and SIGTERM/SIGHUP make it quit rather than hang."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

from ..startup import release_collector
from .common import (
    EXIT_OK,
    UsageError,
    load_scenario,
    refuse_unavailable,
    resolve_python,
    spec_from_args,
)

if TYPE_CHECKING:  # imported when the dashboard opens
    from ..tui.app import ConcvizApp


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
    from ..tui.app import ConcvizApp  # noqa: PLC0415

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
            from ..observer.session import close_all  # noqa: PLC0415

            close_all()
            os._exit(128 + signum)

        threading.Thread(target=last_resort, name="concviz-hangup", daemon=True).start()
        app.exit(return_code=128 + signum)

    previous = {sig: signal.signal(sig, hang_up) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        app.run()
    finally:
        release_collector()  # had the app not done it after its first frame
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return int(app.return_code or EXIT_OK)


def cmd_scenario(args: argparse.Namespace) -> int:
    playlist = [load_scenario(name) for name in args.names]
    python = resolve_python(args.python)
    need_terminal()
    from ..tui.app import ConcvizApp  # noqa: PLC0415

    return run_app(ConcvizApp(python=python, playlist=playlist))
