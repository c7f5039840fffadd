"""``concviz serve``: the dashboard in a browser, with every process owned.

textual-serve starts one app process per browser connection and, when the
connection ends, only *asks* it to quit. Seen here: after abrupt disconnects
the app survived, spinning, and outlived the server. This server owns its apps:
each runs in a session of its own, and when its connection closes (or the
server stops) it gets the quit request, then SIGTERM, then SIGKILL, each after
a short grace period. An app's own runs take themselves down when the app goes
(their runner sees its connection close).

The page is served from a template that loads nothing from outside this server
(textual-serve's links a web font from the internet), and the first frame is
shown focused, with its key bindings, without a click.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from .access import origin_allowed

log = logging.getLogger("concviz.serve")

TEMPLATES = Path(__file__).with_name("templates")
#: Seconds an app gets to quit when asked, then to die on SIGTERM.
GRACE_S = 2.0
#: Tells an app which server started it: if that server dies, the app ends itself.
SERVED_BY = "CONCVIZ_SERVED_BY"
#: Dashboards running at once, at most (each is an app, its run and its workers).
MAX_DASHBOARDS = 4


class OwnedAppService(AppService):
    """An app process in its own session, ended for certain when its connection ends."""

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        environment = self._build_environment(width=width, height=height)
        environment[SERVED_BY] = str(os.getpid())
        # exec, not a shell: the app is our direct child, so it can tell when we die
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            start_new_session=True,  # its own process group: one killpg ends it all
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        """Asks the app to quit; SIGTERM, then SIGKILL, if it does not."""
        process = self._process
        if self._task is not None:
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            with contextlib.suppress(Exception):
                await self.send_meta({"type": "quit"})
        if process is not None and process.returncode is None:
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    kill_group(process.pid, sig)
                try:
                    await asyncio.wait_for(process.wait(), GRACE_S)
                    break
                except TimeoutError:
                    continue
        if process is not None:
            kill_group(process.pid, signal.SIGKILL)  # anything it left in its group
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, GRACE_S)


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class ConcvizServer(Server):
    """textual-serve's server with owned app processes, an offline page and a shut door.

    A websocket from another page (its ``Origin``) is refused before anything starts,
    and at most ``max_dashboards`` dashboards run at once (each is a process tree).
    """

    def __init__(
        self,
        command: str,
        font_size: int = 16,
        what: str = "the dashboard",
        *,
        origins: frozenset[str],
        max_dashboards: int = MAX_DASHBOARDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(command, templates_path=str(TEMPLATES), **kwargs)
        self.what = what
        self.origins = origins
        self.max_dashboards = max_dashboards
        # statics stay textual-serve's own (its xterm.js and the font files)
        import textual_serve  # noqa: PLC0415

        self.statics_path = Path(textual_serve.__file__).parent / "static"
        self.font_size = font_size
        self.services: set[OwnedAppService] = set()

    async def handle_index(self, request: web.Request) -> Any:
        if "fontsize" not in request.query:
            raise web.HTTPFound(request.rel_url.update_query(fontsize=self.font_size))
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, self.origins):
            log.warning("refused a dashboard to a page from %s", origin)
            raise web.HTTPForbidden(text=f"concviz: pages from {origin} cannot open a dashboard\n")
        websocket = web.WebSocketResponse(heartbeat=15)
        if len(self.services) >= self.max_dashboards:
            return await self._refuse(request, websocket)
        width = _int(request.query.get("width", "80"), 80)
        height = _int(request.query.get("height", "24"), 24)
        # Counted from here, before any await: two tabs at once cannot both take the last slot.
        service = OwnedAppService(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,  # type: ignore[arg-type]
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self.services.add(service)
        try:
            await websocket.prepare(request)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # a broken connection must not take the server down
            log.exception(error)
        finally:
            await service.stop()
            self.services.discard(service)
        return websocket

    async def _refuse(
        self, request: web.Request, websocket: web.WebSocketResponse
    ) -> web.WebSocketResponse:
        """Too many dashboards: the tab says so (on its screen and in its closing dialog)."""
        reason = refusal(self.max_dashboards)
        log.warning("refused a dashboard: %d are open", len(self.services))
        await websocket.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await websocket.send_bytes(f"\r\n  {reason}\r\n".encode())
        await websocket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=reason.encode())
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(
            f"[bold]concviz[/] is served at [link={self.public_url}]{self.public_url}[/]"
        )
        self.console.print(f"  {self.what}, font size {self.font_size}px", highlight=False)
        self.console.print("  one dashboard per browser tab; Ctrl+C stops everything")

    async def on_shutdown(self, app: web.Application) -> None:
        """The server stops: every app it started goes too."""
        await asyncio.gather(*(service.stop() for service in list(self.services)))


def refusal(limit: int) -> str:
    """What a tab over the limit shows (a websocket close reason: at most 123 bytes)."""
    return (
        f"{limit} dashboards are open, the most this server runs (--max-dashboards): "
        "close one, then Restart"
    )


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def dashboard_command(argv: list[str]) -> str:
    """The command each connection runs: this interpreter, this concviz."""
    # -P: the server's folder is not put on sys.path, so a numbers.py (say) lying there
    # is not imported into every dashboard. --task modules still load from that folder:
    # the dashboard runs in it and passes it on as the task's path, explicitly.
    return shlex.join([sys.executable, "-P", "-m", "concviz", *argv])
