"""`promptgit eval`: run suites at one revision, reusing every stored result, and judge each by its own gates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit.evaluate import Progress, SuiteResult, evaluate, options_for, plan_suites
from promptgit.gates import Gate, overall, shard_gate, suite_gate
from promptgit.project import Project, no_suites
from promptgit.selection import Knobs, select, with_repeat
from promptgit.store import Store
from promptgit.suites import suite_names


@dataclass(frozen=True)
class EvalReport:
    """The result of `promptgit eval` at one revision, with each suite's gate and the run's verdict."""

    revision: str
    suites: tuple[SuiteResult, ...]
    gates: tuple[Gate, ...]
    note: str | None = None  # said instead of a table when there was nothing to run
    notes: tuple[str, ...] = ()  # said beside the table: suites a selection left out, and why

    @property
    def verdict(self) -> str:
        """pass, fail or inconclusive over every suite (gates.overall)."""
        return overall(self.gates)


def eval_suites(
    project: Project,
    store: Store,
    names: Sequence[str] = (),
    changed_since: str | None = None,
    progress: Progress | None = None,
    time_limit: float | None = None,
    knobs: Knobs | None = None,
) -> EvalReport:
    """Evaluate the named suites (default: all; with `changed_since`, those a change since that revision affects).

    `knobs` (the command line's --repeat, -j, --no-cache and case selection) narrow or widen the run; a
    selection that leaves every suite out is a report with a `note` and no suite.
    """
    if not names and not suite_names(project.tree, project.settings):
        raise no_suites(project)
    if changed_since:
        from promptgit.changes import affected_plans

        plans = affected_plans(project, changed_since, names)
        if not plans:
            return EvalReport(project.revision, (), (), f"no suite is affected by changes since {changed_since}")
    else:
        plans = plan_suites(project, names or None)
    knobs = knobs or Knobs()
    plans, notes = select(with_repeat(plans, knobs.repeat), store, knobs.request)
    if not plans:
        return EvalReport(project.revision, (), (), "; ".join(notes) or "no case selected")
    results = tuple(evaluate(plans, store, options_for(project, time_limit, knobs), progress))
    gates = tuple(
        shard_gate(r) if knobs.request.shard else suite_gate(r, project.settings.max_error_rate) for r in results
    )
    return EvalReport(project.revision, results, gates, notes=tuple(notes))
