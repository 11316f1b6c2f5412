"""`promptgit log`: the refinement log, one row per commit that changed a suite's fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit import git, stats
from promptgit.compare import compare_results, plans_case_sets, remeasured
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, Progress, SuiteResult, results_for
from promptgit.history import Version, plan_at, suite_versions
from promptgit.plateau import Plateau, plateau
from promptgit.project import Project
from promptgit.store import Store
from promptgit.suites import suite_names, suite_path
from promptgit.tree import SETTINGS_FILE

# Each row's state (README, "promptgit log"): kept = the change still shapes HEAD (it owns a line there, or
# HEAD's suite is exactly this version); reverted = a later version restored the fingerprint from before it;
# superseded = later commits replaced all of its lines; not evaluable = the suite could not be scored there
# (it, its dataset, its prompt or promptgit.yaml did not load, or no model was configured yet).
KEPT, REVERTED, SUPERSEDED, NOT_EVALUABLE = "kept", "reverted", "superseded", "not evaluable"


@dataclass(frozen=True)
class LogEntry:
    """One row of the refinement log."""

    commit: git.Commit
    fingerprint: str | None  # None where the suite did not load
    result: SuiteResult | None  # None when not evaluated (`--no-eval`, or not evaluable)
    delta: float | None  # score minus the previous scored row's
    state: str  # kept | reverted | superseded | not evaluable
    note: str | None = None  # why a "not evaluable" row could not be scored
    test: stats.PairedTest | None = None  # the exact paired test against the previous scored row (issue 13)
    scorer_changed: frozenset[str] = frozenset()  # scorer names measuring something else than in the previous row


@dataclass(frozen=True)
class SuiteLog:
    """A suite's refinement log, oldest first."""

    suite: str
    entries: tuple[LogEntry, ...]
    plateau: Plateau | None = None  # three changes or more in a row, to the latest, with no significant gain


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
        suite_path(project.tree, project.settings, suite)  # a name no suite has: say so, with near names
        raise PromptgitError(
            f"no commit has suite {suite!r}", hint="commit the suite first; `promptgit eval` scores the working tree"
        )
    plans = [v.plan for v in versions if v.evaluable and v.plan is not None]
    results = results_for(project, store, plans, progress, stored_only)
    # Blame the files as HEAD names them: the last version may know them by names renamed since.
    latest = plan_at(root, "HEAD", suite) or next((v.plan for v in reversed(versions) if v.plan), None)
    surviving = _surviving_commits(project, latest) if latest else set()
    entries: list[LogEntry] = []
    previous: SuiteResult | None = None
    previous_plan: Plan | None = None
    for index, version in enumerate(versions):
        plan = version.plan
        if not version.evaluable or plan is None:
            fingerprint = plan.fingerprint if plan else None
            entries.append(LogEntry(version.commit, fingerprint, None, None, NOT_EVALUABLE, version.problem))
            continue
        result = results.get(plan.fingerprint)
        delta, test = None, None
        if result and previous and result.score is not None and previous.score is not None:
            delta = result.score - previous.score
            test = compare_results(suite, previous, result, plans_case_sets(previous_plan, plan)).delta
        state = _state(versions, index, surviving)
        changed = remeasured(previous_plan, plan, previous, result)
        entries.append(
            LogEntry(version.commit, plan.fingerprint, result, delta, state, test=test, scorer_changed=changed)
        )
        if result:
            previous, previous_plan = result, plan
    return SuiteLog(suite, tuple(entries), plateau([(e.commit.sha, e.test) for e in entries]))


def _surviving_commits(project: Project, latest: Plan) -> set[str]:
    """Commits that still own at least one line of the suite's files (or of promptgit.yaml) at HEAD."""
    owners: set[str] = set()
    head = git.GitTree(project.root, "HEAD")
    for path in (*latest.sources.all, SETTINGS_FILE):  # the settings' defaults are part of the fingerprint
        if head.exists(path):
            owners |= {line.commit for line in git.blame(project.root, path, "HEAD")}
    return owners


def _state(versions: Sequence[Version], index: int, surviving: set[str]) -> str:
    # A later version that restores the fingerprint from before this commit undid it: the loop's "revert".
    if index > 0:
        before = versions[index - 1].key
        if any(v.key == before for v in versions[index + 1 :]):
            return REVERTED
    # Kept: its lines are still at HEAD, or HEAD's suite is exactly this version (after a revert, git blame
    # credits the reverting commit with the restored lines).
    version = versions[index]
    return KEPT if version.commit.sha in surviving or version.key == versions[-1].key else SUPERSEDED
