"""GitHub annotations (issue 17, item 4): `ci` and `check` under GITHUB_ACTIONS=true, with exact workflow commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit.annotations import Annotation, escape_data, escape_property
from promptgit.git import changed_lines
from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server
from tests.test_ci import two_versions
from tests.test_git_native import SETTINGS, dataset

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config


def commands(text: str) -> list[str]:
    """The workflow-command lines in a stream."""
    return [line for line in text.splitlines() if line.startswith("::")]


@pytest.fixture
def on_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a GitHub Actions step would: GITHUB_ACTIONS=true, and no step summary file to append to."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def ci(run_cli: Callable[..., Result], root: Path, base: str, head: str, code: int, *extra: str) -> Result:
    """`promptgit ci` without pulling; checks the exit code."""
    result = run_cli(["ci", "--base", base, "--head", head, "--no-pull", "-q", *extra], root)
    assert result.code == code, result.err
    return result


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("100% sure", "100%25 sure", "100%25 sure"),
        ("line one\r\nline two", "line one%0D%0Aline two", "line one%0D%0Aline two"),
        ("promptgit: a, b", "promptgit: a, b", "promptgit%3A a%2C b"),
        ("%0A literal", "%250A literal", "%250A literal"),  # an escape in the input is not decoded later
        ("::error::injected", "::error::injected", "%3A%3Aerror%3A%3Ainjected"),
        ("evals/a,b:c.yaml", "evals/a,b:c.yaml", "evals/a%2Cb%3Ac.yaml"),
    ],
)
def test_escaping(raw: str, data: str, prop: str) -> None:
    assert (escape_data(raw), escape_property(raw)) == (data, prop)


def test_a_command_with_every_property() -> None:
    found = Annotation("error", "50% of\ncases", "p/a,b.jinja", 3, 4, "t: x").command()
    assert found == "::error file=p/a%2Cb.jinja,line=3,endLine=4,title=t%3A x::50%25 of%0Acases"
    assert Annotation("warning", "m").command() == "::warning::m"


def test_changed_lines_between_revisions_and_in_the_working_tree(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    c1 = repo.commit("one", {"p.txt": "a\nb\nc\nd\ne\nf\n"})
    c2 = repo.commit("two", {"p.txt": "a\nB\nc\nd\nf\nG\nH\n"})  # line 2 edited, e deleted, G and H added
    assert changed_lines(tmp_path, c1, c2, "p.txt") == [(2, 2), (5, 5), (6, 7)]
    repo.write({"p.txt": "new first\na\nB\nc\nd\nf\nG\nH\n"})
    assert changed_lines(tmp_path, c2, None, "p.txt") == [(1, 1)]
    assert changed_lines(tmp_path, c1, c2, "missing.txt") == []


def test_a_failing_suite_is_an_error_on_each_changed_range_of_its_prompt(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], on_actions: None
) -> None:
    data = dataset(naive_right=set(range(40)), good_right=set(range(12)))
    repo, c1, c2 = two_versions(tmp_path / "repo", data, gates="threshold: 0.7\n")
    result = ci(run_cli, repo.path, c1, c2, 1, "--json")
    json.loads(result.out)  # stdout is still one JSON document
    reason = "score 30.0%25 [18.1, 45.4] is below the threshold 70.0%25, with confidence"
    assert commands(result.err) == [
        f"::error file=prompts/route.jinja,line=5,endLine=5,title=promptgit%3A route failed::{reason}",
        f"::error file=prompts/route.jinja,line=8,endLine=8,title=promptgit%3A route failed::{reason}",
    ]
    assert commands(result.out) == []


def test_a_failure_without_a_prompt_change_is_an_error_on_the_suite_file(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], on_actions: None
) -> None:
    repo, _, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.7\n")
    suite = "# routing\nprompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\nthreshold: 0.9\n"
    c3 = repo.commit("raise the bar", {"evals/route.yaml": suite})
    rows = dataset().replace('"label": "billing"', '"label": "BILLING"')  # the same answers, still right
    c4 = repo.commit("upper-case a label", {"evals/cases.jsonl": rows})
    reason = "score 80.0%25 [65.2, 89.5] is below the threshold 90.0%25, with confidence"
    title = "promptgit%3A route failed"
    # The suite file's changed lines: the new comment (line 1) and the new threshold (line 6).
    assert commands(ci(run_cli, repo.path, c2, c3, 1).err) == [
        f"::error file=evals/route.yaml,line=1,endLine=1,title={title}::{reason}",
        f"::error file=evals/route.yaml,line=6,endLine=6,title={title}::{reason}",
    ]
    # Only the dataset changed: the suite file as a whole.
    assert commands(ci(run_cli, repo.path, c3, c4, 1).err) == [f"::error file=evals/route.yaml,title={title}::{reason}"]


def test_a_drop_within_noise_is_a_warning(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], on_actions: None
) -> None:
    data = dataset(naive_right=set(range(40)), good_right=set(range(1, 40)))  # one case of 40 flips
    repo, c1, c2 = two_versions(tmp_path / "repo", data, gates="max_drop: 0.01\n")
    result = ci(run_cli, repo.path, c1, c2, 0)
    assert commands(result.err) == [
        "::warning file=evals/route.yaml,title=promptgit%3A route dropped within noise::score dropped within noise: "
        "-2.5 [-6.7, +0.0] p = 1, 0 up / 1 down (pts, 95%25 CI); more cases or repeats would tell"
    ]


def test_no_annotations_outside_actions(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    data = dataset(naive_right=set(range(40)), good_right=set(range(12)))
    repo, c1, c2 = two_versions(tmp_path / "repo", data, gates="threshold: 0.7\n")
    result = ci(run_cli, repo.path, c1, c2, 1)
    assert commands(result.err) == commands(result.out) == []


CASES = "cases: [{text: a, expected: b}]\nscorers: [exact_match]\n"
BROKEN: dict[str, str | None] = {
    "promptgit.yaml": SETTINGS,
    "prompts/route.jinja": "user:\n{{ text }}\n",
    "evals/typo.yaml": f"prompt: route\n{CASES}temprature: 0\n",
    "evals/a,b:c.yaml": f"prompt: nowhere\n{CASES}",
}


def test_check_problems_at_their_file_and_line(
    tmp_path: Path, run_cli: Callable[..., Result], on_actions: None
) -> None:
    repo = new_repo(tmp_path)
    repo.commit("broken", BROKEN)
    result = run_cli(["check"], tmp_path)
    assert result.code == 1, result.err
    assert commands(result.err) == [
        "::error file=evals/a%2Cb%3Ac.yaml,line=1,title=promptgit check::the suite's prompt 'nowhere' does not exist"
        "%0Ahint: prompts here: route",
        "::error file=evals/typo.yaml,line=4,title=promptgit check::unknown suite key 'temprature'"
        "%0Ahint: suite keys: cases, dataset, description, expected, id, json_columns, max_drop, model, pass_at, "
        "prompt, repeat, scorers, threshold, threshold_rule, vars",
    ]


def test_paths_are_relative_to_the_workspace_for_a_project_in_a_subfolder(
    tmp_path: Path, run_cli: Callable[..., Result], on_actions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(tmp_path / "checkout")
    repo.commit("broken", {f"app/{name}": text for name, text in BROKEN.items() if "a,b" not in name})
    repo.commit("no suites elsewhere", {"empty/promptgit.yaml": SETTINGS})
    monkeypatch.setenv("GITHUB_WORKSPACE", str(repo.path))
    result = run_cli(["check"], repo.path / "app")
    assert [line.split("::")[1] for line in commands(result.err)] == [
        "error file=app/evals/typo.yaml,line=4,title=promptgit check"
    ]
    empty = run_cli(["check"], repo.path / "empty")  # its problem names the folder by its absolute path
    assert [line.split("::")[1] for line in commands(empty.err)] == ["error file=empty/evals,title=promptgit check"]


def test_an_inconclusive_suite_is_a_warning(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], on_actions: None
) -> None:
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(n=8), gates="threshold: 0.7\n")
    openai_server.configure(rates={"400": 1.0})  # every call refused, not retried
    result = ci(run_cli, repo.path, c1, c2, 3)
    assert commands(result.err) == [
        "::warning file=evals/route.yaml,title=promptgit%3A route inconclusive::8 of 8 cases failed to run on head "
        "(more than 5%25)"
    ]
