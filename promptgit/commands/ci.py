"""`promptgit ci`: evaluate the suites a change affects on both sides, apply the gates, give a verdict."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from promptgit import git
from promptgit.commands.bisect import Culprit, RunLimits, pull_request_culprits
from promptgit.commands.diff import diff
from promptgit.compare import DiffReport
from promptgit.errors import PromptgitError
from promptgit.evaluate import Progress
from promptgit.gates import Gate, judge, overall
from promptgit.project import Project, open_project
from promptgit.selection import Knobs
from promptgit.sharing import has_remote, pull_results
from promptgit.store import Store


@dataclass(frozen=True)
class CiReport:
    """Everything `ci` decided, for the report, the JSON and the exit code."""

    verdict: str
    diff: DiffReport
    gates: tuple[Gate, ...]
    prompt_diffs: dict[str, str]
    notes: tuple[str, ...] = ()  # what the user should know about the run itself (shared results pulled or not)
    culprits: tuple[Culprit, ...] = ()  # the commit inside the range behind each failed drop (issue 13, item 7)
    unbisected: dict[str, str] = field(default_factory=dict)  # suite -> why its bisect stopped (a time limit)

    def gate(self, suite: str) -> Gate:
        """The gate of one suite."""
        return next(g for g in self.gates if g.suite == suite)


def ci(
    project: Project,
    store: Store,
    base: str,
    head: str | None,
    names: Sequence[str] = (),
    progress: Progress | None = None,
    pull_from: str | None = None,
    time_limit: float | None = None,
    trust_shared_head: bool = False,
    bisect: bool = True,
    knobs: Knobs | None = None,
) -> CiReport:
    """Pull shared results when a remote has them, evaluate both sides, and judge every affected suite.

    Shared (pulled) results and responses may stand in for the base side only: the head side is
    evaluated from this machine's own results unless `trust_shared_head` (docs/github-action.md,
    "Shared results and trust"). With `bisect` (default), a suite that failed with a drop is bisected
    inside base..head for its culprit. `knobs`: --repeat and -j (selection.Knobs).
    """
    root = project.root
    # --time-limit bounds the whole check, the pull request's bisect included.
    deadline = None if time_limit is None else time.monotonic() + time_limit
    notes = _pull_quietly(project, store, pull_from) if pull_from else ()
    settings = open_project(head, root).settings
    compared = diff(
        project, store, base, head, names, progress, time_limit, head_trusted_only=not trust_shared_head, knobs=knobs
    )
    gates = tuple(judge(d, settings.max_error_rate) for d in compared.suites)
    prompt_diffs = {
        d.name: git.diff_text(root, compared.base, head, list(d.prompt_files))
        for d in compared.suites
        if d.prompt_files
    }
    # Issue 13, item 7: name the commit behind each failed drop (commands/bisect.py holds the logic).
    limits = RunLimits(deadline, knobs.concurrency if knobs else None)
    culprits, unbisected = (
        pull_request_culprits(project, store, compared, gates, head, progress, limits) if bisect else ((), {})
    )
    notes += tuple(f"no culprit named: {why}" for why in unbisected.values())
    return CiReport(overall(gates), compared, gates, prompt_diffs, notes, culprits, unbisected)


def _pull_quietly(project: Project, store: Store, remote: str) -> tuple[str, ...]:
    # Shared results only save calls: a remote that cannot be reached is said once and the run goes on;
    # a repository with no such remote (a fresh clone without one, a local experiment) hears nothing.
    if not has_remote(project.root, remote):
        return ()
    try:
        pulled = pull_results(project.root, store, remote)
    except PromptgitError as err:
        return (f"no shared results pulled ({err.message})",)
    said = (f"pulled {pulled.rows} stored result row(s) from {remote}",) if pulled.rows else ()
    return said + tuple(f"skipped a shared results file: {why}" for why in pulled.skipped)
