"""What a command does to start fast: no collector while it starts, a run's runner first.

**The collector.** Start-up runs without the cyclic garbage collector, and what it
made is frozen.

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

**The runner first.** ``concviz run``'s runner is a second interpreter that takes
~50 ms to start and import; the command line takes as long to load. The front door
starts the runner before loading the command line (:func:`runner_ahead`), and the
run's session hands it its arguments (``concviz.observer.launch.EarlyRunner``).
"""

from __future__ import annotations

import gc
import sys

# Not typing's: the front door imports this module first, and typing (~9 ms where
# nothing has loaded it yet, as in an installed concviz) would delay the runner's
# start. mypy reads a TYPE_CHECKING of any origin as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .observer.launch import EarlyRunner

#: Options after which ``concviz run`` is not one run under this interpreter (or not
#: a run at all): no runner is started ahead for them.
NOT_ONE_RUN_HERE = ("-h", "--help", "--scenario", "--python", "--repeat")

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


def runner_ahead(argv: list[str]) -> EarlyRunner | None:
    """A runner started now, if ``argv`` (the whole command line, after the program)
    reads as one ``concviz run`` under this interpreter.

    A guess made before parsing: the session uses it only if the run's interpreter
    is this one, and whoever asked discards it otherwise (``concviz.cli.main``).
    """
    if argv[:1] != ["run"] or any(a.partition("=")[0] in NOT_ONE_RUN_HERE for a in argv[1:]):
        return None
    from .observer.launch import EarlyRunner  # noqa: PLC0415

    return EarlyRunner(sys.executable)
