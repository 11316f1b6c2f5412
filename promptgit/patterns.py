"""Failure patterns of one suite result: a confusion summary over a small label set, and failures by reason.

docs/spec.md, Dimensions and failure patterns. Reading failing cases one by one hides what they share; these two
summaries show it: "the model answers billing for refunds 6 times", "7 outputs lack the property
'date'". Standard library only: the input is a finished evaluate.SuiteResult, nothing is called.

- A **label suite** (rule in `labels_of`): every expected value is a short one-line string, there
  are 2 to 20 distinct ones, and each is asked twice on average. Its confusion summary counts every
  scored case's (expected, output) pair, first repeat, an output read as the label it spells
  (`label_of`) or OTHER.
- **Reason groups**: each failing case's scorer reasons (first repeat, evaluate.CaseResult.reasons,
  `dimension: reason`), with the parts that differ from case to case normalised (`normalise`), counted
  once per case and grouped by (dimension, normalised reason).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptgit.evaluate import CaseResult, SuiteResult

MAX_LABELS = 20  # more distinct expected values than this is an open answer, not a label set
MAX_LABEL_CHARS = 40  # longer expected values are sentences, not labels
MIN_ASKED = 2  # each label is expected this many times on average: a confusion needs repeats to count
TOP = 5  # confusions and reason groups kept, the most frequent first
OTHER = "(other)"  # an output that spells no label of the set
_REASON_CHARS = 120  # a normalised reason is cut to this (a judge's reasoning can run to paragraphs)


@dataclass(frozen=True)
class Confusion:
    """How many scored cases expected `expected` and answered `output` (a label, or OTHER)."""

    expected: str
    output: str
    count: int

    def __str__(self) -> str:
        return f"{self.expected} -> {self.output}  {self.count}"


@dataclass(frozen=True)
class ConfusionSummary:
    """Expected x output counts over a label suite's scored cases (first repeat).

    `labels`: the label set, sorted; `cells`: every non-zero (expected, output) count, diagonal
    included, most frequent first then by name; `top`: the off-diagonal cells (confusions), at most TOP.
    """

    labels: tuple[str, ...]
    cases: int
    cells: tuple[Confusion, ...]
    top: tuple[Confusion, ...]

    def count(self, expected: str, output: str) -> int:
        """The cell's count (0 when the pair never occurred)."""
        return next((c.count for c in self.cells if (c.expected, c.output) == (expected, output)), 0)


@dataclass(frozen=True)
class ReasonGroup:
    """Failing cases that one scorer marked down for the same normalised reason.

    `count` is the number of cases (a case counts once per group); `cases` their ids in suite order;
    `example` one reason as the scorer wrote it.
    """

    dimension: str
    reason: str
    count: int
    cases: tuple[str, ...]
    example: str

    def __str__(self) -> str:
        return f"{self.dimension}: {self.reason}  x{self.count}"


@dataclass(frozen=True)
class Patterns:
    """A result's failure patterns: `failed` scored cases that did not pass, their reason groups (at most
    TOP, the largest first) and, for a label suite, the confusion summary."""

    failed: int
    reasons: tuple[ReasonGroup, ...]
    confusion: ConfusionSummary | None = None

    @property
    def top(self) -> str | None:
        """The most frequent pattern as one line, None when nothing failed: in a label suite its top
        confusion (its mismatches are what the confusion breaks down by label), else the largest reason group."""
        if self.confusion is not None and self.confusion.top:
            return str(self.confusion.top[0])
        return str(self.reasons[0]) if self.reasons else None


def find_patterns(result: SuiteResult) -> Patterns:
    """The failure patterns of one suite result (see the module docstring for the rules)."""
    failing = [c for c in result.cases if c.passed is False]
    return Patterns(len(failing), reason_groups(failing), confusion_summary(result.cases))


