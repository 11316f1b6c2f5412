"""Text scorers: exact_match, equals, contains, icontains, regex (RE2, linear time) and levenshtein."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import re2

from promptgit.errors import PromptgitError
from promptgit.scorers import Score, Scorer, ScorerSite, register
from promptgit.scorers.common import (
    Checker,
    case_id,
    expected_text,
    json_matches,
    mismatch,
    no_config,
    options_of,
    require_expected,
    short,
)


@register("exact_match")
def _exact_match(config: Any, site: ScorerSite) -> Scorer:
    """Whitespace-trimmed, case-insensitive equality with the expected value."""
    no_config("exact_match", config)

    def check(output: str, expected: Any, case: Any) -> Score:
        require_expected(expected, case, site, "exact_match")
        same = output.strip().casefold() == expected_text(expected).strip().casefold()
        if not same and not isinstance(expected, str):
            same = json_matches(output, expected)  # 42.0 for 42, {"a": 1} however spaced
        return Score(1.0) if same else Score(0.0, mismatch(expected, output))

    return Checker("exact_match", check)


@register("equals")
def _equals(config: Any, site: ScorerSite) -> Scorer:
    """Exact equality with the expected value (parsed JSON equality for non-string expected values)."""
    no_config("equals", config)

    def check(output: str, expected: Any, case: Any) -> Score:
        require_expected(expected, case, site, "equals")
        same = output == expected if isinstance(expected, str) else json_matches(output, expected)
        return Score(1.0) if same else Score(0.0, mismatch(expected, output))

    return Checker("equals", check)


# -- contains, icontains -------------------------------------------------------------------------


def _needles(name: str, config: Any) -> list[str] | None:
    """The configured substrings, or None for bare (the expected value is the substring)."""
    if config is None:
        return None
    items = [config] if isinstance(config, str) else config
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise PromptgitError(
            f"{name} needs a non-empty string or a list of them, got {config!r}",
            hint=f'e.g. `{name}: "refund"` or `{name}: [refund, "order number"]`',
        )
    return items


def _containment(name: str, config: Any, site: ScorerSite, fold: bool) -> Scorer:
    configured = _needles(name, config)

    def check(output: str, expected: Any, case: Any) -> Score:
        needles = configured if configured is not None else _expected_needles(expected, case, site, name)
        haystack = output.casefold() if fold else output
        missing = [n for n in needles if (n.casefold() if fold else n) not in haystack]
        if not missing:
            return Score(1.0)
        return Score((len(needles) - len(missing)) / len(needles), f"missing {', '.join(map(short, missing))}")

    return Checker(name, check)


def _expected_needles(expected: Any, case: Any, site: ScorerSite, name: str) -> list[str]:
    require_expected(expected, case, site, name)
    items = expected if isinstance(expected, list) else [expected]
    needles = [expected_text(item).strip() for item in items]
    if not all(needles):
        raise site.error(f"case {case_id(case)} has an empty expected value, which {name} looks for")
    return needles


@register("contains")
def _contains(config: Any, site: ScorerSite) -> Scorer:
    """The share of the configured substrings (bare: the expected value) found in the output."""
    return _containment("contains", config, site, fold=False)


@register("icontains")
def _icontains(config: Any, site: ScorerSite) -> Scorer:
    """Like contains, ignoring case."""
    return _containment("icontains", config, site, fold=True)


# -- regex ---------------------------------------------------------------------------------------


# RE2 (google-re2) matches in time linear in the output, so no pattern can backtrack catastrophically:
# `^(.+)+X$` on 30 characters took 53 s with Python's re and stalled every call on the event loop.
# Its price: no lookaround and no backreferences (refused at build time, so `check` reports them),
# and \w, \d, \b, \s are ASCII (\pL, \pN and [[:alpha:]] reach beyond it).
_RE2_HINT = (
    "regex patterns use RE2 syntax, which matches in linear time: no lookaround ((?=…), (?<=…)) and "
    "no backreferences (\\1), \\z for the very end (not \\Z); see https://github.com/google/re2/wiki/Syntax"
)


def _compile(pattern: str) -> Any:
    """The RE2 pattern object for `pattern`; PromptgitError when RE2 cannot compile it."""
    try:
        return _compiled(pattern)
    except re2.error as err:
        reason = err.args[0].decode(errors="replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        raise PromptgitError(f"invalid regular expression {pattern!r}: {reason}", hint=_RE2_HINT) from None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern to stderr itself
    return re2.compile(pattern, options)


def _found(pattern: Any, output: str) -> bool:
    """Whether `pattern` is found in `output`, where, as in Python's re, `$` also matches before one final newline.

    RE2's `$` is the very end only, and model outputs often end in a newline: a pattern with a `$`
    (and no `\\z`, which asks for the very end) is tried again on the output without that newline.
    """
    if pattern.search(output):
        return True
    text = pattern.pattern
    return output.endswith("\n") and "$" in text and "\\z" not in text and bool(pattern.search(output[:-1]))


@register("regex")
def _regex(config: Any, site: ScorerSite) -> Scorer:
    """Whether the pattern (bare: the expected value) is found anywhere in the output, matched by RE2."""
    if config is not None and (not isinstance(config, str) or not config):
        raise PromptgitError(
            f"regex needs a pattern string, got {config!r}",
            hint="quote the pattern in single quotes: `regex: '^(yes|no)$'`",
        )
    configured = _compile(config) if config is not None else None

    def check(output: str, expected: Any, case: Any) -> Score:
        pattern = configured
        if pattern is None:
            try:
                pattern = _compile(expected_text(require_expected(expected, case, site, "regex")))
            except PromptgitError as err:
                raise site.error(f"case {case_id(case)}: {err.message}", hint=err.hint) from None
        if _found(pattern, output):
            return Score(1.0)
        return Score(0.0, f"{short(output)} does not match {short(pattern.pattern)}")

    return Checker("regex", check)


# -- levenshtein ---------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings.

    Myers' bit-parallel algorithm (Hyyrö's form for edit distance): one column of the DP table is
    two bit vectors, held in Python ints of any length, so each character of the shorter string
    costs a few integer operations instead of a Python loop over the longer one. Two 1,000-character
    strings: 1.3 ms (the plain DP table took 370 ms).
    """
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    if len(a) < len(b):
        a, b = b, a  # the longer string is the bit vector; the shorter one is walked
    if not b:
        return len(a)
    full, top = (1 << len(a)) - 1, 1 << (len(a) - 1)
    positions: dict[str, int] = {}  # for each character, the bits where it occurs in `a`
    for i, char in enumerate(a):
        positions[char] = positions.get(char, 0) | (1 << i)
    plus, minus, distance = full, 0, len(a)  # vertical deltas +1 / -1 of the current column
    for char in b:
        match = positions.get(char, 0)
        diagonal = match | minus
        horizontal = (((match & plus) + plus) ^ plus) | match
        h_plus = minus | (~(horizontal | plus) & full)
        h_minus = plus & horizontal
        if h_plus & top:
            distance += 1
        elif h_minus & top:
            distance -= 1
        h_plus = ((h_plus << 1) | 1) & full  # row 0 of the table grows by one per character
        h_minus = (h_minus << 1) & full
        plus = h_minus | (~(diagonal | h_plus) & full)
        minus = h_plus & diagonal
    return distance


