"""How quantities are worded, in plain Python (no Rich): the reports' and the findings'."""

from __future__ import annotations


def fmt_seconds(s: float) -> str:
    """``0.0123`` → ``"12 ms"``; minutes past two of them."""
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.0f} ms"
    if s < 120:
        return f"{s:.2f} s"
    return f"{int(s // 60)} min {s % 60:.0f} s"