def labels_of(expected: Sequence[Any]) -> tuple[str, ...] | None:
    """The label set of these expected values, sorted, or None when they are not one.

    A label set: every value a string of 1 to MAX_LABEL_CHARS characters on one line (stripped), 2 to
    MAX_LABELS distinct ones (compared casefolded, as exact_match compares), and at least MIN_ASKED
    values per distinct one on average.
    """
    if not expected or not all(isinstance(v, str) and _is_label(v) for v in expected):
        return None
    spelled: dict[str, str] = {}
    for value in expected:
        spelled.setdefault(value.strip().casefold(), value.strip())
    if not 2 <= len(spelled) <= MAX_LABELS or len(expected) < MIN_ASKED * len(spelled):
        return None
    return tuple(sorted(spelled.values()))


def _is_label(value: str) -> bool:
    text = value.strip()
    return 0 < len(text) <= MAX_LABEL_CHARS and "\n" not in text


def label_of(output: str | None, labels: Sequence[str]) -> str:
    """The label an output spells: equal once stripped of whitespace, quotes, a trailing full stop and
    case; else OTHER. So `"Billing."` reads as billing, and `billing or refunds` as OTHER."""
    if output is None:
        return OTHER
    text = output.strip().casefold()
    exact = next((label for label in labels if label.strip().casefold() == text), None)
    if exact is not None:  # a label that ends in `.` or `!`, or is quoted (`U.S.`, `yes!`), spelled as it is
        return exact
    return next((label for label in labels if _spelled(label) == _spelled(output)), OTHER)


def _spelled(text: str) -> str:
    """A text stripped of whitespace, quotes, `*`, a final `.` or `!`, and case (label_of's comparison)."""
    return text.strip().strip("\"'`*").rstrip(".!").strip().casefold()


