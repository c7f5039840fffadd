"""The same module with its set-up behind ``if __name__ == "__main__":``.

Run as a script, ``__name__`` is ``"__main__"`` and the set-up runs, once.
Imported by a worker process (spawn imports it again in each), ``__name__`` is
the module's own name, so the guarded block does not run there: workers start
at once and get what they need as arguments, or, as here, as a constant.
"""

from __future__ import annotations

import time

SETTINGS = {"n": 200_000}


def load_settings() -> dict[str, int]:
    """Stands for any slow set-up: reading a big file, loading a model, connecting."""
    time.sleep(0.4)
    return {"n": 200_000}


def crunch() -> int:
    return sum(i * i for i in range(SETTINGS["n"]))


if __name__ == "__main__":
    SETTINGS = load_settings()
    print(crunch())
