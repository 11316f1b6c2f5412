"""Cases named by row number (a dataset with no `id`): a row added, removed or moved renumbers the rows after
it. `diff` already leaves a renumbered row out (its input differs under the id) but said only "6 changed";
`bisect --case 2` followed the id from one row to another and blamed the commit that inserted a row.

Real git repos, the real CLI, real SQLite and real HTTP to the local test server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server

PROMPT = "---\nmax_tokens: 8\n---\nuser:\nTicket {{ text }}\nANSWER: {{ reply }}\n"
NOTE = (
    "; cases without an `id` are named by row number, so a row added, removed or moved renumbers "
    "the rows after it: they show as changed and are left out, never paired with another row "
    "(give each case an `id`)"
)


def files(rows: list[dict[str, Any]], prompt: str = PROMPT) -> dict[str, str]:
    return {
        "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\n",
        "prompts/route.jinja": prompt,
        "evals/route.yaml": "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n",
        "evals/cases.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
    }


def rows(n: int = 6) -> list[dict[str, Any]]:
    """Odd rows answer right, even rows wrong."""
    return [{"text": f"t{i}", "label": "billing", "reply": "billing" if i % 2 else "x"} for i in range(n)]


NEW = {"text": "new", "label": "billing", "reply": "billing"}


@pytest.mark.parametrize(
    ("head_rows", "added", "removed", "changed"),
    [
        ([NEW, *rows()], ["7"], [], ["1", "2", "3", "4", "5", "6"]),  # a row inserted on top
        ([*rows()[:2], *rows()[3:]], [], ["6"], ["3", "4", "5"]),  # one removed in the middle
        ([rows()[1], rows()[0], *rows()[2:]], [], [], ["1", "2"]),  # two swapped
    ],
)
def test_diff_says_why_renumbered_rows_are_left_out(
    openai_server: Server,
    tmp_path: Path,
    run_cli: Callable[..., Result],
    git_env: None,
    head_rows: list[dict[str, Any]],
    added: list[str],
    removed: list[str],
    changed: list[str],
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("six rows", files(rows()))
    head = repo.commit("rows moved", files(head_rows))
    result = run_cli(["diff", base, head, "--json"], repo.path)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    assert suite["dataset"] == {"added": added, "removed": removed, "changed": changed, "numbered": True}
    assert suite["compared"]["cases"] == 6 - len(removed) - len(changed)
    text = run_cli(["diff", base, head], repo.path).out
    assert NOTE + "\n" in text
    markdown = run_cli(["diff", base, head, "--markdown"], repo.path).out
    assert "give each case an" in markdown


def test_cases_with_ids_get_no_note(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    named = [{"id": f"r{i}", **r} for i, r in enumerate(rows())]
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("six rows", files(named))
    head = repo.commit("one on top", files([{"id": "new", **NEW}, *named]))
    result = run_cli(["diff", base, head, "--json"], repo.path)
    [suite] = json.loads(result.out)["suites"]
    assert suite["dataset"] == {"added": ["new"], "removed": [], "changed": [], "numbered": False}
    assert suite["compared"]["cases"] == 6
    assert "row number" not in run_cli(["diff", base, head], repo.path).out


def test_bisect_does_not_follow_a_row_number_to_another_row(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    good = repo.commit("six rows", files(rows()))
    repo.commit("one on top", files([NEW, *rows()]))
    # Case "2" was t1 (passes); after the insertion it is t0 (fails): no prompt change made it fail.
    result = run_cli(["bisect", "route", "--case", "2", "--good", good, "--json"], repo.path)
    assert result.code == 1, result.err
    report = json.loads(result.out)
    assert report["first_bad"] is None
    assert report["message"] == (
        "case '2' is another row at the good revision than at the bad one (cases without an `id` are named by "
        "row number, and a row added, removed or moved before it renumbers it): nothing to follow; give each "
        "case an `id`, or pass a --good revision where the row is the same"
    )


def test_bisect_does_not_judge_a_revision_where_the_row_number_names_another_row(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    good = repo.commit("six rows", files(rows()))
    moved = repo.commit("one on top", files([NEW, *rows()]))
    broken = PROMPT.replace("{{ reply }}", "x")
    repo.commit("back, and the prompt answers x", files(rows(), prompt=broken))
    result = run_cli(["bisect", "route", "--case", "2", "--good", good, "--json"], repo.path)
    assert result.code == 1, result.err
    report = json.loads(result.out)
    assert report["first_bad"] is None
    assert report["message"].startswith(
        f"cannot decide at {moved[:10]}: case '2' is another row here than at bad (cases without an `id`"
    )
    judged = [s for s in report["steps"] if s["commit"] == moved]
    assert [(s["verdict"], s["score"]) for s in judged] == [("undecided", 0.0)]
