"""Built-in and user scorers through the one registry: values, reasons and configuration errors."""

from __future__ import annotations

import asyncio
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest

from promptgit import scorers
from promptgit.errors import PromptgitError
from promptgit.scorers import Score, ScorerSite
from promptgit.suites import Case
from promptgit.tree import WorkTree

SUITE = "evals/support/classify.yaml"


def make_site(tmp_path: Path, files: dict[str, str] | None = None, line: int | None = 7) -> ScorerSite:
    for path, text in (files or {}).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return ScorerSite(suite_path=SUITE, line=line, tree=WorkTree(tmp_path))


def case(expected: Any = None, case_id: str = "c1", **variables: Any) -> Case:
    return Case(id=case_id, vars=variables, expected=expected, row={**variables, "expected": expected}, line=3)


async def _no_judge(model: str | None, messages: list[dict[str, str]], settings: dict[str, Any]) -> str:
    raise AssertionError("this scorer must not call a model")


def run(name: str, config: Any, output: str, expected: Any, site: ScorerSite) -> Score:
    scorer = scorers.build(name, config, site)
    return asyncio.run(scorer.score(output, expected, case(expected), _no_judge))


@pytest.fixture
def site(tmp_path: Path) -> ScorerSite:
    return make_site(tmp_path)


# -- the registry --------------------------------------------------------------------------------


def test_every_builtin_is_registered() -> None:
    assert set(scorers.names()) >= {
        "exact_match",
        "equals",
        "contains",
        "icontains",
        "regex",
        "json_valid",
        "json_schema",
        "numeric",
        "levenshtein",
        "llm_judge",
        "python",
    }


