"""Shared fixtures."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from concviz.observer.session import LocalHttpServer


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Calibrate into a per-session cache, so tests never depend on a stale one."""
    old = os.environ.get("CONCVIZ_CACHE_DIR")
    os.environ["CONCVIZ_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("CONCVIZ_CACHE_DIR", None)
    else:
        os.environ["CONCVIZ_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def http_server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        yield server


#: What the program's front door sets (cli.main, the dashboard): a test that calls it
#: in process must give them back, or every later fork (a Pool's workers) inherits
#: them, and a SIGTERM that raises SystemExit there can keep a worker from dying.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture(autouse=True)
def _signal_handlers_given_back() -> Iterator[None]:
    before = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    yield
    changed = [sig.name for sig in _SIGNALS if signal.getsignal(sig) != before[sig]]
    for sig, handler in before.items():
        signal.signal(sig, handler)
    assert not changed, f"the test left its own handlers for {', '.join(changed)}"
