"""``concviz serve``: the dashboard over a websocket, and no process left behind.

Everything here is real: the server, one app process per connection, its runner
and workers. The client reads the screen through a terminal emulator.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp
import psutil
import pytest

from concviz.web import access

from .serving import (
    HEIGHT,
    WIDTH,
    Served,
    Terminal,
    command_line,
    describe,
    kill_all,
    parent_pid,
    serve,
    wait_gone,
)

pytestmark = pytest.mark.slow

#: A run long enough to still be going when the connection drops.
LONG_RUN = ("-m", "processes", "-n", "2", "-t", "400")


def runner_processes(served: Served) -> list[psutil.Process]:
    # A process that has just exited (a zombie until reaped) is not a runner still going.
    return [p for p in served.descendants() if "concviz.runner" in command_line(p)]


async def wait_for_workers(served: Served, count: int) -> list[psutil.Process]:
    """The runner and its workers, once they exist (a run has really started)."""
    for _ in range(300):
        found = runner_processes(served)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no runner with {count - 1} workers:\n{describe(served.descendants())}")


def footer_keys_shown(text: str) -> bool:
    """The footer lists the bindings (a blurred web app hides them)."""
    last = text.splitlines()[-1]
    return "Run" in last and "Quit" in last


async def open_terminal(session: aiohttp.ClientSession, served: Served) -> Terminal:
    ws = await session.ws_connect(f"{served.url}/ws?width={WIDTH}&height={HEIGHT}")
    return Terminal(ws)


async def test_dashboard_over_websocket_then_abrupt_disconnect_leaves_nothing() -> None:
    with serve(*LONG_RUN) as served:
        async with aiohttp.ClientSession() as session:
            term = await open_terminal(session, served)
            # No ["focus"] is sent: the first frame must be usable as it is. It is the
            # skeleton (#21): the figure panels are mounted just after it.
            screen = await term.until(
                lambda t: "Timeline" in t and footer_keys_shown(t) and "Queue depth" in t
            )
            for panel in ("Settings", "Cores", "Workers CPU", "Summary", "Queue depth"):
                assert panel in screen
            await term.keys("r")
            await term.until(lambda t: "● running" in t)
            await wait_for_workers(served, 3)  # runner + 2 worker processes
            started = served.descendants()
            # Short-lived children (interpreter probes) may be gone by the time we ask.
            app = [p for p in started if parent_pid(p) == served.process.pid]
            assert len(app) == 1, describe(started)

            # Drop the connection without a goodbye: no close frame, the socket just goes.
            await session.connector.close()  # type: ignore[union-attr]
            await term.close()

        left = wait_gone(started, 10)
        kill_all(left)
        assert not left, f"still running after the browser went:\n{describe(left)}"
        assert served.process.poll() is None, "the server itself must keep serving"


async def test_server_killed_outright_takes_its_apps_with_it() -> None:
    with serve(*LONG_RUN) as served:
        async with aiohttp.ClientSession() as session:
            term = await open_terminal(session, served)
            await term.until(footer_keys_shown)
            await term.keys("r")
            await wait_for_workers(served, 3)
            started = served.descendants()
            os.kill(served.process.pid, signal.SIGKILL)  # a crash: no cleanup code runs
            served.process.wait()
            left = wait_gone(started, 10)
            kill_all(left)
            await term.close()
        assert not left, f"orphaned by a crashed server:\n{describe(left)}"


async def test_ctrl_c_ends_every_connection_and_its_run() -> None:
    with serve(*LONG_RUN) as served:
        async with aiohttp.ClientSession() as session:
            terms = [await open_terminal(session, served) for _ in range(2)]
            for term in terms:
                await term.until(footer_keys_shown)
                await term.keys("r")
            await wait_for_workers(served, 6)  # two runners, two workers each
            started = served.descendants()
            apps = [p for p in started if parent_pid(p) == served.process.pid]
            assert len(apps) == 2, describe(started)
            served.process.send_signal(signal.SIGINT)
            assert served.process.wait(20) == 0
            left = wait_gone(started, 10)
            kill_all(left)
            for term in terms:
                await term.close()
        assert not left, f"left running after Ctrl+C:\n{describe(left)}"


async def test_scenario_playlist_pages_in_the_browser() -> None:
    with serve("--scenario", "gil", "race") as served:
        async with aiohttp.ClientSession() as session:
            term = await open_terminal(session, served)
            first = await term.until(lambda t: "1/2" in t and footer_keys_shown(t))
            await term.keys("\x1b[6~")  # PageDown, as a presenter's clicker sends it
            second = await term.until(lambda t: "2/2" in t)
            assert first != second
            await term.keys("\x1b[5~")  # PageUp
            await term.until(lambda t: "1/2" in t)
            await term.close()


async def test_replay_is_served() -> None:
    recording = os.path.join(os.path.dirname(__file__), "data", "threads-cpu.cvrec")
    with serve("--replay", recording) as served:
        async with aiohttp.ClientSession() as session:
            term = await open_terminal(session, served)
            await term.until(lambda t: "replay" in t and "Timeline" in t)
            await term.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data-session-websocket-url") and value:
                self.urls.append(value)


def _css_urls(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)  # comments load nothing
    return re.findall(r"""url\(\s*["']?([^"')]+)""", css)


async def test_served_page_loads_nothing_from_outside() -> None:
    with serve() as served:
        async with aiohttp.ClientSession() as session:
            async with session.get(served.url + "/") as response:
                assert response.status == 200
                page = await response.text()
                page_url = str(response.url)
            parser = _Links()
            parser.feed(page)
            inline_css = "".join(re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL))
            urls = [urljoin(page_url, u) for u in parser.urls + _css_urls(inline_css)]
            for url in list(urls):
                if url.endswith(".css"):
                    async with session.get(url) as response:
                        urls += [urljoin(url, u) for u in _css_urls(await response.text())]
            assert any("RobotoMono" in u for u in urls), "the font must come from this server"
            here = {"127.0.0.1", "localhost"}
            outside = [u for u in urls if urlsplit(u).hostname not in here]
            assert not outside, f"the page loads from outside this machine: {outside}"
            for url in urls:
                if urlsplit(url).scheme in ("http", "https"):
                    async with session.get(url) as response:
                        assert response.status == 200, url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "needs --public-url"),
        (["-m", "nosuch"], "nosuch"),
        (["--scenario", "nosuch"], "nosuch"),
        (["--port", "70000"], "port must be"),
        (["--max-dashboards", "0"], "--max-dashboards must be at least 1"),
        (["--public-url", "talk.example:8000"], "--public-url must be an http"),
        (["--host", "nosuch.invalid"], "cannot resolve --host"),
    ],
)
def test_bad_serve_options_are_one_line_errors(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "concviz", "serve", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_a_one_line_error() -> None:
    with serve() as served:
        done = subprocess.run(
            [sys.executable, "-m", "concviz", "serve", "--port", str(served.port)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "cannot listen" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "size"), [((), "16"), (("--big",), "24"), (("--font-size", "30"), "30")]
)
async def test_font_size_for_the_back_of_the_room(args: tuple[str, ...], size: str) -> None:
    with serve(*args) as served:
        async with aiohttp.ClientSession() as session, session.get(served.url + "/") as response:
            assert response.url.query["fontsize"] == size
            assert f'data-font-size="{size}"' in await response.text()


# --- who may open a dashboard (issue #16) ---------------------------------------------


def apps_of(served: Served) -> list[psutil.Process]:
    """The dashboards (app processes) the server runs now: its direct children."""
    return [p for p in served.descendants() if parent_pid(p) == served.process.pid]


async def test_pages_from_other_sites_cannot_start_dashboards() -> None:
    """A browser lets any web page open a websocket to 127.0.0.1 (it sends its Origin)."""
    with serve() as served:
        seen: set[int] = set()
        async with aiohttp.ClientSession() as session:
            for _ in range(8):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(
                        f"{served.url}/ws?width={WIDTH}&height={HEIGHT}",
                        origin="http://evil.example",
                    )
                assert refused.value.status == 403
                seen.update(p.pid for p in served.descendants())
            # the rebinding variant: the attacker's name, on this server's port
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(
                    f"{served.url}/ws", origin=f"http://evil.example:{served.port}"
                )
            seen.update(p.pid for p in served.descendants())
            assert not seen, f"a foreign page started processes:\n{describe(served.descendants())}"

            # the server's own page, under the names a browser here may use, still works
            for origin in (served.url, f"http://localhost:{served.port}"):
                ws = await session.ws_connect(
                    f"{served.url}/ws?width={WIDTH}&height={HEIGHT}", origin=origin
                )
                term = Terminal(ws)
                await term.until(footer_keys_shown)
                started = served.descendants()
                await ws.close()
                await term.close()
                left = wait_gone(started, 10)
                kill_all(left)
                assert not left, f"still running after its tab closed:\n{describe(left)}"


async def test_dashboards_are_capped_and_the_tab_over_the_cap_is_told() -> None:
    with serve("--max-dashboards", "1") as served:
        async with aiohttp.ClientSession() as session:
            first = await open_terminal(session, served)
            await first.until(footer_keys_shown)
            apps = apps_of(served)
            assert len(apps) == 1, describe(served.descendants())

            ws = await session.ws_connect(
                f"{served.url}/ws?width={WIDTH}&height={HEIGHT}", origin=served.url
            )
            shown, reason = b"", ""
            while True:
                message = await ws.receive(timeout=30)
                if message.type == aiohttp.WSMsgType.BINARY:
                    shown += message.data  # what the tab's terminal shows
                elif message.type == aiohttp.WSMsgType.CLOSE:
                    reason = str(message.extra)  # what its "Session ended" dialog shows
                    break
                else:
                    raise AssertionError(f"unexpected {message}")
            assert ws.close_code == aiohttp.WSCloseCode.TRY_AGAIN_LATER
            for text in (shown.decode(), reason):
                assert "1 dashboards are open" in text, text
                assert "--max-dashboards" in text, text
            assert [p.pid for p in apps_of(served)] == [apps[0].pid], "a second app started"

            # a tab closes: its slot is free again
            started = served.descendants()
            await first.ws.close()
            await first.close()
            left = wait_gone(started, 10)
            kill_all(left)
            assert not left, describe(left)
            # Its processes are gone a moment before the server's handler has let the
            # slot go (it still awaits the service's stop): a tab refused in that moment
            # may try again, as a user would; the slot must be free within seconds.
            deadline = time.monotonic() + 10
            while True:
                again = await open_terminal(session, served)
                screen = await again.until(
                    lambda t: footer_keys_shown(t) or "dashboards are open" in t
                )
                await again.close()
                if footer_keys_shown(screen):
                    break
                assert time.monotonic() < deadline, screen
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("host", ["", "0", "::0", "0.0.0.00", "0.0.0.0", "::"])
def test_every_spelling_of_all_interfaces_needs_public_url(host: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "concviz", "serve", "--host", host],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs --public-url" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_serving_beyond_this_machine_warns() -> None:
    """With --public-url it serves, and says on stderr who can now start processes.

    The port is held first (bound, never listening, so nothing is exposed): the
    server warns, then cannot listen, and exits.
    """
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        port = held.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "concviz",
                "serve",
                "--host",
                "0",
                "--port",
                str(port),
                "--public-url",
                f"http://192.0.2.1:{port}",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert "warning: listening on 0.0.0.0" in done.stderr, done.stderr
    assert "cannot listen" in done.stderr
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


MARKER_MODULE = """\
import importlib.util, os, sys, sysconfig
with open(os.path.join(os.path.dirname(__file__), "imported-by"), "a") as out:
    out.write(f"{os.getpid()} {sys.argv!r}\\n")
# then the real module takes its place, so nothing breaks
_real = os.path.join(sysconfig.get_paths()["stdlib"], "numbers.py")
_spec = importlib.util.spec_from_file_location("numbers", _real)
_module = importlib.util.module_from_spec(_spec)
sys.modules["numbers"] = _module
_spec.loader.exec_module(_module)
"""

TASK_MODULE = """\
def work(n: int) -> int:
    return sum(range(n))
"""


async def test_the_servers_folder_is_not_imported_into_dashboards(tmp_path: Path) -> None:
    """A numbers.py where the speaker starts the server is not run by every dashboard,
    while --task modules still load from that folder."""
    (tmp_path / "numbers.py").write_text(MARKER_MODULE)
    (tmp_path / "mytask.py").write_text(TASK_MODULE)
    args = ("-w", "custom", "--task", "mytask:work", "--task-args", "[1000]", "-n", "1", "-t", "3")
    with serve(*args, cwd=str(tmp_path)) as served:
        async with aiohttp.ClientSession() as session:
            term = await open_terminal(session, served)
            await term.until(footer_keys_shown)
            await term.keys("r")
            await term.until(lambda t: "✔ done" in t and "3/3" in t)
            await term.close()
    marker = tmp_path / "imported-by"
    imported = marker.read_text() if marker.exists() else ""
    assert not imported, f"numbers.py from the server's folder was imported by:\n{imported}"


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("127.0.0.1", []),
        ("localhost", []),
        ("::1", []),
        ("127.1", []),
        ("", ["0.0.0.0", "::"]),
        ("0", ["0.0.0.0"]),
        ("::0", ["::"]),
        ("0.0.0.00", ["0.0.0.0"]),
    ],
)
def test_host_is_judged_by_the_addresses_it_binds(host: str, public: list[str]) -> None:
    assert access.public_addresses(host, 8000) == public


