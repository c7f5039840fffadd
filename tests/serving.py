"""Helpers for the ``concviz serve`` tests: a real server, and a terminal to read it.

The browser-free client speaks textual-serve's websocket protocol (JSON text frames
in, the terminal's bytes out) and feeds those bytes to pyte, a terminal emulator,
so tests read the screen a user would see.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil
import pyte

WIDTH, HEIGHT = 120, 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def descendants(self) -> list[psutil.Process]:
        """Every process this server started, and theirs (app, runner, workers, httpd)."""
        try:
            found: list[psutil.Process] = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return found


def running(p: psutil.Process) -> bool:
    """Still there and not a zombie (a process may vanish between any two questions)."""
    try:
        return bool(p.is_running() and p.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def parent_pid(p: psutil.Process) -> int | None:
    try:
        return int(p.ppid())
    except psutil.Error:
        return None


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if running(p)]


def wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still there after ``timeout`` seconds (none, if all is well)."""
    deadline = time.monotonic() + timeout
    left = alive(processes)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = alive(left)
    return left


def command_line(p: psutil.Process) -> str:
    """A process's command line, or "?" once it has exited (a zombie has none to read)."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return "?"


def describe(processes: list[psutil.Process]) -> str:
    return "\n".join(f"{p.pid}: {command_line(p)[:120]}" for p in processes)


def kill_all(processes: list[psutil.Process]) -> None:
    for p in processes:
        with suppress(psutil.Error):
            p.kill()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def serve(*args: str, timeout: float = 30.0, cwd: str | None = None) -> Iterator[Served]:
    """``concviz serve`` on a free loopback port, until it prints its URL.

    On exit it is stopped with SIGINT (Ctrl+C), and everything it started must be
    gone: a test that leaves a process behind fails here. With ``cwd`` it is
    started in that folder the way the ``concviz`` command starts (the folder not
    on its sys.path; ``python -m`` would put it there).
    """
    port = free_port()
    safe_path = ["-P"] if cwd is not None else []
    process = subprocess.Popen(
        [sys.executable, *safe_path, "-m", "concviz", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        start_new_session=True,
        cwd=cwd,
    )
    served = Served(process, port)
    stdout = process.stdout
    assert stdout is not None
    # drained all along, so the server never blocks on a full pipe of access logs
    threading.Thread(target=lambda: served.output.extend(stdout), daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while "served at" not in "".join(served.output):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"concviz serve did not start: {''.join(served.output)}")
            time.sleep(0.05)
        # "served at" is printed on start-up, a moment before the socket listens
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"concviz serve does not listen: {''.join(served.output)}")
            time.sleep(0.05)
        yield served
    finally:
        started = served.descendants()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        left = wait_gone(started, 10)
        kill_all(left)
        assert not left, f"left running after Ctrl+C on concviz serve:\n{describe(left)}"


class Terminal:
    """A browser-free client: one websocket session, its screen read through pyte."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.screen = pyte.Screen(WIDTH, HEIGHT)
        self.stream = pyte.ByteStream(self.screen)
        self.meta: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.stream.feed(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                self.meta.append(message.data)

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def send(self, *envelope: Any) -> None:
        await self.ws.send_str(json.dumps(list(envelope)))

    async def keys(self, data: str) -> None:
        await self.send("stdin", data)

    async def until(self, check: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Waits on the screen's content, never a fixed sleep."""
        deadline = time.monotonic() + timeout
        while not check(self.text):
            if self._reader.done():
                raise AssertionError(f"the connection closed; last screen:\n{self.text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; last screen:\n{self.text}")
            await asyncio.sleep(0.05)
        return self.text

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
