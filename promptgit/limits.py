"""Bounds on what one template render may do: steps, wall-clock time, text size and number size.

A template is user input run on every case, in CI too; a loop of 99999 x 99999, `'x' * 10**9` or
`10 ** 10000000` must end in a clear error within seconds, not hang or exhaust memory. Jinja's sandbox
bounds only `range()` (MAX_RANGE, 100,000 items), so `templating` counts every loop iteration, call
and intercepted operator here, and checks the size of what they build before and after building it.
No jinja2 import here: `templating` is the boundary that calls in.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MAX_STEPS = 1_000_000  # loop iterations + calls + intercepted operators in one render
MAX_SECONDS = 10.0  # wall-clock seconds for one render
MAX_TEXT = 1_000_000  # characters in any string a render builds, the whole rendered text included; items of a list
MAX_INT_BITS = 100_000  # bits of any integer a render builds (about 30,000 decimal digits)

# A width or precision in a format string (`'%999999999d'`, `'{:>999999999}'`) that would build a string
# longer than MAX_TEXT: seven digits or more.
_BIG_WIDTH = re.compile(r"\d{7,}")


class RenderLimit(Exception):
    """A render went past one of the limits above; `templating` turns it into a PromptgitError."""


@dataclass
class _Budget:
    steps: int = 0
    deadline: float = 0.0


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("promptgit_budget", default=None)


@contextmanager
def budget() -> Iterator[None]:
    """Count the steps and time of the render run inside the block (a new budget each time)."""
    token = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        yield
    finally:
        _BUDGET.reset(token)


MACRO_STEPS = 10  # a macro call costs about ten loop iterations (measured: ~9 µs against ~0.3 µs)


def tick(steps: int = 1) -> None:
    """`steps` steps of the current render; raises RenderLimit past MAX_STEPS or MAX_SECONDS."""
    current = _BUDGET.get()
    if current is None:
        return
    before = current.steps
    current.steps += steps
    if current.steps > MAX_STEPS:
        raise RenderLimit(f"more than {MAX_STEPS:,} steps (loop iterations, calls and operations)")
    if current.steps // 1024 != before // 1024 and time.monotonic() > current.deadline:
        raise RenderLimit(f"more than {MAX_SECONDS:g} s of rendering")


def counted(items: Any) -> Iterator[Any]:
    """`items`, one step per item (every `{% for %}` loop iterates through this)."""
    for item in items:
        tick()
        yield item


def check_size(value: Any) -> Any:
    """`value`, refused when it is a string or sequence longer than MAX_TEXT or an integer over MAX_INT_BITS."""
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_TEXT:
        kind = "characters" if isinstance(value, str) else "items"
        raise RenderLimit(f"a value of {len(value):,} {kind} (the limit is {MAX_TEXT:,})")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimit(f"a number of more than {MAX_INT_BITS:,} bits")
    return value


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left <operator> right` before computing it when its result would be over a limit."""
    big_power = operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1
    if big_power and right * left.bit_length() > MAX_INT_BITS + right:
        raise RenderLimit(f"{left} ** {right} has more than {MAX_INT_BITS:,} bits")
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and _is_int(times) and len(seq) * times > MAX_TEXT:
                raise RenderLimit(f"repeating {len(seq):,} characters or items {times:,} times (limit {MAX_TEXT:,})")
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise RenderLimit(f"a product of more than {MAX_INT_BITS:,} bits")
    if operator == "%" and isinstance(left, str):
        check_format(left)


def check_format(template: str) -> None:
    """Refuse a format string with a width or precision that would build a string past MAX_TEXT."""
    if _BIG_WIDTH.search(template):
        raise RenderLimit(f"a format width or precision of seven digits or more in {template[:40]!r}")


def check_arguments(name: str, receiver: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call that would build an oversized string from small arguments.

    Widths (`center(10**9)`, `'x'.ljust(10**9)`, `indent(10**9)`) are refused above MAX_TEXT;
    `replace` is sized before it runs (`'x' * 99999` with every gap replaced by 99999 characters);
    format strings are checked for widths (`check_format`).
    """
    for value in (*args, *kwargs.values()):
        if _is_int(value) and value > MAX_TEXT:
            raise RenderLimit(f"{name}() with {value:,} (the limit is {MAX_TEXT:,})")
    if name in ("format", "format_map") and isinstance(receiver, str):
        check_format(receiver)
    if name == "replace" and isinstance(receiver, str) and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str) and isinstance(new, str):
            count = receiver.count(old) if old else len(receiver) + 1
            if len(receiver) + count * max(0, len(new) - len(old)) > MAX_TEXT:
                raise RenderLimit(f"replace() would build more than {MAX_TEXT:,} characters")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def summary() -> str:
    """The limits in one sentence, for hints and docs."""
    return (
        f"a render may take {MAX_STEPS:,} steps (loop iterations, calls, operations) and {MAX_SECONDS:g} s, "
        f"and build strings and lists of up to {MAX_TEXT:,} characters or items"
    )
