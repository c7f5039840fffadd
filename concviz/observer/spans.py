"""A lane's newest task spans: a bounded ring that also takes whole columns at once.

At 40 k tasks a second, building one Python tuple per task for a ring that is
overwritten twice a second was a third of the event reader's time, yet the
timeline only ever reads a lane's newest hundred or so. So the bulk path hands
over NumPy columns, kept as they are; they become tuples only when read, and
reading newest-first (what the timeline does) converts only what it reaches.

To every reader it is a deque of ``Span`` tuples, oldest first, holding at most
``maxlen``: the record-by-record path appends tuples, the bulk path columns, and
both give the same sequence. It never imports NumPy (columns are duck-typed), so
the aggregate stays importable without it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import repeat
from typing import Any

#: A finished span: (task, start_ns, end_ns, cpu_ns, status, part). ``part`` is
#: 0 for a whole task and 1 for the CPU part a hybrid task sent to a process.
Span = tuple[int, int, int, int, int, int]
#: Newest-first reads convert this many rows of a column chunk at a time.
_BLOCK = 64


class SpanRing:
    """At most ``maxlen`` spans (None: unbounded), oldest first."""

    __slots__ = ("_chunked", "_chunks", "_rows", "maxlen")

    def __init__(self, maxlen: int | None = None) -> None:
        self.maxlen = maxlen
        #: Tuples: older than every chunk.
        self._rows: deque[Span] = deque(maxlen=maxlen)
        #: Column chunks (task, start, end, cpu, status), oldest first; all newer than _rows.
        self._chunks: deque[tuple[Any, Any, Any, Any, Any]] = deque()
        self._chunked = 0

    # -- writing --------------------------------------------------------------------

    def append(self, span: Span) -> None:
        if self._chunks:
            self._materialize()
        self._rows.append(span)

    def extend_columns(
        self, task: Any, start: Any, end: Any, cpu: Any, status: Any, owned: bool = False
    ) -> None:
        """Appends ``len(task)`` spans given as equal-length 1-d arrays (part 0).

        ``owned``: the arrays are the caller's own (fancy-indexed, say) and
        nothing else refers to them, so they are kept as they are, not copied.
        """
        n = len(task)
        if not n:
            return
        cap = self.maxlen
        if cap is not None and n >= cap:
            task, start, end, cpu, status = (a[n - cap :] for a in (task, start, end, cpu, status))
            n = cap
            self._rows.clear()
            self._chunks.clear()
            self._chunked = 0
        if owned:
            self._chunks.append((task, start, end, cpu, status))
        else:  # copies: a slice would keep the whole frame it came from alive
            self._chunks.append((task.copy(), start.copy(), end.copy(), cpu.copy(), status.copy()))
        self._chunked += n
        if cap is None:
            return
        excess = len(self._rows) + self._chunked - cap
        rows = self._rows
        while excess > 0 and rows:
            rows.popleft()
            excess -= 1
        while excess > 0:
            oldest = self._chunks[0]
            size = len(oldest[0])
            if size <= excess:
                self._chunks.popleft()
                self._chunked -= size
                excess -= size
            else:
                self._chunks[0] = tuple(a[excess:] for a in oldest)
                self._chunked -= excess
                excess = 0

    def _materialize(self) -> None:
        """Turns every chunk into tuples (before a tuple is appended, or a read oldest-first)."""
        rows = self._rows
        for task, start, end, cpu, status in self._chunks:
            rows.extend(
                zip(
                    task.tolist(),
                    start.tolist(),
                    end.tolist(),
                    cpu.tolist(),
                    status.tolist(),
                    repeat(0),
                    strict=False,
                )
            )
        self._chunks.clear()
        self._chunked = 0

    # -- reading --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows) + self._chunked

    def __bool__(self) -> bool:
        return bool(self._rows) or self._chunked > 0

    def __iter__(self) -> Iterator[Span]:
        self._materialize()
        return iter(self._rows)

    def __getitem__(self, index: int) -> Span:
        self._materialize()
        return self._rows[index]

    def __reversed__(self) -> Iterator[Span]:
        """Newest first, converting only the rows the caller gets to."""
        for task, start, end, cpu, status in reversed(self._chunks):
            hi = len(task)
            while hi > 0:
                lo = max(0, hi - _BLOCK)
                block = zip(
                    task[lo:hi].tolist(),
                    start[lo:hi].tolist(),
                    end[lo:hi].tolist(),
                    cpu[lo:hi].tolist(),
                    status[lo:hi].tolist(),
                    repeat(0),
                    strict=False,
                )
                yield from reversed(list(block))
                hi = lo
        yield from reversed(self._rows)

    def __repr__(self) -> str:
        return f"SpanRing({list(self)!r}, maxlen={self.maxlen})"
