"""I/O-bound work: real HTTP GETs against concviz's local aiohttp server.

Sync models use the standard library's ``urllib.request``; async models use
``aiohttp.ClientSession`` when the runner's interpreter has aiohttp, and
otherwise a minimal HTTP/1.1 client on ``asyncio.open_connection`` (so a bare
free-threaded interpreter can still run it; the run's metadata says which).
The server's ``/delay/{ms}`` endpoint holds each response for ``--task-ms``.
"""

from __future__ import annotations

import asyncio
import urllib.request
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .base import Workload, WorkloadParams

if TYPE_CHECKING:  # optional at run time: imported where used, if the interpreter has it
    import aiohttp


class HttpError(OSError):
    """The local server answered with something other than 200."""


def _aiohttp() -> ModuleType | None:
    try:
        import aiohttp  # noqa: PLC0415  (optional: only async HTTP tasks need it)
    except ImportError:
        return None
    return aiohttp


def async_client_name() -> str:
    return "aiohttp" if _aiohttp() is not None else "asyncio-streams"


class _StreamsSession:
    """Just enough HTTP/1.1 for GETs to the local server, on asyncio streams."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80

    async def get(self, path: str) -> bytes:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await (reader.readexactly(length) if length is not None else reader.read())
        finally:
            writer.close()
        if status != 200:
            raise HttpError(f"GET {path}: HTTP {status}")
        return body

    async def close(self) -> None:
        pass


class HttpWorkload(Workload):
    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        if not params.base_url:
            raise ValueError("the http workload needs the local server's base_url")
        self.base_url = params.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | _StreamsSession | None = None

    def path(self, task_id: int, delay_ms: float | None = None) -> str:
        ms = self.spec.task_ms * self.scale(task_id) if delay_ms is None else delay_ms
        query = []
        if self.spec.payload_bytes:
            query.append(f"bytes={self.spec.payload_bytes}")
        if self.spec.flaky:
            query.append(f"fail={self.spec.flaky:g}")
        endpoint = "flaky" if self.spec.flaky else "delay"
        return f"/{endpoint}/{ms:.6g}" + ("?" + "&".join(query) if query else "")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url + path, timeout=60) as response:
            if response.status != 200:
                raise HttpError(f"GET {path}: HTTP {response.status}")
            body: bytes = response.read()
            return body

    async def aget(self, path: str) -> bytes:
        session = self._session
        if session is None:
            aiohttp = _aiohttp()
            if aiohttp is not None:
                # No connection limit: concurrency is the model's to cap, not the client's.
                connector = aiohttp.TCPConnector(limit=0)
                session = aiohttp.ClientSession(connector=connector)
            else:
                session = _StreamsSession(self.base_url)
            self._session = session
        if isinstance(session, _StreamsSession):
            return await session.get(path)
        async with session.get(self.base_url + path) as response:
            if response.status != 200:
                raise HttpError(f"GET {path}: HTTP {response.status}")
            body: bytes = await response.read()
            return body

    def run_io(self, task_id: int) -> None:
        self.get(self.path(task_id))

    async def fetch(self, task_id: int) -> None:
        await self.aget(self.path(task_id))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class MixedWorkload(HttpWorkload):
    """An HTTP fetch, then CPU work on what came back.

    ``--io-fraction`` splits ``--task-ms`` between the two: 0.5 waits half the
    time on the server and computes the other half.
    """

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        from .cpu import iterations_for  # noqa: PLC0415

        cpu_ms = params.spec.task_ms * (1.0 - params.spec.io_fraction)
        self.io_ms = params.spec.task_ms * params.spec.io_fraction
        self.n = (
            params.spec.iterations
            if params.spec.iterations is not None
            else iterations_for(cpu_ms, params.calibration["sum_of_squares"])
        )

    def path(self, task_id: int, delay_ms: float | None = None) -> str:
        return super().path(task_id, self.io_ms)

    def compute(self, task_id: int) -> None:
        from .cpu import sum_of_squares  # noqa: PLC0415

        sum_of_squares(self.n)
