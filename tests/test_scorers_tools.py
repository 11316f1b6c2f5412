"""The tool_call scorer on its own: how calls pair, and the configurations and expected values it refuses."""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest

from promptgit.errors import PromptgitError
from promptgit.scorers import ScorerSite
from promptgit.toolcalls import Output, parse_call
from tests.scorers_support import run, site_fixture  # noqa: F401  (the `site` fixture)


def reply(*calls: tuple[str, str]) -> Output:
    return Output("", [parse_call(name, arguments) for name, arguments in calls])


@pytest.mark.parametrize(
    ("config", "calls", "expected", "score", "reason"),
    [
        (None, [("a", '{"x": 1}')], {"name": "a", "arguments": {"x": 1}}, 1.0, None),
        (None, [("a", '{"x": 1}')], {"name": "a", "arguments": {"x": True}}, 0.0, "a: x: expected true, got 1"),
        (None, [("a", '{"x": 1.0}')], {"name": "a", "arguments": {"x": 1}}, 1.0, None),
        (None, [("a", '{"x": "1"}')], {"name": "a", "arguments": {"x": 1}}, 0.0, 'a: x: expected 1, got "1"'),
        (None, [("a", '{"x": 1, "y": 2}')], {"name": "a", "arguments": {"x": 1}}, 0.0, "a: unexpected argument y"),
        (
            None,
            [("a", '{"o": {"p": 1}}')],
            {"name": "a", "arguments": {"o": {"p": 2}}},
            0.0,
            "a: o.p: expected 2, got 1",
        ),
        ({"match": "subset"}, [("a", '{"x": 1, "y": 2}')], {"name": "a", "arguments": {"x": 1}}, 1.0, None),
        (
            {"match": "subset"},
            [("a", '{"o": {"p": 1, "q": 2}}')],
            {"name": "a", "arguments": {"o": {"p": 1}}},
            1.0,
            None,
        ),
        ({"match": "subset"}, [("a", '{"y": 2}')], {"name": "a", "arguments": {"x": 1}}, 0.0, "a: missing argument x"),
        (None, [], "a", 0.0, "expected a call to a, the reply called no tool"),
        (None, [("a", "{}"), ("b", "{}")], "a", 0.5, "unexpected call b()"),
        (None, [("b", "{}"), ("a", "{}")], ["a", "b"], 1.0, None),
        (None, [("a", "{}")], ["a", "a"], 0.5, "expected a call to a, the reply called a"),
        (None, [("a", "{}")], [], 0.0, "unexpected call a()"),
        (None, [], "[]", 1.0, None),
        (None, [("a", '{"x": 1}')], '{"name": "a", "arguments": {"x": 1}}', 1.0, None),
        (
            None,
            [("a", "{x")],
            "a",
            0.0,
            "arguments of a are not JSON: Expecting property name enclosed in double quotes at column 2",
        ),
    ],
)
def test_calls_pair_with_the_expected_ones(
    site: ScorerSite, config: Any, calls: list, expected: Any, score: float, reason: str | None
) -> None:
    result = run("tool_call", config, reply(*calls), expected, site)
    assert (result.value, result.reason) == (score, reason)


def test_a_plain_string_output_has_no_calls(site: ScorerSite) -> None:
    assert run("tool_call", None, "", [], site).value == 1.0
    assert (
        run("tool_call", None, "search(q=1)", "search", site).reason
        == "expected a call to search, the reply called no tool"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"match": "fuzzy"}, "tool_call's match must be one of exact, subset, schema, not 'fuzzy'"),
        ({"feild": "calls"}, "tool_call has no option 'feild'"),
        ({"field": 3}, "tool_call's field must name a dataset field, not 3"),
        ("calls", "tool_call needs a mapping, got 'calls'"),
    ],
)
def test_bad_configurations_are_refused(site: ScorerSite, config: Any, message: str) -> None:
    with pytest.raises(PromptgitError) as caught:
        run("tool_call", config, reply(), "a", site)
    assert caught.value.message == message
    assert (caught.value.file, caught.value.line) == ("evals/support/classify.yaml", 7)