def test_only_the_servers_own_page_may_open_dashboards() -> None:
    here = access.allowed_origins("127.0.0.1", 8000, None)
    for origin in ("http://127.0.0.1:8000", "http://LOCALHOST:8000", "http://[::1]:8000"):
        assert access.origin_allowed(origin, here), origin
    for origin in (
        "http://evil.example",
        "http://evil.example:8000",  # DNS rebinding: the attacker's name, this port
        "http://127.0.0.1:8001",  # another local server's page
        "https://127.0.0.1:8000",
        "null",  # a sandboxed frame or a file:// page
        "",
    ):
        assert not access.origin_allowed(origin, here), origin
    assert access.origin_allowed(None, here)  # not a browser page (browsers always send it)

    public = access.allowed_origins("0.0.0.0", 8000, "https://talk.example/concviz")
    assert access.origin_allowed("https://talk.example", public)
    assert access.origin_allowed("http://localhost:8000", public)
    assert not access.origin_allowed("http://talk.example", public)
    with pytest.raises(access.AccessError):
        access.check_public_url("talk.example:8000")


# --- textual-serve's private parts that concviz.web.server relies on (issue #21) -------


def test_textual_serve_still_has_the_seams_concviz_overrides() -> None:
    """concviz.web.server overrides or reads these; an upgrade that drops one fails here,
    by name, instead of serving a page whose dashboards never start (or never end)."""
    from importlib.metadata import version  # noqa: PLC0415

    from textual_serve.app_service import AppService  # noqa: PLC0415
    from textual_serve.download_manager import DownloadManager  # noqa: PLC0415
    from textual_serve.server import Server  # noqa: PLC0415

    async def write(_data: object) -> None:
        return None

    service = AppService(
        "true",
        write_bytes=write,
        write_str=write,
        close=write,  # type: ignore[arg-type]
        download_manager=DownloadManager(),
    )
    server = Server("true")
    missing = []
    seams: list[tuple[str, object, str]] = [
        (
            "AppService._open_app_process(width, height) (overridden)",
            AppService,
            "_open_app_process",
        ),
        ("AppService._build_environment(width=, height=)", AppService, "_build_environment"),
        ("AppService.stop (overridden)", AppService, "stop"),
        ("AppService.start", AppService, "start"),
        ("AppService.send_meta", AppService, "send_meta"),
        ("AppService._process (set by the override)", service, "_process"),
        ("AppService._stdin (set by the override)", service, "_stdin"),
        ("AppService._task", service, "_task"),
        ("AppService._download_manager", service, "_download_manager"),
        ("AppService.app_service_id", service, "app_service_id"),
        ("DownloadManager.cancel_app_downloads", DownloadManager, "cancel_app_downloads"),
        ("Server._process_messages", Server, "_process_messages"),
        ("Server.handle_index (overridden)", Server, "handle_index"),
        ("Server.handle_websocket (overridden)", Server, "handle_websocket"),
        ("Server.on_startup / on_shutdown (overridden)", Server, "on_shutdown"),
        ("Server.statics_path", server, "statics_path"),
        ("Server.download_manager", server, "download_manager"),
        ("Server.public_url", server, "public_url"),
        ("Server.console", server, "console"),
        ("Server.debug", server, "debug"),
    ]
    for name, owner, attribute in seams:
        if not hasattr(owner, attribute):
            missing.append(name)
    assert not missing, (
        f"textual-serve {version('textual-serve')} no longer has what concviz/web/server.py "
        f"overrides or uses: {', '.join(missing)}. Update the server, then the pin in "
        "pyproject.toml (textual-serve~=1.1.3)."
    )
    for method, params in (
        (AppService._open_app_process, ["self", "width", "height"]),
        (AppService._build_environment, ["self", "width", "height"]),
        (Server._process_messages, ["self", "websocket", "app_service"]),
    ):
        got = list(inspect.signature(method).parameters)
        assert got == params, (
            f"textual-serve {version('textual-serve')} changed {method.__qualname__}{got}: "
            f"concviz/web/server.py calls it as {params}"
        )
    # the routes the page and the websocket are served under
    assert "/ws" in inspect.getsource(Server._make_app), "Server._make_app no longer routes /ws"


def test_in_a_real_browser_other_pages_are_refused_and_the_tab_over_the_cap_says_why() -> None:
    from .test_serve_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser  # noqa: PLC0415

    _need_browser()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with serve("--max-dashboards", "1") as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # Another page (here a blank one; any web site alike) opens a websocket to us.
            other = browser.new_page()
            outcome = other.evaluate(
                """url => new Promise(done => {
                    const ws = new WebSocket(url);
                    ws.onopen = () => done("open");
                    ws.onclose = () => done("closed");
                })""",
                f"ws://127.0.0.1:{served.port}/ws",
            )
            assert outcome == "closed"
            assert not served.descendants(), describe(served.descendants())

            first = browser.new_page()
            first.goto(served.url + "/")
            first.wait_for_function("document.body.classList.contains('-first-byte')")
            second = browser.new_page()
            second.goto(served.url + "/")
            dialog = second.locator(".closed-dialog .message")
            dialog.wait_for(state="visible", timeout=30_000)
            shown = dialog.inner_text()
            assert "--max-dashboards" in shown, shown
            assert len(apps_of(served)) == 1, describe(served.descendants())
        finally:
            browser.close()
