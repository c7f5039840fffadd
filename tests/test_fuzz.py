"""Property-based fuzzing of what users hand concviz: argv, scenario files, recordings.

The property (issue #16): whatever the input, concviz exits 0 or 2 and never
raises; an exit 2 says why in one line. Runs are never started: every argv
carries one last, sure refusal that concviz checks only after everything else
(``--sample-hz 0`` for ``run``, an unusable ``--trace-dir`` for compare and
sweep, no terminal for the dashboard), so each example costs milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from concviz.cli import main
from concviz.experiments import COLUMNS
from concviz.models import CATALOG as MODELS
from concviz.observer.aggregate import RunAggregate
from concviz.observer.recording import HEADER, RecordingError, apply, read_recording
from concviz.scenario import RUN_FIELDS
from concviz.workloads import CATALOG as WORKLOADS

RECORDING = Path(__file__).parent / "data" / "threads-cpu.cvrec"
FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- running the command line in-process ------------------------------------------------


@contextlib.contextmanager
def _own_signals() -> Iterator[None]:
    """main() installs its SIGINT/SIGTERM/SIGHUP handlers: give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def cli(argv: list[str]) -> tuple[int, str, str]:
    """``concviz ARGV`` in this process: (exit code, stdout, stderr). No terminal."""
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO()  # not a terminal: the dashboard must refuse, not draw
    try:
        with _own_signals(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's --help and --version end this way
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = stdin
    return code, out.getvalue(), err.getvalue()


def assert_clean(argv: list[str], code: int, err: str) -> None:
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, (argv, err)


# -- argv -----------------------------------------------------------------------------------

ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),  # argv has no NUL
    max_size=12,
)
NUMBERS = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1", "2", "4096", "4097", "1e309", "-0", "nan", "inf", "0x10"]),
)
NAMES = st.one_of(
    st.sampled_from([*MODELS, *WORKLOADS, "fork", "spawn", "forkserver", "call", "opposite"]),
    ODD_TEXT,
)
JSONISH = st.one_of(
    st.sampled_from(["[]", "{}", "[1, 2]", '{"a": 1}', "[", "null", '"x"', "1"]), ODD_TEXT
)
#: The last word a user could give --python: none that would hang or run for long.
PYTHONS = st.sampled_from(["/nonexistent/python", "/bin/ls", "/bin/echo", "/", "python3.99"])

VALUED: dict[str, st.SearchStrategy[str]] = {
    "-m": NAMES,
    "--models": st.lists(NAMES, max_size=3).map(",".join),
    "-w": NAMES,
    "-n": st.one_of(NUMBERS, st.lists(NUMBERS, max_size=3).map(",".join)),
    "-t": NUMBERS,
    "--task-ms": NUMBERS,
    "--iterations": NUMBERS,
    "--start-method": NAMES,
    "--queue-size": NUMBERS,
    "--io-fraction": NUMBERS,
    "--payload-bytes": NUMBERS,
    "--block-every": NUMBERS,
    "--fail-rate": NUMBERS,
    "--seed": NUMBERS,
    "--switch-interval": NUMBERS,
    "--python": PYTHONS,
    "--jitter": NUMBERS,
    "--fail-task": NUMBERS,
    "--flaky": NUMBERS,
    "--race": NAMES,
    "--lock-order": NAMES,
    "--rate": NUMBERS,
    "--burst": NUMBERS,
    "--timeout-ms": NUMBERS,
    "--attempts": NUMBERS,
    "--task": st.one_of(st.sampled_from(["os:getcwd", "nosuch:f", ":", "a:"]), ODD_TEXT),
    "--task-args": JSONISH,
    "--task-kwargs": JSONISH,
    "--deadline-ms": NUMBERS,
    "--repeat": NUMBERS,
    "--speed": NUMBERS,
    "--font-size": NUMBERS,
    "--port": NUMBERS,
}
FLAGS = ["--lock", "--json", "--quiet", "--run", "--no-plot", "--big", "--bogus", "-h", "-V"]

OPTION = st.one_of(
    st.sampled_from(sorted(VALUED)).flatmap(
        lambda name: st.tuples(st.just(name), VALUED[name]).map(
            lambda pair: [f"{pair[0]}={pair[1]}"] if pair[1].startswith("-") else list(pair)
        )
    ),
    st.sampled_from(FLAGS).map(lambda flag: [flag]),
    ODD_TEXT.map(lambda word: [word]),  # a stray word
)

#: What each command gets last, so that no example starts a run, a server or a probe
#: of this machine: a refusal concviz makes after checking everything else.
LAST_REFUSAL: dict[str, list[str]] = {
    "run": ["--sample-hz", "0"],
    "compare": ["--trace-dir", "/dev/null/no"],
    "sweep": ["--trace-dir", "/dev/null/no"],
    "dashboard": [],  # refused: no terminal
    "serve": ["--host", "0.0.0.0"],  # refused: no --public-url (after port and font size)
}


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    command = draw(
        st.sampled_from(
            ["run", "compare", "sweep", "dashboard", "serve", "replay", "scenario", "", "models"]
        )
    )
    words = [w for option in draw(st.lists(OPTION, max_size=6)) for w in option]
    if command == "compare" and "--models" not in words:
        words = ["--models", "sequential,threads", *words]
    if command == "replay":
        words = [draw(st.sampled_from([str(RECORDING), "/dev/null", "/", "nope.cvrec"])), *words]
    if command == "scenario":
        words = [draw(st.one_of(st.sampled_from(["gil", "race", "nope"]), ODD_TEXT)), *words]
    if command == "serve":
        words = [w for w in words if not w.startswith("--public-url")]
    head = [command] if command else []
    return head + words + LAST_REFUSAL.get(command or "dashboard", [])