def test_unknown_scorer_names_the_suite_line_and_suggests_a_spelling(site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        scorers.build("exact_mach", None, site)
    err = caught.value
    assert (err.message, err.file, err.line, err.hint) == (
        "unknown scorer 'exact_mach'",
        SUITE,
        7,
        "did you mean 'exact_match'?",
    )


def test_a_user_scorer_is_built_exactly_like_a_builtin(site: ScorerSite) -> None:
    class Shouting:
        label = "shouting"

        def __init__(self, minimum: int) -> None:
            self.minimum = minimum

        async def score(self, output: str, expected: Any, case: Any, judge: Any) -> Score:
            return Score(1.0 if sum(c.isupper() for c in output) >= self.minimum else 0.0)

    @scorers.register("test_shouting")
    def shouting(config: Any, where: ScorerSite) -> Shouting:
        if not isinstance(config, int):
            raise PromptgitError("shouting needs a number")
        return Shouting(config)

    assert "test_shouting" in scorers.names()
    assert run("test_shouting", 3, "HEY YOU", None, site) == Score(1.0)
    assert run("test_shouting", 3, "hey", None, site) == Score(0.0)
    with pytest.raises(PromptgitError) as caught:
        scorers.build("test_shouting", "loud", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == ("shouting needs a number", SUITE, 7)
    with pytest.raises(ValueError, match="registered already"):
        scorers.register("test_shouting")(lambda config, where: Shouting(1))


# -- exact_match, equals -------------------------------------------------------------------------


def test_exact_match_trims_and_ignores_case(site: ScorerSite) -> None:
    assert run("exact_match", None, "  Billing\n", "billing", site) == Score(1.0)
    assert run("exact_match", None, "refunds", "billing", site) == Score(0.0, "expected 'billing', got 'refunds'")


def test_exact_match_compares_non_string_expected_values(site: ScorerSite) -> None:
    assert run("exact_match", None, "42", 42, site) == Score(1.0)
    assert run("exact_match", None, "42.0", 42, site) == Score(1.0)
    assert run("exact_match", None, "True", True, site) == Score(1.0)
    assert run("exact_match", None, '{ "a": [1, 2] }', {"a": [1, 2]}, site) == Score(1.0)
    assert run("exact_match", None, "1", True, site) == Score(0.0, "expected 'true', got '1'")


def test_equals_is_exact(site: ScorerSite) -> None:
    assert run("equals", None, "billing", "billing", site) == Score(1.0)
    assert run("equals", None, "billing ", "billing", site) == Score(0.0, "expected 'billing', got 'billing '")
    assert run("equals", None, "Billing", "billing", site).value == 0.0
    assert run("equals", None, "[1, 2]", [1, 2], site) == Score(1.0)


def test_a_scorer_that_needs_an_expected_value_says_which_case_lacks_it(site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        run("exact_match", None, "billing", None, site)
    assert caught.value.message == "case 'c1' has no expected value, which exact_match compares with"
    assert (caught.value.file, caught.value.line) == (SUITE, 7)


def test_scorers_without_options_refuse_a_config(site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_valid", {"strict": True}, site)
    assert caught.value.message == "json_valid takes no configuration, got {'strict': True}"
    assert (caught.value.file, caught.value.line, caught.value.hint) == (SUITE, 7, "write it bare: `- json_valid`")


# -- contains, icontains -------------------------------------------------------------------------


def test_contains_a_configured_string_or_list(site: ScorerSite) -> None:
    assert run("contains", "refund", "We will refund you.", None, site) == Score(1.0)
    assert run("contains", "Refund", "We will refund you.", None, site) == Score(0.0, "missing 'Refund'")
    assert run("contains", ["refund", "days", "order"], "refund within 5 days", None, site) == Score(
        2 / 3,
        "missing 'order'",
    )


def test_bare_contains_looks_for_the_expected_value(site: ScorerSite) -> None:
    assert run("contains", None, "The queue is billing.", "billing", site) == Score(1.0)
    assert run("contains", None, "The answer is 42.", 42, site) == Score(1.0)
    assert run("contains", None, "a and b", ["a", "c"], site) == Score(0.5, "missing 'c'")


def test_icontains_ignores_case(site: ScorerSite) -> None:
    assert run("icontains", ["REFUND", "Days"], "refund within 5 days", None, site) == Score(1.0)
    assert run("icontains", None, "BILLING", "billing", site) == Score(1.0)
    assert run("icontains", "x", "abc", None, site) == Score(0.0, "missing 'x'")


def test_contains_refuses_empty_or_non_string_configs(site: ScorerSite) -> None:
    for bad in ("", [], [1, "a"], {"text": "a"}):
        with pytest.raises(PromptgitError) as caught:
            scorers.build("contains", bad, site)
        assert caught.value.message.startswith("contains needs a non-empty string or a list of them")
        assert (caught.value.file, caught.value.line) == (SUITE, 7)


# -- regex ---------------------------------------------------------------------------------------


def test_regex_searches_the_output(site: ScorerSite) -> None:
    pattern = "^(billing|refunds)$"
    assert run("regex", pattern, "billing", None, site) == Score(1.0)
    assert run("regex", pattern, "billing\n", None, site) == Score(1.0)
    assert run("regex", r"\d{4}", "in 2026 or so", None, site) == Score(1.0)
    assert run("regex", pattern, "the billing queue", None, site) == Score(
        0.0,
        "'the billing queue' does not match '^(billing|refunds)$'",
    )


def test_bare_regex_uses_the_expected_value_as_the_pattern(site: ScorerSite) -> None:
    assert run("regex", None, "order 1234", r"order \d+", site) == Score(1.0)
    assert run("regex", None, "order x", r"order \d+", site).value == 0.0
    with pytest.raises(PromptgitError) as caught:
        run("regex", None, "x", "(", site)
    assert caught.value.message == (
        "case 'c1': invalid regular expression '(': missing ), unterminated subpattern at position 0"
    )


def test_an_invalid_pattern_is_refused_when_the_scorer_is_built(site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        scorers.build("regex", "^(billing", site)
    err = caught.value
    assert err.message == "invalid regular expression '^(billing': missing ), unterminated subpattern at position 1"
    assert (err.file, err.line) == (SUITE, 7)


# -- json_valid, json_schema ---------------------------------------------------------------------


def test_json_valid_accepts_fenced_json(site: ScorerSite) -> None:
    assert run("json_valid", None, '{"a": 1}', None, site) == Score(1.0)
    assert run("json_valid", None, '```json\n{"a": 1}\n```', None, site) == Score(1.0)
    assert run("json_valid", None, "```\n[1, 2]\n```", None, site) == Score(1.0)
    assert run("json_valid", None, "{'a': 1}", None, site) == Score(
        0.0,
        "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
    )


SCHEMA = {"type": "object", "required": ["date"], "properties": {"date": {"type": ["string", "null"]}}}


def test_json_schema_inline(site: ScorerSite) -> None:
    assert run("json_schema", SCHEMA, '{"date": "2026-03-10"}', None, site) == Score(1.0)
    assert run("json_schema", {"schema": SCHEMA}, '```json\n{"date": null}\n```', None, site) == Score(1.0)
    assert run("json_schema", SCHEMA, '{"day": 3}', None, site) == Score(0.0, "$: 'date' is a required property")
    assert run("json_schema", SCHEMA, '{"date": 3}', None, site) == Score(
        0.0,
        "$.date: 3 is not of type 'string', 'null'",
    )
    assert run("json_schema", SCHEMA, "not json", None, site) == Score(
        0.0,
        "invalid JSON: Expecting value at line 1 column 1",
    )


def test_json_schema_from_a_file_beside_the_suite(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {
            "evals/support/answer.schema.json": '{"type": "object", "required": ["queue"]}',
            "evals/support/answer.schema.yaml": "type: array\nitems: {type: integer}\n",
        },
    )
    assert run("json_schema", "answer.schema.json", '{"queue": "billing"}', None, site) == Score(1.0)
    assert run("json_schema", "answer.schema.json", "{}", None, site) == Score(0.0, "$: 'queue' is a required property")
    assert run("json_schema", {"schema": "answer.schema.yaml"}, "[1, 2]", None, site) == Score(1.0)
    assert run("json_schema", "answer.schema.yaml", '[1, "x"]', None, site) == Score(
        0.0, "$[1]: 'x' is not of type 'integer'"
    )


def test_json_schema_rejects_invalid_schemas_and_missing_files(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/bad.json": '{"type": 12}'})
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", {"type": "objekt"}, site)
    assert caught.value.message.startswith("invalid JSON schema: 'objekt' is not valid under any of the given schemas")
    assert (caught.value.file, caught.value.line) == (SUITE, 7)
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", "bad.json", site)
    assert caught.value.message.startswith("invalid JSON schema: 12 is not valid under any of the given schemas")
    assert caught.value.file == "evals/support/bad.json"
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", "missing.json", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "json_schema file 'evals/support/missing.json' not found",
        SUITE,
        7,
    )
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", 5, site)
    assert caught.value.message == "json_schema needs a schema mapping or a schema file, got 5"


def test_files_read_lists_schema_and_python_files_relative_to_the_project() -> None:
    assert scorers.files_read("json_schema", "answer.schema.json", SUITE) == ["evals/support/answer.schema.json"]
    assert scorers.files_read("json_schema", {"schema": "../shared/s.yaml"}, SUITE) == ["evals/shared/s.yaml"]
    assert scorers.files_read("json_schema", SCHEMA, SUITE) == []
    assert scorers.files_read("python", "scorers.py:tone", SUITE) == ["evals/support/scorers.py"]
    assert scorers.files_read("python", "no colon", SUITE) == []
    assert scorers.files_read("exact_match", None, SUITE) == []
    assert scorers.files_read("no_such_scorer", "x.py", SUITE) == []


# -- numeric -------------------------------------------------------------------------------------


def test_numeric_takes_the_first_number_within_an_absolute_tolerance(site: ScorerSite) -> None:
    assert run("numeric", None, "The total is 42.", 42, site) == Score(1.0)
    assert run("numeric", None, "0.30000000000000004", 0.3, site) == Score(1.0)
    assert run("numeric", 0.5, "about 41.6 units", "42", site) == Score(1.0)
    assert run("numeric", 0.5, "about 41.4 units", 42, site) == Score(0.0, "expected 42 ± 0.5, got 41.4")
    assert run("numeric", None, "It costs $1,234.50 in total", 1234.5, site) == Score(1.0)
    assert run("numeric", None, "gpt4 says -3", -3, site) == Score(1.0)
    assert run("numeric", None, "no idea", 3, site) == Score(0.0, "no number in 'no idea'")


def test_numeric_relative_tolerance(site: ScorerSite) -> None:
    config = {"tolerance": 0.05, "relative": True}
    assert run("numeric", config, "104", 100, site) == Score(1.0)
    assert run("numeric", config, "106", 100, site) == Score(0.0, "expected 100 ± 5, got 106")


def test_numeric_refuses_bad_tolerances_and_non_numeric_expected_values(site: ScorerSite) -> None:
    for bad in (-1, "close", {"tolerance": "x"}):
        with pytest.raises(PromptgitError) as caught:
            scorers.build("numeric", bad, site)
        assert caught.value.message.startswith("numeric's tolerance must be a number of at least 0")
        assert (caught.value.file, caught.value.line) == (SUITE, 7)
    with pytest.raises(PromptgitError) as caught:
        scorers.build("numeric", {"tolerence": 1}, site)
    assert (caught.value.message, caught.value.hint) == (
        "numeric has no option 'tolerence'",
        "did you mean 'tolerance'?",
    )
    with pytest.raises(PromptgitError) as caught:
        run("numeric", None, "3", "three", site)
    assert caught.value.message == "case 'c1': expected value 'three' is not a number, which numeric needs"


# -- levenshtein ---------------------------------------------------------------------------------


def test_edit_distance_and_similarity() -> None:
    assert scorers.edit_distance("kitten", "sitting") == 3
    assert scorers.edit_distance("", "abc") == 3
    assert scorers.edit_distance("flaw", "lawn") == 2
    assert scorers.similarity("", "") == 1.0
    assert scorers.similarity("abcd", "abed") == 0.75


def _table_distance(a: str, b: str) -> int:
    """The textbook DP table: the oracle for the bit-parallel edit_distance."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def test_edit_distance_equals_the_dp_table_on_random_strings() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        alphabet = rng.choice(["ab", "abc", "abcdefgh", "aé😀 \n"])
        a, b = ("".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(2))
        assert scorers.edit_distance(a, b) == _table_distance(a, b), (a, b)
    long_a, long_b = ("".join(rng.choices("abcdefghij ", k=300)) for _ in range(2))
    assert scorers.edit_distance(long_a, long_b) == _table_distance(long_a, long_b)


def test_levenshtein_is_the_normalised_similarity(site: ScorerSite) -> None:
    assert run("levenshtein", None, " billing\n", "billing", site) == Score(1.0)
    assert run("levenshtein", None, "kitten", "sitting", site) == Score(4 / 7, "similarity 0.57 to 'sitting'")


def test_levenshtein_with_a_threshold_is_pass_fail(site: ScorerSite) -> None:
    assert run("levenshtein", {"threshold": 0.7}, "abcd", "abed", site) == Score(1.0)
    assert run("levenshtein", {"threshold": 0.8}, "abcd", "abed", site) == Score(0.0, "similarity 0.75 < 0.8 to 'abed'")
    with pytest.raises(PromptgitError) as caught:
        scorers.build("levenshtein", {"threshold": 2}, site)
    assert caught.value.message == "levenshtein's threshold must be a number in [0, 1], got 2"


# -- llm_judge -----------------------------------------------------------------------------------


class FakeJudge:
    """Records what it was asked and answers with a canned reply."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[tuple[str | None, list[dict[str, str]], dict[str, Any]]] = []

    async def __call__(self, model: str | None, messages: list[dict[str, str]], settings: dict[str, Any]) -> str:
        self.calls.append((model, messages, settings))
        return self.reply


def judge_score(
    site: ScorerSite, config: dict[str, Any], reply: str, output: str = "billing"
) -> tuple[Score, FakeJudge]:
    judge = FakeJudge(reply)
    scorer = scorers.build("llm_judge", config, site)
    the_case = case("billing", ticket="I was charged twice")
    return asyncio.run(scorer.score(output, "billing", the_case, judge)), judge


def test_llm_judge_passes_with_the_judges_reasoning(site: ScorerSite) -> None:
    config = {"rubric": "Names exactly one queue", "model": "openai/gpt-4o-mini"}
    score, judge = judge_score(site, config, "PASS\nbecause it names one queue.")
    assert score == Score(1.0, "because it names one queue.")
    [(model, messages, settings)] = judge.calls
    assert model == "openai/gpt-4o-mini"
    assert settings == {"temperature": 0}
    assert [m["role"] for m in messages] == ["system", "user"]
    prompt = messages[1]["content"]
    assert "Names exactly one queue" in prompt
    assert "ticket: I was charged twice" in prompt
    assert "## Expected answer\nbilling" in prompt
    assert "## Output to grade\nbilling" in prompt


def test_llm_judge_fails_and_keeps_settings_and_default_model(site: ScorerSite) -> None:
    config = {"rubric": "Polite", "settings": {"max_tokens": 200, "temperature": 0.2}}
    score, judge = judge_score(site, config, "FAIL: the answer is rude.", output="go away")
    assert score == Score(0.0, "the answer is rude.")
    [(model, _, settings)] = judge.calls
    assert model is None  # the engine substitutes its default judge model
    assert settings == {"temperature": 0.2, "max_tokens": 200}


@pytest.mark.parametrize(
    ("reply", "passed", "reasoning"),
    [
        ("**Verdict:** FAIL - names two queues", False, "names two queues"),
        ("It names a single queue.\nPASS", True, "It names a single queue."),
        ("pass", True, None),
        ('{"verdict": "PASS", "why": "ok"}', True, '{"verdict": "PASS", "why": "ok"}'),
        ("The output FAILED the rubric.", False, "The output FAILED the rubric."),
    ],
)
def test_judge_verdicts_are_parsed_robustly(reply: str, passed: bool, reasoning: str | None) -> None:
    assert scorers.parse_verdict(reply) == scorers.JudgeVerdict(passed, reasoning)


def test_a_reply_without_a_verdict_is_a_judge_error_not_a_failure() -> None:
    for reply in ("I think it is fine", "It could PASS or FAIL"):
        with pytest.raises(scorers.JudgeReplyError):
            scorers.parse_verdict(reply)


def test_llm_judge_config_errors(site: ScorerSite) -> None:
    cases = [
        ("be nice", "llm_judge needs a mapping, got 'be nice'"),
        ({"model": "m"}, "llm_judge needs a rubric"),
        ({"rubric": "x", "rubrik": "y"}, "llm_judge has no option 'rubrik'"),
        ({"rubric": "x", "settings": ["t"]}, "llm_judge's settings must be a mapping of model settings, got ['t']"),
    ]
    for config, message in cases:
        with pytest.raises(PromptgitError) as caught:
            scorers.build("llm_judge", config, site)
        assert (caught.value.message, caught.value.file, caught.value.line) == (message, SUITE, 7)


# -- python --------------------------------------------------------------------------------------

USER_SCORERS = """\
    import json

    def as_float(output, expected, case):
        return 0.25 if output == expected else 0.75

    def as_bool(output, expected, case):
        return output.startswith(expected)

    def as_dict(output, expected, case):
        return {"score": 0.5, "reason": f"case {case.id}: half marks"}

    async def as_async(output, expected, case):
        return True

    def crashes(output, expected, case):
        return json.loads(output)["missing"]

    def too_big(output, expected, case):
        return 3

    def one_argument(output):
        return 1.0
"""


@pytest.fixture
def python_site(tmp_path: Path) -> ScorerSite:
    return make_site(tmp_path, {"evals/support/scorers.py": USER_SCORERS})


def test_python_scorers_return_float_bool_dict_or_await(python_site: ScorerSite) -> None:
    assert run("python", "scorers.py:as_float", "a", "b", python_site) == Score(0.75)
    assert run("python", "scorers.py:as_bool", "billing queue", "billing", python_site) == Score(1.0)
    assert run("python", "scorers.py:as_bool", "refunds", "billing", python_site) == Score(0.0)
    assert run("python", "scorers.py:as_dict", "x", "y", python_site) == Score(0.5, "case c1: half marks")
    assert run("python", "scorers.py:as_async", "x", "y", python_site) == Score(1.0)
    assert scorers.build("python", "scorers.py:as_dict", python_site).label == "python:as_dict"


def test_python_scorer_code_comes_from_the_tree_not_an_import(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/scorers.py": "def tone(output, expected, case):\n    return 1.0\n"})
    assert run("python", "scorers.py:tone", "x", None, site) == Score(1.0)
    (tmp_path / "evals/support/scorers.py").write_text("def tone(output, expected, case):\n    return 0.0\n")
    assert run("python", "scorers.py:tone", "x", None, site) == Score(0.0)


def test_python_scorer_config_problems_name_the_file_and_line(tmp_path: Path, python_site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "scorers.py:as_flaot", python_site)
    err = caught.value
    assert (err.message, err.file, err.line, err.hint) == (
        "evals/support/scorers.py has no function 'as_flaot'",
        SUITE,
        7,
        "did you mean 'as_float'?",
    )
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "other.py:tone", python_site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "python scorer file 'evals/support/other.py' not found",
        SUITE,
        7,
    )
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "scorers.py", python_site)
    assert caught.value.message == "python needs `file.py:function`, got 'scorers.py'"
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "scorers.py:one_argument", python_site)
    assert caught.value.message == "evals/support/scorers.py:one_argument must take (output, expected, case)"


def test_a_syntax_error_in_a_scorer_file_names_its_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/broken.py": "def tone(output, expected, case)\n    return 1\n"})
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "broken.py:tone", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "syntax error in scorer file: expected ':'",
        "evals/support/broken.py",
        1,
    )


def test_a_scorer_file_that_fails_to_load_names_its_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/loads.py": "X = 1\nY = 1 / 0\n"})
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "loads.py:tone", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "scorer file failed to load: ZeroDivisionError: division by zero",
        "evals/support/loads.py",
        2,
    )


def test_a_crash_in_user_scorer_code_is_an_error_naming_the_file_and_case(python_site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        run("python", "scorers.py:crashes", "{}", "x", python_site)
    err = caught.value
    assert err.message == "python scorer evals/support/scorers.py:crashes raised KeyError: 'missing' (case 'c1')"
    assert (err.file, err.line) == ("evals/support/scorers.py", 16)


def test_a_bad_return_value_is_an_error_naming_the_function(python_site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        run("python", "scorers.py:too_big", "x", "y", python_site)
    err = caught.value
    assert err.message == (
        "python scorer evals/support/scorers.py:too_big returned 3 for case 'c1': a score must lie in [0, 1], not 3"
    )
    assert (err.file, err.line) == ("evals/support/scorers.py", 18)


# -- coerce --------------------------------------------------------------------------------------


def test_coerce_python_return_values() -> None:
    assert scorers.coerce(True) == Score(1.0)
    assert scorers.coerce(False) == Score(0.0)
    assert scorers.coerce(1) == Score(1.0)
    assert scorers.coerce(0.4) == Score(0.4)
    assert scorers.coerce({"score": 0.5}) == Score(0.5)
    assert scorers.coerce({"score": True, "reason": "ok"}) == Score(1.0, "ok")
    for bad, message in [
        (1.5, "a score must lie in [0, 1], not 1.5"),
        (float("nan"), "a score must lie in [0, 1], not nan"),
        ("0.5", "a score must be a number or a bool, not str"),
        ({"value": 1}, "a dict result needs a 'score' key and at most a 'reason' key (unknown: 'value')"),
        (None, "a score must be a number or a bool, not NoneType"),
    ]:
        with pytest.raises(ValueError) as caught:
            scorers.coerce(bad)  # type: ignore[arg-type]
        assert str(caught.value) == message
