"""Git-native promptgit (issue 5): eval at a revision, diff, log, change detection and shared results, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server

LABELS = ["billing", "refunds", "technical_support", "account_access"]
SETTINGS = "defaults: {model: openai/test-model, temperature: 0}\nconcurrency: 8\n"
NAIVE_PROMPT = "---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket.\nuser:\nTicket {{ text }}\nANSWER: {{ naive }}\n"
GOOD_PROMPT = (
    "---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket to exactly one queue.\nuser:\nTicket {{ text }}\n"
    "ANSWER: {{ good }}\n"
)
SUITE = "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"

# 40 cases: the naive prompt is right on c000-c011, the improved one on c002-c033.
N = 40
NAIVE_RIGHT = set(range(0, 12))
GOOD_RIGHT = set(range(2, 34))
IMPROVED = sorted(f"c{i:03d}" for i in GOOD_RIGHT - NAIVE_RIGHT)
REGRESSED = sorted(f"c{i:03d}" for i in NAIVE_RIGHT - GOOD_RIGHT)


def dataset(
    n: int = N,
    naive_right: set[int] = NAIVE_RIGHT,
    good_right: set[int] = GOOD_RIGHT,
    outputs: dict[int, str] | None = None,
) -> str:
    """JSONL rows whose `naive` and `good` fields are the fake model's answers under each prompt version."""
    rows = []
    for i in range(n):
        label, wrong = LABELS[i % 4], LABELS[(i + 1) % 4]
        rows.append(
            json.dumps(
                {
                    "id": f"c{i:03d}",
                    "text": f"ticket {i}",
                    "label": label,
                    "naive": label if i in naive_right else wrong,
                    "good": label.upper()
                    if i in good_right
                    else (outputs or {}).get(i, wrong),  # exact_match ignores case
                }
            )
        )
    return "\n".join(rows) + "\n"


pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config


def three_commits(
    path: Path, suite: str = SUITE, data: str | None = None, settings: str = SETTINGS
) -> tuple[Repo, str, str, str]:
    """c1 the naive prompt, c2 an unrelated README change, c3 the improved prompt."""
    repo = new_repo(path)
    c1 = repo.commit(
        "naive prompt",
        {
            "promptgit.yaml": settings,
            "prompts/route.jinja": NAIVE_PROMPT,
            "evals/route.yaml": suite,
            "evals/cases.jsonl": data or dataset(),
        },
    )
    c2 = repo.commit("readme", {"README.md": "# tickets\n"})
    c3 = repo.commit("answer with one queue", {"prompts/route.jinja": GOOD_PROMPT})
    return repo, c1, c2, c3


def cli_json(run_cli: Callable[..., Result], root: Path, args: Sequence[str], code: int = 0) -> Any:
    """Run a command that prints JSON; check its exit code and parse stdout."""
    result = run_cli(list(args), root)
    assert result.code == code, result.err
    return json.loads(result.out)


