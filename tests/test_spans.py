"""SpanRing must read exactly like the bounded deque of tuples it replaced."""

from __future__ import annotations

from collections import deque
from itertools import islice

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from concviz.observer.spans import Span, SpanRing

# An operation: a span appended alone (the record-by-record path) or n at once (bulk).
ops = st.lists(
    st.one_of(st.just(("one", 1)), st.tuples(st.just("many"), st.integers(0, 40))),
    max_size=30,
)


def spans(first: int, n: int) -> list[Span]:
    ids = range(first, first + n)
    return [(task, 10 * task, 10 * task + 5, 3, task % 3, 0) for task in ids]


@settings(max_examples=300, deadline=None)
@given(
    ops=ops,
    maxlen=st.one_of(st.none(), st.integers(1, 25)),
    peek=st.integers(0, 30),
    owned=st.booleans(),
)
def test_a_ring_reads_like_a_bounded_deque(
    ops: list[tuple[str, int]], maxlen: int | None, peek: int, owned: bool
) -> None:
    ring = SpanRing(maxlen)
    reference: deque[Span] = deque(maxlen=maxlen)
    made = 0
    for op, n in ops:
        new = spans(made, n)
        made += n
        if op == "one":
            ring.append(new[0])
        else:
            columns = list(zip(*new, strict=True)) or [(), (), (), (), (), ()]
            task, start, end, cpu, status, _part = (np.array(c, dtype=np.int64) for c in columns)
            ring.extend_columns(
                task.astype(np.int32), start, end, cpu, status.astype(np.uint8), owned=owned
            )
        reference.extend(new)
        assert len(ring) == len(reference)
        assert bool(ring) == bool(reference)
        # Newest first, stopping early as the timeline does: nothing materialised needed.
        assert list(islice(reversed(ring), peek)) == list(islice(reversed(reference), peek))
    assert list(reversed(ring)) == list(reversed(reference))
    assert list(ring) == list(reference)
    if reference:
        assert ring[0] == reference[0]
        assert ring[-1] == reference[-1]
    assert all(type(v) is int for span in ring for v in span)  # plain ints, as the loop makes


def test_reading_newest_first_does_not_turn_every_column_into_tuples() -> None:
    ring = SpanRing(2048)
    n = 2000
    ring.extend_columns(
        np.arange(n, dtype=np.int32),
        np.arange(n, dtype=np.int64),
        np.arange(n, dtype=np.int64) + 1,
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.uint8),
    )
    newest = list(islice(reversed(ring), 3))
    assert [span[0] for span in newest] == [1999, 1998, 1997]
    assert not ring._rows  # still columns
    ring.append((2000, 0, 1, 0, 0, 1))
    assert len(ring._rows) == 2001  # an appended tuple turns them into tuples, in order
    assert ring[-1][5] == 1
