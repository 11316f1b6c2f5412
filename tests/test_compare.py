"""A changed dataset is compared honestly (issue 12.8): added, removed and changed cases are counted and named,
the delta is over the cases both sides hold unchanged, and every number says which set it is over."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit.compare import CaseSets, case_sets
from promptgit.suites import Case
from tests.conftest import Result
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server
from tests.test_ci import prompt, run_ci, suite_yaml, tables
from tests.test_git_native import SETTINGS, cli_json

pytestmark = pytest.mark.usefixtures("git_env")

LABELS = ["billing", "refunds", "technical_support", "account_access"]


def row(i: int, naive_right: bool, good_right: bool, label: str | None = None, text: str | None = None) -> dict:
    """One case; the fake model answers `naive` under the first prompt and `good` under the second."""
    label = label or LABELS[i % 4]
    wrong = LABELS[(LABELS.index(label) + 1) % 4]
    return {
        "id": f"c{i:02d}",
        "text": text or f"ticket {i}",
        "label": label,
        "naive": label if naive_right else wrong,
        "good": label if good_right else wrong,
    }


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


# Base: c00-c09, the first prompt right on c00-c04. Head: c08 and c09 removed; c06's expected and c07's input
# changed; c10-c12 added; the second prompt right on c00-c07 and wrong on the added ones.
BASE_ROWS = [row(i, i < 5, i < 8) for i in range(10)]
HEAD_ROWS = [
    *(row(i, i < 5, True) for i in range(6)),
    row(6, False, True, label="refunds" if LABELS[6 % 4] != "refunds" else "billing"),
    row(7, False, True, text="ticket 7, reworded"),
    *(row(i, False, False) for i in (10, 11, 12)),
]


def changed_repo(path: Path, base_rows: list[dict], head_rows: list[dict]) -> tuple[Repo, str, str]:
    """c1: the first prompt over `base_rows`; c2: the second prompt over `head_rows`."""
    repo = new_repo(path)
    c1 = repo.commit(
        "first",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": prompt("naive"),
            "evals/route.yaml": suite_yaml(),
            "evals/cases.jsonl": jsonl(base_rows),
        },
    )
    c2 = repo.commit(
        "second prompt, new cases",
        {"prompts/route.jinja": prompt("good", "Route to one queue."), "evals/cases.jsonl": jsonl(head_rows)},
    )
    return repo, c1, c2


def test_ci_compares_on_the_shared_unchanged_cases_and_labels_every_number(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, c1, c2 = changed_repo(tmp_path / "repo", BASE_ROWS, HEAD_ROWS)
    document, report = run_ci(run_cli, repo, c1, c2, 0)
    [suite] = document["suites"]
    assert (suite["base_score"], suite["base_cases"]) == (0.5, 10)  # each side over all its own cases
    assert (suite["head_score"], suite["head_cases"]) == (round(8 / 11, 6), 11)
    assert suite["dataset"] == {
        "added": ["c10", "c11", "c12"],
        "removed": ["c08", "c09"],
        "changed": ["c06", "c07"],
        "numbered": False,
    }
    assert suite["compared"] == {"cases": 6, "base_score": round(5 / 6, 6), "head_score": 1.0}
    assert suite["delta"] == pytest.approx(1 / 6, abs=1e-6)  # over c00-c05 only, never 8/11 - 0.5
    assert (suite["improved"], suite["regressed"]) == (["c05"], [])

    [summary, patterns, improved] = tables(report)
    assert patterns[0] == ["pattern", "cases"]  # head's failure patterns (test_patterns.py checks their counts)
    assert summary[1][:6] == ["route", "83.3%", "100.0%", summary[1][3], "1", "1 / 0"]  # one flip: p = 1
    assert summary[1][3].startswith("+16.7 [") and summary[1][3].endswith("within noise")
    assert (suite["p_value"], suite["up"], suite["down"]) == (1.0, 1, 0)
    note = (
        "Dataset changed: cases 3 added, 2 removed, 2 changed (changed: same id, new input or expected); "
        "base, head and delta are over the 6 case(s) both sides hold unchanged and scored "
        "(over all their cases: base 50.0% over its 10, head 72.7% over its 11)."
    )
    assert note in report.splitlines()
    assert "Where a suite's cases changed, its base, head and Δ are over the cases both sides hold unchanged" in report
    assert [r[0] for r in improved[1:]] == ["c05"]


def test_diff_text_says_which_numbers_are_over_which_cases(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, c1, c2 = changed_repo(tmp_path / "repo", BASE_ROWS, HEAD_ROWS)
    result = run_cli(["diff", c1, c2], repo.path)
    lines = result.out.splitlines()
    assert result.code == 0
    assert lines[3].split()[:3] == ["route", "83.3%", "100.0%"]
    assert lines[4] == (
        "route: cases 3 added, 2 removed, 2 changed (changed: same id, new input or expected); base, head and delta "
        "are over the 6 case(s) both sides hold unchanged and scored (over all their cases: base 50.0% over its 10, "
        "head 72.7% over its 11)"
    )


# Each kind of dataset change on its own, and the cases where nothing is left to compare.
VARIANTS: list[tuple[str, list[dict], list[dict], dict[str, list[str]], int]] = [
    (
        "only added",
        BASE_ROWS[:4],
        BASE_ROWS[:6],
        {"added": ["c04", "c05"], "removed": [], "changed": [], "numbered": False},
        4,
    ),
    (
        "only removed",
        BASE_ROWS,
        BASE_ROWS[3:],
        {"added": [], "removed": ["c00", "c01", "c02"], "changed": [], "numbered": False},
        7,
    ),
    (
        "an expected changed",
        BASE_ROWS[:5],
        [*BASE_ROWS[:4], {**BASE_ROWS[4], "label": "refunds", "naive": "x", "good": "refunds"}],
        {"added": [], "removed": [], "changed": ["c04"], "numbered": False},
        4,
    ),
    (
        "an input changed",
        BASE_ROWS[:5],
        [{**BASE_ROWS[0], "text": "a different question"}, *BASE_ROWS[1:5]],
        {"added": [], "removed": [], "changed": ["c00"], "numbered": False},
        4,
    ),
    (
        "ids renumbered: nothing shared",
        BASE_ROWS[:3],
        [{**r, "id": f"n{i}"} for i, r in enumerate(BASE_ROWS[:3])],
        {"added": ["n0", "n1", "n2"], "removed": ["c00", "c01", "c02"], "changed": [], "numbered": False},
        0,
    ),
]


@pytest.mark.parametrize(("kind", "base_rows", "head_rows", "expected_sets", "compared"), VARIANTS, ids=lambda v: "")
def test_each_kind_of_dataset_change_is_counted(
    openai_server: Server,
    tmp_path: Path,
    run_cli: Callable[..., Result],
    kind: str,
    base_rows: list[dict],
    head_rows: list[dict],
    expected_sets: dict[str, list[str]],
    compared: int,
) -> None:
    repo, c1, c2 = changed_repo(tmp_path / "repo", base_rows, head_rows)
    [suite] = cli_json(run_cli, repo.path, ["diff", c1, c2, "--json"])["suites"]
    assert (kind, suite["dataset"], suite["compared"]["cases"]) == (kind, expected_sets, compared)
    if compared == 0:
        assert (suite["delta"], suite["compared"]["base_score"], suite["compared"]["head_score"]) == (None, None, None)
    else:
        shared = {r["id"] for r in base_rows} & {r["id"] for r in head_rows} - set(expected_sets["changed"])
        base_right = sum(r["naive"] == r["label"] for r in base_rows if r["id"] in shared)
        head_right = sum(r["good"] == r["label"] for r in head_rows if r["id"] in shared)
        assert suite["compared"]["base_score"] == round(base_right / compared, 6)
        assert suite["compared"]["head_score"] == round(head_right / compared, 6)
        assert suite["delta"] == pytest.approx((head_right - base_right) / compared, abs=1e-6)


def test_an_unchanged_dataset_reports_no_change(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, c1, c2 = changed_repo(tmp_path / "repo", BASE_ROWS, BASE_ROWS)
    [suite] = cli_json(run_cli, repo.path, ["diff", c1, c2, "--json"])["suites"]
    assert suite["dataset"] == {"added": [], "removed": [], "changed": [], "numbered": False}
    assert suite["compared"] == {"cases": 10, "base_score": 0.5, "head_score": 0.8}
    assert (suite["base_score"], suite["head_score"]) == (0.5, 0.8)
    result = run_cli(["diff", c1, c2], repo.path)
    assert "both sides hold unchanged" not in result.out


def case(id: str, expected: Any, **variables: Any) -> Case:
    return Case(id=id, vars=variables, expected=expected, row={})


def test_a_case_is_its_vars_and_expected_not_its_order_or_other_fields() -> None:
    base = [case("a", "x", q="1", n=2), case("b", ["y"], q="2")]
    assert case_sets(base, list(reversed(base))) == CaseSets()
    assert case_sets(base, [case("a", "x", n=2, q="1"), case("b", ["y"], q="2")]) == CaseSets()  # key order
    assert case_sets(base, [Case("a", {"q": "1", "n": 2}, "x", row={"note": "z"}), base[1]]) == CaseSets()
    assert case_sets(base, [case("a", "x", q="1", n=3), case("b", ["y", "z"], q="2")]).changed == ("a", "b")
    assert case_sets(base, [case("a", "x", q="1", n=2)]) == CaseSets(removed=("b",))
    assert case_sets([], base) == CaseSets(added=("a", "b"))
