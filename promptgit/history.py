"""A suite through git history: the commits that changed its fingerprint, its path and its plan at each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptgit import git
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, plan_suite
from promptgit.project import Project, open_project
from promptgit.suites import suite_path
from promptgit.tree import SETTINGS_FILE


@dataclass(frozen=True)
class Version:
    """A commit at which a suite's fingerprint changed, and that version's plan."""

    commit: git.Commit
    plan: Plan


def suite_versions(root: Path, suite: str, until: str = "HEAD") -> list[Version]:
    """The commits (oldest first) at which `suite`'s fingerprint changed, up to `until`."""
    head, candidates = _candidates(root, suite, until)
    paths = _suite_paths(root, head, suite, candidates)
    versions: list[Version] = []
    for commit in candidates:
        plan = plan_at(root, commit.sha, paths[commit.sha][0] if commit.sha in paths else suite)
        if plan is not None and (not versions or versions[-1].plan.fingerprint != plan.fingerprint):
            versions.append(Version(commit, plan))
    return versions


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
