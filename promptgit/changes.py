"""Which suites a change affects: those whose fingerprint differs between two revisions (docs/spec.md,
Fingerprints and change detection)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, plan_suite
from promptgit.project import Project, open_project
from promptgit.suites import suite_names, suite_path
from promptgit.tree import WORKTREE


@dataclass(frozen=True)
class SuitePair:
    """A suite on both sides of a change; None where it does not exist (or does not load) there."""

    name: str
    base: Plan | None
    head: Plan | None

    @property
    def changed(self) -> bool:
        """Whether anything the suite's result depends on differs."""
        return self.base is None or self.head is None or self.base.fingerprint != self.head.fingerprint


def pair_suites(base: Project, head: Project, names: Sequence[str] = ()) -> list[SuitePair]:
    """Every suite of `head` (or the named ones) with its counterpart in `base`, following renames."""
    renamed = _renamed_suites(base, head)
    chosen = list(names) or suite_names(head.tree, head.settings)
    pairs = []
    for name in chosen:
        head_plan = plan_suite(head, name)
        base_name = renamed.get(head_plan.suite.path, head_plan.suite.path)
        pairs.append(SuitePair(name, _try_plan(base, base_name), head_plan))
    if not names:
        pairs.extend(_removed_suites(base, pairs))
    return pairs


def _removed_suites(base: Project, pairs: Sequence[SuitePair]) -> list[SuitePair]:
    """Suites of `base` that the head no longer has, under any name: compared as removed (head None)."""
    present = {plan.suite.path for pair in pairs for plan in (pair.base, pair.head) if plan is not None}
    removed = []
    for name in suite_names(base.tree, base.settings):
        path = suite_path(base.tree, base.settings, name)
        if path not in present:
            plan = _try_plan(base, path)
            if plan is not None:  # a suite that was already broken at the base is not reported as removed
                removed.append(SuitePair(plan.suite.name, plan, None))
    return removed


def _try_plan(project: Project, path: str) -> Plan | None:
    if not project.tree.exists(path):
        return None
    try:
        return plan_suite(project, path)
    except PromptgitError:
        # A suite broken at the base is compared as new: the head is what the change delivers.
        return None


def _renamed_suites(base: Project, head: Project) -> dict[str, str]:
    from promptgit import git

    head_rev = None if head.revision == WORKTREE else head.revision
    changes = git.changed_files(head.root, base.revision, head_rev)
    return {c.new_path: c.old_path for c in changes if c.status == "R" and c.new_path and c.old_path}


def affected_pairs(base: Project, head: Project, names: Sequence[str] = ()) -> list[SuitePair]:
    """The pairs whose fingerprint changed."""
    return [pair for pair in pair_suites(base, head, names) if pair.changed]


def affected_plans(project: Project, since: str, names: Sequence[str] = ()) -> list[Plan]:
    """Plans of `project`'s suites that a change since revision `since` affects."""
    base = open_project(since, project.root)
    return [pair.head for pair in affected_pairs(base, project, names) if pair.head is not None]
