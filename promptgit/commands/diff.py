"""`promptgit diff`: two revisions compared suite by suite and case by case, with a paired CI."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptgit.changes import SuitePair, affected_pairs
from promptgit.compare import DiffReport, evaluate_pairs
from promptgit.evaluate import Progress
from promptgit.project import Project, no_suites, open_project
from promptgit.selection import Knobs
from promptgit.store import Store
from promptgit.suites import suite_names
from promptgit.tree import WORKTREE

if TYPE_CHECKING:
    from promptgit.experiments import Variant


def diff(
    project: Project,
    store: Store,
    base_rev: str,
    head_rev: str | None,
    names: Sequence[str] = (),
    progress: Progress | None = None,
    time_limit: float | None = None,
    head_trusted_only: bool = False,
    knobs: Knobs | None = None,
) -> DiffReport:
    """Compare `base_rev` with `head_rev` (None: the working tree) on the suites the change affects.

    `time_limit` (seconds) bounds the whole run: then calls in flight are cancelled, what finished
    stays stored, and the suites cut short are inconclusive. `head_trusted_only` evaluates the head
    side from results computed on this machine only, never pulled ones (`ci`'s gate; sharing.py).
    `knobs`: --repeat and -j (selection.Knobs).
    """
    base = open_project(base_rev, project.root)
    head = open_project(head_rev, project.root)
    if not names and not (suite_names(head.tree, head.settings) or suite_names(base.tree, base.settings)):
        raise no_suites(head)  # nothing on either side: a misplaced project, never a change that affects nothing
    pairs = [_trusted_head(p) if head_trusted_only else p for p in affected_pairs(base, head, names)]
    diffs = evaluate_pairs(head, store, pairs, progress, time_limit, knobs) if pairs else []
    return DiffReport(base.revision, head.revision if head_rev else WORKTREE, tuple(diffs))


def _trusted_head(pair: SuitePair) -> SuitePair:
    if pair.head is None:
        return pair
    return dataclasses.replace(pair, head=dataclasses.replace(pair.head, trusted_only=True))


def diff_variants(
    project: Project,
    store: Store,
    variants: Sequence[Variant],
    names: Sequence[str] = (),
    progress: Progress | None = None,
    time_limit: float | None = None,
    knobs: Knobs | None = None,
) -> DiffReport:
    """Compare two variants (`diff --model A --model B`) at the project's revision, suite by suite and case by
    case, with the machinery that compares two revisions (compare.evaluate_pairs); base and head are their labels.
    `knobs`: --repeat and -j (selection.Knobs)."""
    from promptgit.errors import PromptgitError
    from promptgit.evaluate import plan_suites
    from promptgit.experiments import apply

    if len(variants) != 2:
        raise PromptgitError(
            f"diff compares two models, not {len(variants)}",
            hint="give --model twice (the first is the base), or use `promptgit eval --model ...` for more",
        )
    if not names and not suite_names(project.tree, project.settings):
        raise no_suites(project)
    plans = plan_suites(project, names or None)
    pairs = [SuitePair(p.suite.name, apply(p, variants[0]), apply(p, variants[1])) for p in plans]
    diffs = evaluate_pairs(project, store, pairs, progress, time_limit, knobs)
    return DiffReport(variants[0].label, variants[1].label, tuple(diffs))
