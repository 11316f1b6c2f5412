"""Per-dimension scores (issue 14, part 1): each scorer's own score and interval in `eval`, its paired delta in
`diff`, `name:` on a scorer, through the real CLI, real SQLite and real HTTP to the local test server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit import stats
from promptgit.errors import PromptgitError
from promptgit.project import open_project
from promptgit.suites import load_suite
from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server

SETTINGS = "defaults: {model: openai/test-model, temperature: 0}\nconcurrency: 8\n"
TWO_SCORERS = "scorers:\n  - exact_match\n  - regex: '^[a-z_]+$'\n    name: lowercase\n"


def prompt(field: str) -> str:
    """A prompt whose fake-model answer is the dataset field `field`."""
    return f"---\nmax_tokens: 8\n---\nsystem:\nRoute it.\nuser:\nTicket {{{{ text }}}}\nANSWER: {{{{ {field} }}}}\n"


def project(rows: list[dict[str, str]], scorers: str = TWO_SCORERS, extra: str = "") -> dict[str, str]:
    return {
        "promptgit.yaml": SETTINGS,
        "prompts/route.jinja": prompt("a"),
        "evals/route.yaml": f"prompt: route\ndataset: cases.jsonl\nexpected: label\n{scorers}threshold: 0.1\n{extra}",
        "evals/cases.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
    }


def ten_rows() -> list[dict[str, str]]:
    """c0-c3 right in lower case, c4-c6 right in upper case, c7-c8 wrong in lower case, c9 wrong in upper case.

    exact_match (case-blind) passes 7 of 10, lowercase 6 of 10; each case's score is their mean.
    """
    replies = ["billing"] * 4 + ["BILLING"] * 3 + ["refunds"] * 2 + ["REFUNDS"]
    return [{"id": f"c{i}", "text": f"t{i}", "label": "billing", "a": r} for i, r in enumerate(replies)]


def run_json(run_cli: Callable[..., Result], root: Path, args: list[str]) -> dict:
    result = run_cli([*args, "--json"], root)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_each_scorer_has_its_score_and_interval_by_the_suite_method(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = write(project(ten_rows()))
    [suite] = run_json(run_cli, root, ["eval"])["suites"]
    assert suite["score"] == 0.65
    assert suite["scorers"] == [
        {"name": "exact_match", "score": 0.7, "ci": [0.396778, 0.892209]},
        {"name": "lowercase", "score": 0.6, "ci": [0.312674, 0.83182]},
    ]
    # The same method as the suite score: pass/fail cases with one repeat get Wilson's interval.
    assert stats.wilson_interval(7, 10) == stats.Interval(0.396778147, 0.892208733)
    text = run_cli(["eval"], root).out
    assert "per scorer" in text
    assert "route  exact_match  70.0% [39.7, 89.2]" in text
    assert "route  lowercase    60.0% [31.3, 83.2]" in text


def test_case_results_carry_each_scorers_values_per_repeat(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    from promptgit.evaluate import plan_suites, results_for
    from promptgit.store import Store

    root = write(project(ten_rows(), extra="repeat: 2\n"))
    opened = open_project(start=root)
    with Store(opened.store_path) as store:
        [result] = results_for(opened, store, plan_suites(opened)).values()
    by_id = result.by_id()
    assert [(d.name, d.repeats) for d in by_id["c4"].dimensions] == [
        ("exact_match", (1.0, 1.0)),
        ("lowercase", (0.0, 0.0)),
    ]
    assert [(d.name, d.score) for d in by_id["c9"].dimensions] == [("exact_match", 0.0), ("lowercase", 0.0)]
    # Repeats that agree add nothing: still Wilson at 7 of 10, not 14 of 20.
    assert [(s.name, s.score, s.ci) for s in result.scorers] == [
        ("exact_match", 0.7, stats.wilson_interval(7, 10)),
        ("lowercase", 0.6, stats.wilson_interval(6, 10)),
    ]


def test_one_scorer_shows_no_second_table(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = write(project(ten_rows(), scorers="scorers: [exact_match]\n"))
    [suite] = run_json(run_cli, root, ["eval"])["suites"]
    assert suite["scorers"] == [{"name": "exact_match", "score": 0.7, "ci": [0.396778, 0.892209]}]
    assert "per scorer" not in run_cli(["eval"], root).out


@pytest.mark.parametrize(
    ("scorers", "message", "line"),
    [
        # Unnamed scorers of one kind and one configuration are one scorer written twice (test_dimension_names.py).
        (
            "scorers:\n  - regex: '^a'\n  - regex: '^a'\n",
            "the regex scorer repeats the one on line 5 (same kind and configuration)",
            6,
        ),
        # A name may not take another scorer's kind name...
        ("scorers:\n  - exact_match\n  - contains: x\n    name: exact_match\n", "both named 'exact_match'", 6),
        # ...nor another's given name...
        ("scorers:\n  - equals\n  - {contains: x, name: one}\n  - {icontains: y, name: one}\n", "both named 'one'", 7),
        # ...and python scorers are named by their function, as the store labels them.
        (
            "scorers:\n  - python: s.py:tone\n  - {exact_match: null, name: 'python:tone'}\n",
            "both named 'python:tone'",
            6,
        ),
        ("scorers:\n  - {exact_match: null, name: 'two words'}\n", "cannot use 'two words' as a scorer's name", 5),
        ("scorers:\n  - {exact_match: null, name: 3}\n", "cannot use 3 as a scorer's name", 5),
        ("scorers:\n  - {exact_match: null, name: ''}\n", "cannot use '' as a scorer's name", 5),
    ],
)
def test_scorer_names_are_unique_and_short(write: Callable[..., Path], scorers: str, message: str, line: int) -> None:
    root = write(project(ten_rows(), scorers=scorers) | {"evals/s.py": "def tone(o, e, c):\n    return 1.0\n"})
    opened = open_project(start=root)
    with pytest.raises(PromptgitError) as raised:
        load_suite(opened.tree, opened.settings, "route")
    assert message in raised.value.message
    assert (raised.value.file, raised.value.line) == ("evals/route.yaml", line)


def test_a_named_scorer_keeps_its_weight_and_config(write: Callable[..., Path]) -> None:
    root = write(
        project(ten_rows(), scorers="scorers:\n  - {regex: '^b', weight: 2, name: starts_b}\n  - regex: 'g$'\n")
    )
    opened = open_project(start=root)
    suite = load_suite(opened.tree, opened.settings, "route")
    assert [(s.name, s.config, s.weight, s.dimension) for s in suite.scorers] == [
        ("regex", "^b", 2.0, "starts_b"),
        ("regex", "g$", 1.0, "regex"),
    ]


def diff_rows() -> list[dict[str, str]]:
    """Base answers `a`, head answers `b`. c0-c5: base right in upper case, head right in lower case.
    c6-c11: base wrong in lower case, head right in upper case. So exact_match goes 6/12 -> 12/12 (6 up),
    lowercase stays 6/12 (6 up, 6 down), the suite (their mean per case) 0.5 -> 0.75."""
    rows = []
    for i in range(12):
        a, b = ("BILLING", "billing") if i < 6 else ("refunds", "BILLING")
        rows.append({"id": f"c{i:02d}", "text": f"t{i}", "label": "billing", "a": a, "b": b})
    return rows


def test_diff_gives_each_scorer_its_paired_delta(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    repo.commit("answers a", project(diff_rows()))
    (repo.path / "prompts/route.jinja").write_text(prompt("b"))
    [suite] = run_json(run_cli, repo.path, ["diff"])["suites"]
    assert (suite["base_score"], suite["head_score"], suite["delta"], suite["up"], suite["down"]) == (
        0.5,
        0.75,
        0.25,
        6,
        0,
    )
    exact, lower = suite["scorers"]
    assert exact == {
        "name": "exact_match",
        "base": 0.5,
        "head": 1.0,
        "delta": 0.5,
        "ci": [0.16667, 0.83333],
        "p_value": 0.03125,  # 6 of 6 up: 2 / 2**6, the exact sign-flip test
        "up": 6,
        "down": 0,
        "significant": True,
        "scorer_changed": False,
    }
    assert lower == {
        "name": "lowercase",
        "base": 0.5,
        "head": 0.5,
        "delta": 0.0,
        "ci": [-0.66666, 0.66666],  # as stats.paired_test gives its ends
        "p_value": 1.0,
        "up": 6,
        "down": 6,
        "significant": False,
        "scorer_changed": False,
    }
    # The intervals are stats.paired_test's over the same pairs.
    test = stats.paired_test([[0.0]] * 6 + [[1.0]] * 6, [[1.0]] * 6 + [[0.0]] * 6)
    assert lower["ci"] == [round(test.ci.low, 6), round(test.ci.high, 6)]
    text = run_cli(["diff"], repo.path).out
    assert "route: per scorer" in text
    lines = text.splitlines()
    assert any(
        line.startswith("exact_match  50.0%  100.0%  +50.0 [") and "p = 0.0312, 6 up / 0 down significant" in line
        for line in lines
    )
    assert any(
        line.startswith("lowercase    50.0%   50.0%  +0.0 [") and "p = 1, 6 up / 6 down within noise" in line
        for line in lines
    )
    markdown = run_cli(["diff", "--markdown"], repo.path).out
    exact_row = "| exact\\_match | 50.0% | 100.0% | \\+50\\.0 \\[\\+16\\.7, \\+83\\.3\\] p = 0\\.0312, "
    assert exact_row + "6 up / 0 down significant |" in markdown
    assert (
        "| lowercase | 50.0% | 50.0% | \\+0\\.0 \\[\\-66\\.7, \\+66\\.7\\] p = 1, 6 up / 6 down within noise |"
        in markdown
    )
    assert "| lowercase: &lt;text&gt; does not match '^\\[a\\-z\\_\\]\\+$' | 6 |" in markdown


def test_ci_gives_each_scorer_its_delta_and_reports_it(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("answers a", project(diff_rows()))
    head = repo.commit("answers b", {"prompts/route.jinja": prompt("b")})
    report = tmp_path / "report.md"
    result = run_cli(["ci", "--base", base, "--head", head, "--report", str(report), "--json", "--no-pull"], repo.path)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    assert [
        (d["name"], d["base"], d["head"], d["delta"], d["p_value"], d["up"], d["down"]) for d in suite["scorers"]
    ] == [
        ("exact_match", 0.5, 1.0, 0.5, 0.03125, 6, 0),
        ("lowercase", 0.5, 0.5, 0.0, 1.0, 6, 6),
    ]
    assert suite["patterns"]["reasons"] == [
        {
            "scorer": "lowercase",
            "reason": "<text> does not match '^[a-z_]+$'",
            "count": 6,
            "cases": ["c06", "c07", "c08", "c09", "c10", "c11"],
            "example": "'BILLING' does not match '^[a-z_]+$'",
        }
    ]
    assert "| lowercase | 50.0% | 50.0% | \\+0\\.0 \\[\\-66\\.7, \\+66\\.7\\] p = 1, 6 up / 6 down within noise |" in (
        report.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize(
    ("scorer", "valid"),
    [
        ({"regex": "^a", "name": "starts_a"}, True),
        ({"regex": "^a", "name": "starts_a", "weight": 2}, True),
        ({"exact_match": None, "name": "python:tone.v2-x"}, True),
        ({"name": "starts_a"}, False),  # a name names no scorer
        ({"name": "a", "weight": 2}, False),
        ({"regex": "^a", "contains": "b", "name": "x"}, False),
        ({"regex": "^a", "name": "two words"}, False),
        ({"regex": "^a", "name": ""}, False),
        ({"regex": "^a", "name": "x" * 41}, False),
        ({"regex": "^a", "name": 3}, False),
    ],
)
def test_the_suite_schema_takes_a_scorer_name_as_the_loader_does(
    write: Callable[..., Path], scorer: dict[str, Any], valid: bool
) -> None:
    import jsonschema
    import yaml

    text = (Path(__file__).parent.parent / "promptgit/schemas/suite.schema.json").read_text(encoding="utf-8")
    validator = jsonschema.Draft7Validator(json.loads(text))
    scorers = f"scorers: [{json.dumps(scorer)}]\n"
    suite = {"prompt": "route", "dataset": "cases.jsonl", "scorers": [scorer]}
    assert validator.is_valid(suite) is valid
    root = write(project(ten_rows(), scorers=scorers))
    opened = open_project(start=root)
    assert yaml.safe_load(scorers)["scorers"] == [scorer]
    if valid:
        assert load_suite(opened.tree, opened.settings, "route").scorers[0].dimension == scorer["name"]
    else:
        with pytest.raises(PromptgitError):
            load_suite(opened.tree, opened.settings, "route")
