from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concviz.runner.protocol import (
    FRAME,
    MAX_FRAME,
    RECORD,
    RECORD_SIZE,
    FrameDecoder,
    FrameType,
    Kind,
    ProtocolError,
    encode_frame,
    encode_text,
)


def test_record_is_forty_bytes_and_round_trips() -> None:
    rec = RECORD.pack(Kind.TASK_FINISH, 1, 3, 1234, 5678, 42, 10**15, 2 * 10**9, 777)
    assert len(rec) == RECORD_SIZE == 40
    assert RECORD.unpack(rec) == (Kind.TASK_FINISH, 1, 3, 1234, 5678, 42, 10**15, 2 * 10**9, 777)


frames = st.lists(
    st.tuples(st.sampled_from([FrameType.RECORDS, FrameType.TEXT]), st.binary(max_size=300)),
    max_size=20,
)


@given(frames, st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=50))
def test_decoder_reassembles_frames_split_anywhere(
    items: list[tuple[FrameType, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(t, p) for t, p in items)
    decoder = FrameDecoder()
    got: list[tuple[int, bytes]] = []
    pos = 0
    i = 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        got.extend(decoder.feed(stream[pos : pos + step]))
        pos += step
        i += 1
    assert got == [(int(t), p) for t, p in items]
    assert decoder.pending == 0


def test_text_frames_carry_json() -> None:
    frame = encode_text({"type": "task_error", "task": 3})
    [(ftype, payload)] = list(FrameDecoder().feed(frame))
    assert ftype == FrameType.TEXT
    assert payload == b'{"type":"task_error","task":3}'


def test_absurd_frame_length_is_refused() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        list(decoder.feed(FRAME.pack(MAX_FRAME + 1, FrameType.RECORDS)))
