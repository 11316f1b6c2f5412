"""What a run shows while it works, on stderr: a live bar on a terminal, a line every ~10 s in a CI log.

Colour follows the NO_COLOR convention (no-color.org): set to anything non-empty, no ANSI styling.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # render and blame style their output through here without loading the evaluator
    from promptgit.evaluate import ProgressUpdate

LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal (a CI log)
_REDRAW_EVERY = 0.1  # seconds between redraws of the bar on a terminal
_BAR = 24


def use_colour() -> bool | None:
    """False when NO_COLOR is set (no-color.org); None lets click decide (colour only on a terminal)."""
    return False if os.environ.get("NO_COLOR") else None


def progress_text(label: str, update: ProgressUpdate) -> str:
    """`eval 412/1000 (41%), 38.2/s, 0 errors, 120 cached, ETA 15 s`: the figures both displays show."""
    rate = update.done / update.seconds if update.seconds > 0 else 0.0
    share = f" ({100 * update.done / update.total:.0f}%)" if update.total else ""
    left = update.total - update.done
    eta = f", ETA {_duration(left / rate)}" if rate > 0 and left > 0 else ""
    speed = f"{rate:.1f}/s" if rate >= 1 or rate == 0 else f"{rate * 60:.1f}/min"  # a slow local model: per minute
    return (
        f"{label} {update.done}/{update.total}{share}, {speed}, {update.errors} error"
        f"{'s' if update.errors != 1 else ''}, {update.cached} cached{eta}"
    )


def progress_printer(
    label: str, quiet: bool = False, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
) -> Callable[[ProgressUpdate], None] | None:
    """A progress display on `stream` (default stderr): a redrawn bar on a terminal, else a line every
    LOG_EVERY seconds and one when the run ends, if it printed any. None when `quiet`."""
    if quiet:
        return None
    out = stream or sys.stderr
    tty = out.isatty()
    last = [clock()]
    printed = [False]

    def show(update: ProgressUpdate) -> None:
        now, finished = clock(), update.done >= update.total
        if tty:
            if finished or now - last[0] >= _REDRAW_EVERY:
                filled = int(_BAR * update.done / update.total) if update.total else _BAR
                out.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {progress_text(label, update)}\x1b[K")
                out.write("\n" if finished else "")
                out.flush()
                last[0] = now
        elif (finished and printed[0]) or (not finished and now - last[0] >= LOG_EVERY):
            out.write(f"promptgit: {progress_text(label, update)}\n")
            out.flush()
            last[0], printed[0] = now, True

    return show


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
