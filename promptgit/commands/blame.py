"""`promptgit blame`: the template's lines as git blame sees them, each with the score change its commit caused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptgit import git, stats
from promptgit.compare import compare_results
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, Progress, SuiteResult, results_for
from promptgit.history import plan_at, suite_paths
from promptgit.project import Project
from promptgit.prompts import prompt_path
from promptgit.store import Store
from promptgit.suites import load_suite, suite_names
from promptgit.tree import WORKTREE


@dataclass(frozen=True)
class Impact:
    """What one commit did to one suite's score: its score minus the score just before it."""

    suite: str
    before: float | None
    after: float | None
    delta: stats.PairedDelta | None  # None when either side is unknown (not evaluated, or no change)


@dataclass(frozen=True)
class BlameRow:
    """One template line, the commit that last changed it, and that commit's impacts."""

    line: int
    text: str
    commit: str
    impacts: tuple[Impact, ...]


@dataclass(frozen=True)
class BlameReport:
    """`promptgit blame` for one prompt."""

    prompt: str
    path: str
    suites: tuple[str, ...]
    rows: tuple[BlameRow, ...]
    commits: dict[str, git.Commit]


def resolve_prompt(project: Project, name: str) -> str:
    """A prompt name; a suite name means its prompt."""
    try:
        prompt_path(project.tree, project.settings, name)
        return name
    except PromptgitError:
        if name in suite_names(project.tree, project.settings):
            return load_suite(project.tree, project.settings, name).prompt
        raise


def suites_using(project: Project, prompt: str) -> list[str]:
    """The suites whose prompt is `prompt`, at the project's revision."""
    names = []
    for name in suite_names(project.tree, project.settings):
        try:
            if load_suite(project.tree, project.settings, name).prompt == prompt:
                names.append(name)
        except PromptgitError:
            continue
    return names


def blame(
    project: Project, store: Store, name: str, progress: Progress | None = None, stored_only: bool = False
) -> BlameReport:
    """Blame the prompt's template and measure, per suite using it, what each blamed commit changed."""
    root = project.root
    prompt = resolve_prompt(project, name)
    path = prompt_path(project.tree, project.settings, prompt)
    lines = git.blame(root, path, None)
    suites = suites_using(project, prompt)
    shas = [sha for sha in dict.fromkeys(line.commit for line in lines) if sha != WORKTREE]
    # Each commit is measured on the suite under the name it knew (a suite file may be renamed since).
    names = {suite: suite_paths(root, suite) for suite in suites}
    pairs = {(sha, suite): _pair(root, sha, *names[suite].get(sha, (suite, suite))) for sha in shas for suite in suites}
    results = results_for(
        project, store, [p for pair in pairs.values() for p in pair if p is not None], progress, stored_only
    )
    impacts = {sha: tuple(_impact(suite, *pairs[(sha, suite)], results) for suite in suites) for sha in shas}
    rows = tuple(BlameRow(line.line, line.text, line.commit, impacts.get(line.commit, ())) for line in lines)
    commits = {c.sha: c for c in _commit_info(root, shas)}
    return BlameReport(prompt, path, tuple(suites), rows, commits)


def _pair(root: Path, sha: str, here: str, before: str) -> tuple[Plan | None, Plan | None]:
    """The suite's plan just before `sha` (named `before` there) and at `sha` (None where it does not exist or load)."""
    return plan_at(root, f"{sha}^", before), plan_at(root, sha, here)


def _impact(suite: str, before: Plan | None, after: Plan | None, results: dict[str, SuiteResult]) -> Impact:
    if after is None:
        return Impact(suite, None, None, None)
    head = results.get(after.fingerprint)
    base = results.get(before.fingerprint) if before else None
    if head is None:
        return Impact(suite, base.score if base else None, None, None)
    if base is None or before is None or before.fingerprint == after.fingerprint:
        return Impact(suite, base.score if base else None, head.score, None)
    return Impact(suite, base.score, head.score, compare_results(suite, base, head).delta)


def _commit_info(root: Path, shas: Sequence[str]) -> list[git.Commit]:
    wanted = set(shas)
    return [c for c in git.history(root, first_parent=False) if c.sha in wanted]
