"""The event reader: frames read as they come, applied to the aggregate in batches.

APPLY_EVERY_S is set far longer than any test waits, so a batch that was held
when it should not have been shows as a timeout, not as a flaky timing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from concviz.observer import session
from concviz.observer.aggregate import RunAggregate
from concviz.observer.session import EventServer
from concviz.observer.timeline import BIN_HISTORY_NS, BIN_NS
from concviz.runner.protocol import RECORD, FrameType, Kind, encode_frame, encode_hello

HOLD_S = 30.0


class Counting(RunAggregate):
    """Remembers the frames fed in each batch (one call of the server's _apply)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    def feed_records(self, payload: bytes) -> None:
        self.batches[-1].append(len(payload) // RECORD.size)
        super().feed_records(payload)


Served = tuple[EventServer, Counting]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setattr(session, "APPLY_EVERY_S", HOLD_S)
    agg = Counting()
    server = EventServer(str(tmp_path / "events.sock"), agg, threading.Lock())
    original = server._apply

    def apply() -> None:
        agg.batches.append([])
        original()
        if not agg.batches[-1]:
            agg.batches.pop()

    server._apply = apply  # type: ignore[method-assign]
    server.start()
    yield server, agg
    server.close()


def records(first: int, n: int) -> bytes:
    out = b""
    for task in range(first, first + n):
        out += RECORD.pack(Kind.TASK_START, 0, 0, 7, 11, task, task * 1000, 0, 0)
        out += RECORD.pack(Kind.TASK_FINISH, 0, 0, 7, 11, task, task * 1000 + 500, 100, 100)
    return out


def connect(server: EventServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(server.path)
    sock.sendall(encode_hello("runner", 7))
    return sock


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.01)


def test_a_quiet_streams_frame_is_applied_at_once_and_a_burst_together(
    served: Served,
) -> None:
    server, agg = served
    sock = connect(server)
    sock.sendall(encode_frame(FrameType.RECORDS, records(0, 1)))
    until(lambda: agg.events == 2)  # nothing applied for HOLD_S before: at once
    # Right after an apply, frames wait for the next one: these two go together.
    sock.sendall(encode_frame(FrameType.RECORDS, records(1, 2)))
    sock.sendall(encode_frame(FrameType.RECORDS, records(3, 3)))
    time.sleep(0.3)
    assert agg.events == 2  # held (for up to HOLD_S)
    sock.close()  # a closing connection: everything it sent is applied first
    assert server.wait_all_closed(10)
    assert agg.events == 2 + 4 + 6
    assert agg.batches == [[2], [4, 6]]
    assert agg.completed == 6


def test_a_bad_frame_loses_only_what_follows_it(served: Served) -> None:
    server, agg = served
    sock = connect(server)
    sock.sendall(encode_frame(FrameType.RECORDS, records(0, 1)))
    until(lambda: agg.events == 2)
    sock.sendall(
        encode_frame(FrameType.RECORDS, records(1, 1))
        + encode_frame(FrameType.TEXT, b"{not json")
        + encode_frame(FrameType.RECORDS, records(2, 1))
    )
    assert server.wait_all_closed(10)  # the server dropped it
    assert agg.events == 4  # the frame before the bad one counts, the one after does not
    assert len(agg.transport_errors) == 1
    assert "runner pid 7" in agg.transport_errors[0]
    assert "its later events are lost" in agg.transport_errors[0]
    sock.close()


def test_a_connection_not_yet_accepted_is_waited_for(tmp_path: Path) -> None:
    """A short run can connect, send everything and exit before the reader accepts it.

    Its connection is then only in the listen backlog: "all closed" must not be
    answered before the reader has looked there (CI once saw such a run "crashed").
    """
    agg = RunAggregate()
    server = EventServer(str(tmp_path / "events.sock"), agg, threading.Lock())
    sock = connect(server)  # queued in the backlog: the reader is not running yet
    sock.sendall(encode_frame(FrameType.RECORDS, records(0, 3)))
    sock.close()
    accept = server._accept

    def slow_accept() -> None:  # a reader thread that gets the GIL late
        time.sleep(0.3)
        accept()

    server._accept = slow_accept  # type: ignore[method-assign]
    server.start()
    try:
        assert server.wait_all_closed(10)
        assert server.accepted == 1
        assert agg.events == 6
    finally:
        server.close()


def test_the_reader_keeps_the_bins_within_their_history_without_any_view(tmp_path: Path) -> None:
    """Compare and sweep sessions draw no dashboard: the engine prunes as it applies.

    300 s of one busy lane once held 30,000 bins against a bound of 12,000,
    because only the dashboard's refresh pruned.
    """
    agg = RunAggregate(track_bins=True)
    server = EventServer(str(tmp_path / "events.sock"), agg, threading.Lock())
    server.start()
    try:
        now = time.monotonic_ns()
        start = now - 300 * 1_000_000_000
        second = 1_000_000_000
        spans = b"".join(
            RECORD.pack(Kind.TASK_START, 0, 0, 7, 11, task, start + task * second, 0, 0)
            + RECORD.pack(
                Kind.TASK_FINISH, 0, 0, 7, 11, task, start + (task + 1) * second - 1, 0, 0
            )
            for task in range(300)
        )
        sock = connect(server)
        sent = time.monotonic_ns()  # the reader prunes at a later time: as old at least
        sock.sendall(encode_frame(FrameType.RECORDS, spans))
        sock.close()
        assert server.wait_all_closed(10)
        [lane] = agg.lane_list
        oldest = (sent - BIN_HISTORY_NS) // BIN_NS
        assert agg.completed == 300
        kept = [b for b in lane.busy_bins if b < oldest] + [r for r in lane.runs if r[0] < oldest]
        assert not kept  # nothing older than BIN_HISTORY_NS is held
        assert agg.fine_bins() <= BIN_HISTORY_NS // BIN_NS
    finally:
        server.close()
