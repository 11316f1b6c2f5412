"""Shared fixtures: throwaway projects on disk and an in-process CLI runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from promptgit.cli import main
from tests.gitrepo import Repo, new_repo

pytest_plugins = ["tests.openai_fixtures"]

CLASSIFY_PROMPT = """\
---
description: Route a ticket
max_tokens: 8
---
system:
You route tickets.
{% include "_partials/labels.jinja" %}
user:
Ticket: {{ ticket }}
"""


@dataclass(frozen=True)
class Result:
    """What one CLI run printed and returned."""

    code: int
    out: str
    err: str


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write files (path -> text, dedented) under tmp_path and return the folder."""

    def _write(files: dict[str, str], root: Path = tmp_path) -> Path:
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text) if not text.startswith("---") else text, encoding="utf-8")
        return root

    return _write


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A fixed git identity and no user or system git config, so tests behave the same on every machine."""
    from promptgit import git as pg

    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Tess Ter")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tess@example.com")
    yield
    pg.clear_cache()


@pytest.fixture
def basic_project(write: Callable[..., Path]) -> Path:
    """A small valid project: one prompt with a partial, one suite with three cases."""
    return write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\n",
            "prompts/support/classify.jinja": CLASSIFY_PROMPT,
            "prompts/_partials/labels.jinja": "Labels: billing, refunds.\n",
            "evals/support/classify.yaml": """\
            prompt: support/classify
            dataset: tickets.jsonl
            expected: label
            vars: {ticket: text}
            scorers: [exact_match]
            threshold: 0.5
        """,
            "evals/support/tickets.jsonl": (
                '{"id": "a", "text": "charged twice", "label": "refunds"}\n'
                '{"id": "b", "text": "invoice question", "label": "billing"}\n'
                '{"id": "c", "text": "refund please", "label": "refunds"}\n'
            ),
        }
    )


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `promptgit ARGS` in-process in `cwd`; returns exit code, stdout and stderr."""

    def _run(args: list[str], cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(args)
        captured = capsys.readouterr()
        return Result(int(exited.value.code or 0), captured.out, captured.err)

    return _run


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Repo]:
    """Create an empty repository (branch main) in tmp_path/NAME."""

    def _make(name: str = "repo") -> Repo:
        return new_repo(tmp_path / name, ignore_store=False)

    return _make


@pytest.fixture
def repo(make_repo: Callable[[str], Repo]) -> Repo:
    """An empty repository."""
    return make_repo("repo")