def similarity(a: str, b: str) -> float:
    """1 − distance / length of the longer string: 1 for equal strings (two empty ones included)."""
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - edit_distance(a, b) / longest


def _threshold(config: Any) -> float | None:
    if config is None:
        return None
    value = options_of("levenshtein", config, {"threshold"}).get("threshold") if isinstance(config, dict) else config
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PromptgitError(
            f"levenshtein's threshold must be a number in [0, 1], got {value!r}",
            hint="e.g. `levenshtein: {threshold: 0.9}`, or bare for the similarity itself",
        )
    return float(value)


@register("levenshtein")
def _levenshtein(config: Any, site: ScorerSite) -> Scorer:
    """Normalised edit similarity of the trimmed output to the expected value; pass/fail with a threshold."""
    threshold = _threshold(config)

    def check(output: str, expected: Any, case: Any) -> Score:
        target = expected_text(require_expected(expected, case, site, "levenshtein")).strip()
        value = similarity(output.strip(), target)
        if threshold is not None:
            if value >= threshold:
                return Score(1.0)
            return Score(0.0, f"similarity {value:.2f} < {threshold:g} to {short(target)}")
        return Score(value) if value == 1.0 else Score(value, f"similarity {value:.2f} to {short(target)}")

    return Checker("levenshtein", check)


def searcher(pattern: str) -> Callable[[str], bool]:
    """Whether RE2 `pattern` is found in a text (`$` also before one final newline, as in the regex scorer);
    PromptgitError when RE2 cannot compile it. For callers outside the scorers (case selection, `--filter`)."""
    compiled = _compile(pattern)
    return lambda text: _found(compiled, text)
