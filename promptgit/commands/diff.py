"""`promptgit diff`: two revisions compared suite by suite and case by case, with a paired CI."""

from __future__ import annotations

from collections.abc import Sequence

from promptgit.changes import affected_pairs
from promptgit.compare import DiffReport, evaluate_pairs
from promptgit.evaluate import Progress
from promptgit.project import Project, open_project
from promptgit.store import Store
from promptgit.tree import WORKTREE


def diff(
    project: Project,
    store: Store,
    base_rev: str,
    head_rev: str | None,
    names: Sequence[str] = (),
    progress: Progress | None = None,
    time_limit: float | None = None,
) -> DiffReport:
    """Compare `base_rev` with `head_rev` (None: the working tree) on the suites the change affects.

    `time_limit` (seconds) bounds the whole run: then calls in flight are cancelled, what finished
    stays stored, and the suites cut short are inconclusive.
    """
    base = open_project(base_rev, project.root)
    head = open_project(head_rev, project.root)
    pairs = affected_pairs(base, head, names)
    diffs = evaluate_pairs(head, store, pairs, progress, time_limit) if pairs else []
    return DiffReport(base.revision, head.revision if head_rev else WORKTREE, tuple(diffs))
