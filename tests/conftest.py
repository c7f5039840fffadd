"""Shared fixtures."""

from __future__ import annotations

import os
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
