"""Failure patterns (issue 14, part 2): the label-set rule, a confusion summary with exact counts from a scripted
test-server run, and failures grouped by normalised reason, on reasons the built-in scorers really write."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit import patterns
from promptgit.evaluate import CaseResult
from promptgit.patterns import Confusion, confusion_summary, find_patterns, label_of, labels_of, normalise
from promptgit.scorers import ScorerSite, build
from tests.conftest import Result
from tests.openai_server import Server

SITE = ScorerSite("evals/x.yaml", 1, None)  # type: ignore[arg-type]  # no scorer used here reads a file


def reason(kind: str, config: Any, output: str, expected: Any = None) -> str:
    """The reason a built-in scorer gives for `output` (it must mark it down)."""
    score = asyncio.run(build(kind, config, SITE).score(output, expected, {"id": "c"}, None))  # type: ignore[arg-type]
    assert score.value < 1 and score.reason is not None
    return score.reason


SCHEMA = {
    "type": "object",
    "required": ["date", "n"],
    "properties": {
        "n": {"type": "integer"},
        "tier": {"enum": ["a", "b"]},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
}


# (scorer, config, two outputs that fail the same way, expected, the normalised reason both get)
SAME_FAULT = [
    ("exact_match", None, ("refunds", "technical_support"), "billing", "expected <text>, got <text>"),
    ("exact_match", None, ("", "  "), "billing", "expected <text>, got ''"),
    ("equals", None, ('{"a": 2}', "[1]"), {"a": 1}, "expected <text>, got <text>"),
    ("regex", "^[a-z_]+$", ("BILLING", "it's billing"), None, "<text> does not match '^[a-z_]+$'"),
    (
        "json_valid",
        None,
        ("{oops", "\n {'a': 1}"),  # line 1 column 2, line 2 column 3
        None,
        "invalid JSON: Expecting property name enclosed in double quotes",
    ),
    ("json_valid", None, ("Sure! {}", "\n\nn/a"), None, "invalid JSON: Expecting value"),
    ("json_schema", {"schema": SCHEMA}, ('{"n": 1}', '{"n": 7, "x": "y"}'), None, "missing property 'date'"),
    (
        "json_schema",
        {"schema": SCHEMA},
        ('{"date": 1, "n": "x"}', '{"date": 1, "n": 2.5}'),
        None,
        "$.n: <value> is not of type 'integer'",
    ),
    (
        "json_schema",
        {"schema": SCHEMA},
        ('{"date": 1, "n": 1, "items": [{}]}', '{"date": 1, "n": 1, "items": [{"sku": 1}, {}]}'),
        None,
        "$.items[*]: missing property 'sku'",
    ),
    (
        "json_schema",
        {"schema": SCHEMA},
        ('{"date": 1, "n": 1, "tier": "z"}', '{"date": 1, "n": 1, "tier": 3}'),
        None,
        "$.tier: <value> is not one of ['a', 'b']",
    ),
    ("numeric", None, ("about seven", "n/a"), 5, "no number in <text>"),
    ("numeric", {"tolerance": 0.5}, ("7", "3.2"), 5, "expected <n> ± 0.5, got <n>"),
    ("contains", ["refund", "order"], ("nothing", "no way"), None, "missing 'refund', 'order'"),
    ("levenshtein", {"threshold": 0.8}, ("helo", "hi"), "hello world", "similarity < 0.8"),
    ("levenshtein", None, ("hello wrld", "hello wor"), "hello world", "similarity below 1"),
]


@pytest.mark.parametrize(("kind", "config", "outputs", "expected", "normal"), SAME_FAULT)
def test_one_fault_reads_the_same_on_every_case(
    kind: str, config: Any, outputs: tuple[str, str], expected: Any, normal: str
) -> None:
    first, second = (reason(kind, config, output, expected) for output in outputs)
    assert normalise(first) == normalise(second) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        # A judge's or a python scorer's free text: quoted values and numbers go, words stay.
        ("tone scored 0.31 on 'Dear sir,'", "tone scored <n> on <text>"),
        ("the reply  names\nthe wrong   order 4471", "the reply names the wrong order <n>"),
        ("no greeting", "no greeting"),
        ("x" * 200, "x" * 119 + "…"),
        # A different property or type is a different fault.
        ("$: 'total' is a required property", "missing property 'total'"),
        ("$.n: 3 is not of type 'string'", "$.n: <value> is not of type 'string'"),
    ],
)
def test_other_reasons_normalise_generically(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


def case(id: str, passed: bool | None, *reasons: str, expected: Any = "x", output: str = "y") -> CaseResult:
    score = None if passed is None else (1.0 if passed else 0.0)
    error = "boom" if passed is None else None
    return CaseResult(
        id, score, passed, expected, (output,), (score,) if score is not None else (), 1.0, reasons, error
    )


def test_failures_group_by_scorer_and_normalised_reason() -> None:
    cases = [
        case("a", False, "json_schema: $: 'date' is a required property", "python:tone: tone 0.2"),
        case("b", False, "json_schema: $: 'date' is a required property"),
        case("c", False, "json_schema: $.n: 'x' is not of type 'integer'", "python:tone: tone 0.4"),
        case(
            "d", False, "json_schema: $: 'date' is a required property", "json_schema: $: 'date' is a required property"
        ),
        case("e", True, "json_schema: $: 'date' is a required property"),  # passed: not a failure
        case("f", None),  # an error: not a failure
        case("g", False, "regex: 'A' does not match '^a$'"),
        case("h", False),  # failed with no reason given
    ]
    groups = patterns.reason_groups([c for c in cases if c.passed is False])
    assert [(str(g), g.cases) for g in groups] == [
        ("json_schema: missing property 'date'  x3", ("a", "b", "d")),  # d once, though its reason came twice
        ("python:tone: tone <n>  x2", ("a", "c")),
        ("json_schema: $.n: <value> is not of type 'integer'  x1", ("c",)),
        ("regex: <text> does not match '^a$'  x1", ("g",)),
    ]
    assert groups[1].example == "tone 0.2"


def test_only_the_largest_groups_are_kept() -> None:
    failing = [case(f"c{i}", False, f"python:f: fault{'' if i < 2 else i}") for i in range(9)]
    groups = patterns.reason_groups(failing)
    assert len(groups) == patterns.TOP == 5
    assert str(groups[0]) == "python:f: fault  x2"


@pytest.mark.parametrize(
    ("expected", "labels"),
    [
        (["b", "a", "b", "a"], ("a", "b")),
        (["Billing", "billing ", "refunds", "REFUNDS"], ("Billing", "refunds")),  # compared casefolded, stripped
        ([f"l{i}" for i in range(20)] * 2, tuple(sorted(f"l{i}" for i in range(20)))),  # 20: the most
        ([f"l{i}" for i in range(21)] * 2, None),  # 21 distinct: an open answer
        (["a", "a", "a"], None),  # one label is no set
        (["a", "b", "c", "a", "b"], None),  # 5 cases, 3 labels: fewer than two each on average
        (["a" * 40, "b", "a" * 40, "b"], ("a" * 40, "b")),
        (["a" * 41, "b", "a" * 41, "b"], None),  # a sentence, not a label
        (["a\nb", "c", "a\nb", "c"], None),
        (["a", 1, "a", 1], None),  # not all strings
        ([{"x": 1}, "a", "b", "a"], None),
        ([], None),
    ],
)
def test_the_label_set_rule(expected: list[Any], labels: tuple[str, ...] | None) -> None:
    assert labels_of(expected) == labels


@pytest.mark.parametrize(
    ("output", "label"),
    [
        ("billing", "billing"),
        (" Billing.\n", "billing"),
        ('"REFUNDS"', "refunds"),
        ("**billing**", "billing"),
        ("billing or refunds", patterns.OTHER),
        ("", patterns.OTHER),
        (None, patterns.OTHER),
    ],
)
def test_an_output_reads_as_the_label_it_spells(output: str | None, label: str) -> None:
    assert label_of(output, ("billing", "refunds")) == label


def test_no_confusion_summary_without_a_label_set() -> None:
    assert confusion_summary([case(f"c{i}", False, expected=f"free text {i}") for i in range(6)]) is None


# The scripted run: six cases per queue, the fake model's reply given per case.
REPLIES = {
    "refunds": ["billing", "billing", "billing", "billing", "Billing.", "refunds"],
    "billing": ["refunds", "refunds", "billing", "billing", "billing", "billing"],
    "technical_support": ["not sure", *["TECHNICAL_SUPPORT"] * 5],
    "account_access": ["account_access"] * 6,
}


def test_a_confusion_summary_counts_a_scripted_run_exactly(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    rows = [
        {"id": f"{label[:3]}{i}", "text": f"t {label} {i}", "label": label, "reply": reply}
        for label, replies in REPLIES.items()
        for i, reply in enumerate(replies)
    ]
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\nconcurrency: 8\n",
            "prompts/route.jinja": "---\nmax_tokens: 8\n---\nuser:\nTicket {{ text }}\nANSWER: {{ reply }}\n",
            "evals/route.yaml": "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"
            "threshold: 0.1\n",
            "evals/cases.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
        }
    )
    result = run_cli(["eval", "--json"], root)
    [suite] = json.loads(result.out)["suites"]
    found = suite["patterns"]
    assert found["failed"] == 8  # "Billing." fails exact_match, yet reads as billing in the confusion summary
    assert found["top"] == "refunds -> billing  5"
    confusion = found["confusion"]
    assert confusion["labels"] == ["account_access", "billing", "refunds", "technical_support"]
    assert confusion["cases"] == 24
    assert confusion["counts"] == [
        {"expected": "account_access", "output": "account_access", "count": 6},
        {"expected": "refunds", "output": "billing", "count": 5},
        {"expected": "technical_support", "output": "technical_support", "count": 5},
        {"expected": "billing", "output": "billing", "count": 4},
        {"expected": "billing", "output": "refunds", "count": 2},
        {"expected": "refunds", "output": "refunds", "count": 1},
        {"expected": "technical_support", "output": "(other)", "count": 1},
    ]
    assert confusion["top"] == [
        {"expected": "refunds", "output": "billing", "count": 5},
        {"expected": "billing", "output": "refunds", "count": 2},
        {"expected": "technical_support", "output": "(other)", "count": 1},
    ]
    [group] = found["reasons"]
    assert (group["scorer"], group["reason"], group["count"]) == ("exact_match", "expected <text>, got <text>", 8)
    assert group["cases"] == ["ref0", "ref1", "ref2", "ref3", "ref4", "bil0", "bil1", "tec0"]
    text = run_cli(["eval"], root).out
    assert (
        "  top confusions (expected -> output, of 24 scored cases):\n"
        "    refunds -> billing  5\n"
        "    billing -> refunds  2\n"
        "    technical_support -> (other)  1\n"
        "  failures by reason (of 8 failing cases):\n"
        "    exact_match: expected <text>, got <text>  x8"
    ) in text


def test_patterns_of_a_result_with_nothing_failing_are_empty() -> None:
    from promptgit import stats
    from promptgit.evaluate import SuiteResult

    cases = tuple(case(f"c{i}", True, expected="ab"[i % 2], output="ab"[i % 2]) for i in range(4))
    result = SuiteResult("s", "p", "evals/s.yaml", "f", "r", 1.0, stats.Interval(0.5, 1.0), cases, None, None, 1)
    found = find_patterns(result)
    assert (found.failed, found.reasons, found.top) == (0, (), None)
    assert found.confusion is not None and found.confusion.top == ()
    assert found.confusion.cells == (Confusion("a", "a", 2), Confusion("b", "b", 2))
    assert found.confusion.count("a", "b") == 0
