"""`promptgit eval`: run suites at one revision, reusing every stored result, and judge each by its own gates."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptgit.evaluate import Plan, Progress, SuiteResult, evaluate, options_for, plan_suites
from promptgit.gates import Gate, overall, shard_gate, suite_gate
from promptgit.project import Project, no_suites
from promptgit.selection import Knobs, select, with_repeat
from promptgit.store import Store
from promptgit.suites import suite_names

if TYPE_CHECKING:  # compare.py (side by side) reaches git history; a plain eval does not load it
    from promptgit.costs import Estimate
    from promptgit.experiments import SideBySide, Variant


@dataclass(frozen=True)
class EvalReport:
    """The result of `promptgit eval` at one revision, with each suite's gate and the run's verdict."""

    revision: str
    suites: tuple[SuiteResult, ...]
    gates: tuple[Gate, ...]
    note: str | None = None  # said instead of a table when there was nothing to run
    notes: tuple[str, ...] = ()  # said beside the table: suites a selection left out, and why
    side_by_side: SideBySide | None = None  # with two or more variants (--model, --sweep): every suite on each

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
    variants: Sequence[Variant] = (),
    max_cost: float | None = None,
    knobs: Knobs | None = None,
) -> EvalReport:
    """Evaluate the named suites (default: all; with `changed_since`, those a change since that revision affects).

    With `variants`, each suite runs once per variant (experiments.py); with two or more, the report
    lays them side by side. `max_cost` (USD; default the project's `max_cost`) stops new calls once spent.
    `knobs` (the command line's --repeat, -j, --no-cache and case selection) narrow or widen the run: the
    selection is made before the variants, so every variant runs the same cases; a selection that leaves
    every suite out is a report with a `note` and no suite.
    """
    knobs = knobs or Knobs()
    plans, notes = _planned(project, store, names, changed_since, knobs)
    if not plans:
        return EvalReport(project.revision, (), (), "; ".join(notes))
    plans = _varied(plans, variants)
    results = tuple(evaluate(plans, store, options_for(project, time_limit, max_cost, knobs), progress))
    gates = tuple(
        shard_gate(r) if knobs.request.shard else suite_gate(r, project.settings.max_error_rate) for r in results
    )
    if len(variants) < 2:
        return EvalReport(project.revision, results, gates, notes=tuple(notes))
    from promptgit.experiments import side_by_side

    # A suite runs once per variant: each gate says which run it judged.
    labels = [v.label for v in variants for _ in range(len(plans) // len(variants))]
    gates = tuple(dataclasses.replace(g, suite=f"{g.suite} on {label}") for g, label in zip(gates, labels))
    sbs = side_by_side(variants, results, store)
    return EvalReport(project.revision, results, gates, side_by_side=sbs, notes=tuple(notes))


@dataclass(frozen=True)
class DryRun:
    """`promptgit eval --dry-run`: what each suite on each model would call and cost; nothing was called."""

    revision: str
    estimates: tuple[Estimate, ...]
    note: str | None = None


def dry_run(
    project: Project,
    store: Store,
    names: Sequence[str] = (),
    changed_since: str | None = None,
    variants: Sequence[Variant] = (),
    knobs: Knobs | None = None,
) -> DryRun:
    """The calls `eval_suites` with the same arguments would make and their estimated cost (costs.estimate).

    `knobs` are the run's: --repeat, --no-cache and the case selection and shard narrow or widen the count
    exactly as they do the run."""
    from promptgit.costs import estimate

    knobs = knobs or Knobs()
    plans, notes = _planned(project, store, names, changed_since, knobs)
    if not plans:
        return DryRun(project.revision, (), "; ".join(notes))
    labels = [v.label for v in variants for _ in plans] or [""] * len(plans)
    varied = list(zip(labels, _varied(plans, variants)))
    return DryRun(project.revision, tuple(estimate(varied, store, fresh=knobs.fresh)))


def _varied(plans: list[Plan], variants: Sequence[Variant]) -> list[Plan]:
    """Every plan on the first variant, then every plan on the next (experiments.apply); `plans` without variants."""
    if not variants:
        return plans
    from promptgit.experiments import apply

    return [apply(plan, variant) for variant in variants for plan in plans]


def _planned(
    project: Project, store: Store, names: Sequence[str], changed_since: str | None, knobs: Knobs
) -> tuple[list[Plan], list[str]]:
    """The plans a run (or its dry run) covers, and the selection's notes (when no plan is left, why).

    Raises PromptgitError when the project has no suite at all (errors.no_suites)."""
    if not names and not suite_names(project.tree, project.settings):
        raise no_suites(project)
    if changed_since:
        from promptgit.changes import affected_plans

        plans = affected_plans(project, changed_since, names)
        if not plans:
            return [], [f"no suite is affected by changes since {changed_since}"]
    else:
        plans = plan_suites(project, names or None)
    # --failing reads the stored result at the suite's own repeat; --repeat K then runs those cases K times.
    plans, notes = select(plans, store, knobs.request)
    plans = with_repeat(plans, knobs.repeat)
    if not plans:
        return [], notes or ["no case selected"]
    return plans, notes
