"""How much memory a process of the run really uses: its PSS where Linux says it.

Standard library only: the runner reads its own footprint with it, the sampler
every worker's. RSS counts every page a process maps, so the RSS of a parent
and the workers it forked counts their shared pages once per process (16 forked
workers of a 30 MiB parent add up to ~500 MiB they do not use). PSS (proportional
set size) splits each shared page between the processes that map it, so the
PSS of a run's processes adds up to the memory the run takes. Reading it
(``/proc/<pid>/smaps_rollup``) costs ~0.1 ms a process against ~5 µs for RSS,
which is why the sampler reads it for the total and RSS for the per-process rows.
"""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _kib_field(path: str, key: bytes) -> int | None:
    """The ``key:`` line of a /proc file that lists sizes in kB, in bytes (None: not there)."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024  # the kernel writes kB (KiB)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _pss(pid: int | str) -> int | None:
    return _kib_field(f"/proc/{pid}/smaps_rollup", b"Pss:")


def statm_rss(pid: int | str) -> int | None:
    """The process's resident set size from ``/proc/<pid>/statm`` (~5 µs; None: gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def high_water_rss() -> int | None:
    """This process's peak RSS since it started its program (``VmHWM``; None: not Linux).

    Not ``getrusage().ru_maxrss``: Linux carries that across ``execve``, so a
    runner started by a 300 MiB dashboard reports 300 MiB from its first line.
    ``VmHWM`` belongs to the process's own address space, made by the exec.
    """
    return _kib_field("/proc/self/status", b"VmHWM:")


#: What :func:`footprint` measures here: "PSS" where the kernel offers
#: ``smaps_rollup`` (Linux 4.14+), "RSS" where only ``statm`` is there, "" elsewhere.
MEASURE = "PSS" if _pss("self") is not None else "RSS" if statm_rss("self") is not None else ""


def footprint(pid: int | str = "self") -> int | None:
    """The process's memory in bytes, measured as :data:`MEASURE` (None: gone or unknown)."""
    if MEASURE == "PSS":
        return _pss(pid)
    if MEASURE == "RSS":
        return statm_rss(pid)
    return None
