"""`promptgit drift`: re-run the current revision without the response cache and compare it, paired, with what
is stored, so a provider that changed a model behind its name shows up without any commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from promptgit.compare import DiffReport, compare_results
from promptgit.evaluate import Plan, Progress, SuiteResult, evaluate, options_for, plan_suites, stored_result
from promptgit.gates import Gate, drift_gate, overall
from promptgit.project import Project, no_suites
from promptgit.selection import Knobs, select, with_repeat
from promptgit.store import Store
from promptgit.suites import suite_names

STORED, FRESH = "stored", "fresh"  # the two sides' names in the report (a diff's base and head)


@dataclass(frozen=True)
class DriftReport:
    """Each suite's stored result (base) against a fresh run of the same revision (head), with its gate."""

    revision: str
    diff: DiffReport
    gates: tuple[Gate, ...]
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """pass, fail (a significant drop) or inconclusive over every suite (gates.overall)."""
        return overall(self.gates)

    def gate(self, suite: str) -> Gate:
        """The gate of one suite."""
        return next(g for g in self.gates if g.suite == suite)


def drift(
    project: Project,
    store: Store,
    names: Sequence[str] = (),
    progress: Progress | None = None,
    time_limit: float | None = None,
    knobs: Knobs | None = None,
) -> DriftReport:
    """Read each suite's stored result, run it afresh (every call made again, evaluate.Options.fresh) and
    compare the two case by case (compare.compare_results); gates.drift_gate judges each suite.

    The fresh answers replace the stored ones, as `eval --no-cache` does: later runs (a pull request's
    base side among them) then reuse what the model answers now, not what it answered before the change.
    A suite with nothing stored has no baseline: this run stores one and the suite passes, saying so.
    """
    if not names and not suite_names(project.tree, project.settings):
        raise no_suites(project)
    knobs = knobs or Knobs()
    own, notes = select(plan_suites(project, names or None), store, knobs.request)  # --failing: the suite's result
    plans = with_repeat(own, knobs.repeat)
    # Read before the fresh run replaces them, at the suite's own repeat: `--repeat K` asks more of the fresh
    # run, and K repeats never stored must not read as "nothing was stored" (nor hide a drift the rows show).
    baselines = {p.fingerprint: baseline(store, p) for p in own}
    fresh = evaluate(
        plans, store, options_for(project, time_limit, knobs=dataclasses.replace(knobs, fresh=True)), progress
    )
    diffs = tuple(compare_results(p.suite.name, baselines[p.fingerprint], r) for p, r in zip(plans, fresh))
    gates = tuple(drift_gate(d, project.settings.max_error_rate) for d in diffs)
    return DriftReport(project.revision, DiffReport(STORED, FRESH, diffs), gates, tuple(notes))


def baseline(store: Store, plan: Plan) -> SuiteResult | None:
    """The plan's stored result over the cases stored whole (each repeat), without a call; None when none is."""
    stored = stored_result(plan, store)
    cases = tuple(c for c in stored.cases if c.score is not None)
    if not cases:
        return None
    return dataclasses.replace(stored, cases=cases, calls=0, cached=len(cases) * plan.suite.repeat)
