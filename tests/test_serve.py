"""``concviz serve``: the dashboard over a websocket, and no process left behind.

Everything here is real: the server, one app process per connection, its runner
and workers. The client reads the screen through a terminal emulator.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import aiohttp
import psutil
import pytest

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
    return [p for p in served.descendants() if "concviz.engine.runner" in command_line(p)]


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
            # No ["focus"] is sent: the first frame must be usable as it is.
            screen = await term.until(lambda t: "Timeline" in t and footer_keys_shown(t))
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
