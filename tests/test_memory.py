"""A process's memory as concviz measures it: PSS where Linux offers it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from concviz.engine import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS is Linux's")
def test_linux_gives_pss_and_it_grows_with_what_the_process_touches() -> None:
    assert memory.MEASURE == "PSS"
    before = memory.footprint()
    assert before is not None
    assert before > 1 << 20  # a Python process: megabytes
    block = bytearray(64 << 20)  # zero-filled: every page written
    after = memory.footprint()
    assert after is not None
    assert after - before >= 48 << 20
    del block


def test_a_process_that_has_gone_has_no_footprint() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert memory.footprint(child.pid) is None
