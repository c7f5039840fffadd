"""Worker-side event recorder: cheap to call from any thread, flushed from one place.

Standard library only. Every process of a run (the runner and each worker
process) holds one :class:`Recorder` connected to the observer's socket. Hot
paths only pack a 40-byte record and append it to a :class:`collections.deque`
(thread-safe, and never releases the GIL); a single flusher thread drains the
deque every few tens of milliseconds and writes whole frames. That keeps
GIL-releasing system calls off the worker threads, which measurably distorted
20 µs tasks when each event was written on its own.

Nothing is lost silently: if the observer stops reading (or producers outrun
it) and the unsent bytes pass :data:`MAX_BACKLOG_BYTES` or the queue passes
:data:`MAX_QUEUED` records, records are discarded and counted, and the count is
sent as a ``DROPPED`` record as soon as there is room.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import repeat
from operator import call
from typing import Any

from .protocol import (
    RECORD,
    FrameType,
    Kind,
    encode_frame,
    encode_hello,
    encode_text,
)

#: How often the flusher wakes: 20 Hz, twice the dashboard's refresh rate. Each
#: wake-up takes the GIL from the workload's threads; with 20 µs asyncio tasks
#: the recorder cost ~0.85 µs a task at 25 ms and ~0.56 µs at 50 ms.
FLUSH_INTERVAL = 0.05
#: Unsent bytes kept before new records are dropped (and counted).
MAX_BACKLOG_BYTES = 32 * 1024 * 1024
#: Records waiting in the queue before the oldest are dropped (and counted):
#: with the unsent bytes above, what bounds a process's memory for events.
MAX_QUEUED = MAX_BACKLOG_BYTES // 40
#: Records per RECORDS frame: keeps frames far below the receiver's limit and
#: the observer's lock hold per frame short.
RECORDS_PER_FRAME = 16_384
#: Items taken from the queue per drain while streaming, so one huge backlog
#: turns into a steady flow of frames instead of one long stall.
DRAIN_MAX = 65_536

_pack = RECORD.pack
_mono = time.monotonic_ns


class Recorder:
    """One process's connection to the observer."""

    def __init__(
        self,
        path: str,
        role: str,
        on_stop: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.queue: deque[bytes | dict[str, Any]] = deque()
        self.append = self.queue.append
        self.pid = os.getpid()
        self.dropped_total = 0
        self._dropped_unreported = 0
        self._interval = interval
        self._on_stop = on_stop
        self._on_lost = on_lost
        self._watched: list[tuple[int, Any]] = []
        self._closing = threading.Event()
        self._closed = False
        self._out = bytearray()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._sock.sendall(encode_hello(role, self.pid))
        self._flusher = threading.Thread(target=self._flush_loop, name="concviz-flusher")
        self._control = threading.Thread(target=self._control_loop, name="concviz-control")
        try:
            self._flusher.daemon = self._control.daemon = True
            self._flusher.start()
        except RuntimeError:
            # A sub-interpreter forbids daemon threads (InterpreterPoolExecutor): CPython
            # 3.14 refuses the flag itself, its pre-releases refused start(). Use
            # ordinary threads, and close (which ends both) before they are joined.
            self._flusher = threading.Thread(target=self._flush_loop, name="concviz-flusher")
            self._control = threading.Thread(target=self._control_loop, name="concviz-control")
            threading._register_atexit(self.close)  # type: ignore[attr-defined]
            self._flusher.start()
        self._control.start()

    # -- called from any thread -----------------------------------------------

    def text(self, obj: dict[str, Any]) -> None:
        """Queues a JSON fact; it keeps its place among the records."""
        self.append(obj)

    def watch(self, index: int, queue: Any) -> None:
        """Samples ``queue.qsize()`` at every flush, as QUEUE_DEPTH records."""
        self._watched.append((index, queue))

    # -- the flusher thread ---------------------------------------------------

    def _flush_loop(self) -> None:
        """Batches every tick; while behind, drains and sends without sleeping."""
        interval = self._interval
        next_tick = time.monotonic() + interval
        while not self._closing.is_set():
            now = time.monotonic()
            if now >= next_tick:
                self._sample_queues()
                next_tick = now + interval
            more = self._drain(allow_drop=True)
            if self._out:
                self._send_until(next_tick)
            if not more and not self._out:
                self._closing.wait(max(0.0, next_tick - time.monotonic()))

    def _sample_queues(self) -> None:
        if not self._watched:
            return
        now = _mono()
        tid = threading.get_native_id()
        for index, queue in self._watched:
            try:
                depth = queue.qsize()
            except Exception:  # a queue being torn down must not kill the flusher
                continue
            self.append(_pack(Kind.QUEUE_DEPTH, 0, 0, self.pid, tid, index, now, 0, depth))

    def _drain(self, allow_drop: bool) -> bool:
        """Frames up to DRAIN_MAX queued items; True if more are waiting."""
        q = self.queue
        pop = q.popleft
        if allow_drop and len(q) > MAX_QUEUED:
            # Producers outrun the observer: shed the oldest beyond the cap, counted.
            excess = len(q) - MAX_QUEUED
            for _ in range(excess):
                pop()
            self._dropped_unreported += excess
            self.dropped_total += excess
        n = min(len(q), DRAIN_MAX) if allow_drop else len(q)
        if not n and not self._dropped_unreported:
            return False
        items = list(map(call, repeat(pop, n)))  # popleft n times, in C
        out = self._out
        if allow_drop and len(out) > MAX_BACKLOG_BYTES:
            self._dropped_unreported += n
            self.dropped_total += n
            return len(q) > 0
        if self._dropped_unreported:
            count = self._dropped_unreported
            self._dropped_unreported = 0
            items.append(
                _pack(Kind.DROPPED, 0, 0, self.pid, threading.get_native_id(), 0, _mono(), 0, count)
            )
        self._frame(items, out)
        return len(q) > 0

    @staticmethod
    def _frame(items: list[bytes | dict[str, Any]], out: bytearray) -> None:
        """Appends ``items`` to ``out`` as frames, texts in their place among the records.

        Runs in the flusher while it holds the GIL, so every worker thread waits
        for it: joining in C first (a text makes the join fail, rare) keeps it to
        a few ns a record instead of a Python loop's ~100.
        """
        try:
            joined = b"".join(items)  # type: ignore[arg-type]
        except TypeError:
            start = 0
            for index, item in enumerate(items):
                if type(item) is not bytes:
                    Recorder._frame(items[start:index], out)
                    out += encode_text(item)  # type: ignore[arg-type]
                    start = index + 1
            Recorder._frame(items[start:], out)
            return
        step = RECORDS_PER_FRAME * RECORD.size
        for offset in range(0, len(joined), step):
            out += encode_frame(FrameType.RECORDS, joined[offset : offset + step])

    def _send_until(self, deadline: float | None) -> None:
        """Sends what it can; blocks at most until ``deadline`` (forever if None)."""
        out = self._out
        sock = self._sock
        sent = 0
        try:
            while sent < len(out):
                try:
                    with memoryview(out) as view:
                        sent += sock.send(view[sent:], socket.MSG_DONTWAIT)
                except BlockingIOError:
                    timeout = None if deadline is None else deadline - time.monotonic()
                    if timeout is not None and timeout <= 0:
                        break
                    select.select([], [sock], [], timeout)
        except OSError:
            # The observer is gone; the control thread reacts to that.
            out.clear()
            return
        del out[:sent]

    # -- the control thread ---------------------------------------------------

    def _control_loop(self) -> None:
        """Reads commands from the observer; EOF means the observer died."""
        buf = b""
        while True:
            try:
                data = self._sock.recv(256)
            except OSError:
                data = b""
            if not data:
                if not self._closing.is_set() and self._on_lost is not None:
                    self._on_lost()
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip() == b"stop" and self._on_stop is not None:
                    self._on_stop()

    # -- shutdown -------------------------------------------------------------

    def close(self) -> None:
        """Flushes everything (no dropping at the end) and closes the connection."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if threading.current_thread() is not self._flusher:
            self._flusher.join()
        self._drain(allow_drop=False)
        self._send_until(None)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def abandon(self) -> None:
        """Drops a connection inherited through fork.

        Closing our copy of the descriptor leaves the parent's connection intact,
        and keeps a forked worker from holding the runner's connection open after
        the runner has gone (the observer waits for that EOF).
        """
        self._closed = True
        self._closing.set()
        with contextlib.suppress(OSError):
            self._sock.close()
