"""`promptgit ci` (issue 6): gates, verdicts, exit codes and a Markdown report no model output can break."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from promptgit.github import MARKER
from promptgit.report import COMMENT_LIMIT
from tests.conftest import Result
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server
from tests.test_git_native import LABELS, SETTINGS, cli_json, dataset

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
EVIL = (
    "| pipes | <script>alert(1)</script> [link](http://x) @octocat\n"
    "```\n</details>\n```\r| injected | row | after | a carriage return |"
)
# How a cell shows EVIL: a zero-width space after @, every line break as <br>.
SHOWN_EVIL = EVIL.replace("@", "@\u200b").replace("\r", "\n")


def prompt(field: str, instruction: str = "Route the ticket.") -> str:
    """A prompt whose fake-model answer is the dataset field `field`."""
    return f"---\nmax_tokens: 8\n---\nsystem:\n{instruction}\nuser:\nTicket {{{{ text }}}}\nANSWER: {{{{ {field} }}}}\n"


def suite_yaml(gates: str = "") -> str:
    """The suite file, with optional gate lines."""
    return f"prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n{gates}"


def two_versions(path: Path, data: str, gates: str = "", settings: str = SETTINGS) -> tuple[Repo, str, str]:
    """c1 answers with each row's `naive` field, c2 (an edit of the prompt) with its `good` field."""
    repo = new_repo(path)
    c1 = repo.commit(
        "first prompt",
        {
            "promptgit.yaml": settings,
            "prompts/route.jinja": prompt("naive"),
            "evals/route.yaml": suite_yaml(gates),
            "evals/cases.jsonl": data,
        },
    )
    c2 = repo.commit("edit the prompt", {"prompts/route.jinja": prompt("good", "Route the ticket to one queue.")})
    return repo, c1, c2


def run_ci(
    run_cli: Callable[..., Result], repo: Repo, base: str, head: str, code: int, *extra: str
) -> tuple[dict[str, Any], str]:
    """`promptgit ci --json` with a report file; checks the exit code, returns the JSON and the report."""
    report = repo.path.parent / "report.md"
    document = cli_json(
        run_cli, repo.path, ["ci", "--base", base, "--head", head, "--report", str(report), "--json", *extra], code=code
    )
    return document, report.read_text(encoding="utf-8")


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table in the report as rows of cell texts (header row first)."""
    found: list[list[list[str]]] = []
    rows: list[list[str]] | None = None
    for token in MD.parse(markdown):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open" and rows is not None:
            rows.append([])
        elif token.type == "inline" and rows is not None:  # inside a table, only cells hold inline content
            rows[-1].append(_text(token))
        elif token.type == "table_close" and rows is not None:
            found.append(rows)
            rows = None
    return found


def _text(token: Token) -> str:
    """A cell's visible text: text, code and entities decoded; <br> as a newline."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif (child.type == "html_inline" and child.content.lower() == "<br>") or child.type == "softbreak":
            parts.append("\n")
    return "".join(parts)


def all_tokens(markdown: str) -> list[Token]:
    """Every token, inline children included."""
    found = []
    for token in MD.parse(markdown):
        found.append(token)
        found.extend(token.children or [])
    return found


