"""The recorder against a real socket: order, interleaving, flushing, and honest dropping."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from concviz.runner import recorder as recorder_mod
from concviz.runner.protocol import RECORD, FrameDecoder, FrameType, Kind
from concviz.runner.recorder import Recorder


def _listener(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    return server, path


def _read_all(conn: socket.socket) -> list[tuple[int, bytes]]:
    decoder = FrameDecoder()
    frames: list[tuple[int, bytes]] = []
    while chunk := conn.recv(1 << 16):
        frames.extend(decoder.feed(chunk))
    return frames


def _close_while_reading(rec: Recorder, conn: socket.socket) -> list[tuple[int, bytes]]:
    """close() flushes with blocking sends, so the peer must read meanwhile."""
    closer = threading.Thread(target=rec.close)
    closer.start()
    frames = _read_all(conn)
    closer.join()
    return frames


def _rec(kind: Kind, task: int) -> bytes:
    return RECORD.pack(kind, 0, 0, os.getpid(), 1, task, time.monotonic_ns(), 0, 0)


@pytest.mark.parametrize("per_frame", [recorder_mod.RECORDS_PER_FRAME, 7])
def test_records_and_texts_arrive_in_order_after_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_frame: int
) -> None:
    monkeypatch.setattr(recorder_mod, "RECORDS_PER_FRAME", per_frame)
    server, path = _listener(tmp_path)
    rec = Recorder(path, "worker")
    conn, _ = server.accept()
    for i in range(10_000):
        rec.append(_rec(Kind.TASK_START, i))
        if i % 2500 == 0:
            rec.text({"type": "note", "at": i})
    frames = _close_while_reading(rec, conn)
    assert frames[0][0] == FrameType.HELLO
    assert json.loads(frames[0][1])["role"] == "worker"
    sequence: list[object] = []
    for ftype, payload in frames[1:]:
        if ftype == FrameType.RECORDS:
            assert 0 < len(payload) <= per_frame * RECORD.size
            assert len(payload) % RECORD.size == 0
            sequence.extend(r[5] for r in RECORD.iter_unpack(payload))
        else:
            sequence.append(json.loads(payload)["at"])
    # Every record, once, in order; each text exactly where it was queued.
    expected: list[object] = []
    for i in range(10_000):
        expected.append(i)
        if i % 2500 == 0:
            expected.append(i)
    assert sequence == expected


def test_flusher_sends_without_close(tmp_path: Path) -> None:
    server, path = _listener(tmp_path)
    rec = Recorder(path, "worker", interval=0.01)
    conn, _ = server.accept()
    rec.append(_rec(Kind.TASK_START, 7))
    conn.settimeout(2.0)
    decoder = FrameDecoder()
    frames: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + 2.0
    while len(frames) < 2 and time.monotonic() < deadline:
        frames.extend(decoder.feed(conn.recv(4096)))
    assert frames[1][0] == FrameType.RECORDS
    assert RECORD.unpack(frames[1][1])[5] == 7
    rec.close()


def test_stop_command_and_lost_observer_reach_callbacks(tmp_path: Path) -> None:
    server, path = _listener(tmp_path)
    stopped = threading.Event()
    lost = threading.Event()
    rec = Recorder(path, "runner", on_stop=stopped.set, on_lost=lost.set)
    conn, _ = server.accept()
    conn.sendall(b"stop\n")
    assert stopped.wait(2.0)
    assert not lost.is_set()
    conn.close()  # the observer dies
    assert lost.wait(2.0)
    rec.abandon()


def test_backlog_overflow_is_counted_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stalled observer costs memory only up to the cap; what is dropped is counted."""
    monkeypatch.setattr(recorder_mod, "MAX_BACKLOG_BYTES", 64 * 1024)
    server, path = _listener(tmp_path)
    rec = Recorder(path, "worker", interval=0.005)
    conn, _ = server.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sent = 0
    deadline = time.monotonic() + 10
    while rec.dropped_total == 0 and time.monotonic() < deadline:  # nobody reads: the backlog fills
        for _ in range(2000):
            rec.append(_rec(Kind.TASK_START, sent))
            sent += 1
        time.sleep(0.01)
    assert rec.dropped_total > 0
    frames = _close_while_reading(rec, conn)  # now read everything
    received = 0
    reported = 0
    for ftype, payload in frames[1:]:
        if ftype == FrameType.RECORDS:
            for r in RECORD.iter_unpack(payload):
                if r[0] == Kind.DROPPED:
                    reported += r[8]
                else:
                    received += 1
    assert reported == rec.dropped_total
    assert received + reported == sent


def test_records_gathered_past_the_cap_are_shed_oldest_first_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Producers that outrun the flusher cost memory only up to MAX_QUEUED records."""
    monkeypatch.setattr(recorder_mod, "MAX_QUEUED", 100)
    server, path = _listener(tmp_path)
    rec = Recorder(path, "worker", interval=3600)
    conn, _ = server.accept()
    for i in range(250):
        rec.append(_rec(Kind.TASK_START, i))
    rec._drain(allow_drop=True)  # what the flusher does at its next tick
    frames = _close_while_reading(rec, conn)
    tasks = []
    reported = 0
    for ftype, payload in frames[1:]:
        assert ftype == FrameType.RECORDS
        for r in RECORD.iter_unpack(payload):
            if r[0] == Kind.DROPPED:
                reported += r[8]
            else:
                tasks.append(r[5])
    assert tasks == list(range(150, 250))  # the newest 100, in order
    assert reported == rec.dropped_total == 150


def test_many_threads_lose_nothing_and_texts_keep_their_place(tmp_path: Path) -> None:
    """Threads append while the flusher drains: every record arrives once, and a
    text follows every record its thread appended before it."""
    server, path = _listener(tmp_path)
    rec = Recorder(path, "worker", interval=0.001)
    conn, _ = server.accept()
    threads_n, per_thread = 4, 20_000

    def produce(thread: int) -> None:
        for i in range(per_thread):
            rec.append(RECORD.pack(Kind.TASK_START, 0, 0, 1, thread, i, 0, 0, 0))
            if i % 5000 == 4999:
                rec.text({"thread": thread, "after": i})

    reader: list[list[tuple[int, bytes]]] = []
    read = threading.Thread(target=lambda: reader.append(_read_all(conn)))
    read.start()
    workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    rec.close()
    read.join()
    last_seen = dict.fromkeys(range(threads_n), -1)
    for ftype, payload in reader[0][1:]:
        if ftype == FrameType.RECORDS:
            for r in RECORD.iter_unpack(payload):
                assert r[5] == last_seen[r[4]] + 1  # each thread's records, once, in order
                last_seen[r[4]] = r[5]
        else:
            fact = json.loads(payload)
            assert last_seen[fact["thread"]] == fact["after"]
    assert last_seen == dict.fromkeys(range(threads_n), per_thread - 1)
    assert rec.dropped_total == 0
