"""The local HTTP server that the ``http`` and ``mixed`` workloads talk to.

It runs in a process of its own (never inside the runner, whose GIL it would
compete for) on 127.0.0.1 with an ephemeral port. Started by the observer as
``python -m concviz.observer.httpd``; it prints ``{"port": N}`` on stdout and
serves until its stdin closes, so it cannot outlive the process that started it.

Endpoints:
- ``/delay/{ms}``: answers after ``ms`` milliseconds (``?bytes=N`` for a body of N bytes).
- ``/bytes/{n}``: answers at once with ``n`` bytes.
- ``/flaky/{ms}?fail=0.3``: like ``/delay``, but a share of the answers are 503s.
- ``/health``: answers ``ok``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys

from aiohttp import web

MAX_BYTES = 64 * 1024 * 1024
_CHUNK = bytes(range(256)) * 4096  # 1 MiB of non-trivial bytes, sliced per request


def _body(n: int) -> bytes:
    if n < 0 or n > MAX_BYTES:
        raise web.HTTPBadRequest(text=f"bytes must be between 0 and {MAX_BYTES}")
    reps, rest = divmod(n, len(_CHUNK))
    return _CHUNK * reps + _CHUNK[:rest]


async def delay(request: web.Request) -> web.Response:
    try:
        ms = float(request.match_info["ms"])
        size = int(request.query.get("bytes", "0"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    if not 0 <= ms <= 600_000:
        raise web.HTTPBadRequest(text="delay must be between 0 and 600000 ms")
    await asyncio.sleep(ms / 1000.0)
    return web.Response(body=_body(size) if size else f"waited {ms:g} ms\n".encode())


async def flaky(request: web.Request) -> web.Response:
    """Like /delay, but answers 503 to a share ``fail`` (0-1) of requests (retry demos)."""
    try:
        ms = float(request.match_info["ms"])
        fail = float(request.query.get("fail", "0.3"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    if not 0 <= ms <= 600_000 or not 0 <= fail <= 1:
        raise web.HTTPBadRequest(text="delay must be 0-600000 ms and fail 0-1")
    await asyncio.sleep(ms / 1000.0)
    if random.random() < fail:
        raise web.HTTPServiceUnavailable(text="failed on purpose (/flaky)\n")
    return web.Response(text=f"waited {ms:g} ms\n")


async def payload(request: web.Request) -> web.Response:
    try:
        n = int(request.match_info["n"])
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return web.Response(body=_body(n))


async def health(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/delay/{ms}", delay)
    app.router.add_get("/bytes/{n}", payload)
    app.router.add_get("/flaky/{ms}", flaky)
    app.router.add_get("/health", health)
    return app


async def serve(host: str = "127.0.0.1", port: int = 0) -> None:
    runner = web.AppRunner(make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    # A deep backlog: a thread-per-task run may connect a thousand times at once,
    # and a full SYN queue would add 1 s retransmits to the picture.
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    print(json.dumps({"port": bound}), flush=True)

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # At once, not through the loop: one busy with thousands of connections
        # (a stopped run's) would take seconds to get to it.
        signal.signal(sig, _leave)
    # stdin closes when the observer exits, however it exits.
    stdin = sys.stdin.fileno()
    loop.add_reader(stdin, lambda: None if os.read(stdin, 4096) else done.set())
    await done.wait()
    _leave()


def _leave(*_signal: object) -> None:
    """Exits now. Nothing to save: what is still in flight belongs to a run that is
    over. Closing thousands of connections one by one (``runner.cleanup()``) took
    seconds after a stopped run; the kernel closes them all as the process ends."""
    os._exit(0)


def main() -> None:
    asyncio.run(serve())


if __name__ == "__main__":
    main()
