"""`promptgit log`: the refinement log, one row per commit that changed a suite's fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit import git
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, Progress, SuiteResult, results_for
from promptgit.history import Version, plan_at, suite_versions
from promptgit.project import Project
from promptgit.store import Store
from promptgit.suites import suite_names

KEPT, REVERTED, SUPERSEDED = "kept", "reverted", "superseded"


@dataclass(frozen=True)
class LogEntry:
    """One row of the refinement log."""

    commit: git.Commit
    fingerprint: str
    result: SuiteResult | None  # None when not evaluated (`--no-eval`)
    delta: float | None  # score minus the previous row's
    state: str  # kept | reverted | superseded


@dataclass(frozen=True)
class SuiteLog:
    """A suite's refinement log, oldest first."""

    suite: str
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True)
class LogReport:
    """The refinement logs of the suites asked for, in the order asked."""

    logs: tuple[SuiteLog, ...]


def log(
    project: Project,
    store: Store,
    names: Sequence[str] = (),
    stored_only: bool = False,
    progress: Progress | None = None,
) -> LogReport:
    """The refinement log of each named suite (default: every suite in the working tree)."""
    chosen = list(names) or suite_names(project.tree, project.settings)
    return LogReport(tuple(suite_log(project, store, name, progress, stored_only) for name in chosen))


def suite_log(
    project: Project, store: Store, suite: str, progress: Progress | None = None, stored_only: bool = False
) -> SuiteLog:
    """The refinement log of `suite`: version, change made, score, delta and whether it was kept."""
    root = project.root
    versions = suite_versions(root, suite)
    if not versions:
        raise PromptgitError(
            f"no commit has suite {suite!r}", hint="commit the suite first; `promptgit eval` scores the working tree"
        )
    results = results_for(project, store, [v.plan for v in versions], progress, stored_only)
    # Blame the files as HEAD names them: the last version may know them by names renamed since.
    surviving = _surviving_commits(project, plan_at(root, "HEAD", suite) or versions[-1].plan)
    entries: list[LogEntry] = []
    previous: SuiteResult | None = None
    for index, version in enumerate(versions):
        result = results.get(version.plan.fingerprint)
        delta = None
        if result and previous and result.score is not None and previous.score is not None:
            delta = result.score - previous.score
        state = _state(versions, index, surviving)
        entries.append(LogEntry(version.commit, version.plan.fingerprint, result, delta, state))
        previous = result or previous
    return SuiteLog(suite, tuple(entries))


def _surviving_commits(project: Project, latest: Plan) -> set[str]:
    """Commits that still own at least one line of the suite's files at HEAD."""
    owners: set[str] = set()
    head = git.GitTree(project.root, "HEAD")
    for path in latest.sources.all:
        if head.exists(path):
            owners |= {line.commit for line in git.blame(project.root, path, "HEAD")}
    return owners


def _state(versions: Sequence[Version], index: int, surviving: set[str]) -> str:
    # A later version that restores the fingerprint from before this commit undid it: the loop's "revert".
    if index > 0:
        before = versions[index - 1].plan.fingerprint
        if any(v.plan.fingerprint == before for v in versions[index + 1 :]):
            return REVERTED
    return KEPT if versions[index].commit.sha in surviving or index == len(versions) - 1 else SUPERSEDED
