"""The pre-commit hooks (issue 17, item 7), run by the pre-commit tool itself on throwaway repositories.

Two ways in. The manifest's hooks as `repo: local` hooks on the promptgit under test (offline): a commit
with a broken suite is refused, a push whose changed suite misses its gate is refused, a good one goes
through. And this repository as a hook repository (`repo: <this checkout>`), which pre-commit clones and
installs into its own virtualenv, as a user's machine would: pip fetches promptgit's dependencies from
the package index, so that test takes about a minute (`-m "not installs"` leaves it out).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server
from tests.test_ci import prompt, suite_yaml
from tests.test_git_native import SETTINGS, dataset

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config

ROOT = Path(__file__).resolve().parent.parent
MANIFEST: list[dict[str, Any]] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command's exit code and output (stderr folded into stdout), never raising."""
    return subprocess.run(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False
    )


def outcomes(output: str) -> dict[str, str]:
    """Each hook's outcome as pre-commit reports it (`name.....Passed`): name -> Passed, Failed or Skipped."""
    return {m[1]: m[2] for m in re.finditer(r"^(\S.*?)\.{3,}\(?[^\n]*?\)?(Passed|Failed|Skipped)$", output, re.M)}


def environment(tmp_path: Path) -> dict[str, str]:
    """The process environment with `promptgit` on PATH running the code under test, and a private pre-commit home."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "promptgit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promptgit "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }


def hook(hook_id: str) -> dict[str, Any]:
    """A hook of the manifest."""
    return next(h for h in MANIFEST if h["id"] == hook_id)


def as_local(hook_id: str) -> dict[str, Any]:
    """The manifest's hook as a `repo: local` hook on the promptgit already installed (language: system)."""
    return {**hook(hook_id), "language": "system"}


def project(path: Path, gates: str = "threshold: 0.7\n") -> Repo:
    """A project whose suite passes with the `good` answers (80%) and fails with the `naive` ones (30%)."""
    repo = new_repo(path)
    repo.commit(
        "a project",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": prompt("good"),
            "evals/route.yaml": suite_yaml(gates),
            "evals/cases.jsonl": dataset(),
        },
    )
    return repo


