"""`promptgit init`: the scaffold is complete, valid, never overwrites, and its workflow matches ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import __version__
from promptgit.commands.init import ACTION_COMMIT, ACTION_TAG, COMMENT_WORKFLOW, WORKFLOW, workflow_text
from tests.conftest import Result

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_init_scaffolds_a_project_that_checks_clean(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli(["init"], tmp_path)
    assert result.code == 0
    for path in (
        "promptgit.yaml",
        "prompts/example/sentiment.jinja",
        "evals/example/sentiment.yaml",
        "evals/example/reviews.jsonl",
        WORKFLOW,
        COMMENT_WORKFLOW,
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
        "# Written by `promptgit init`. The Action is pinned to a release's commit id (a tag can be moved).",
        f"uses: promptgit/promptgit@{ACTION_COMMIT} # {ACTION_TAG}",
    ]


def test_the_written_fork_follow_up_is_ours_but_for_the_code_it_checks_out() -> None:
    ours = (ROOT / COMMENT_WORKFLOW).read_text().splitlines()
    theirs = workflow_text("promptgit-comment-workflow.yml").splitlines()
    assert [line for line in theirs if line not in ours] == [
        "# evaluated. The comment code is promptgit's own at the pinned release, runs on the stdlib alone,",
        "# and installs nothing. Written by `promptgit init`. See docs/github-action.md.",
        "      # promptgit's own code at the release the evaluation workflow pins, never the pull request's.",
        "      - name: Check out the comment code (the pinned promptgit release)",
        "          repository: promptgit/promptgit",
        f"          ref: {ACTION_COMMIT} # {ACTION_TAG}",
    ]


def test_the_action_pin_is_a_commit_id_of_this_version() -> None:
    assert len(ACTION_COMMIT) == 40 and int(ACTION_COMMIT, 16) >= 0
    assert f"v{__version__}" == ACTION_TAG


def test_the_written_workflows_pass_our_zizmor_policy(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    zizmor = BIN / "zizmor"
    if not zizmor.exists():
        pytest.skip(f"zizmor is not installed next to {sys.executable}")
    assert run_cli(["init"], tmp_path).code == 0
    run = subprocess.run(
        [str(zizmor), "--offline", "--format", "json", "--persona", "auditor", "--min-severity", "medium",
         "--config", str(ROOT / ".github" / "zizmor.yml"), str(tmp_path / ".github" / "workflows")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    findings = json.loads(run.stdout)
    assert [(f["ident"], f["determinations"]["severity"]) for f in findings] == []
    assert run.returncode == 0, run.stderr


@pytest.mark.local_model
def test_the_example_passes_its_own_gate_on_the_embedded_model(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_API_BASE", "_BASE_URL"))}
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""})
    promptgit = [sys.executable, "-m", "promptgit"]
    assert subprocess.run([*promptgit, "init"], cwd=tmp_path, env=env, capture_output=True).returncode == 0
    done = subprocess.run(
        [*promptgit, "eval", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    suite = json.loads(done.stdout)["suites"][0]
    assert (suite["name"], suite["cases"], suite["errors"], suite["calls"]) == ("example/sentiment", 6, 0, 6)
    assert suite["score"] >= suite["threshold"] == 0.7