@FUZZ
@given(argv=argvs())
def test_any_argv_exits_0_or_2_with_one_line(argv: list[str]) -> None:
    code, _, err = cli(argv)
    assert_clean(argv, code, err)


# -- scenario files -----------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([*MODELS, *WORKLOADS, "cores", "4 * cores", "x * cores", "", "os:getcwd"]),
    ODD_TEXT,
)
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(ODD_TEXT, SCALARS, max_size=2)
)
KEYS = st.one_of(st.sampled_from([*RUN_FIELDS, "python", "label"]), ODD_TEXT)
TABLE = st.dictionaries(KEYS, VALUES, max_size=4)


@st.composite
def scenario_texts(draw: st.DrawFn) -> bytes:
    head: dict[str, Any] = {"title": "t", "explanation": "e"}
    head.update(
        draw(
            st.dictionaries(
                st.sampled_from(["title", "explanation", "stop_after_s", "focus", "nope"]),
                st.one_of(VALUES, st.lists(st.sampled_from(list(COLUMNS)), max_size=2)),
                max_size=3,
            )
        )
    )
    tables: dict[str, dict[str, Any]] = {"scenario": head}
    if draw(st.booleans()):
        tables["run"] = draw(TABLE)
    if draw(st.booleans()):
        tables["sweep"] = {"workers": draw(st.one_of(st.lists(SCALARS, max_size=4), SCALARS))}
    if draw(st.booleans()):
        tables["task"] = draw(
            st.dictionaries(st.sampled_from(["function", "args", "kwargs", "path", "x"]), VALUES)
        )
    if draw(st.booleans()):
        tables[draw(ODD_TEXT.filter(lambda t: t.isidentifier()))] = {}
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    for variant in draw(st.lists(TABLE, max_size=2)):
        lines.append("[[variant]]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in variant.items()]
    data = bytearray("\n".join(lines).encode("utf-8", "surrogatepass"))
    for pos, byte in draw(
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2)
    ):
        if data:
            data[pos % len(data)] = byte  # a damaged file, not UTF-8 or not TOML
    return bytes(data)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(text=scenario_texts())
def test_any_scenario_file_exits_2_with_one_line(fuzz_dir: Path, text: bytes) -> None:
    path = fuzz_dir / "scenario.toml"
    path.write_bytes(text)
    argv = ["scenario", str(path)]  # checked in full, then refused: no terminal
    code, _, err = cli(argv)
    assert_clean(argv, code, err)
    assert code == 2


# -- recordings ---------------------------------------------------------------------------------

SOUND = RECORDING.read_bytes()


@st.composite
def damaged_recordings(draw: st.DrawFn) -> tuple[bytes, int]:
    """The test recording with a few bytes changed, cut or inserted; and the first change."""
    data = bytearray(SOUND)
    first = len(data)
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["set", "flip", "cut", "insert", "truncate"]))
        if how == "set":
            data[pos] = draw(st.integers(0, 255))
        elif how == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif how == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[pos:]
        first = min(first, pos)
    return bytes(data), first


@FUZZ
@given(case=damaged_recordings())
def test_a_damaged_recording_is_refused_or_read_up_to_the_damage(
    fuzz_dir: Path, case: tuple[bytes, int]
) -> None:
    data, first_change = case
    assume(data != SOUND)
    path = fuzz_dir / "damaged.cvrec"
    path.write_bytes(data)
    refused = None
    try:
        recording = read_recording(path)
    except RecordingError as exc:
        refused = str(exc)
    if refused is not None:
        assert len(refused.splitlines()) == 1
        return
    # Every frame that lies wholly before the first change is there, as it was.
    sound = read_recording(RECORDING)
    kept = _frames_before(first_change)
    assert [(f.ftype, f.arrival_ns, f.payload) for f in recording.frames[:kept]] == [
        (f.ftype, f.arrival_ns, f.payload) for f in sound.frames[:kept]
    ]
    if recording.damage is not None:
        assert "\n" not in recording.damage
        assert "damaged at byte" in recording.damage
    # What was read plays without an error: the checks were made as it was read.
    agg = RunAggregate(recording.header.get("spec", {}), track_bins=True)
    for frame in recording.frames:
        apply(agg, frame)
    agg.summary()


def _header_size() -> int:
    length = HEADER.unpack_from(SOUND, 0)[0]
    return HEADER.size + int(length)


def _frames_before(position: int) -> int:
    """How many frames of the sound recording end before ``position``."""
    offset = _header_size()
    count = 0
    for frame in read_recording(RECORDING).frames:
        offset += HEADER.size + len(frame.payload)
        if offset > position:
            break
        count += 1
    return count


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=damaged_recordings())
def test_replaying_a_damaged_recording_exits_2_with_one_line(
    fuzz_dir: Path, case: tuple[bytes, int]
) -> None:
    path = fuzz_dir / "replay.cvrec"
    path.write_bytes(case[0])
    argv = ["replay", str(path)]  # checked, then refused: no terminal
    code, _, err = cli(argv)
    assert_clean(argv, code, err)
    assert code == 2
