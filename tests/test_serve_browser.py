"""A real browser on ``concviz serve``: Debian's chromium, driven by Playwright.

xterm.js draws on a canvas, so the page's DOM holds no text: the screen is read
from the websocket frames the page receives, through a terminal emulator.
``.ci/run`` installs chromium with apt (never ``playwright install``) and sets
CONCVIZ_REQUIRE_BROWSER, so there a missing browser fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import pyte
import pytest

from .serving import describe, kill_all, serve, wait_gone

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CONCVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _need_browser() -> None:
    reason = None
    try:
        import playwright.sync_api  # noqa: F401, PLC0415
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not os.access(CHROMIUM, os.X_OK):
        reason = f"no chromium at {CHROMIUM} (.ci/run installs Debian's with apt)"
    if reason is not None:
        if os.environ.get("CONCVIZ_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


class PageScreen:
    """The terminal the page shows, rebuilt from its websocket traffic."""

    def __init__(self) -> None:
        self.screen: pyte.Screen | None = None
        self.stream: pyte.ByteStream | None = None
        self.urls: list[str] = []

    def attach(self, ws: object) -> None:
        url = ws.url  # type: ignore[attr-defined]
        self.urls.append(url)
        query = parse_qs(urlsplit(url).query)
        width, height = int(query["width"][0]), int(query["height"][0])
        self.screen = pyte.Screen(width, height)
        self.stream = pyte.ByteStream(self.screen)
        ws.on("framereceived", self._received)  # type: ignore[attr-defined]
        ws.on("framesent", self._sent)  # type: ignore[attr-defined]

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes) and self.stream is not None:
            self.stream.feed(payload)

    def _sent(self, payload: str | bytes) -> None:
        message = json.loads(payload)
        if message[0] == "resize" and self.screen is not None:
            self.screen.resize(message[1]["height"], message[1]["width"])

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display) if self.screen else ""


def wait_screen(page: object, screen: PageScreen, check: Callable[[str], bool]) -> str:
    """Waits on the content (the first bytes take a second or two), not a fixed sleep."""
    deadline = time.monotonic() + 30
    while not check(screen.text):
        assert time.monotonic() < deadline, f"timed out; the page shows:\n{screen.text}"
        page.wait_for_timeout(50)  # type: ignore[attr-defined]
    return screen.text


def footer_keys_shown(text: str) -> bool:
    lines = text.splitlines()
    return bool(lines) and "Run" in lines[-1] and "Quit" in lines[-1]


def browser_processes() -> list[psutil.Process]:
    mine = psutil.Process(os.getpid()).children(recursive=True)
    found = []
    for p in mine:
        with suppress(psutil.Error):  # a child may exit while we look
            if "chrom" in p.name().lower():
                found.append(p)
    return found


def test_browser_shows_the_dashboard_runs_on_a_key_and_cleans_up(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with serve() as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            screen = PageScreen()
            page.on("websocket", screen.attach)
            page.goto(served.url + "/")

            # No click: the terminal must have the keyboard and show its keys.
            first = wait_screen(page, screen, lambda t: "Timeline" in t and footer_keys_shown(t))
            assert "Press r to run" in first
            page.keyboard.press("r")
            done = wait_screen(page, screen, lambda t: "✔ done" in t and "20/20" in t)
            for figure in ("parallelism", "on-CPU", "cpu0"):
                assert figure in done
            shot = tmp_path / "browser.png"
            page.screenshot(path=str(shot))
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if os.environ.get("CONCVIZ_SCREENSHOT"):  # docs/images/browser.png
                page.screenshot(path=os.environ["CONCVIZ_SCREENSHOT"])

            origin = served.url
            outside = [u for u in requested + screen.urls if not _same_host(u, origin)]
            assert not outside, f"the page reached outside this machine: {outside}"

            # Now the browser dies outright, mid-run: its app must not outlive it.
            page.keyboard.press("r")
            wait_screen(page, screen, lambda t: "● running" in t or "✔ done" in t)
            apps = served.descendants()
            assert apps, "no app process for the page"
            for process in browser_processes():
                process.send_signal(signal.SIGKILL)
            left = wait_gone(apps, 10)
            kill_all(left)
            assert not left, f"still running after the browser died:\n{describe(left)}"
        finally:
            kill_all(browser_processes())


def _same_host(url: str, origin: str) -> bool:
    return urlsplit(url).hostname == urlsplit(origin).hostname
