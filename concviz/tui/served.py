"""Served in a browser (``concviz serve``): when the server dies, even by SIGKILL,
the dashboard it started goes too, and ends its run the normal way."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from textual.app import App

#: How often the app checks that its server is still there, and how long it then has
#: to exit cleanly before it ends itself.
SERVER_POLL_S = 0.5
SERVER_LOST_GRACE_S = 3.0
EXIT_SERVER_LOST = 70


def watch_server(app: App[Any]) -> None:
    """Starts watching the server that started this app, if one did (CONCVIZ_SERVED_BY)."""
    served_by = os.environ.get("CONCVIZ_SERVED_BY", "")
    if served_by.isdigit():
        threading.Thread(target=_watch, args=(app, int(served_by)), daemon=True).start()


def _watch(app: App[Any], server_pid: int) -> None:
    """Runs in a daemon thread until the server is gone; then the app is asked to exit.

    Exiting stops the app's run the normal way; if it cannot within a grace period,
    the process ends anyway (its runner then sees the connection close and ends its
    workers).
    """
    while os.getppid() == server_pid:
        time.sleep(SERVER_POLL_S)
    deadline = threading.Timer(SERVER_LOST_GRACE_S, os._exit, (EXIT_SERVER_LOST,))
    deadline.daemon = True  # a clean exit is not held up by it
    deadline.start()
    with contextlib.suppress(Exception):
        app.call_from_thread(app.exit)
