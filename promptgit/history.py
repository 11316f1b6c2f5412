"""A suite through git history: the commits that changed its fingerprint, its path and its plan at each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptgit import git
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, plan_suite
from promptgit.project import Project, open_project
from promptgit.prompts import merged_settings
from promptgit.suites import suite_path
from promptgit.tree import SETTINGS_FILE


@dataclass(frozen=True)
class Version:
    """A commit at which a suite's fingerprint (or, for a suite that does not load, its problem) changed."""

    commit: git.Commit
    plan: Plan | None  # None where the suite file exists but it, its dataset or its prompt does not load
    problem: str | None = None  # why this version cannot be evaluated; None when it can

    @property
    def key(self) -> str:
        """What identifies the version: its fingerprint, or its problem when it has no plan."""
        return self.plan.fingerprint if self.plan is not None else f"unloadable: {self.problem}"

    @property
    def evaluable(self) -> bool:
        """Whether the version can be scored: it loads and has a model."""
        return self.plan is not None and self.problem is None


def suite_versions(root: Path, suite: str, until: str = "HEAD") -> list[Version]:
    """The commits (oldest first) at which `suite`'s fingerprint changed, up to `until`.

    Commits before the suite existed are left out; a commit where the suite exists but cannot be evaluated
    (it does not load, or no model is configured yet) is a version with its `problem`, so history is shown
    as it is and its evaluable versions stay reachable.
    """
    head, candidates = _candidates(root, suite, until)
    paths = _suite_paths(root, head, suite, candidates)
    versions: list[Version] = []
    for commit in candidates:
        version = _version(root, commit, paths[commit.sha][0] if commit.sha in paths else suite)
        if version is not None and (not versions or versions[-1].key != version.key):
            versions.append(version)
    return versions


def _version(root: Path, commit: git.Commit, suite: str) -> Version | None:
    """The suite at `commit`; None where there is no such suite (or no settings to find it by)."""
    found = suite_at(root, commit.sha, suite)
    if found is None:
        return None
    plan, problem = found
    return Version(commit, plan, problem)


def suite_at(root: Path, rev: str, suite: str) -> tuple[Plan | None, str | None] | None:
    """(plan, why it cannot be evaluated) for `suite` at `rev`; None where the suite does not exist there.

    The plan is None when the suite exists but it, its dataset or its prompt does not load; the reason is
    None when the version can be evaluated.
    """
    try:
        project = open_project(rev, root)
    except PromptgitError as err:  # promptgit.yaml did not load: the suite there cannot be evaluated
        return (None, _one_line(err)) if git.GitTree(root, rev).exists(suite) else None
    try:
        path = suite_path(project.tree, project.settings, suite)
    except PromptgitError:
        return None
    try:
        plan = plan_suite(project, path)
    except PromptgitError as err:
        return None, _one_line(err)
    return plan, not_evaluable(plan)


def not_evaluable(plan: Plan) -> str | None:
    """Why a plan that loads still cannot be scored (today: no model configured), or None."""
    if merged_settings(plan.project.settings, plan.prompt, plan.suite.override).get("model") is None:
        return f"{plan.prompt.path}: no model configured"
    return None


def _one_line(err: PromptgitError) -> str:
    where = f"{err.file}:{err.line}: " if err.file and err.line else f"{err.file}: " if err.file else ""
    return f"{where}{err.message}"


def suite_paths(root: Path, suite: str, until: str = "HEAD") -> dict[str, tuple[str, str]]:
    """For each commit that touched what `suite` reads: the suite file's path there and at the commit's parent.

    Renames are followed back from `until`, so a suite is found under the name each commit knew it by.
    """
    head, candidates = _candidates(root, suite, until)
    return _suite_paths(root, head, suite, candidates)


def _candidates(root: Path, suite: str, until: str) -> tuple[Project, list[git.Commit]]:
    """The project at `until`, and the commits up to it that touch anything the suite may read."""
    head = open_project(until, root)
    settings = head.settings
    latest = plan_at(root, until, suite)
    # The suite's own files too: a dataset or scorer may live outside the prompts and evals folders.
    watched = [settings.prompts, settings.evals, SETTINGS_FILE, *(latest.sources.all if latest else ())]
    return head, git.commits_touching(root, watched, until=until)


def _suite_paths(root: Path, head: Project, suite: str, candidates: Sequence[git.Commit]) -> dict[str, tuple[str, str]]:
    """The suite file's path at each candidate commit and at its parent, following renames back from `head`."""
    try:
        path = suite_path(head.tree, head.settings, suite)
    except PromptgitError:
        return {}
    paths: dict[str, tuple[str, str]] = {}
    for commit in reversed(candidates):  # newest first: a rename is met before the commits that knew the old name
        here = path
        parent = commit.parents[0] if commit.parents else None
        if parent is not None and not git.GitTree(root, parent).exists(path):
            # This commit brought the file in: by a rename, older commits knew it by its old name.
            renamed = [
                c.old_path
                for c in git.changed_files(root, parent, commit.sha)
                if c.status == "R" and c.new_path == path and c.old_path
            ]
            if renamed:
                path = renamed[0]
        paths[commit.sha] = (here, path)
    return paths


def plan_at(root: Path, rev: str, suite: str) -> Plan | None:
    """The suite's plan at `rev`; None where the revision, or the suite there, does not exist or load."""
    try:
        return plan_suite(open_project(rev, root), suite)
    except PromptgitError:
        return None  # e.g. the parent of a root commit, or a commit before the suite was written