@pytest.mark.parametrize(
    ("config", "expected", "message"),
    [
        (None, None, "case 'c1' has no expected value, which tool_call compares with"),
        (None, {"nme": "a"}, "case 'c1': an expected call is a function name or {name, arguments}, not"),
        (None, [{"name": "a", "args": {}}], "case 'c1': an expected call is a function name or {name, arguments}"),
        (None, [3], "case 'c1': an expected call is a function name or {name, arguments}, not 3"),
        (None, '{"name": ', "case 'c1': the expected calls are not JSON: Expecting value"),
        ({"match": "schema"}, {"name": "a", "arguments": [1]}, "case 'c1': with match: schema, the arguments of a"),
        ({"field": "calls"}, "a", "case 'c1' has no field 'calls', which tool_call reads its expected calls from"),
    ],
)
def test_malformed_expected_calls_are_refused(site: ScorerSite, config: Any, expected: Any, message: str) -> None:
    with pytest.raises(PromptgitError) as caught:
        run("tool_call", config, reply(("a", "{}")), expected, site)
    assert caught.value.message.startswith(message)


def test_check_finds_a_malformed_expected_call_before_any_call(write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/p.jinja": "---\ntools: [{type: function, function: {name: a}}]\n---\n{{ q }}\n",
            "evals/p.yaml": "prompt: p\ncases:\n  - {id: ok, q: x, expected: a}\n"
            "  - {id: bad, q: y, expected: {nme: a}}\nscorers: [tool_call]\n",
        }
    )
    result = run_cli(["check"], root)
    assert result.code == 1
    assert "error: evals/p.yaml:5: case 'bad': an expected call is a function name or {name, arguments}" in result.err


ANY_A = {"name": "a"}


def a(**arguments: Any) -> dict[str, Any]:
    return {"name": "a", "arguments": arguments}


# Each case: in-order greedy pairing scored less, because an early expected call took a made call a
# later one needed. The maximum matching finds the perfect (or best) pairing.
GREEDY_WAS_WRONG = [
    # the example: the any-call took a(x=1), which the second expected call needed
    (None, [("a", '{"x": 1}'), ("a", '{"x": 2}')], [ANY_A, a(x=1)], 1.0, None),
    # subset: the looser expected call took the only call the stricter one fits
    (
        {"match": "subset"},
        [("a", '{"x": 1, "y": 2}'), ("a", '{"x": 1, "z": 3}')],
        [a(x=1), a(x=1, y=2)],
        1.0,
        None,
    ),
    # schema: a permissive schema took the only call that has the required argument
    (
        {"match": "schema"},
        [("a", '{"q": 1}'), ("a", "{}")],
        [a(type="object"), a(type="object", required=["q"])],
        1.0,
        None,
    ),
    # a chain of three: the any-call must move to the last call for both exact calls to pair
    (None, [("a", '{"x": 1}'), ("a", '{"x": 2}'), ("a", '{"x": 3}')], [ANY_A, a(x=1), a(x=2)], 1.0, None),
    # no perfect pairing exists, but greedy (1/3) missed the best one (2/3)
    (
        None,
        [("a", '{"x": 1}'), ("a", '{"x": 5}')],
        [ANY_A, a(x=1), {"name": "b"}],
        2 / 3,
        "expected a call to b, the reply called a, a",
    ),
]


@pytest.mark.parametrize(("config", "calls", "expected", "score", "reason"), GREEDY_WAS_WRONG)
def test_the_best_pairing_counts_not_the_first(
    site: ScorerSite, config: Any, calls: list, expected: Any, score: float, reason: str | None
) -> None:
    result = run("tool_call", config, reply(*calls), expected, site)
    assert (result.value, result.reason) == (score, reason)


@pytest.mark.parametrize(("config", "calls", "expected", "score", "reason"), GREEDY_WAS_WRONG)
def test_the_order_of_made_calls_does_not_change_the_score(
    site: ScorerSite, config: Any, calls: list, expected: Any, score: float, reason: str | None
) -> None:
    scores = {run("tool_call", config, reply(*order), expected, site).value for order in permutations(calls)}
    assert scores == {score}


def test_reasons_name_the_unmatched_expected_call_and_the_unexpected_one(site: ScorerSite) -> None:
    calls = [("a", '{"x": 2}'), ("a", '{"x": 1}'), ("c", "{}")]
    result = run("tool_call", None, reply(*calls), [ANY_A, a(x=1), a(x=3)], site)
    assert (result.value, result.reason) == (2 / 3, "a: x: expected 3, got 2; unexpected call c()")
