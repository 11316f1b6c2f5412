"""`promptgit blame`: the template's lines as git blame sees them, each with the score change its commit caused."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptgit import git, stats
from promptgit.compare import compare_results, plans_case_sets
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, Progress, SuiteResult, plan_suite, results_for
from promptgit.history import not_evaluable, plan_at, suite_at, suite_paths
from promptgit.project import Project
from promptgit.prompts import PROMPT_EXTENSIONS, prompt_path
from promptgit.store import Store
from promptgit.suites import load_suite, suite_names
from promptgit.tree import WORKTREE, normalize


@dataclass(frozen=True)
class Impact:
    """What one commit did to one suite's score: its score minus the score just before it."""

    suite: str
    before: float | None
    after: float | None
    delta: stats.PairedTest | None  # None when either side is unknown (not evaluated, or no change)
    note: str | None = None  # why the commit could not be measured on this suite


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


def resolve_target(project: Project, name: str) -> tuple[str, str]:
    """(label, path) of what to blame: a prompt name, a template's path (project- or prompts-relative, a partial
    too), a template name without extension, or a suite name (its prompt). Raises PromptgitError when none fits.
    """
    tree, settings = project.tree, project.settings
    try:
        path = prompt_path(tree, settings, name)
        return _template_label(settings.prompts, path), path
    except PromptgitError as err:
        not_found = err
    folder = settings.prompts
    relative = name.replace("\\", "/").removeprefix("./")
    candidates = [relative, f"{folder}/{relative}", *(f"{folder}/{relative}{ext}" for ext in PROMPT_EXTENSIONS)]
    for candidate in candidates:
        try:
            path = normalize(candidate)
        except PromptgitError:
            continue
        if path.startswith(f"{folder}/") and tree.exists(path):
            return _template_label(settings.prompts, path), path
    if name in suite_names(tree, settings):
        prompt = load_suite(tree, settings, name).prompt
        return prompt, prompt_path(tree, settings, prompt)
    raise not_found


def _template_label(folder: str, path: str) -> str:
    """A prompt's name for a prompt's file; the project-relative path for a partial or any other template."""
    relative = path[len(folder) + 1 :]
    stem, ext = posixpath.splitext(relative)
    is_prompt = ext in PROMPT_EXTENSIONS and not any(part.startswith("_") for part in relative.split("/"))
    return stem if is_prompt else path


def suites_reading(project: Project, path: str) -> list[str]:
    """The suites whose prompt reads the template at `path` (the prompt itself, or any file it includes)."""
    names = []
    for name in suite_names(project.tree, project.settings):
        try:
            if path in plan_suite(project, name).sources.prompt_files:
                names.append(name)
        except PromptgitError:
            continue  # a suite that does not load reads nothing; `check` reports it
    return names


def blame(
    project: Project, store: Store, name: str, progress: Progress | None = None, stored_only: bool = False
) -> BlameReport:
    """Blame a template (a prompt or a partial) and measure, per suite reading it, what each blamed commit changed."""
    root = project.root
    prompt, path = resolve_target(project, name)
    lines = git.blame(root, path, None)
    suites = suites_reading(project, path)
    shas = [sha for sha in dict.fromkeys(line.commit for line in lines) if sha != WORKTREE]
    # Each commit is measured on the suite under the name it knew (a suite file may be renamed since).
    names = {suite: suite_paths(root, suite) for suite in suites}
    pairs = {(sha, suite): _pair(root, sha, *names[suite].get(sha, (suite, suite))) for sha in shas for suite in suites}
    plans = [p for b, a, _ in pairs.values() for p in (b, a) if p is not None and not_evaluable(p) is None]
    results = results_for(project, store, plans, progress, stored_only)
    impacts = {sha: tuple(_impact(suite, *pairs[(sha, suite)], results) for suite in suites) for sha in shas}
    rows = tuple(BlameRow(line.line, line.text, line.commit, impacts.get(line.commit, ())) for line in lines)
    commits = {c.sha: c for c in _commit_info(root, shas)}
    return BlameReport(prompt, path, tuple(suites), rows, commits)


def _pair(root: Path, sha: str, here: str, before: str) -> tuple[Plan | None, Plan | None, str | None]:
    """The suite's plan just before `sha` (named `before` there), at `sha`, and why `sha` cannot be measured.

    A plan is None where the suite does not exist or load; the reason is None when `sha` can be evaluated
    (or the suite does not exist there at all, which needs no saying).
    """
    after = suite_at(root, sha, here)
    plan, problem = after if after is not None else (None, None)
    return plan_at(root, f"{sha}^", before), plan, problem


def _impact(
    suite: str, before: Plan | None, after: Plan | None, problem: str | None, results: dict[str, SuiteResult]
) -> Impact:
    if problem is not None:
        return Impact(suite, None, None, None, f"not evaluable: {problem}")
    if after is None:
        return Impact(suite, None, None, None)
    head = results.get(after.fingerprint)
    base = results.get(before.fingerprint) if before and not_evaluable(before) is None else None
    if head is None:
        return Impact(suite, base.score if base else None, None, None)
    if base is None or before is None or before.fingerprint == after.fingerprint:
        return Impact(suite, base.score if base else None, head.score, None)
    sets = plans_case_sets(before, after)
    return Impact(suite, base.score, head.score, compare_results(suite, base, head, sets).delta)


def _commit_info(root: Path, shas: Sequence[str]) -> list[git.Commit]:
    wanted = set(shas)
    return [c for c in git.history(root, first_parent=False) if c.sha in wanted]
