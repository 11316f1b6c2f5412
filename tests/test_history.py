"""History commands take history as it is (issue 12.9): log, blame and bisect mark and step over commits where a
suite cannot be evaluated; bisect starts from the oldest evaluable version; `log --json` has one shape; blame
takes a prompt's name or path, and a partial finds the suites whose prompts include it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server
from tests.test_ci import prompt, suite_yaml
from tests.test_git_native import SETTINGS, cli_json, dataset

pytestmark = pytest.mark.usefixtures("git_env")

NO_MODEL = "concurrency: 8\n"
N = 40  # dataset(): the `naive` answers are right on 12 cases, the `good` ones on 32
NAIVE, GOOD = 12 / N, 32 / N


def project(settings: str = SETTINGS, answer: str = "naive", instruction: str = "Route the ticket.") -> dict:
    return {
        "promptgit.yaml": settings,
        "prompts/route.jinja": prompt(answer, instruction),
        "evals/route.yaml": suite_yaml(),
        "evals/cases.jsonl": dataset(),
    }


def rows(document: Any) -> list[tuple[str, Any, Any, str, Any]]:
    [log] = document
    return [(e["commit"], e["score"], e["delta"], e["state"], e["note"]) for e in log["entries"]]


# Ways a suite can be unevaluable at a commit: (what the commit writes, the note `log` gives it).
BROKEN: dict[str, tuple[dict[str, str], str]] = {
    "no model yet": ({"promptgit.yaml": NO_MODEL}, "prompts/route.jinja: no model configured"),
    "suite not YAML": ({"evals/route.yaml": "prompt: [route\n"}, "evals/route.yaml"),
    "unknown suite key": ({"evals/route.yaml": suite_yaml("treshold: 0.5\n")}, "unknown suite key 'treshold'"),
    "dataset line not JSON": ({"evals/cases.jsonl": dataset() + "{oops\n"}, "evals/cases.jsonl"),
    "prompt syntax error": ({"prompts/route.jinja": "{% if %}\n"}, "prompts/route.jinja"),
    "settings not YAML": ({"promptgit.yaml": "defaults: [\n"}, "promptgit.yaml"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_log_marks_and_steps_over_a_version_that_cannot_be_evaluated(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], kind: str
) -> None:
    breaks, note = BROKEN[kind]
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit("naive", project())
    c2 = repo.commit(f"break: {kind}", breaks)
    c3 = repo.commit("repair, better prompt", project(answer="good", instruction="One queue."))
    document = cli_json(run_cli, repo.path, ["log", "--json"])
    [first, broken, last] = rows(document)
    assert first == (c1, NAIVE, None, "kept", None)  # its suite and dataset lines are still there
    assert broken[:4] == (c2, None, None, "not evaluable")
    assert note in broken[4], broken[4]
    assert last == (c3, GOOD, pytest.approx(GOOD - NAIVE), "kept", None)  # measured against the last scored row
    assert len(openai_server.requests) == 2 * N
    text = run_cli(["log"], repo.path)
    assert text.code == 0
    assert [line.split()[0] for line in text.out.splitlines()[3:]] == [c1[:8], c2[:8], c3[:8]]
    assert "not evaluable" in text.out.splitlines()[4]


def test_log_of_a_project_that_set_its_model_late(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit("first prompt, no model yet", project(settings=NO_MODEL))
    c2 = repo.commit("restyle, still no model", {"prompts/route.jinja": prompt("naive", "Route it.")})
    c3 = repo.commit("configure the model", {"promptgit.yaml": SETTINGS})
    c4 = repo.commit("better prompt", {"prompts/route.jinja": prompt("good")})
    note = "prompts/route.jinja: no model configured"
    assert rows(cli_json(run_cli, repo.path, ["log", "route", "--json"])) == [
        (c1, None, None, "not evaluable", note),
        (c2, None, None, "not evaluable", note),
        (c3, NAIVE, None, "kept", None),
        (c4, GOOD, pytest.approx(GOOD - NAIVE), "kept", None),
    ]
    # --no-eval: nothing new is paid, the unevaluable rows are still marked.
    requests = len(openai_server.requests)
    stored = rows(cli_json(run_cli, repo.path, ["log", "--no-eval", "--json"]))
    assert [r[3] for r in stored] == ["not evaluable", "not evaluable", "kept", "kept"]
    assert len(openai_server.requests) == requests


def test_log_json_is_always_a_list_of_suites(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    files = project() | {"evals/other.yaml": suite_yaml()}
    c1 = repo.commit("two suites", files)
    for args in (["log", "--json"], ["log", "route", "--json"], ["log", "route", "other", "--json"]):
        document = cli_json(run_cli, repo.path, [*args[:-1], "--no-eval", "--json"])
        assert isinstance(document, list)
        names = [d["suite"] for d in document]
        assert names == (["other", "route"] if len(args) == 2 else args[1:-1])
        assert all(d["entries"][0]["commit"] == c1 for d in document)
        assert all(set(d) == {"suite", "entries", "plateau"} for d in document)


def test_bisect_without_stored_scores_starts_from_the_oldest_evaluable_version(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    repo.commit("no model yet", project(settings=NO_MODEL, answer="good"))
    c2 = repo.commit("model set", {"promptgit.yaml": SETTINGS})
    repo.commit("restyle", {"prompts/route.jinja": prompt("good", "Route it, please.")})
    c4 = repo.commit("break the suite", {"evals/route.yaml": "prompt: [\n"})
    c5 = repo.commit("fix the suite, worse prompt", {"evals/route.yaml": suite_yaml(), **_answer("naive")})
    repo.commit("restyle again", {"prompts/route.jinja": prompt("naive", "Route it now.")})
    report = cli_json(run_cli, repo.path, ["bisect", "route", "--json"])
    assert (report["good"], report["first_bad"]) == (c2, c5)
    assert report["steps"][0] == {"commit": c2, "score": GOOD, "verdict": "good", "note": "starting point"}
    [skipped] = report["skipped"]
    assert (skipped["commit"], skipped["verdict"]) == (c4, "not evaluable")
    assert skipped["note"].startswith("evals/route.yaml")
    assert report["message"].startswith(f"first bad commit: {c5[:10]} fix the suite, worse prompt (or one of {c4[:10]}")
    text = run_cli(["bisect", "route"], repo.path).out
    assert f"stepped over 1 version(s) that cannot be evaluated:\n  {c4[:10]}  evals/route.yaml" in text


def _answer(field: str) -> dict[str, str]:
    return {"prompts/route.jinja": prompt(field)}


def test_bisect_refuses_a_good_revision_that_cannot_be_evaluated(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit("no model yet", project(settings=NO_MODEL, answer="good"))
    repo.commit("model set", {"promptgit.yaml": SETTINGS})
    repo.commit("worse", _answer("naive"))
    result = run_cli(["bisect", "route", "--good", c1], repo.path)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(
        f"promptgit: error: suite 'route' cannot be evaluated at the good revision {c1[:10]}: "
        "prompts/route.jinja: no model configured\n"
    )


def test_bisect_with_no_evaluable_version_before_bad_says_so(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    repo.commit("no model yet", project(settings=NO_MODEL))
    c2 = repo.commit("model set", {"promptgit.yaml": SETTINGS})
    result = run_cli(["bisect", "route"], repo.path)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(
        f"promptgit: error: suite 'route' has no version before {c2[:10]} that can be evaluated\n"
    )
    assert len(openai_server.requests) == 0


PARTIAL_PROMPT = "---\nmax_tokens: 8\n---\nsystem:\n{% include '_partials/rules.jinja' %}\nuser:\nANSWER: {{ naive }}\n"


def partial_repo(path: Path) -> tuple[Repo, str, str]:
    """Two prompts include _partials/rules.jinja, a third does not; c2 edits the partial."""
    repo = new_repo(path)
    c1 = repo.commit(
        "prompts and a shared partial",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/_partials/rules.jinja": "Be brief.\nUse one word.\n",
            "prompts/route.jinja": PARTIAL_PROMPT,
            "prompts/support/triage.jinja": PARTIAL_PROMPT.replace("naive", "good"),
            "prompts/plain.jinja": prompt("naive"),
            "evals/route.yaml": suite_yaml(),
            "evals/triage.yaml": suite_yaml().replace("prompt: route", "prompt: support/triage"),
            "evals/plain.yaml": suite_yaml().replace("prompt: route", "prompt: plain"),
            "evals/cases.jsonl": dataset(),
        },
    )
    c2 = repo.commit("one word only", {"prompts/_partials/rules.jinja": "Be brief.\nAnswer with one word only.\n"})
    return repo, c1, c2


@pytest.mark.parametrize(
    "target",
    [
        "_partials/rules.jinja",
        "prompts/_partials/rules.jinja",
        "./prompts/_partials/rules.jinja",
        "_partials/rules",
        "prompts/support/../_partials/rules.jinja",
    ],
)
def test_blaming_a_partial_finds_the_suites_whose_prompts_include_it(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], target: str
) -> None:
    repo, c1, c2 = partial_repo(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["blame", target, "--no-eval", "--json"])
    assert (report["prompt"], report["path"], report["suites"]) == (
        "prompts/_partials/rules.jinja",
        "prompts/_partials/rules.jinja",
        ["route", "triage"],
    )
    assert [(line["text"], line["commit"]) for line in report["lines"]] == [
        ("Be brief.", c1),
        ("Answer with one word only.", c2),
    ]
    assert sorted(report["lines"][1]["impacts"]) == ["route", "triage"]


@pytest.mark.parametrize(
    ("target", "name", "path"),
    [
        ("route", "route", "prompts/route.jinja"),
        ("prompts/route.jinja", "route", "prompts/route.jinja"),
        ("route.jinja", "route", "prompts/route.jinja"),
        ("./prompts/support/triage.jinja", "support/triage", "prompts/support/triage.jinja"),
        ("support/triage.jinja", "support/triage", "prompts/support/triage.jinja"),
        ("triage", "support/triage", "prompts/support/triage.jinja"),  # a suite's name: its prompt
    ],
)
def test_blame_takes_a_prompt_name_or_its_path(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], target: str, name: str, path: str
) -> None:
    repo, _, _ = partial_repo(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["blame", target, "--no-eval", "--json"])
    assert (report["prompt"], report["path"], report["suites"]) == (name, path, [name.split("/")[-1]])


@pytest.mark.parametrize("target", ["nosuch", "prompts/nosuch.jinja", "../outside.jinja", "evals/route.yaml.jinja"])
def test_blame_of_nothing_is_bad_input(tmp_path: Path, run_cli: Callable[..., Result], target: str) -> None:
    repo, _, _ = partial_repo(tmp_path / "repo")
    result = run_cli(["blame", target], repo.path)
    assert (result.code, result.out) == (2, "")
    assert "no prompt named" in result.err


def test_blame_measures_an_edited_partial_on_every_suite_that_reads_it(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, c1, c2 = partial_repo(tmp_path / "repo")
    report = cli_json(run_cli, repo.path, ["blame", "_partials/rules.jinja", "--json"])
    assert [line["commit"] for line in report["lines"]] == [c1, c2]
    impacts = report["lines"][1]["impacts"]
    assert (impacts["route"]["before"], impacts["route"]["after"], impacts["route"]["delta"]) == (NAIVE, NAIVE, 0.0)
    assert (impacts["triage"]["before"], impacts["triage"]["after"], impacts["triage"]["delta"]) == (GOOD, GOOD, 0.0)
    assert report["lines"][0]["impacts"]["route"] == {
        "before": None,
        "after": NAIVE,
        "delta": None,
        "ci": None,
        "p_value": None,
        "up": None,
        "down": None,
        "significant": False,
        "note": None,
    }
    unchanged = impacts["route"]
    assert (unchanged["ci"], unchanged["p_value"], unchanged["up"], unchanged["down"]) == ([0.0, 0.0], 1.0, 0, 0)


def test_blame_marks_commits_where_a_suite_cannot_be_evaluated(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit("no model yet", project(settings=NO_MODEL))
    repo.commit("model set", {"promptgit.yaml": SETTINGS})
    c3 = repo.commit("better", _answer("good"))
    report = cli_json(run_cli, repo.path, ["blame", "route", "--json"])
    by_commit = {line["commit"]: line["impacts"]["route"] for line in report["lines"]}
    assert by_commit[c1]["note"] == "not evaluable: prompts/route.jinja: no model configured"
    assert (by_commit[c1]["after"], by_commit[c1]["delta"]) == (None, None)
    assert (by_commit[c3]["before"], by_commit[c3]["after"]) == (NAIVE, GOOD)
    assert by_commit[c3]["delta"] == pytest.approx(GOOD - NAIVE)
    text = run_cli(["blame", "route"], repo.path).out.splitlines()
    assert f"× {c1[:8]} route: not evaluable: prompts/route.jinja: no model configured" in text
    assert json.dumps(report)  # one JSON document


def test_every_log_state_in_one_history(openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit("naive", project())
    c2 = repo.commit("reword", _answer("naive") | {"prompts/route.jinja": prompt("naive", "Route this ticket.")})
    c3 = repo.commit("reword again, better", {"prompts/route.jinja": prompt("good", "Pick the queue.")})
    c4 = repo.commit("try a longer prompt", {"prompts/route.jinja": prompt("naive", "Pick the queue. Think.")})
    c5 = repo.git("revert", "--no-edit", "HEAD") and repo.git("rev-parse", "HEAD")
    repo.clock += 60
    c6 = repo.commit("settings typo", {"promptgit.yaml": "defaults: [\n"})
    c7 = repo.commit("settings fixed", {"promptgit.yaml": SETTINGS})
    found = rows(cli_json(run_cli, repo.path, ["log", "--json"]))
    assert [(sha, state) for sha, _, _, state, _ in found] == [
        (c1, "kept"),  # its suite and dataset lines are still there
        (c2, "superseded"),  # c3 replaced its only line
        (c3, "kept"),
        (c4, "reverted"),  # c5 restored the fingerprint from before it
        (c5, "kept"),
        (c6, "not evaluable"),
        (c7, "kept"),
    ]
    assert [score for _, score, _, _, _ in found] == [NAIVE, NAIVE, GOOD, NAIVE, GOOD, None, GOOD]
    assert [delta for _, _, delta, _, _ in found] == [None, 0.0, pytest.approx(0.5), -0.5, 0.5, None, 0.0]
    assert found[5][4].startswith("promptgit.yaml")


def test_bisect_compares_versions_on_the_cases_they_share_unchanged(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    # c2 rewrites the expected answer of 20 cases the prompt answered right: a harder dataset, not a worse prompt.
    right = set(range(N))
    harder = "".join(
        json.dumps({**json.loads(line), "label": "other"}) + "\n" if i < 20 else line + "\n"
        for i, line in enumerate(dataset(good_right=right).splitlines())
    )
    repo = new_repo(tmp_path / "repo")
    c1 = repo.commit("all right", project(answer="good") | {"evals/cases.jsonl": dataset(good_right=right)})
    repo.commit("harder expectations", {"evals/cases.jsonl": harder})
    c3 = repo.commit("restyle", {"prompts/route.jinja": prompt("good", "Route it.")})
    result = run_cli(["bisect", "route", "--good", c1, "--json"], repo.path)
    report = json.loads(result.out)
    assert (result.code, report["first_bad"], report["bad"]) == (1, None, c3)
    assert report["message"] == "no case changed between the good and the bad revision: nothing to find"
    assert (report["p_value"], report["up"], report["down"]) == (1.0, 0, 0)  # over the 20 cases left unchanged
    assert [s["score"] for s in report["steps"]] == [1.0, 0.5]  # each over its own cases, as `eval` shows
