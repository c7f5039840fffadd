"""Saves the README's screenshot: the default dashboard, mid-run, on this machine.

    .venv/bin/python tools/screenshot.py [docs/images/dashboard.svg]

A real run (4 threads, 20 CPU-bound tasks of 100 ms), captured once about half
of its tasks are done, so the picture shows what a user sees after pressing r.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from concviz.tui.app import ConcvizApp

SIZE = (120, 36)


async def main(out: Path) -> None:
    app = ConcvizApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        for _ in range(600):
            await pilot.pause(0.05)
            source = app.controller.source
            if source is not None and source.aggregate.completed >= 10:
                break
        else:
            raise SystemExit("the run did not get half-way in 30 s")
        app.refresh_view()
        await pilot.pause()
        out.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=out.name, path=str(out.parent))
        await pilot.press("q")
    print(out)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/dashboard.svg")))
