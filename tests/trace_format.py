"""A pure-Python checker of the Chrome Trace Event Format rules Perfetto enforces.

Perfetto's JSON importer drops, or counts as an import error, events that break
these (see its json_trace_parser / trace sorter): a negative or non-finite ``ts``
(``trace_sorter_negative_timestamp_dropped``), a complete event without a usable
``dur``, an "E" with no "B" open on its thread, a counter whose args are not
numbers (``json_parser_failure``), strict-JSON violations (NaN), ids that are not
integers. Others it takes but shows wrong: complete slices on one thread that
overlap without nesting, a thread id in two processes (its thread table keys
threads by tid), two names for one thread. ``problems`` lists every one it finds.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

PHASES = set("BEXiICMbensftPNODR")
METADATA = {
    "process_name",
    "process_labels",
    "process_sort_index",
    "thread_name",
    "thread_sort_index",
}
#: Perfetto reads pid and tid as uint32; keep them where int32 readers agree too.
ID_MAX = 2**31 - 1


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= ID_MAX


def strict_json(text: str) -> Any:
    """Parses ``text`` as strict JSON (no NaN / Infinity, which Perfetto rejects)."""

    def reject(constant: str) -> Any:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def problems(doc: Any) -> list[str]:
    """Every rule ``doc`` (a parsed trace) breaks, as readable lines; empty if none."""
    found: list[str] = []
    if isinstance(doc, list):
        events = doc
    elif isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list):
        events = doc["traceEvents"]
        unit = doc.get("displayTimeUnit", "ms")
        if unit not in ("ms", "ns"):
            found.append(f"displayTimeUnit {unit!r}: must be 'ms' or 'ns'")
    else:
        return ["not a trace: an object with a traceEvents list, or a list of events"]

    open_slices: dict[tuple[Any, Any], list[tuple[float, str]]] = defaultdict(list)
    complete: dict[tuple[Any, Any], list[tuple[float, float, int]]] = defaultdict(list)
    tid_pid: dict[int, int] = {}
    thread_names: dict[int, str] = {}
    for n, event in enumerate(events):
        where = f"event {n}"
        if not isinstance(event, dict):
            found.append(f"{where}: not an object")
            continue
        ph = event.get("ph")
        where = f"event {n} ({ph} {event.get('name')!r})"
        if not isinstance(ph, str) or ph not in PHASES:
            found.append(f"{where}: unknown phase {ph!r}")
            continue
        if (ph != "M" or "name" in event) and not isinstance(event.get("name"), str):
            found.append(f"{where}: name must be a string")
        for key in ("pid", "tid"):
            if key not in event:
                if ph in "BEXCMP" or key == "pid":
                    found.append(f"{where}: no {key}")
            elif not _id(event[key]):
                found.append(f"{where}: {key} {event[key]!r} is not an int in 0..2**31-1")
        pid: Any = event.get("pid")
        tid: Any = event.get("tid")
        if _id(pid) and _id(tid):
            owner = tid_pid.setdefault(tid, pid)
            if owner != pid:
                found.append(f"{where}: tid {tid} in pid {pid} and in pid {owner}")
        ts: Any = event.get("ts")
        if ph != "M" or "ts" in event:
            if not _number(ts):
                found.append(f"{where}: ts {ts!r} is not a number")
                continue
            if not math.isfinite(ts) or ts < 0:
                found.append(f"{where}: ts {ts!r} must be finite and >= 0")
                continue
        track = (pid, tid)
        if ph == "X":
            dur: Any = event.get("dur")
            if not _number(dur) or not math.isfinite(dur) or dur < 0:
                found.append(f"{where}: dur {dur!r} must be a finite number >= 0")
            else:
                complete[track].append((ts, ts + dur, n))
        elif ph == "B":
            open_slices[track].append((ts, str(event.get("name"))))
        elif ph == "E":
            if not open_slices[track]:
                found.append(f"{where}: E with no B open on pid {pid} tid {tid}")
            else:
                began, _ = open_slices[track].pop()
                if ts < began:
                    found.append(f"{where}: ends at {ts} before its B at {began}")
        elif ph == "C":
            args = event.get("args")
            if not isinstance(args, dict) or not args:
                found.append(f"{where}: a counter needs a non-empty args object")
            else:
                for key, value in args.items():
                    if not _number(value) or not math.isfinite(value):
                        found.append(f"{where}: counter arg {key!r} = {value!r} is not a number")
        elif ph == "M":
            found += _metadata_problems(where, event, thread_names)
        elif ph in "ben" and not (
            "pid" in event and ("id" in event or isinstance(event.get("id2"), dict))
        ):
            found.append(f"{where}: an async event needs a pid and an id (or id2)")
        elif ph in "stf" and not isinstance(event.get("id", event.get("bind_id")), (int, str)):
            found.append(f"{where}: a flow event needs an id")
        elif ph in "iI" and event.get("s", "t") not in ("g", "p", "t"):
            found.append(f"{where}: instant scope {event.get('s')!r} is not g, p or t")
        if "args" in event and not isinstance(event["args"], dict):
            found.append(f"{where}: args must be an object")
    for (pid, tid), stack in open_slices.items():
        for _, name in stack:
            found.append(f"B {name!r} on pid {pid} tid {tid} never ends")
    for (pid, tid), slices in complete.items():
        found += _nesting_problems(pid, tid, slices)
    return found


def _metadata_problems(where: str, event: dict[str, Any], names: dict[int, str]) -> list[str]:
    name = event.get("name")
    args = event.get("args")
    if name not in METADATA:
        return [f"{where}: unknown metadata {name!r}"]
    if not isinstance(args, dict):
        return [f"{where}: metadata needs args"]
    if name in ("process_name", "thread_name") and not isinstance(args.get("name"), str):
        return [f"{where}: {name} needs a string args.name"]
    if name.endswith("sort_index") and not (
        isinstance(args.get("sort_index"), int) and not isinstance(args.get("sort_index"), bool)
    ):
        return [f"{where}: {name} needs an int args.sort_index"]
    if name == "thread_name" and isinstance(event.get("tid"), int):
        before = names.setdefault(event["tid"], args["name"])
        if before != args["name"]:
            return [f"{where}: tid {event['tid']} named {args['name']!r} and {before!r}"]
    return []


def _nesting_problems(pid: Any, tid: Any, slices: list[tuple[float, float, int]]) -> list[str]:
    """Complete slices on one thread must nest: a child inside its parent, or after it."""
    found: list[str] = []
    stack: list[tuple[float, float, int]] = []
    for start, end, n in sorted(slices, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1][1] <= start:
            stack.pop()
        if stack and end > stack[-1][1] + 1e-6:
            found.append(
                f"event {n}: [{start}, {end}] overlaps event {stack[-1][2]} "
                f"[{stack[-1][0]}, {stack[-1][1]}] on pid {pid} tid {tid} without nesting"
            )
            continue
        stack.append((start, end, n))
    return found


# -- real traces, one per model, shared by test_trace and test_trace_perfetto ----

_TRACES: dict[str, Path] = {}

#: Every model, with a workload that has both CPU and I/O and runs long enough for
#: a few sampler ticks (per-thread CPU counters) on a busy machine.
RUN_ARGS = ("-w", "mixed", "-n", "2", "-t", "6", "--task-ms", "40", "--sample-hz", "50")


def model_trace(model: str, folder: Path) -> Path:
    """``concviz run -m MODEL --trace``'s file (made once per test session).

    A model this interpreter cannot run (interpreters needs 3.14) runs under a
    CPython concviz finds that can; the test skips, saying so, where there is none.
    """
    if model not in _TRACES:
        path = folder / f"{model}.json"
        command = [sys.executable, "-m", "concviz", "run", "-m", model, *RUN_ARGS, "--quiet"]
        command += ["--trace", str(path)]
        python = _python_for(model)
        if python is not None:
            command += ["--python", python]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        _TRACES[model] = path
    return _TRACES[model]


def _python_for(model: str) -> str | None:
    """None: this interpreter runs ``model``; else a CPython that can (or skip)."""
    from concviz.models import CATALOG  # noqa: PLC0415
    from concviz.observer.interpreters import discover  # noqa: PLC0415

    info = CATALOG[model]
    why = info.unavailable(tuple(sys.version_info[:3]))
    if why is None:
        return None
    found = next((i.path for i in discover() if info.unavailable(i.version) is None), None)
    if found is None:
        pytest.skip(f"{why}; no CPython on this machine can run it")
    return found
