"""`promptgit blame` and `promptgit bisect` over a 25-commit history where one commit drops the score."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.openai_server import Server

COMMITS = 25
CULPRIT = 14  # the commit that rewrites the ANSWER line
CASES = 30


def _prompt(style: int, answer_field: str) -> str:
    return (
        f"---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket.\nStyle revision {style}.\n"
        f"user:\nTicket {{{{ text }}}}\nANSWER: {{{{ {answer_field} }}}}\n"
    )


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def history_repo(write: Callable[..., Path], git_env: None) -> tuple[Path, list[str]]:
    """25 commits: odd ones restyle the system line, even ones touch README, commit 14 breaks the answers."""
    labels = ["billing", "refunds", "account_access"]
    rows = [
        json.dumps(
            {
                "id": f"k{i:02d}",
                "text": f"t{i}",
                "label": labels[i % 3],
                "good": labels[i % 3],
                "bad": labels[i % 3] if i % 2 else "technical_support",
            }
        )
        for i in range(CASES)
    ]
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\nconcurrency: 8\n",
            "evals/route.yaml": "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n",
            "evals/cases.jsonl": "\n".join(rows) + "\n",
            "prompts/route.jinja": _prompt(1, "good"),
            "README.md": "notes 1\n",
        }
    )
    _git(root, "init", "-q", "-b", "main")
    shas = []
    answer = "good"
    for n in range(1, COMMITS + 1):
        if n == CULPRIT:
            answer = "bad"
            (root / "prompts/route.jinja").write_text(_prompt(n - 1, answer))
            message = "Answer from the short field"
        elif n % 2 == 1:
            (root / "prompts/route.jinja").write_text(_prompt(n, answer))
            message = f"Restyle the system prompt ({n})"
        else:
            (root / "README.md").write_text(f"notes {n}\n")
            message = f"Notes {n}"
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", message)
        shas.append(_git(root, "rev-parse", "HEAD"))
    return root, shas


def test_bisect_names_the_culprit_within_log2_evaluations(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, shas = history_repo
    result = run_cli(["bisect", "route", "--good", shas[0], "--json"], root)
    report = json.loads(result.out)
    assert (result.code, report["first_bad"]) == (0, shas[CULPRIT - 1])
    assert len(report["evaluated"]) <= math.log2(COMMITS) + 2
    assert len(set(report["evaluated"])) == len(report["evaluated"])  # no revision evaluated twice
    assert (report["before"], report["after"]) == (1.0, 0.5)


def test_bisect_a_case_finds_where_it_began_to_fail(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, shas = history_repo
    result = run_cli(["bisect", "route", "--case", "k04", "--good", shas[0], "--json"], root)
    report = json.loads(result.out)
    assert (result.code, report["first_bad"], report["case"]) == (0, shas[CULPRIT - 1], "k04")
    assert len(report["evaluated"]) <= math.log2(COMMITS) + 2


def test_bisect_defaults_good_to_the_best_stored_version(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, shas = history_repo
    run_cli(["eval", "--rev", shas[2], "--json"], root)  # a stored perfect score at the third version
    result = run_cli(["bisect", "route", "--json"], root)
    report = json.loads(result.out)
    assert (result.code, report["first_bad"]) == (0, shas[CULPRIT - 1])
    assert report["steps"][0] == {"commit": shas[2], "score": 1.0, "verdict": "good", "note": "starting point"}


def test_bisect_with_nothing_stored_starts_from_the_oldest_version(
    openai_server: Server, history_repo, run_cli
) -> None:  # type: ignore[no-untyped-def]
    root, shas = history_repo
    result = run_cli(["bisect", "route", "--json"], root)
    report = json.loads(result.out)
    assert (result.code, report["first_bad"], report["good"]) == (0, shas[CULPRIT - 1], shas[0])
    assert report["steps"][0] == {"commit": shas[0], "score": 1.0, "verdict": "good", "note": "starting point"}


def test_blame_gives_each_line_its_commit_and_measured_drop(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, shas = history_repo
    result = run_cli(["blame", "route", "--json"], root)
    lines = {line["text"]: line for line in json.loads(result.out)["lines"]}
    assert result.code == 0
    answer = lines["ANSWER: {{ bad }}"]
    assert answer["commit"] == shas[CULPRIT - 1]
    assert answer["delta"] == -0.5
    impact = answer["impacts"]["route"]
    assert impact["significant"] and impact["ci"][0] <= -0.5 <= impact["ci"][1]
    assert lines["Ticket {{ text }}"]["commit"] == shas[0]  # untouched since the first commit
    assert lines["user:"]["commit"] == shas[0]
    assert lines["Style revision 25."]["commit"] == shas[24]
    assert lines["Style revision 25."]["delta"] == 0.0  # a restyle changes nothing the fake model reads


def test_blame_follows_a_suite_file_renamed_since(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, shas = history_repo
    _git(root, "mv", "evals/route.yaml", "evals/routing.yaml")
    _git(root, "commit", "-q", "-m", "Rename the suite")
    result = run_cli(["blame", "route", "--json"], root)
    report = json.loads(result.out)
    lines = {line["text"]: line for line in report["lines"]}
    assert (result.code, report["suites"]) == (0, ["routing"])
    assert (lines["ANSWER: {{ bad }}"]["commit"], lines["ANSWER: {{ bad }}"]["delta"]) == (shas[CULPRIT - 1], -0.5)
    assert lines["Style revision 25."]["delta"] == 0.0


def test_a_warm_blame_makes_no_model_call(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, _ = history_repo
    first = run_cli(["blame", "route", "--json"], root)
    paid = len(openai_server.requests)
    assert paid > 0
    second = run_cli(["blame", "route", "--json"], root)
    assert len(openai_server.requests) == paid
    assert json.loads(second.out) == json.loads(first.out)


def test_blame_no_eval_shows_only_what_is_stored(openai_server: Server, history_repo, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, _shas = history_repo
    result = run_cli(["blame", "route", "--no-eval", "--json"], root)
    assert result.code == 0
    assert len(openai_server.requests) == 0
    assert all(line["delta"] is None for line in json.loads(result.out)["lines"])
