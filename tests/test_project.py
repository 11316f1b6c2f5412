"""A project is found or the command says so (issue 12.7); zero suites, and a suite with zero cases, are
refused, never passed (issue 12.7, 19.9)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit.errors import PromptgitError
from promptgit.tree import find_project_root
from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server
from tests.test_ci import prompt, suite_yaml
from tests.test_git_native import SETTINGS, cli_json, dataset

pytestmark = pytest.mark.usefixtures("git_env")

PROJECT = {
    "promptgit.yaml": SETTINGS,
    "prompts/route.jinja": prompt("naive"),
    "evals/route.yaml": suite_yaml(),
    "evals/cases.jsonl": dataset(4),
}


def monorepo(path: Path) -> tuple[Path, str]:
    """A repository whose promptgit project lives in ai/, with a commit."""
    repo = new_repo(path)
    sha = repo.commit("project in ai/", {f"ai/{name}": text for name, text in PROJECT.items()} | {"src/app.py": ""})
    return repo.path, sha


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["eval"],
        ["ci", "--base", "HEAD", "--no-pull"],
        ["diff"],
        ["log"],
        ["eval", "--changed-since", "HEAD"],
    ],
    ids=lambda a: " ".join(a),
)
def test_at_a_monorepos_root_every_command_says_where_it_looked(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], args: list[str]
) -> None:
    root, _ = monorepo(tmp_path / "mono")
    for cwd in (root, root / "src"):
        result = run_cli(args, cwd)
        assert (result.code, result.out) == (2, "")
        looked = ", ".join(str(folder) for folder in (cwd, *cwd.parents)[: len(cwd.relative_to(root).parts) + 1])
        assert result.err.startswith(
            "promptgit: error: no promptgit project found: no promptgit.yaml, prompts/ or evals/ in "
            f"{looked} (stopped at the git top level)\n  hint: run promptgit from the project's folder"
        ), result.err
    assert len(openai_server.requests) == 0


def test_inside_the_project_any_subfolder_finds_it(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    root, _ = monorepo(tmp_path / "mono")
    (root / "ai/prompts/deeper/still").mkdir(parents=True)
    for cwd in (root / "ai", root / "ai/prompts", root / "ai/evals", root / "ai/prompts/deeper/still"):
        suite = cli_json(run_cli, cwd, ["eval", "--json"])["suites"][0]
        assert (suite["name"], suite["cases"], suite["score"]) == ("route", 4, 1.0)
    assert len(openai_server.requests) == 4  # found the same project (and store) every time


def test_the_settings_file_wins_over_a_nearer_folder_named_prompts_or_evals(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "promptgit.yaml").write_text("")
    (tmp_path / "prompts/evals").mkdir(parents=True)  # a group of prompts that happens to be called evals
    (tmp_path / "prompts/prompts").mkdir()
    assert find_project_root(tmp_path / "prompts") == tmp_path
    assert find_project_root(tmp_path / "prompts/evals") == tmp_path


def test_without_settings_the_nearest_folder_holding_prompts_or_evals_is_the_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "svc/evals/deep").mkdir(parents=True)
    (tmp_path / "web/prompts").mkdir(parents=True)
    assert find_project_root(tmp_path / "svc/evals/deep") == tmp_path / "svc"
    assert find_project_root(tmp_path / "web") == tmp_path / "web"
    assert find_project_root(tmp_path / "web/prompts") == tmp_path / "web"


def test_the_walk_stops_at_the_git_top_level(tmp_path: Path) -> None:
    (tmp_path / "promptgit.yaml").write_text("")  # outside the repository: never this repository's project
    (tmp_path / "prompts").mkdir()
    repo = tmp_path / "repo"
    (repo / "lib").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: /elsewhere\n")  # a worktree or submodule: .git is a file
    with pytest.raises(PromptgitError) as raised:
        find_project_root(repo / "lib")
    assert raised.value.message == (
        f"no promptgit project found: no promptgit.yaml, prompts/ or evals/ in {repo / 'lib'}, {repo} "
        "(stopped at the git top level)"
    )


def test_outside_any_repository_the_walk_ends_at_the_filesystem_root(tmp_path: Path) -> None:
    with pytest.raises(PromptgitError) as raised:
        find_project_root(tmp_path)
    assert raised.value.message.endswith(f"{Path(tmp_path.anchor)} (stopped at the filesystem root)")
    assert f" in {tmp_path}, {tmp_path.parent}, " in raised.value.message


def no_suite_project(path: Path) -> Path:
    repo = new_repo(path)
    repo.commit("prompts only", {"promptgit.yaml": SETTINGS, "prompts/route.jinja": prompt("naive")})
    return repo.path


NO_SUITE = "no suite to run: evals/ holds no suite file (*.yaml, *.yml)"


@pytest.mark.parametrize(
    "args",
    [["eval"], ["eval", "--changed-since", "HEAD"], ["ci", "--base", "HEAD", "--no-pull"], ["diff"], ["diff", "HEAD"]],
    ids=lambda a: " ".join(a),
)
def test_zero_suites_is_bad_input_not_a_pass(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], args: list[str]
) -> None:
    root = no_suite_project(tmp_path / "p")
    result = run_cli(args, root)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"promptgit: error: {root / 'evals'}: {NO_SUITE}\n  hint: add a suite"), result.err


def test_check_counts_zero_suites_as_a_problem(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    root = no_suite_project(tmp_path / "p")
    result = cli_json(run_cli, root, ["check", "--json"], code=1)
    assert (result["prompts"], result["suites"]) == (1, 0)
    assert [(p["file"], p["message"]) for p in result["problems"]] == [(str(root / "evals"), NO_SUITE)]


@pytest.mark.parametrize(
    "args", [["eval", "nosuch"], ["ci", "--base", "HEAD", "--no-pull", "--suite", "nosuch"], ["log", "nosuch"]]
)
def test_a_suite_filter_that_matches_nothing_is_bad_input(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], args: list[str]
) -> None:
    root, _ = monorepo(tmp_path / "mono")
    result = run_cli(args, root / "ai")
    assert (result.code, result.out) == (2, "")
    assert "no suite named 'nosuch' (looked for evals/nosuch.yaml)" in result.err


def test_a_change_that_affects_no_suite_passes_and_says_so(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    root, sha = monorepo(tmp_path / "mono")
    (root / "src/app.py").write_text("print()\n")
    document = cli_json(run_cli, root / "ai", ["ci", "--base", sha, "--no-pull", "--json"])
    assert (document["verdict"], document["suites"]) == ("pass", [])
    result = run_cli(["eval", "--changed-since", sha], root / "ai")
    assert (result.code, result.err.strip()) == (0, f"no suite is affected by changes since {sha}")


# A suite with no case, in every way a suite can hold its cases.
EMPTY = {
    "inline": ("prompt: route\ncases: []\nscorers: [exact_match]\n", None, "", "its `cases:` holds no row"),
    "jsonl": (suite_yaml(), "evals/cases.jsonl", "", "its dataset evals/cases.jsonl holds no row"),
    "jsonl blank lines": (suite_yaml(), "evals/cases.jsonl", "\n\n", "its dataset evals/cases.jsonl holds no row"),
    "csv header only": (
        suite_yaml().replace("cases.jsonl", "cases.csv"),
        "evals/cases.csv",
        "id,text,label,naive\n",
        "its dataset evals/cases.csv holds no row",
    ),
    "json list": (
        suite_yaml().replace("cases.jsonl", "data/cases.json"),
        "evals/data/cases.json",
        "[]",
        "its dataset evals/data/cases.json holds no row",
    ),
    "yaml cases key": (
        suite_yaml().replace("cases.jsonl", "../data/cases.yaml"),
        "data/cases.yaml",
        "cases: []\n",
        "its dataset data/cases.yaml holds no row",
    ),
}


@pytest.mark.parametrize("kind", list(EMPTY))
def test_a_suite_with_no_cases_is_refused_by_check_and_eval(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], kind: str
) -> None:
    suite, data_path, data, reason = EMPTY[kind]
    files = {"promptgit.yaml": SETTINGS, "prompts/route.jinja": prompt("naive"), "evals/route.yaml": suite}
    repo = new_repo(tmp_path / "p")
    repo.commit("empty", files | ({data_path: data} if data_path else {}))
    where = data_path or "evals/route.yaml"
    message = f"suite 'route' has no cases: {reason}"
    checked = cli_json(run_cli, repo.path, ["check", "--json"], code=1)
    assert [(p["file"], p["message"]) for p in checked["problems"]] == [(where, message)]
    for args in (["eval"], ["eval", "route"], ["ci", "--base", "HEAD", "--no-pull"]):
        result = run_cli(args, repo.path)
        assert (result.code, result.out) == (2, "")
        assert result.err.startswith(f"promptgit: error: {where}: {message}\n"), result.err
    assert len(openai_server.requests) == 0