def confusion_summary(cases: Sequence[CaseResult]) -> ConfusionSummary | None:
    """Expected x output counts over the scored cases, or None when the expected values form no label set."""
    scored = [c for c in cases if c.score is not None]
    labels = labels_of([c.expected for c in cases])
    if labels is None or not scored:
        return None
    by_fold = {label.casefold(): label for label in labels}
    counts = Counter((by_fold[str(c.expected).strip().casefold()], label_of(c.output, labels)) for c in scored)
    cells = tuple(Confusion(e, o, n) for (e, o), n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    top = tuple(c for c in cells if c.expected != c.output)[:TOP]
    return ConfusionSummary(labels, len(scored), cells, top)


def reason_groups(failing: Sequence[CaseResult]) -> tuple[ReasonGroup, ...]:
    """The failing cases' reasons grouped by (dimension, normalise(reason)), the largest TOP groups first
    (ties by dimension, then reason)."""
    members: dict[tuple[str, str], list[str]] = {}
    examples: dict[tuple[str, str], str] = {}
    for case in failing:
        for text in case.reasons:
            dimension, _, reason = text.partition(": ")
            key = (dimension, normalise(reason))
            if case.id not in members.setdefault(key, []):
                members[key].append(case.id)
            examples.setdefault(key, reason)
    ranked = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
    return tuple(ReasonGroup(d, r, len(ids), tuple(ids), examples[(d, r)]) for (d, r), ids in ranked[:TOP])


# A quoted value as scorers write one (Python's repr: 'it''s' is written "it's"), cut with … or not.
_QUOTED = r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_NUMBER = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_JSON_VALUE = rf"(?:{_QUOTED}|{_NUMBER}|True|False|None|\[.*\]|\{{.*\}})"


def _quoted_output(match: re.Match[str]) -> str:
    # An empty or blank output is a fault of its own (the model said nothing), so it keeps its own group.
    return "''" if not match.group("out")[1:-1].strip() else "<text>"


# Shapes of the built-in scorers' reasons (scorers/text.py, json_output.py, numeric.py, common.py),
# rewritten so that what names the fault stays (a property, a type, a pattern, a needle) and what
# varies by case goes (the output, the expected value, positions, measured numbers). Tried in order;
# the first that matches the whole reason decides, else `_generic` applies.
_SHAPES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    # exact_match, equals: expected 'a', got 'b'
    (
        re.compile(rf"expected (?P<exp>{_QUOTED}), got (?P<out>{_QUOTED})"),
        lambda m: f"expected <text>, got {_quoted_output(m)}",
    ),
    # regex: 'output' does not match '^pattern$'
    (
        re.compile(rf"(?P<out>{_QUOTED}) does not match (?P<pattern>{_QUOTED})"),
        lambda m: f"{_quoted_output(m)} does not match {m.group('pattern')}",
    ),
    # json_valid, json_schema: invalid JSON: Expecting value at line 1 column 1
    (re.compile(r"invalid JSON: (?P<msg>.*?) at line \d+ column \d+"), lambda m: f"invalid JSON: {m.group('msg')}"),
    # json_schema: $.items[3]: 'date' is a required property
    (
        re.compile(rf"(?P<path>\$\S*): (?P<prop>{_QUOTED}) is a required property"),
        lambda m: f"{_json_path(m.group('path'))}missing property {m.group('prop')}",
    ),
    # json_schema: $.n: 'x' is not of type 'integer' (and the other messages led by the instance)
    (
        re.compile(rf"(?P<path>\$\S*): {_JSON_VALUE} (?P<rest>(?:is|does) .*)"),
        lambda m: f"{_json_path(m.group('path'))}<value> {m.group('rest')}",
    ),
    (re.compile(r"(?P<path>\$\S*): (?P<msg>.*)"), lambda m: f"{_json_path(m.group('path'))}{_generic(m['msg'])}"),
    # numeric: no number in 'output'; expected 5 ± 0.5, got 7
    (re.compile(rf"no number in (?P<out>{_QUOTED})"), lambda m: f"no number in {_quoted_output(m)}"),
    (
        re.compile(rf"expected {_NUMBER}(?P<spread> ± {_NUMBER})?, got {_NUMBER}"),
        lambda m: f"expected <n>{m.group('spread') or ''}, got <n>",
    ),
    # contains, icontains: missing 'refund', 'order' (what is missing names the fault, like a property)
    (re.compile(rf"missing {_QUOTED}(?:, {_QUOTED})*"), lambda m: m.group(0)),
    # levenshtein: similarity 0.42 < 0.8 to 'target'; similarity 0.93 to 'target'
    (
        re.compile(rf"similarity {_NUMBER} < (?P<bar>{_NUMBER}) to {_QUOTED}"),
        lambda m: f"similarity < {m.group('bar')}",
    ),
    (re.compile(rf"similarity {_NUMBER} to {_QUOTED}"), lambda m: "similarity below 1"),
)


def _json_path(path: str) -> str:
    """Where in the output, as a prefix: none for the root ($), and array positions are the case's, not
    the fault's, so $.items[3].date reads `$.items[*].date: `."""
    return "" if path == "$" else re.sub(r"\[\d+\]", "[*]", path) + ": "


def _generic(reason: str) -> str:
    """Any other reason (a judge's, a python scorer's): quoted values become <text> and numbers <n>,
    whitespace runs one space, cut to _REASON_CHARS characters."""
    text = re.sub(_QUOTED, "<text>", reason)
    text = re.sub(rf"(?<![\w.<]){_NUMBER}(?![\w.])", "<n>", text)
    text = " ".join(text.split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


def normalise(reason: str) -> str:
    """A scorer's reason with its case-specific parts replaced, so that one fault reads the same on
    every case: `$: 'date' is a required property` -> `missing property 'date'`,
    `expected 'billing', got 'refunds'` -> `expected <text>, got <text>` (see _SHAPES, then _generic)."""
    text = reason.strip()
    for shape, rewrite in _SHAPES:
        match = shape.fullmatch(text)
        if match:
            return rewrite(match)
    return _generic(text)
