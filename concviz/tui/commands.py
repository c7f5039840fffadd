"""The command palette's dashboard commands (ctrl+p): each key's action by name, and
every model and workload to choose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from ..models import CATALOG as MODELS
from ..workloads import CATALOG as WORKLOADS

if TYPE_CHECKING:
    from .app import ConcvizApp


def dashboard_commands(app: ConcvizApp) -> Iterator[SystemCommand]:
    """What the palette offers besides Textual's own commands."""
    yield SystemCommand("Run", "Run the current settings (r)", app.action_run)
    yield SystemCommand("Stop", "Stop the run (s)", app.action_stop)
    yield SystemCommand(
        "Settings", "Show or hide the settings panel (o)", app.action_toggle_settings
    )
    yield SystemCommand(
        "Code", "Show or hide the model's source, and a pitfall's (c)", app.action_toggle_code
    )
    yield SystemCommand("Events", "Show or hide the event log (e)", app.action_toggle_events)
    yield SystemCommand(
        "Save run", "Save the last run's recording (ctrl+s)", app.action_save_recording
    )
    yield SystemCommand(
        "Compare models", "Run several models in turn on this workload (v)", app.action_compare
    )
    yield SystemCommand(
        "Sweep workers", "Run this model at several worker counts (x)", app.action_sweep
    )
    yield SystemCommand(
        "Advise",
        "Which model and how many workers for this workload: measured (a)",
        app.action_advise,
    )
    for name, info in MODELS.items():
        yield SystemCommand(f"Model: {name}", info.summary, lambda n=name: app.choose(model=n))
    for name, winfo in WORKLOADS.items():
        yield SystemCommand(
            f"Workload: {name}", winfo.summary, lambda n=name: app.choose(workload=n)
        )