def test_an_improvement_passes(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.7\nmax_drop: 0.02\n")
    document, report = run_ci(run_cli, repo, c1, c2, 0)
    assert (document["verdict"], document["base"], document["head"]) == ("pass", c1, c2)
    [suite] = document["suites"]
    assert (suite["name"], suite["base_score"], suite["head_score"], suite["verdict"]) == ("route", 0.3, 0.8, "pass")
    assert suite["delta"] == pytest.approx(0.5)
    assert suite["reason"] == "improved significantly (p < 0.001, 22 up / 2 down), within the gates"
    assert (suite["up"], suite["down"], suite["significant"]) == (22, 2, True)
    assert suite["p_value"] == pytest.approx(2 * sum(math.comb(24, j) for j in range(3)) / 2**24)
    assert report.splitlines()[0] == MARKER
    assert "## ✅ promptgit: pass" in report
    [summary, regressed, patterns, improved] = tables(report)
    # Head's failure patterns sit beside the regressed cases (docs/spec.md, Dimensions and failure patterns).
    assert patterns == [
        ["pattern", "cases"],
        ["account_access → billing", "2"],
        ["billing → refunds", "2"],
        ["refunds → technical_support", "2"],
        ["technical_support → account_access", "2"],
        ["exact_match: expected <text>, got <text>", "8"],
    ]
    assert summary[0] == ["suite", "base", "head", "Δ pts [95% CI]", "p", "cases ↑ / ↓", "gate"]
    assert summary[1][:3] == ["route", "30.0%", "80.0%"] and summary[1][5] == "22 / 2"
    assert [row[0] for row in regressed[1:]] == ["c000", "c001"]
    assert len(improved) == 1 + 22


def test_a_significant_drop_beyond_max_drop_fails_and_lists_the_regressions(
    openai_server: Server, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    # c1 is right on 36 of 40, c2 on 16 (it loses c000-c019 and fixes nothing).
    data = dataset(naive_right=set(range(36)), good_right=set(range(20, 36)))
    repo, c1, c2 = two_versions(tmp_path / "repo", data, gates="max_drop: 0.02\n")
    document, report = run_ci(run_cli, repo, c1, c2, 1)
    [suite] = document["suites"]
    assert (document["verdict"], suite["verdict"]) == ("fail", "fail")
    assert suite["delta"] == pytest.approx(-0.5) and suite["ci"][1] < 0
    assert suite["reason"] == (
        "dropped 50.0 pts (p < 0.001, 0 up / 20 down), more than max_drop 2.0, and the drop is significant"
    )
    assert (suite["p_value"], suite["up"], suite["down"]) == (2 / 2**20, 0, 20)
    assert sorted(suite["regressed"]) == [f"c{i:03d}" for i in range(20)] and suite["improved"] == []

    lines = report.splitlines()
    assert lines[0] == MARKER
    assert "## ❌ promptgit: fail" in report
    summary, regressed, patterns = tables(report)
    assert patterns[0] == ["pattern", "cases"] and patterns[-1] == ["exact_match: expected <text>, got <text>", "24"]
    assert summary[1][0] == "route" and summary[1][5] == "0 / 20" and "significant" in summary[1][6]
    assert regressed[0] == ["case", "expected", "base output", "head output"]
    expected_rows = [[f"c{i:03d}", LABELS[i % 4], LABELS[i % 4], LABELS[(i + 1) % 4]] for i in range(20)]
    assert sorted(regressed[1:]) == sorted(expected_rows)
    blocks = [t for t in MD.parse(report) if t.type == "html_block"]
    opened = [b.content for b in blocks if b.content.startswith("<details>")]
    assert any("<summary>20 regressed cases</summary>" in b for b in opened)
    assert sum(b.content.count("<details>") for b in blocks) == sum(b.content.count("</details>") for b in blocks)


def test_a_drop_within_noise_passes(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    data = dataset(naive_right=set(range(40)), good_right=set(range(1, 40)))  # one case of 40 flips
    repo, c1, c2 = two_versions(tmp_path / "repo", data, gates="max_drop: 0.01\n")
    document, report = run_ci(run_cli, repo, c1, c2, 0)
    [suite] = document["suites"]
    assert (document["verdict"], suite["verdict"], suite["regressed"]) == ("pass", "pass", ["c000"])
    assert suite["delta"] == pytest.approx(-1 / 40)
    assert suite["ci"][0] < 0 <= suite["ci"][1] and suite["significant"] is False
    assert suite["reason"] == "dropped 2.5 pts (p = 1, 0 up / 1 down), within noise"
    assert (suite["p_value"], suite["up"], suite["down"]) == (1.0, 0, 1)
    assert "within noise" in tables(report)[0][1][3]


def test_a_suite_under_its_threshold_fails(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.9\n")
    document, report = run_ci(run_cli, repo, c1, c2, 1)
    [suite] = document["suites"]
    assert (document["verdict"], suite["verdict"], suite["head_score"]) == ("fail", "fail", 0.8)
    assert suite["reason"] == "score 80.0% [65.2, 89.5] is below the threshold 90.0%, with confidence"
    assert (suite["against_threshold"], suite["sensitivity"]) == ("below", {"cases": 6, "drop": 0.15})
    assert (
        "Threshold 90.0% (fails on: score below it): score 80.0% [65.2, 89.5] is below the threshold with "
        "confidence (all of its 95% CI is below)."
    ) in report.splitlines()
    assert "threshold" in tables(report)[0][1][6]


def test_a_failing_model_is_inconclusive(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, c2 = two_versions(
        tmp_path / "repo", dataset(), gates="threshold: 0.5\n", settings=SETTINGS + "retries: 0\n"
    )
    base = cli_json(run_cli, repo.path, ["eval", "--rev", c1, "--json"], code=1)  # 30% is below 0.5: stored anyway
    assert base["suites"][0]["score"] == 0.3
    openai_server.configure(rates={"500": 1.0})
    requests = len(openai_server.requests)
    document, report = run_ci(run_cli, repo, c1, c2, 3)
    [suite] = document["suites"]
    assert (document["verdict"], suite["verdict"], suite["base_score"], suite["head_score"]) == (
        "inconclusive",
        "inconclusive",
        0.3,
        None,
    )
    assert suite["reason"] == "40 of 40 cases failed to run on head (more than 5%)"
    # Base came from the store; each head case was tried once (retries: 0).
    statuses = [r.status for r in openai_server.requests[requests:]]
    assert statuses == [500] * 40
    assert "## ⚠️ promptgit: inconclusive" in report
    assert "head: 0/40 passed, 40 errors" in report


def test_ci_reuses_a_teammates_results_for_the_base_side_only(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.7\n")
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "main")
    first, _ = run_ci(run_cli, repo, c1, c2, 0)
    assert run_cli(["sync", "push"], repo.path).code == 0
    verdicts = (first["verdict"], first["suites"][0]["base_score"], first["suites"][0]["head_score"])

    # Pulled results stand in for the base; the head, what the pull request claims, is evaluated here.
    clone = Repo(tmp_path / "clone")
    repo.git("clone", "-q", str(remote), str(clone.path), cwd=tmp_path)
    requests = len(openai_server.requests)
    second, report = run_ci(run_cli, clone, c1, c2, 0)  # pulls from origin first (--pull is the default)
    assert (second["verdict"], second["suites"][0]["base_score"], second["suites"][0]["head_score"]) == verdicts
    assert len(openai_server.requests) == requests + 40
    assert "40 model calls made, 40 cached" in report

    # Opting in lets them stand in for the head too.
    trusting = Repo(tmp_path / "trusting")
    repo.git("clone", "-q", str(remote), str(trusting.path), cwd=tmp_path)
    requests = len(openai_server.requests)
    third, report = run_ci(run_cli, trusting, c1, c2, 0, "--trust-shared-head")
    assert (third["verdict"], third["suites"][0]["base_score"], third["suites"][0]["head_score"]) == verdicts
    assert len(openai_server.requests) == requests
    assert "0 model calls made, 80 cached" in report


def test_ci_without_head_judges_the_working_tree(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, _, c2 = two_versions(tmp_path / "repo", dataset(8, naive_right=set(range(8)), good_right=set(range(4))))
    repo.write({"prompts/route.jinja": prompt("naive", "Back to the first prompt.")})
    document = cli_json(run_cli, repo.path, ["ci", "--base", c2, "--json", "--report", str(tmp_path / "r.md")])
    assert (document["verdict"], document["base"], document["head"]) == ("pass", c2, "WORKTREE")
    assert (document["suites"][0]["improved"], document["suites"][0]["delta"]) == (
        ["c004", "c005", "c006", "c007"],
        0.5,
    )
    report = (tmp_path / "r.md").read_text(encoding="utf-8")
    fence = next(t for t in MD.parse(report) if t.type == "fence")
    assert "-Route the ticket to one queue.\n+Back to the first prompt.\n" in fence.content
    assert repo.status() == "M prompts/route.jinja" and repo.git("diff", "--cached", "--name-only") == ""


def test_no_affected_suite_passes_with_nothing_to_evaluate(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, _, c2 = two_versions(tmp_path / "repo", dataset(8))
    readme = repo.commit("docs", {"README.md": "# hello\n"})
    document, report = run_ci(run_cli, repo, c2, readme, 0)
    assert (document["verdict"], document["suites"]) == ("pass", [])
    assert report.splitlines()[0] == MARKER
    assert "No suite is affected by this change: nothing to evaluate." in report
    assert tables(report) == []
    assert len(openai_server.requests) == 0


def test_the_report_is_appended_to_the_job_summary(
    openai_server: Server, tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(8))
    _, report = run_ci(run_cli, repo, c1, c2, 0)
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + report + "\n"


def test_model_output_cannot_break_the_report(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    data = dataset(8, naive_right=set(range(8)), good_right=set(range(4, 8)), outputs={i: f"OUT{i}" for i in range(4)})
    repo, c1, c2 = two_versions(tmp_path / "repo", data)
    # The fake model answers one line after ANSWER:; the answers table gives multi-line hostile outputs.
    answers = {}
    for i in range(4):
        rendered = cli_json(
            run_cli, repo.path, ["render", "route", "--suite", "route", "--case", f"c{i:03d}", "--json"]
        )
        answers[rendered["messages"][-1]["content"]] = f"{EVIL} case {i}"
    openai_server.configure(answers=answers)
    document, report = run_ci(run_cli, repo, c1, c2, 0)
    assert sorted(document["suites"][0]["regressed"]) == ["c000", "c001", "c002", "c003"]

    found = tables(report)
    for table in found:
        assert len({len(row) for row in table}) == 1, table
    regressed = found[1]
    assert len(regressed) == 1 + 4
    # Shown verbatim, but for a zero-width space that keeps GitHub from pinging @octocat.
    assert [row[3] for row in sorted(regressed[1:])] == [f"{SHOWN_EVIL} case {i}" for i in range(4)]
    tokens = all_tokens(report)
    assert not [t for t in tokens if t.type in ("html_inline", "html_block") and "<script" in t.content.lower()]
    assert not [t for t in tokens if t.type in ("link_open", "image", "code_block")]
    fences = [t for t in tokens if t.type == "fence"]
    assert [(f.info, f.content.splitlines()[0]) for f in fences] == [
        ("diff", "diff --git a/prompts/route.jinja b/prompts/route.jinja")
    ]
    assert "@octocat" not in report and "@octocat" not in MD.render(report)
    assert "<script" not in MD.render(report)
    details = [t.content for t in tokens if t.type == "html_block"]
    assert sum(d.count("<details>") for d in details) == sum(d.count("</details>") for d in details)


def test_a_huge_report_fits_a_comment(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    n = 300
    # 2,000 characters each, of the ones escaping inflates most (`@` becomes 9 characters, `<` 4).
    outputs = {i: (f"{LABELS[(i + 1) % 4]} " + "@<|`&" * 400)[:2000] for i in range(n)}
    data = dataset(n, naive_right=set(range(n)), good_right=set(), outputs=outputs)
    repo, c1, c2 = two_versions(
        tmp_path / "repo",
        data,
        gates="max_drop: 0.02\n",
        settings=SETTINGS.replace("concurrency: 8", "concurrency: 16"),
    )
    document, report = run_ci(run_cli, repo, c1, c2, 1)
    assert len(document["suites"][0]["regressed"]) == n
    assert len(report) < COMMENT_LIMIT
    assert report.splitlines()[0] == MARKER
    found = tables(report)
    summary = found[0]
    assert summary[0] == ["suite", "base", "head", "Δ pts [95% CI]", "p", "cases ↑ / ↓", "gate"]
    assert summary[1][:3] == ["route", "100.0%", "0.0%"] and summary[1][5] == f"0 / {n}"
    assert all(len({len(row) for row in table}) == 1 for table in found)
    shown = found[1][1:]
    assert 0 < len(shown) < n
    for row in shown:  # clipped, never cut inside an escape
        text = row[3].replace("\u200b", "")
        assert text.endswith("…") and outputs[int(row[0][1:])].startswith(text[:-1])
    blocks = [t.content for t in MD.parse(report) if t.type == "html_block"]
    assert f"<summary>{n} regressed cases (first {len(shown)} shown)</summary>" in "".join(blocks)
    assert sum(b.count("<details>") for b in blocks) == sum(b.count("</details>") for b in blocks)
