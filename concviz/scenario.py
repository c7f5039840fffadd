"""Named scenarios: small TOML files that set up a demonstration.

A scenario has a title and a one-paragraph explanation (shown on screen), the
run's settings, and optionally several variants to compare or worker counts to
sweep. concviz ships one per pattern of the curriculum (``concviz scenarios``);
speakers write their own and chain them into a talk. Plain Python: the
command line and the dashboard both load them here.

::

    [scenario]
    title = "A race on a shared counter"
    explanation = "..."
    stop_after_s = 2.0            # optional: stop the run (a real SIGINT for
                                  # graceful-shutdown) after this long
    focus = ["wait"]              # optional: the compared figures the lesson rests
                                  # on (a narrow table keeps them)

    [run]                         # any `concviz run` setting, by its name
    model = "threads"
    workload = "counter"
    workers = 4

    [[variant]]                   # optional: compare these, one after another
    label = "no lock"
    lock = false
    # workers and tasks may also be "cores" or "4 * cores": this machine's cores

    [sweep]                       # optional: run at each of these worker counts
    workers = [1, 2, 4, 8]

    [task]                        # optional: your own function as the task
    function = "mymodule:work"
    args = [100]
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .experiments import COLUMNS
from .runner.params import PYTHON, Param
from .runner.spec import BY_NAME, RunSpec, SpecError

#: Settings a [run] table or a [[variant]] may set: every run parameter, by its name.
RUN_FIELDS: dict[str, Param] = BY_NAME
VARIANT_EXTRA = {"label", "python"}
#: Longest ``stop_after_s``: a day (a demonstration stops long before).
MAX_STOP_AFTER_S = 86400.0


class ScenarioError(ValueError):
    """A scenario file is wrong; the message names the file, the field and what was expected."""


@dataclass(frozen=True)
class Variant:
    label: str
    spec: RunSpec
    python: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    title: str
    explanation: str
    spec: RunSpec
    variants: list[Variant] = field(default_factory=list)
    sweep: list[int] = field(default_factory=list)
    stop_after_s: float | None = None
    python: str | None = None
    #: The comparison's columns the lesson rests on: a narrow table keeps them.
    focus: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if self.variants:
            return "compare"
        if self.sweep:
            return "sweep"
        return "run"


def shipped_dir() -> Path:
    return Path(str(resources.files("concviz") / "scenarios"))


def shipped() -> dict[str, Path]:
    """The scenarios concviz ships, by name (the file name without .toml)."""
    return {p.stem: p for p in sorted(shipped_dir().glob("*.toml"))}


def find(name_or_path: str) -> Path:
    """A shipped scenario's name, or a path to a .toml file."""
    ships = shipped()
    if name_or_path in ships:
        return ships[name_or_path]
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{name_or_path}: no such scenario file")
        return path
    raise ScenarioError(
        f"unknown scenario {name_or_path!r} (choose from {', '.join(ships)}, or give a .toml file)"
    )


def load(name_or_path: str) -> Scenario:
    path = find(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte {exc.start}); a scenario is a UTF-8 TOML file"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path)


def parse(data: dict[str, Any], path: Path) -> Scenario:
    where = str(path)
    unknown = set(data) - {"scenario", "run", "variant", "sweep", "task"}
    if unknown:
        raise ScenarioError(
            f"{where}: unknown table [{sorted(unknown)[0]}] "
            "(expected [scenario], [run], [[variant]], [sweep] or [task])"
        )
    head = _table(data, "scenario", where, required=True)
    title = _string(head, "title", where, "[scenario]", required=True)
    explanation = " ".join(_string(head, "explanation", where, "[scenario]", required=True).split())
    stop_after = head.get("stop_after_s")
    if stop_after is not None and (
        not _is_number(stop_after) or not 0 < stop_after <= MAX_STOP_AFTER_S  # nan fails too
    ):
        raise ScenarioError(
            f"{where}: [scenario] stop_after_s must be a number of seconds, "
            f"above 0 and at most {MAX_STOP_AFTER_S:g}, got {stop_after!r}"
        )
    extra = set(head) - {"title", "explanation", "stop_after_s", "focus"}
    if extra:
        raise ScenarioError(
            f"{where}: [scenario] has an unknown field {sorted(extra)[0]!r} "
            "(expected title, explanation, stop_after_s, focus)"
        )
    focus = head.get("focus", [])
    if not isinstance(focus, list) or not all(name in COLUMNS for name in focus):
        raise ScenarioError(
            f"{where}: [scenario] focus must be a list of figures from {', '.join(COLUMNS)}"
        )

    run = _table(data, "run", where)
    python = run.get("python")
    if not PYTHON.has_type(python):
        raise ScenarioError(f"{where}: [run] python must be a string (a path or a name)")
    spec = _spec(RunSpec(), {k: v for k, v in run.items() if k != "python"}, where, "[run]")
    task = _table(data, "task", where)
    if task:
        spec = _with_task(spec, task, where, path)

    variants = []
    raw_variants = data.get("variant", [])
    if not isinstance(raw_variants, list):
        raise ScenarioError(f"{where}: [[variant]] must be an array of tables")
    for i, raw in enumerate(raw_variants, 1):
        label = f"[[variant]] #{i}"
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}: {label} must be a table")
        name = raw.get("label")
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"{where}: {label} needs a label (a string)")
        vpython = raw.get("python", python)
        if not PYTHON.has_type(vpython):
            raise ScenarioError(f"{where}: {label} python must be a string")
        overrides = {k: v for k, v in raw.items() if k not in VARIANT_EXTRA}
        variants.append(Variant(name, _spec(spec, overrides, where, label), vpython))

    sweep_table = _table(data, "sweep", where)
    sweep: list[int] = []
    if sweep_table:
        counts = sweep_table.get("workers")
        if (
            not isinstance(counts, list)
            or not counts
            or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in counts)
        ):
            raise ScenarioError(f"{where}: [sweep] workers must be a list of counts >= 1")
        sweep = sorted(set(counts))
        for n in sweep:  # each point must be a run concviz can make
            _spec(spec, {"workers": n}, where, "[sweep]")
        if variants:
            raise ScenarioError(f"{where}: a scenario has [[variant]]s or a [sweep], not both")

    return Scenario(
        name=path.stem,
        path=path,
        title=title,
        explanation=explanation,
        spec=spec,
        variants=variants,
        sweep=sweep,
        stop_after_s=float(stop_after) if stop_after is not None else None,
        python=python,
        focus=tuple(focus),
    )


