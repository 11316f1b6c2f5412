"""Issue 13 end to end: exact verdicts in diff, ci, eval, bisect and blame; a failing pull request names its culprit."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server
from tests.test_ci import run_ci, tables
from tests.test_git_native import LABELS, cli_json

pytestmark = pytest.mark.usefixtures("git_env")

SUITE = "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"


def settings(temperature: float = 0) -> str:
    return f"defaults: {{model: openai/test-model, temperature: {temperature}}}\nconcurrency: 8\n"


def prompt(style: int, answer: str) -> str:
    """The fake model answers with what follows ANSWER:, so `answer` names the dataset field it echoes."""
    return (
        f"---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket.\nStyle {style}.\n"
        f"user:\nTicket {{{{ text }}}}\nANSWER: {{{{ {answer} }}}}\n"
    )


def cases(n: int, flipped: Collection[int], right: Collection[int] | None = None) -> str:
    """`before` is right on `right` (default all); `after` is too, except on `flipped`."""
    rows = []
    for i in range(n):
        label, wrong = LABELS[i % 4], LABELS[(i + 1) % 4]
        before = label if right is None or i in right else wrong
        after = wrong if i in flipped else before
        rows.append(json.dumps({"id": f"c{i:03d}", "text": f"t{i}", "label": label, "before": before, "after": after}))
    return "\n".join(rows) + "\n"


FLIPPED = (1, 50, 99, 140)  # 4 of 150 cases: p = 0.125, within noise for the gate, a real change for bisect


def flips_history(path: Path, flipped: Collection[int] = FLIPPED, temperature: float = 0) -> tuple[Repo, list[str]]:
    """8 commits; the fingerprint changes at 1, 3, 4, 5, 6 and 8; commit 5 makes `flipped` answer wrong."""
    repo = new_repo(path)
    shas = [
        repo.commit(
            "route tickets",
            {
                "promptgit.yaml": settings(temperature),
                "evals/route.yaml": SUITE,
                "evals/cases.jsonl": cases(150, flipped),
                "prompts/route.jinja": prompt(1, "before"),
            },
        )
    ]
    answer = "before"
    for n in range(2, 9):
        if n in (2, 7):
            shas.append(repo.commit(f"notes {n}", {"README.md": f"notes {n}\n"}))
            continue
        answer = "after" if n == 5 else answer
        shas.append(
            repo.commit(
                f"restyle {n}" if n != 5 else "answer from the after field", {"prompts/route.jinja": prompt(n, answer)}
            )
        )
    return repo, shas


def test_bisect_names_a_drop_of_4_cases_in_150_at_temperature_0(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, shas = flips_history(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["bisect", "route", "--good", shas[0], "--json"])
    assert report["first_bad"] == shas[4]
    assert report["message"] == f"first bad commit: {shas[4][:10]} answer from the after field"
    # Both answers: the gate's exact test calls it noise, bisect follows it as a reproducible change.
    assert (report["p_value"], report["up"], report["down"], report["significant"]) == (0.125, 0, 4, False)
    assert (report["call"], report["reproducible"]) == ("changed", True)
    assert report["delta"] == round(-4 / 150, 6)
    assert (report["before"], report["after"]) == (1.0, round(146 / 150, 6))
    assert len(report["evaluated"]) <= 2 + math.ceil(math.log2(5))
    text = run_cli(["bisect", "route", "--good", shas[0]], repo.path).out
    assert "  good -> bad: -2.7 [" in text
    assert "p = 0.125, 0 up / 4 down, within noise for the gate; for bisect: reproducible" in text


@pytest.mark.parametrize("case", ["c001", "c099", "c140"])
def test_bisect_a_case_of_the_4_in_150_drop(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], case: str
) -> None:
    repo, shas = flips_history(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["bisect", "route", "--case", case, "--good", shas[0], "--json"])
    assert (report["first_bad"], report["case"], report["before"], report["after"]) == (shas[4], case, 1.0, 0.0)


def test_bisect_is_undecided_when_outputs_may_not_reproduce_and_the_drop_is_within_noise(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, shas = flips_history(tmp_path / "repo", temperature=0.7)
    result = run_cli(["bisect", "route", "--good", shas[0], "--json"], repo.path)
    report = json.loads(result.out)
    assert (result.code, report["first_bad"], report["call"], report["reproducible"]) == (1, None, "undecided", False)
    ci = report["ci"]
    assert report["message"] == (
        "undecided: the change from good to bad is within noise (4 down, 0 up of 150: within noise, "
        f"-2.7 pts [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}], p = 0.125); the culprit, if any, lies in "
        f"{shas[0][:10]}..{shas[-1][:10]}; add cases or `repeat:` to the suite, then bisect again"
    )


@pytest.mark.parametrize("flips", [6, 12, 30])
def test_bisect_follows_a_significant_drop_when_outputs_may_not_reproduce(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], flips: int
) -> None:
    repo, shas = flips_history(tmp_path / "repo", flipped=[i * (150 // flips) for i in range(flips)], temperature=0.7)
    report = cli_json(run_cli, repo.path, ["bisect", "route", "--good", shas[0], "--json"])
    assert (report["first_bad"], report["call"], report["down"]) == (shas[4], "changed", flips)
    assert report["p_value"] == 2 / 2**flips and report["significant"] is True


def test_blame_gives_each_line_its_delta_p_and_counts(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, shas = flips_history(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["blame", "route", "--json"])
    lines = {line["text"]: line for line in report["lines"]}
    impact = lines["ANSWER: {{ after }}"]["impacts"]["route"]
    assert lines["ANSWER: {{ after }}"]["commit"] == shas[4]
    assert (impact["delta"], impact["p_value"], impact["up"], impact["down"]) == (round(-4 / 150, 6), 0.125, 0, 4)
    assert impact["significant"] is False
    restyle = lines["Style 8."]["impacts"]["route"]
    assert (restyle["p_value"], restyle["up"], restyle["down"]) == (1.0, 0, 0)
    text = run_cli(["blame", "route"], repo.path).out.splitlines()
    [answer] = [line for line in text if line.endswith("| ANSWER: {{ after }}")]
    assert f"~-2.7 [{impact['ci'][0] * 100:+.1f}, {impact['ci'][1] * 100:+.1f}] p = 0.125, 0 up / 4 down" in answer
    [style] = [line for line in text if line.endswith("| Style 8.")]
    assert "no case changed" in style


# --- eval: the degenerate cases, what a suite can see, the threshold and its noise ---------------------------


def one_suite(path: Path, n: int, right: Collection[int] | None, gates: str = "") -> Repo:
    repo = new_repo(path)
    repo.commit(
        "suite",
        {
            "promptgit.yaml": settings(),
            "evals/route.yaml": SUITE + gates,
            "evals/cases.jsonl": cases(n, (), right),
            "prompts/route.jinja": prompt(1, "before"),
        },
    )
    return repo


def test_a_suite_where_every_case_passes_prints_an_honest_interval(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = one_suite(tmp_path / "repo", 24, None, "max_drop: 0.02\n")
    [suite] = cli_json(run_cli, repo.path, ["eval", "--json"])["suites"]
    assert (suite["score"], suite["ci"]) == (1.0, [0.862024, 1.0])
    assert suite["sensitivity"] == {"cases": 6, "drop": 0.25}
    text = run_cli(["eval"], repo.path).out
    assert "100.0% [86.2, 100.0]" in text
    assert (
        "route: with 24 cases, only drops of 25 pts or more can be significant (max_drop is 2 pts): "
        "add cases or `repeat:`"
    ) in text.splitlines()


@pytest.mark.parametrize(
    ("n", "cases_needed", "line"),
    [
        (5, None, "route: with 5 cases, no drop can be significant"),
        (150, 6, "route: with 150 cases, only drops of 4 pts or more can be significant"),
        (400, 6, "route: with 400 cases, only drops of 1.5 pts or more can be significant"),
    ],
)
def test_eval_says_what_the_suite_can_see(
    openai_server: Server,
    tmp_path: Path,
    run_cli: Callable[..., Result],
    n: int,
    cases_needed: int | None,
    line: str,
) -> None:
    repo = one_suite(tmp_path / "repo", n, None)
    [suite] = cli_json(run_cli, repo.path, ["eval", "--json"])["suites"]
    assert suite["sensitivity"] == {"cases": cases_needed, "drop": round(cases_needed / n, 6) if cases_needed else None}
    assert line in run_cli(["eval"], repo.path).out.splitlines()


@pytest.mark.parametrize(
    ("right", "rule", "code", "where", "verdict_line"),
    [
        # 19 of 24 (79.2%) against 0.8: within noise of it. The score rule fails, the interval rule passes.
        (19, "score", 1, "within noise", "is below the threshold 80.0%, within noise of it (its 95% CI reaches it)"),
        (19, "interval", 0, "within noise", "is below the threshold 80.0%, within noise of it (its 95% CI reaches it)"),
        # 12 of 24 (50%): below with confidence, so both rules fail.
        (12, "score", 1, "below", "is below the threshold 80.0%, with confidence"),
        (12, "interval", 1, "below", "is below the threshold 80.0%, with confidence"),
    ],
)
def test_the_threshold_gate_and_its_noise(
    openai_server: Server,
    tmp_path: Path,
    run_cli: Callable[..., Result],
    right: int,
    rule: str,
    code: int,
    where: str,
    verdict_line: str,
) -> None:
    repo = one_suite(tmp_path / "repo", 24, range(right), f"threshold: 0.8\nthreshold_rule: {rule}\n")
    [suite] = cli_json(run_cli, repo.path, ["eval", "--json"], code=code)["suites"]
    assert (suite["against_threshold"], suite["threshold_rule"]) == (where, rule)
    assert any(line.endswith(verdict_line) for line in run_cli(["eval"], repo.path).out.splitlines())


def test_an_unknown_threshold_rule_is_bad_input(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    repo = one_suite(tmp_path / "repo", 4, None, "threshold_rule: ci\n")
    result = run_cli(["eval"], repo.path)
    assert (result.code, result.out) == (2, "")
    assert "threshold_rule must be one of score, interval, not 'ci'" in result.err


# --- diff and ci: "No case changed", p-values in JSON, the culprit inside a pull request ---------------------


def test_a_change_that_moves_no_case_says_so(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, shas = flips_history(tmp_path / "repo")
    [suite] = cli_json(run_cli, repo.path, ["diff", shas[0], shas[2], "--json"])["suites"]
    assert (suite["delta"], suite["ci"], suite["p_value"], suite["up"], suite["down"]) == (0.0, [0.0, 0.0], 1.0, 0, 0)
    text = run_cli(["diff", shas[0], shas[2]], repo.path).out
    assert "No case changed" in text and "+0.0, +0.0" not in text
    markdown = run_cli(["diff", shas[0], shas[2], "--markdown"], repo.path).out
    assert tables(markdown)[0][1][3:6] == ["No case changed", "–", "0 / 0"]


def pull_request(path: Path, breaking: int) -> tuple[Repo, str, list[str]]:
    """A base commit, then a 4-commit pull request (a README commit among them) where commit `breaking`
    makes 20 of 40 cases answer wrong; the others restyle the prompt."""
    repo = new_repo(path)
    base = repo.commit(
        "route tickets",
        {
            "promptgit.yaml": settings(),
            "evals/route.yaml": SUITE + "max_drop: 0.02\n",
            "evals/cases.jsonl": cases(40, range(20)),
            "prompts/route.jinja": prompt(1, "before"),
        },
    )
    commits, answer = [], "before"
    for n in range(1, 5):
        answer = "after" if n == breaking else answer
        commits.append(repo.commit(f"change {n}", {"prompts/route.jinja": prompt(n + 1, answer)}))
        if n == 2:
            repo.commit("notes", {"README.md": "notes\n"})
    return repo, base, commits


@pytest.mark.parametrize("breaking", [3, 1, 4])
def test_a_failing_pull_request_names_its_culprit(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], breaking: int
) -> None:
    repo, base, commits = pull_request(tmp_path / "repo", breaking)
    culprit = commits[breaking - 1]
    document, report = run_ci(run_cli, repo, base, commits[-1], 1)
    [suite] = document["suites"]
    assert (suite["verdict"], suite["p_value"], suite["down"]) == ("fail", 2 / 2**20, 20)
    found = suite["culprit"]
    assert (found["commit"], found["subject"], found["before"], found["after"]) == (
        culprit,
        f"change {breaking}",
        1.0,
        0.5,
    )
    assert found["evaluated"] <= 2 + 2  # base and head (stored by the gate), then about log2(4) inside
    assert "-ANSWER: {{ before }}\n+ANSWER: {{ after }}" in found["prompt_diff"]
    assert f"**Caused by** `{culprit[:10]}` change {breaking} (score 100.0% → 50.0%;" in report
    assert "+ANSWER: {{ after }}" in report.split("**Caused by**")[1]
    text = run_cli(["ci", "--base", base, "--head", commits[-1]], repo.path).out
    assert f"route: caused by {culprit[:10]} change {breaking} (score 100.0% -> 50.0%)" in text.splitlines()
    # Every revision bisect evaluated is stored: bisecting again makes no model call.
    paid = len(openai_server.requests)
    again = cli_json(run_cli, repo.path, ["bisect", "route", "--good", base, "--bad", commits[-1], "--json"])
    assert (again["first_bad"], len(openai_server.requests)) == (culprit, paid)


def test_ci_time_limit_bounds_its_bisect_too(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    # ci --time-limit used to bound base and head only: the bisect after them ran unbounded.
    repo, base, commits = pull_request(tmp_path / "repo", 3)
    run_ci(run_cli, repo, base, commits[-1], 1, "--no-bisect")  # base and head stored: ci's diff is instant
    openai_server.configure(latency=0.5)  # a version inside takes 40 calls / 8 at once x 0.5 s = 2.5 s
    paid = len(openai_server.requests)
    report = tmp_path / "report.md"
    result = run_cli(
        ["ci", "--base", base, "--head", commits[-1], "--json", "--time-limit", "1", "--report", str(report)],
        repo.path,
    )
    assert result.code == 1, result.err
    [suite] = json.loads(result.out)["suites"]
    assert (suite["verdict"], suite["culprit"]) == ("fail", None)
    assert (
        "promptgit: no culprit named: bisect of suite 'route' stopped: the run's time limit was reached\n" in result.err
    )
    # The pull request's readers see it too, where the culprit would have been.
    said = [line for line in report.read_text(encoding="utf-8").splitlines() if line.startswith("**Culprit not")]
    assert said == ["**Culprit not named**: bisect of suite 'route' stopped: the run's time limit was reached"], said
    assert 0 < len(openai_server.requests) - paid < 40  # one version begun, cut off: not judged on a part


def test_no_bisect_leaves_the_culprit_out(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, base, commits = pull_request(tmp_path / "repo", 3)
    document, report = run_ci(run_cli, repo, base, commits[-1], 1, "--no-bisect")
    assert document["suites"][0]["culprit"] is None and "Caused by" not in report
    # Only base and head were evaluated: 2 x 40 calls.
    assert len(openai_server.requests) == 80


def test_a_passing_pull_request_is_not_bisected(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, base, commits = pull_request(tmp_path / "repo", 0)  # nothing breaks
    document, _ = run_ci(run_cli, repo, base, commits[-1], 0)
    assert document["suites"][0]["culprit"] is None
    assert len(openai_server.requests) == 80
