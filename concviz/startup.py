"""Start-up runs without the cyclic garbage collector, and what it made is frozen.

Importing Textual and concviz makes a few hundred thousand objects that live as
long as the program (modules, classes, functions, parsed styles). On the way to
the dashboard's first frame the collector walked them 200 times, twice in full:
~30 ms of a 0.3 s target, to free a few hundred objects. So the front door
(``concviz.entry``) holds the collector, and each command lets it go once its own
start-up is over: the dashboard after its first frame and the rest of its
widgets, ``run`` once its runner is started, every other command before it begins.
What start-up made is then frozen (``gc.freeze``): later full collections, during
a run, skip it instead of walking it again each time.

Nothing here is imported for a library use of concviz (tests, ``ConcvizApp`` in
``run_test``): there the collector is never held, and letting go does nothing.
"""

from __future__ import annotations

import gc

_held = False


def hold_collector() -> None:
    """Turns the collector off until :func:`release_collector` (if it was on)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release_collector() -> None:
    """Start-up is over: freeze what it made and turn the collector back on (once).

    The few hundred unreachable objects start-up left are frozen with the rest
    rather than found by a full collection that would cost as much as it saved.
    """
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
