"""What the code panel shows (c): the model's source, and below it the workload's where
the race or pitfall is (or your own task's)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from rich.console import Group, RenderableType
from rich.rule import Rule

from ..models import CATALOG as MODELS
from ..runner.spec import RunSpec
from ..workloads import CATALOG as WORKLOADS
from ..workloads import task_source
from .widgets import code_renderable


def shown_code(spec: RunSpec) -> tuple[str, RenderableType]:
    """The panel's title and its highlighted code for this run's model and workload."""
    path = MODELS[spec.model].source_path
    code: RenderableType = code_renderable(path.read_text(), spec.model)
    title = f"Code: {path.name}"
    lesson = WORKLOADS.get(spec.workload)
    below: tuple[Path, str] | None = None
    if spec.workload == "custom":  # your own code: show it
        found = task_source(spec.task, spec.task_path)
        if found is not None:
            below = (found, f"your task, {spec.task}: {found.name}")
    elif lesson is not None and lesson.shows_code:  # the race or pitfall is in there
        below = (lesson.source_path, f"the {spec.workload} workload: {lesson.source_path.name}")
    if below is not None:
        wpath, heading = below
        with contextlib.suppress(OSError, UnicodeDecodeError):
            workload_code = code_renderable(wpath.read_text(), spec.workload)
            title += f" + {wpath.name}"
            code = Group(code, Rule(heading, style="dim"), workload_code)
    return title, code
