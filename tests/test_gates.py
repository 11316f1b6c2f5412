"""gates.py against real comparisons: a `max_drop` gate with no case on both sides unchanged cannot judge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server

pytestmark = pytest.mark.usefixtures("git_env")

SETTINGS = "defaults: {model: openai/test-model, temperature: 0}\n"
PROMPT = "user:\nANSWER: {{ prefix }}{{ text }}\n"


def rows(ids: list[str], expected: str = "{}", text: str = "v{}") -> str:
    return "".join(
        json.dumps({"id": case_id, "text": text.format(i), "expected": expected.format(i)}) + "\n"
        for i, case_id in enumerate(ids)
    )


IDS = [f"c{i}" for i in range(12)]


@pytest.mark.parametrize(
    ("head_files", "counts"),
    [
        # ids renamed (the example)
        ({"evals/cases.jsonl": rows([f"case-{i}" for i in range(12)], "v{}")}, "12 added, 12 removed, 0 changed"),
        # every expected value edited
        ({"evals/cases.jsonl": rows(IDS, "w{}")}, "0 added, 0 removed, 12 changed"),
        # every input edited
        ({"evals/cases.jsonl": rows(IDS, "v{}", "u{}")}, "0 added, 0 removed, 12 changed"),
        # the suite names its cases by another field
        (
            {"evals/s.yaml": "prompt: p\ndataset: cases.jsonl\nid: text\nscorers: [exact_match]\nmax_drop: 0.02\n"},
            "12 added, 12 removed, 0 changed",
        ),
    ],
)
def test_max_drop_with_no_case_on_both_sides_unchanged_is_inconclusive(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], head_files: dict[str, str], counts: str
) -> None:
    # A pull request that renamed every id and broke the prompt (100% -> 0%) passed "within the gates".
    repo = new_repo(tmp_path / "repo")
    base = repo.commit(
        "base",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/p.jinja": PROMPT.replace("{{ prefix }}", ""),
            "evals/s.yaml": "prompt: p\ndataset: cases.jsonl\nscorers: [exact_match]\nmax_drop: 0.02\n",
            "evals/cases.jsonl": rows(IDS, "v{}"),
        },
    )
    head = repo.commit("break the prompt", {"prompts/p.jinja": PROMPT.replace("{{ prefix }}", "broken "), **head_files})
    result = run_cli(["ci", "--base", base, "--head", head, "--json", "--no-bisect"], repo.path)
    assert result.code == 3, result.err
    suite = json.loads(result.out)["suites"][0]
    assert (suite["verdict"], suite["reason"]) == (
        "inconclusive",
        f"max_drop cannot be judged: no case is on both sides unchanged ({counts}); keep the ids, inputs and "
        "expected values of cases the change does not mean to touch",
    )


def test_a_suite_without_max_drop_keeps_its_threshold_verdict(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    files = {
        "promptgit.yaml": SETTINGS,
        "prompts/p.jinja": PROMPT.replace("{{ prefix }}", ""),
        "evals/s.yaml": "prompt: p\ndataset: cases.jsonl\nscorers: [exact_match]\nthreshold: 0.5\n",
        "evals/cases.jsonl": rows(IDS, "v{}"),
    }
    base = repo.commit("base", files)
    head = repo.commit("rename ids", {"evals/cases.jsonl": rows([f"case-{i}" for i in range(12)], "v{}")})
    result = run_cli(["ci", "--base", base, "--head", head, "--json", "--no-bisect"], repo.path)
    assert result.code == 0, result.err
    assert json.loads(result.out)["suites"][0]["verdict"] == "pass"
