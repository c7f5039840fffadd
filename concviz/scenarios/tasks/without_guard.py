"""A task module whose slow set-up runs at import time: no ``__main__`` guard.

Under the spawn (and forkserver) start method every worker process starts a
fresh interpreter and imports this module again, so the set-up below runs once
more in each of them and every worker starts late. Under fork a worker is a
copy of a process that has imported it already: the set-up ran once.
"""

from __future__ import annotations

import time


def load_settings() -> dict[str, int]:
    """Stands for any slow set-up: reading a big file, loading a model, connecting."""
    time.sleep(0.4)
    return {"n": 200_000}


SETTINGS = load_settings()  # at import: in the parent, and again in every spawned worker


def crunch() -> int:
    return sum(i * i for i in range(SETTINGS["n"]))
