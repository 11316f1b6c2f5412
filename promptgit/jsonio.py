"""JSON text read strictly: a field twice in one object, or an integer too long to convert, is refused.

Python's json module keeps the last of two equal keys without a word (so a row
`{"expected": "a", ..., "expected": "b"}` was scored against "b"), and raises a bare ValueError for an
integer of more digits than sys.get_int_max_str_digits() allows (4300 by default), which surfaced as a
traceback. JSONDecodeError and RecursionError pass through for the callers' own messages.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any


class JsonRefused(ValueError):
    """Valid JSON that promptgit will not read: `message` says why, `line` (1-based) is where when
    known, `index` is the top-level list index (0-based) of the row holding the fault when known."""

    def __init__(self, message: str, hint: str, *, line: int | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.line = line
        self.index = index


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(items: list[tuple[str, Any]], names: dict[str, str] | None = None) -> dict[str, Any]:
    built = dict(items) if names is None else {names.setdefault(key, key): value for key, value in items}
    if len(built) != len(items):
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return built


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


def loads(text: str) -> Any:
    """`text` parsed as JSON (NaN and Infinity accepted, as json.loads does).

    Raises JsonRefused for a key twice in one object (with the index of the top-level list item
    holding it, when `text` is a list) or an integer too long to convert (with its line), and
    json.JSONDecodeError / RecursionError as json.loads does.
    """
    return _decode(_DECODER, text)


def reader() -> Callable[[str], Any]:
    """`loads` for the many texts of one file (a JSONL dataset's lines): each field name is one string
    shared by every object that has it. json.loads makes the names anew per line, which cost 21 MB on
    a 100,000-row, 4-field dataset (memray; docs/benchmarks.md)."""
    names: dict[str, str] = {}
    decoder = json.JSONDecoder(object_pairs_hook=lambda items: _pairs(items, names))
    return lambda text: _decode(decoder, text)


def _decode(decoder: json.JSONDecoder, text: str) -> Any:
    try:
        return decoder.decode(text)
    except _Duplicate as dup:
        index, line = _locate_duplicate(text)
        raise JsonRefused(
            f"the field {dup.key!r} appears twice in one object",
            "keep one of the two: a JSON reader keeps only the last, so the other is silently lost",
            line=line,
            index=index,
        ) from None
    except json.JSONDecodeError:
        raise
    except ValueError as err:
        if "integer string conversion" not in str(err):
            raise
        digits = _longest_digits(text)
        line = text.count("\n", 0, digits.start()) + 1 if digits else None
        length = len(digits.group()) if digits else 0
        raise JsonRefused(too_long_number_message(length), "quote it to keep it as text", line=line) from None


def too_long_number_message(digits: int) -> str:
    """Why a number of `digits` digits is refused (sys.get_int_max_str_digits, a guard against
    quadratic conversion)."""
    return f"a number of {digits} digits, more than the {sys.get_int_max_str_digits()} that can be read"


def _longest_digits(text: str) -> re.Match[str] | None:
    limit = sys.get_int_max_str_digits()
    return re.search(rf"\d{{{limit + 1},}}", text)


_SPACE = re.compile(r"[ \t\n\r]*")


def _locate_duplicate(text: str) -> tuple[int | None, int | None]:
    """(index, line) of the first top-level list item holding a key twice in one object; Nones when
    `text` is not a list (the item is then not named)."""
    at = _SPACE.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("[", at):
        return None, None
    at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
    index = 0
    while at < len(text) and text[at] != "]":
        try:
            _, end = _DECODER.raw_decode(text, at)
        except _Duplicate:
            return index, text.count("\n", 0, at) + 1
        at = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", at):
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
        index += 1
    return None, None