def _table(data: dict[str, Any], name: str, where: str, required: bool = False) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        if required:
            raise ScenarioError(f"{where}: missing the [{name}] table")
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: [{name}] must be a table")
    return value


def _string(
    table: dict[str, Any], key: str, where: str, section: str, required: bool = False
) -> str:
    value = table.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{where}: {section} {key} must be a non-empty string")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Fields that may be given in cores ("cores", "4 * cores"): a demonstration of
#: oversubscription must mean the same on 2 cores and on 16.
PER_CORE_FIELDS = ("workers", "tasks")
_PER_CORE = re.compile(r"^\s*(?:(\d+)\s*\*\s*)?cores\s*$")


def usable_cores() -> int:
    """The cores this process may run on (an affinity mask or a container can allow fewer)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _per_core(values: dict[str, Any], where: str, section: str) -> dict[str, Any]:
    resolved = dict(values)
    for key in PER_CORE_FIELDS:
        value = values.get(key)
        if isinstance(value, str):
            match = _PER_CORE.match(value)
            if match is None:
                raise ScenarioError(
                    f"{where}: {section} {key} must be a whole number, 'cores' or "
                    f"'N * cores', got {value!r}"
                )
            resolved[key] = int(match.group(1) or 1) * usable_cores()
    return resolved


def _spec(base: RunSpec, values: dict[str, Any], where: str, section: str) -> RunSpec:
    values = _per_core(values, where, section)
    for key, value in values.items():
        param = RUN_FIELDS.get(key)
        if param is None:
            raise ScenarioError(
                f"{where}: {section} has an unknown field {key!r} "
                f"(expected one of: {', '.join(RUN_FIELDS)}, python)"
            )
        if value is None or not param.has_type(value):  # TOML has no null: None is no value
            raise ScenarioError(f"{where}: {section} {key} must be {param.expected}, got {value!r}")
    try:
        return replace(base, **values).validated()
    except SpecError as exc:
        raise ScenarioError(f"{where}: {section}: {exc}") from None


def _with_task(spec: RunSpec, task: dict[str, Any], where: str, path: Path) -> RunSpec:
    function = task.get("function")
    if not isinstance(function, str) or ":" not in function:
        raise ScenarioError(f"{where}: [task] function must be 'module:function'")
    args = task.get("args", [])
    kwargs = task.get("kwargs", {})
    if not isinstance(args, list):
        raise ScenarioError(f"{where}: [task] args must be a list")
    if not isinstance(kwargs, dict):
        raise ScenarioError(f"{where}: [task] kwargs must be a table")
    extra = set(task) - {"function", "args", "kwargs", "path"}
    if extra:
        raise ScenarioError(
            f"{where}: [task] has an unknown field {sorted(extra)[0]!r} "
            "(expected function, args, kwargs, path)"
        )
    search = task.get("path", ".")
    if not isinstance(search, str):
        raise ScenarioError(f"{where}: [task] path must be a string (a folder)")
    folder = (path.parent / search).resolve()
    try:
        return replace(
            spec,
            workload="custom",
            task=function,
            task_args=list(args),
            task_kwargs=dict(kwargs),
            task_path=str(folder),
        ).validated()
    except SpecError as exc:
        raise ScenarioError(f"{where}: [task]: {exc}") from None