def test_the_manifest_is_what_pre_commit_reads(tmp_path: Path) -> None:
    done = run([*PRE_COMMIT, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")], ROOT, environment(tmp_path))
    assert done.returncode == 0, done.stdout
    assert [(h["id"], h["entry"], h.get("args", []), h["stages"]) for h in MANIFEST] == [
        ("promptgit-check", "promptgit check", [], ["pre-commit", "pre-merge-commit", "manual"]),
        ("promptgit-eval-changed", "promptgit eval --changed-since", ["origin/HEAD"], ["pre-push", "manual"]),
    ]
    assert all(h["language"] == "python" and h["pass_filenames"] is False for h in MANIFEST)


def test_commits_are_checked_and_pushes_evaluated(openai_server: Server, tmp_path: Path) -> None:
    env = environment(tmp_path)
    repo = project(tmp_path / "work")
    remote = tmp_path / "remote.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(remote), cwd=tmp_path)
    repo.git("remote", "add", "origin", str(remote))
    repo.git("fetch", "-q", "origin")
    repo.git("remote", "set-head", "origin", "main")
    config = {"repos": [{"repo": "local", "hooks": [as_local("promptgit-check"), as_local("promptgit-eval-changed")]}]}
    repo.commit("use pre-commit", {".pre-commit-config.yaml": yaml.safe_dump(config, sort_keys=False)})
    installed = run([*PRE_COMMIT, "install", "-t", "pre-commit", "-t", "pre-push"], repo.path, env)
    assert installed.returncode == 0, installed.stdout

    # A commit with a typo in a suite is refused, with check's message.
    repo.write({"evals/route.yaml": suite_yaml("threshold: 0.7\ntemprature: 0\n")})
    repo.git("add", "-A")
    refused = run(["git", "commit", "-q", "-m", "typo"], repo.path, env)
    assert refused.returncode == 1
    assert outcomes(refused.stdout) == {"promptgit check": "Failed"}
    assert "evals/route.yaml:6: unknown suite key 'temprature'" in refused.stdout
    repo.write({"evals/route.yaml": suite_yaml("threshold: 0.7\n")})

    # The commit goes through (eval-changed is not a commit hook); the push evaluates and refuses the drop.
    repo.write({"prompts/route.jinja": prompt("naive")})
    repo.git("add", "-A")
    committed = run(["git", "commit", "-q", "-m", "a worse prompt"], repo.path, env)
    assert committed.returncode == 0, committed.stdout
    assert outcomes(committed.stdout) == {"promptgit check": "Passed"}
    pushed = run(["git", "push", "-q", "origin", "main"], repo.path, env)
    assert pushed.returncode == 1, pushed.stdout
    assert outcomes(pushed.stdout) == {"promptgit eval (suites changed since the upstream)": "Failed"}
    assert "fail: route: score 30.0% [18.1, 45.4] is below the threshold 70.0%, with confidence" in pushed.stdout
    assert repo.git("rev-parse", "origin/main") != repo.git("rev-parse", "HEAD")

    # Put right, the push goes through: the hook evaluated the suite again and it passed.
    repo.write({"prompts/route.jinja": prompt("good", "Route it.")})
    repo.git("add", "-A")
    assert run(["git", "commit", "-q", "-m", "back to the good prompt"], repo.path, env).returncode == 0
    pushed = run(["git", "push", "-q", "origin", "main"], repo.path, env)
    assert pushed.returncode == 0, pushed.stdout
    assert outcomes(pushed.stdout) == {"promptgit eval (suites changed since the upstream)": "Passed"}
    assert repo.git("rev-parse", "origin/main") == repo.git("rev-parse", "HEAD")


def test_a_push_that_changes_no_suite_evaluates_nothing(openai_server: Server, tmp_path: Path) -> None:
    env = environment(tmp_path)
    repo = project(tmp_path / "work")
    remote = tmp_path / "remote.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(remote), cwd=tmp_path)
    repo.git("remote", "add", "origin", str(remote))
    repo.git("fetch", "-q", "origin")
    repo.git("remote", "set-head", "origin", "main")
    config = {"repos": [{"repo": "local", "hooks": [as_local("promptgit-eval-changed")]}]}
    repo.commit("readme and pre-commit", {".pre-commit-config.yaml": yaml.safe_dump(config), "README.md": "# hi\n"})
    done = run([*PRE_COMMIT, "run", "--hook-stage", "pre-push", "--verbose"], repo.path, env)
    assert done.returncode == 0, done.stdout
    assert "no suite is affected by changes since origin/HEAD" in done.stdout
    assert openai_server.requests == []


@pytest.mark.installs
def test_pre_commit_installs_the_hooks_from_this_repository(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: pre-commit installs hooks from a git repository")
    env = {**environment(tmp_path), "PATH": os.environ["PATH"]}  # the hook's own promptgit, not the shim
    env.pop("PYTHONPATH")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    repo = new_repo(tmp_path / "work")
    scaffolded = run([sys.executable, "-m", "promptgit", "init", "."], repo.path, {**env, "PYTHONPATH": str(ROOT)})
    assert scaffolded.returncode == 0, scaffolded.stdout
    config = {"repos": [{"repo": str(ROOT), "rev": rev.strip(), "hooks": [{"id": "promptgit-check"}]}]}
    repo.commit("scaffold", {".pre-commit-config.yaml": yaml.safe_dump(config)})
    done = run([*PRE_COMMIT, "run", "--all-files"], repo.path, env)
    assert done.returncode == 0, done.stdout
    assert outcomes(done.stdout) == {"promptgit check": "Passed"}
    repo.write({"evals/example/sentiment.yaml": "prompt: example/sentiment\ndataset: reviews.jsonl\nscorerz: [x]\n"})
    done = run([*PRE_COMMIT, "run", "--all-files"], repo.path, env)
    assert done.returncode == 1
    assert outcomes(done.stdout) == {"promptgit check": "Failed"}
    assert "evals/example/sentiment.yaml:3: unknown suite key 'scorerz'" in done.stdout
    # The package the hook installed ships the editor schemas (package data).
    shipped = sorted(
        p.name for p in (tmp_path / "pre-commit-home").glob("repo*/py_env-*/lib/*/site-packages/promptgit/schemas/*")
    )
    assert shipped == ["promptgit.schema.json", "suite.schema.json"]
