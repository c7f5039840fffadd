"""The event wire format shared by the runner, its workers and the observer.

Standard library only: this module is imported by the runner under whatever
interpreter the user points at. The format is documented in
``docs/transport.md``; bump :data:`VERSION` whenever it changes.

A connection carries *frames*: a 5-byte header (payload length as an unsigned
little-endian 32-bit int, then a one-byte frame type) followed by the payload.
``RECORDS`` frames hold a whole number of fixed 40-byte records; ``TEXT`` frames
hold one UTF-8 JSON object (rare, variable-sized facts such as run metadata and
error messages); ``HELLO`` opens every connection.
"""

from __future__ import annotations

import enum
import json
import struct
from collections.abc import Iterator
from typing import Any

VERSION = 1

#: kind, flags, slot, pid, tid, task, t_ns, cpu_ns, aux
RECORD = struct.Struct("<BBHIIiqqq")
RECORD_SIZE = RECORD.size  # 40 bytes
FRAME = struct.Struct("<IB")
FRAME_SIZE = FRAME.size

#: A receiver refuses frames larger than this: a corrupt length must not make it
#: allocate gigabytes.
MAX_FRAME = 64 * 1024 * 1024


class FrameType(enum.IntEnum):
    HELLO = 1
    RECORDS = 2
    TEXT = 3


class Kind(enum.IntEnum):
    """What a record says happened. Values are part of the wire format."""

    RUN_START = 1
    RUN_END = 2
    WORKER_UP = 3
    WORKER_DOWN = 4
    TASK_QUEUED = 5
    TASK_START = 6
    TASK_FINISH = 7
    TASK_CANCELLED = 8
    QUEUE_DEPTH = 9
    DROPPED = 10
    SPAN_START = 11
    SPAN_FINISH = 12


#: ``flags`` bits of a TASK_START record: made by a coroutine (its lane is an
#: async slot); drawn in parts (its SPAN records are its bars, e.g. retry attempts).
START_COROUTINE = 1
START_IN_PARTS = 2


class Status(enum.IntEnum):
    """The ``flags`` byte of TASK_FINISH, SPAN_FINISH and RUN_END records."""

    OK = 0
    ERROR = 1
    STOPPED = 2


def encode_frame(frame_type: FrameType, payload: bytes) -> bytes:
    return FRAME.pack(len(payload), frame_type) + payload


def encode_text(obj: dict[str, Any]) -> bytes:
    return encode_frame(FrameType.TEXT, json.dumps(obj, separators=(",", ":")).encode())


def encode_hello(role: str, pid: int) -> bytes:
    body = {"version": VERSION, "role": role, "pid": pid}
    return encode_frame(FrameType.HELLO, json.dumps(body).encode())


class ProtocolError(Exception):
    """The peer sent something that is not a valid concviz stream."""


class FrameDecoder:
    """Splits a byte stream into frames, keeping partial frames between feeds."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        pos = 0
        end = len(buf)
        try:
            while end - pos >= FRAME_SIZE:
                length, ftype = FRAME.unpack_from(buf, pos)
                if length > MAX_FRAME:
                    raise ProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME}")
                if end - pos - FRAME_SIZE < length:
                    break
                start = pos + FRAME_SIZE
                pos = start + length
                yield ftype, bytes(buf[start:pos])
        finally:
            del buf[:pos]

    @property
    def pending(self) -> int:
        return len(self._buf)
