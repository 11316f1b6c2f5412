"""cli.py's own parsing: a `--var` given twice is refused, not read as its last value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server
from tests.test_gates import IDS, PROMPT, SETTINGS, rows


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--var", "ticket=a", "--var", "ticket=b"], "ticket"),
        (["--var", "ticket=a", "--var", "ticket=a"], "ticket"),  # the same value twice is still a slip
        (["--var", "ticket =a", "--var", " ticket=b"], "ticket"),  # spaces around the name
    ],
)
def test_render_refuses_a_var_given_twice(
    basic_project: Path, run_cli: Callable[..., Result], args: list[str], name: str
) -> None:
    result = run_cli(["render", "support/classify", *args], basic_project)
    assert result.code == 2
    assert f"--var {name} is given twice" in result.err
    assert result.out == ""


@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize(
    ("form", "shown"),
    [([], "\ns: fail ("), (["--json"], '"verdict": "fail"'), (["--markdown"], "## ❌ promptgit: fail")],
)
def test_diff_exits_1_when_the_gate_it_prints_failed(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], form: list[str], shown: str
) -> None:
    path, base, head = _broken_change(tmp_path)
    result = run_cli(["diff", base, head, *form], path)
    assert shown in result.out
    assert result.code == 1


@pytest.mark.usefixtures("git_env")
def test_ci_text_says_each_gate_once(openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    # diff's gate lines are diff's own: ci (and drift, suggest) print their gates themselves.
    path, base, head = _broken_change(tmp_path)
    result = run_cli(["ci", "--base", base, "--head", head, "--no-bisect"], path)
    assert result.code == 1
    assert sum(line.startswith("s: fail (") for line in result.out.splitlines()) == 1, result.out


def _broken_change(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose second commit breaks every case of suite `s` (a drop past its max_drop)."""
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
    head = repo.commit("break the prompt", {"prompts/p.jinja": PROMPT.replace("{{ prefix }}", "broken ")})
    return repo.path, base, head
