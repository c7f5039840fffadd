"""The help screen: every panel in one sentence, every key."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# concviz

concviz runs a concurrency model **for real** in a child process and shows what
happened. Nothing is simulated: every bar and figure is measured.

## Panels

- **Header**: the model × workers, the workload, the interpreter and whether
  its GIL is on, the run's state, elapsed time, progress and ETA.
- **Timeline**: one lane per worker (thread, process or asyncio task slot);
  each task is a bar from its start to its finish. The glyph says how much of
  that time the task was on a CPU: `█` computing, `▓ ▒` partly, `░` waiting
  (for the GIL, for I/O); `✗` is a failed task, `·` a lane busy only briefly.
  With more lanes than rows, rows stand for groups and the bar height is the
  share of the group that was busy.
- **Cores**: each core's CPU use now, and its recent history: everything on
  the machine, this dashboard included (the summary's `concviz` row is its own
  share).
- **Workers**: the CPU use of each worker thread or process, and their sum
  against the `│` one-core mark: GIL-bound threads add up to one core at most.
  `░` after a worker's bar is time it was ready to run but every core was taken
  (more workers than cores); a thread waiting for the GIL shows none.
- **Queue depth**: tasks submitted but not started (or the queue's real size
  for the queue models) over time.
- **Summary**: the same figures as `concviz run`, live, final at the end.
- **Code** (`c`): the model's source: the idiom that produced the picture (and,
  for a race or a pitfall, the workload's source, where the bug is; for your own
  function, its module).
- **Events** (`e`): the latest events, newest first.

## Keys

| key | does |
|---|---|
| `r` | run (or run again) with the current settings |
| `s` | stop: running tasks may finish, the rest are cancelled |
| `o` | show or hide the settings panel |
| `m` / `w` | next model / next workload |
| `+` / `-` | one worker more / fewer |
| `]` / `[` | twice / half as many tasks |
| `z` / `Z` | zoom the timeline in (down to 0.1 s) / out (up to the whole run) |
| `f` | freeze the timeline where it is (a run over: at its end); `←` `→` scroll |
| `c` / `e` | show or hide the code / the event log |
| `v` | compare: several models in turn, timelines stacked on one time scale, speedups |
| `x` | sweep: this model at several worker counts, speedup and Amdahl's-law fit |
| `a` | advise: which model, and how many workers, for this workload, measured here |
| `p` | pick a scenario: a ready-made demonstration of one pattern |
| `page down` / `page up` | next / previous scenario of a talk, from any of its screens |
| `i` | show or hide the scenario's explanation (on the compare and sweep screens too) |
| `ctrl+s` | save the last run's recording in `./concviz-recordings/` (`concviz replay FILE`) |
| `ctrl+p` | command palette |
| `?` | this help; `escape` closes it |
| `q` | quit: every process of the run is ended |

Settings changed while a run is going apply to the next run.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)