def test_eval_at_a_revision_scores_the_truth_without_touching_the_tree(
    openai_server: Server, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    repo, c1, _, c3 = three_commits(tmp_path / "repo")
    before = {p: (repo.path / p).read_bytes() for p in ("prompts/route.jinja", "evals/cases.jsonl", "evals/route.yaml")}
    report = cli_json(run_cli, repo.path, ["eval", "--rev", c1[:10], "--json"])
    suite = report["suites"][0]
    assert report["revision"] == c1
    assert (suite["name"], suite["score"], suite["cases"], suite["passed"]) == ("route", len(NAIVE_RIGHT) / N, N, 12)
    assert sorted(r["id"] for r in suite["results"] if r["passed"]) == sorted(f"c{i:03d}" for i in NAIVE_RIGHT)
    assert (suite["calls"], suite["cached"]) == (N, 0)
    assert len(openai_server.requests) == N
    assert repo.status() == ""
    assert repo.git("rev-parse", "HEAD") == c3
    assert {p: (repo.path / p).read_bytes() for p in before} == before
    assert "naive" not in (repo.path / "prompts/route.jinja").read_text()


def test_diff_of_an_unrelated_change_costs_nothing(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, c2, _ = three_commits(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["diff", c1, c2, "--json"])
    assert report == {"base": c1, "head": c2, "suites": []}
    assert len(openai_server.requests) == 0
    # The same fingerprint at both commits: evaluating c2 after c1 is answered from the store.
    at_c1 = cli_json(run_cli, repo.path, ["eval", "--rev", c1, "--json"])["suites"][0]
    at_c2 = cli_json(run_cli, repo.path, ["eval", "--rev", c2, "--json"])["suites"][0]
    assert at_c1["fingerprint"] == at_c2["fingerprint"]
    assert (at_c2["calls"], at_c2["cached"], at_c2["score"]) == (0, N, at_c1["score"])


def test_diff_lists_exactly_the_flipped_cases(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, _, c3 = three_commits(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["diff", c1, c3, "--json"])
    assert (report["base"], report["head"]) == (c1, c3)
    [suite] = report["suites"]
    assert suite["name"] == "route"
    assert (suite["base_score"], suite["head_score"]) == (12 / N, 32 / N)
    assert suite["delta"] == pytest.approx(suite["head_score"] - suite["base_score"], abs=1e-6)
    assert suite["delta"] == pytest.approx(0.5, abs=1e-6)
    assert suite["ci"][0] <= suite["delta"] <= suite["ci"][1]
    assert suite["ci"][0] > 0 and suite["significant"] is True
    assert sorted(suite["improved"]) == IMPROVED and len(IMPROVED) == 22
    assert sorted(suite["regressed"]) == REGRESSED == ["c000", "c001"]
    by_id = {r["id"]: r for r in suite["regressions"]}
    assert by_id["c000"] == {
        "id": "c000",
        "expected": "billing",
        "base_output": "billing",
        "head_output": "refunds",
        "base_score": 1.0,
        "head_score": 0.0,
    }
    # Both sides were scored once: the same comparison again is answered from the store.
    requests = len(openai_server.requests)
    assert cli_json(run_cli, repo.path, ["diff", c1, c3, "--json"]) == report
    assert len(openai_server.requests) == requests


def test_log_lists_the_commits_that_changed_the_fingerprint(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, c2, c3 = three_commits(tmp_path / "repo")
    [log] = cli_json(run_cli, repo.path, ["log", "route", "--json"])
    assert log["suite"] == "route"
    assert [(e["commit"], e["message"], e["score"], e["delta"], e["state"], e["kept"]) for e in log["entries"]] == [
        (c1, "naive prompt", 12 / N, None, "kept", True),
        (c3, "answer with one queue", 32 / N, 0.5, "kept", True),
    ]
    assert c2 not in {e["commit"] for e in log["entries"]}
    assert log["entries"][0]["fingerprint"] != log["entries"][1]["fingerprint"]
    # Each change is the exact paired test against the row before: 22 cases up, 2 down (McNemar).
    assert [(e["p_value"], e["up"], e["down"]) for e in log["entries"]] == [
        (None, None, None),
        ((1 + 24 + 276) * 2 / 2**24, 22, 2),
    ]
    text = run_cli(["log", "route"], repo.path).out
    assert "+50.0 [" in text and "] p < 0.001, 22 up / 2 down" in text

    repo.git("revert", "--no-edit", c3)
    c4 = repo.git("rev-parse", "HEAD")
    requests = len(openai_server.requests)
    [log] = cli_json(run_cli, repo.path, ["log", "route", "--json"])
    assert [(e["commit"], e["score"], e["delta"], e["state"]) for e in log["entries"]] == [
        (c1, 12 / N, None, "kept"),
        (c3, 32 / N, 0.5, "reverted"),
        (c4, 12 / N, -0.5, "kept"),
    ]
    assert log["entries"][1]["kept"] is False
    assert log["entries"][2]["fingerprint"] == log["entries"][0]["fingerprint"]
    assert len(openai_server.requests) == requests  # the revert restored a known fingerprint: nothing to pay


def test_log_without_eval_shows_only_stored_scores(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, _, c3 = three_commits(tmp_path / "repo")
    cli_json(run_cli, repo.path, ["eval", "--rev", c1, "--json"])
    requests = len(openai_server.requests)
    [log] = cli_json(run_cli, repo.path, ["log", "--no-eval", "--json"])
    assert [(e["commit"], e["score"], e["delta"]) for e in log["entries"]] == [(c1, 12 / N, None), (c3, None, None)]
    assert len(openai_server.requests) == requests


def test_an_edited_partial_affects_the_suite_and_an_unrelated_file_does_not(
    openai_server: Server, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    repo = new_repo(tmp_path / "repo")
    prompt = NAIVE_PROMPT.replace("Route the ticket.\n", '{% include "_partials/x.jinja" %}\n')
    repo.commit(
        "prompt with a partial",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": prompt,
            "prompts/_partials/x.jinja": "Route the ticket.\n",
            "evals/route.yaml": SUITE,
            "evals/cases.jsonl": dataset(8),
        },
    )
    repo.write({"README.md": "unrelated\n", "prompts/other.jinja": "user:\nhello\n"})
    report = cli_json(run_cli, repo.path, ["eval", "--changed-since", "HEAD", "--json"])
    assert report["suites"] == []
    assert len(openai_server.requests) == 0

    repo.write({"prompts/_partials/x.jinja": "Route the ticket, carefully.\n"})
    report = cli_json(run_cli, repo.path, ["eval", "--changed-since", "HEAD", "--json"])
    assert [s["name"] for s in report["suites"]] == ["route"]
    assert (report["revision"], report["suites"][0]["cases"], report["suites"][0]["calls"]) == ("WORKTREE", 8, 8)


def test_diff_without_arguments_compares_head_with_the_working_tree(
    openai_server: Server, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, c3 = three_commits(tmp_path / "repo")
    repo.write({"prompts/route.jinja": NAIVE_PROMPT})
    report = cli_json(run_cli, repo.path, ["diff", "--json"])
    assert (report["base"], report["head"]) == (c3, "WORKTREE")
    [suite] = report["suites"]
    assert (suite["base_score"], suite["head_score"], sorted(suite["improved"]), sorted(suite["regressed"])) == (
        32 / N,
        12 / N,
        REGRESSED,
        IMPROVED,
    )
    assert suite["delta"] == pytest.approx(-0.5, abs=1e-6)


def test_a_renamed_suite_file_is_no_change(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo = new_repo(tmp_path / "repo")
    before = repo.commit(
        "suite a",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": NAIVE_PROMPT,
            "evals/a.yaml": SUITE,
            "evals/cases.jsonl": dataset(8),
        },
    )
    repo.git("mv", "evals/a.yaml", "evals/b.yaml")
    assert cli_json(run_cli, repo.path, ["diff", "--json"])["suites"] == []  # uncommitted rename
    after = repo.commit("rename suite a to b")
    assert cli_json(run_cli, repo.path, ["diff", before, after, "--json"]) == {
        "base": before,
        "head": after,
        "suites": [],
    }
    assert len(openai_server.requests) == 0


def test_results_pushed_to_a_remote_make_a_fresh_clone_pay_nothing(
    openai_server: Server, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, c3 = three_commits(tmp_path / "repo")
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "main")
    first = cli_json(run_cli, repo.path, ["eval", "--json"])
    assert (first["suites"][0]["calls"], first["suites"][0]["score"]) == (N, 32 / N)

    pushed = run_cli(["sync", "push"], repo.path)
    assert pushed.code == 0, pushed.err
    # One file per fingerprint: its run, its N cases and the N responses they used.
    assert pushed.out.strip() == f"pushed 1 result file(s), {2 * N + 1} new row(s)"
    assert repo.git("for-each-ref", "--format=%(refname)", cwd=remote).splitlines() == [
        "refs/heads/main",
        "refs/promptgit/results",
    ]

    clone = Repo(tmp_path / "clone")
    repo.git("clone", "-q", str(remote), str(clone.path), cwd=tmp_path)
    pulled = run_cli(["sync", "pull"], clone.path)
    assert pulled.code == 0, pulled.err
    assert pulled.out.strip() == f"pulled 1 result file(s), {2 * N + 1} new row(s)"
    requests = len(openai_server.requests)
    again = cli_json(run_cli, clone.path, ["eval", "--json"])
    suite = again["suites"][0]
    assert (again["revision"], suite["calls"], suite["cached"], suite["score"]) == ("WORKTREE", 0, N, 32 / N)
    assert suite["fingerprint"] == first["suites"][0]["fingerprint"]
    assert len(openai_server.requests) == requests
    assert clone.git("rev-parse", "HEAD") == c3
    # A second push from the first repository has nothing new to send.
    assert run_cli(["sync", "push"], repo.path).out.strip() == "pushed 0 result file(s), 0 new row(s)"


def test_a_shallow_clone_asks_for_history_instead_of_crashing(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, _, _ = three_commits(tmp_path / "repo")
    shallow = Repo(tmp_path / "shallow")
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow.path), cwd=tmp_path)
    for args in (["diff", c1], ["diff", "HEAD~2"], ["ci", "--base", c1]):
        result = run_cli([*args, "--json"], shallow.path)
        assert result.code == 2
        assert result.out == ""
        assert "Traceback" not in result.err
        assert "shallow" in result.err and "fetch-depth" in result.err and "--unshallow" in result.err
    assert len(openai_server.requests) == 0


def test_a_removed_suite_is_listed_as_removed(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo = new_repo(tmp_path / "repo")
    before = repo.commit(
        "two suites",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": NAIVE_PROMPT,
            "evals/a.yaml": SUITE,
            "evals/b.yaml": SUITE + "threshold: 0.1\n",
            "evals/cases.jsonl": dataset(8),
        },
    )
    repo.git("rm", "-q", "evals/b.yaml")
    after = repo.commit("drop suite b")
    report = cli_json(run_cli, repo.path, ["diff", before, after, "--json"])
    assert [(s["name"], s["base_score"], s["head_score"], s["delta"]) for s in report["suites"]] == [
        ("b", 1.0, None, None)
    ]  # the naive answers are right on all of c000-c007
    ci = cli_json(run_cli, repo.path, ["ci", "--base", before, "--head", after, "--no-pull", "--json"])
    assert [(s["name"], s["verdict"], s["reason"]) for s in ci["suites"]] == [("b", "pass", "suite removed")]


def test_log_follows_a_renamed_suite(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit(
        "naive prompt",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": NAIVE_PROMPT,
            "evals/a.yaml": SUITE,
            "evals/cases.jsonl": dataset(),
        },
    )
    c2 = repo.commit("answer with one queue", {"prompts/route.jinja": GOOD_PROMPT})
    repo.git("mv", "evals/a.yaml", "evals/b.yaml")
    repo.commit("rename suite a to b")
    [log] = cli_json(run_cli, repo.path, ["log", "b", "--json"])
    assert [(e["commit"], e["score"], e["delta"], e["state"]) for e in log["entries"]] == [
        (c1, 12 / N, None, "kept"),
        (c2, 32 / N, 0.5, "kept"),
    ]


def test_log_sees_a_dataset_outside_the_evals_folder(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit(
        "suite",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": NAIVE_PROMPT,
            "evals/route.yaml": SUITE.replace("cases.jsonl", "../data/cases.jsonl"),
            "data/cases.jsonl": dataset(8),
        },
    )
    c2 = repo.commit("harder cases", {"data/cases.jsonl": dataset(8, naive_right=set(range(4)))})
    [log] = cli_json(run_cli, repo.path, ["log", "route", "--json"])
    assert [(e["commit"], e["message"], e["score"], e["delta"]) for e in log["entries"]] == [
        (c1, "suite", 1.0, None),
        (c2, "harder cases", 0.5, -0.5),
    ]


def test_diff_as_markdown_is_the_report_without_gates(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from markdown_it import MarkdownIt

    from promptgit.github import MARKER

    repo, c1, _, c3 = three_commits(tmp_path / "repo")
    result = run_cli(["diff", c1, c3, "--markdown"], repo.path)
    assert result.code == 0
    assert result.out.splitlines()[0] == MARKER
    tokens = MarkdownIt("commonmark").enable("table").parse(result.out)
    cells = [t.children[0].content for t in tokens if t.type == "inline" and t.map and t.children]
    assert "route" in cells and "30.0%" in cells and "80.0%" in cells
    assert "22 / 2" in cells  # cases up / down
