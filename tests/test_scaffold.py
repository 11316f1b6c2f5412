"""`promptgit init`: the scaffold is complete, valid, never overwrites, and its workflow matches ours."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from promptgit.commands.init import WORKFLOW, workflow_text
from tests.conftest import Result

ROOT = Path(__file__).resolve().parent.parent


def test_init_scaffolds_a_project_that_checks_clean(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli(["init"], tmp_path)
    assert result.code == 0
    for path in (
        "promptgit.yaml",
        "prompts/example/sentiment.jinja",
        "evals/example/sentiment.yaml",
        "evals/example/reviews.jsonl",
        WORKFLOW,
    ):
        assert (tmp_path / path).is_file(), path
    assert ".promptgit/" in (tmp_path / ".gitignore").read_text().splitlines()
    check = run_cli(["check"], tmp_path)
    assert (check.code, check.out.strip()) == (0, "checked 1 prompts and 1 suites (6 cases): all good")


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    (tmp_path / "promptgit.yaml").write_text("concurrency: 2\n")
    result = run_cli(["init"], tmp_path)
    assert result.code == 2
    assert "refusing to overwrite promptgit.yaml" in result.err
    assert (tmp_path / "promptgit.yaml").read_text() == "concurrency: 2\n"
    assert not (tmp_path / "prompts").exists()


def test_init_keeps_an_existing_gitignore_and_adds_the_store(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/")
    run_cli(["init"], tmp_path)
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "node_modules/"
    assert ".promptgit/" in (tmp_path / ".gitignore").read_text().splitlines()


def test_the_written_workflow_is_our_own_but_for_the_action_reference() -> None:
    ours = (ROOT / WORKFLOW).read_text().splitlines()
    theirs = workflow_text().splitlines()
    different = [(a, b) for a, b in zip(ours, theirs) if a != b]
    assert len(ours) == len(theirs)
    assert [b.strip() for _, b in different] == [
        "# Written by `promptgit init`. Pin the Action to a release you trust (e.g. a commit id).",
        "uses: promptgit/promptgit@v1",
    ]
