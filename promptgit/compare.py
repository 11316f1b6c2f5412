"""Two results of a suite compared case by case: the paired delta, and the cases that improved or regressed."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptgit import stats
from promptgit.changes import SuitePair
from promptgit.dimensions import DimensionDelta, dimension_deltas
from promptgit.evaluate import CaseResult, Plan, Progress, SuiteResult, evaluate, options_for
from promptgit.hashing import content_hash
from promptgit.project import Project
from promptgit.scorer_names import comparable
from promptgit.selection import Knobs, with_repeat
from promptgit.store import Store
from promptgit.suites import Case


@dataclass(frozen=True)
class CaseChange:
    """A case whose score moved between base and head."""

    id: str
    expected: Any
    base_output: str | None
    head_output: str | None
    base_score: float
    head_score: float


@dataclass(frozen=True)
class CaseSets:
    """How two sides' datasets differ, by case id (ids sorted); a case is its id, its `vars` and its `expected`."""

    added: tuple[str, ...] = ()  # only in head
    removed: tuple[str, ...] = ()  # only in base
    changed: tuple[str, ...] = ()  # in both, with different vars or expected: a different question, not compared
    numbered: bool = False  # a side names cases by row number: a row added, removed or moved renumbers the rest

    @property
    def differs(self) -> bool:
        """Whether base and head hold different cases."""
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class Compared:
    """The set the paired delta is over: cases both sides share unchanged and both sides scored.

    `base_score` and `head_score` are means over exactly these cases, so head - base is the delta.
    """

    cases: int = 0
    base_score: float | None = None
    head_score: float | None = None


@dataclass(frozen=True)
class SuiteDiff:
    """One suite compared across two revisions."""

    name: str
    base: SuiteResult | None
    head: SuiteResult | None
    delta: stats.PairedTest | None  # over the compared set, repeats averaged within a case; None when none
    improved: tuple[CaseChange, ...]
    regressed: tuple[CaseChange, ...]
    noisy: tuple[str, ...]  # ids of cases that flipped only within their repeats' noise
    prompt_files: tuple[str, ...] = ()
    dataset: CaseSets = CaseSets()
    compared: Compared = Compared()
    scorers: tuple[DimensionDelta, ...] = ()  # each scorer's paired delta over the compared set (dimensions.py)

    @property
    def significant(self) -> bool:
        """Whether the exact paired test gives p < 0.05 (stats.PairedTest.significant)."""
        return bool(self.delta and self.delta.significant)


@dataclass(frozen=True)
class DiffReport:
    """Every affected suite between two revisions."""

    base: str
    head: str
    suites: tuple[SuiteDiff, ...]


def case_sets(base: Sequence[Case], head: Sequence[Case]) -> CaseSets:
    """Which case ids only head has, only base has, and which both have with a different input or expected."""
    before = {case.id: _case_hash(case) for case in base}
    after = {case.id: _case_hash(case) for case in head}
    return CaseSets(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(sorted(i for i in after.keys() & before.keys() if after[i] != before[i])),
    )


def _case_hash(case: Case) -> str:
    return content_hash("case", {"vars": dict(case.vars), "expected": case.expected})


def compare_results(
    name: str,
    base: SuiteResult | None,
    head: SuiteResult | None,
    dataset: CaseSets | None = None,
    remeasured: frozenset[str] = frozenset(),
) -> SuiteDiff:
    """Pair the cases both sides scored and hold unchanged (`dataset.changed` are left out); list who moved.

    `remeasured`: dimension names whose scorer differs between the sides (`remeasured`), left unpaired.

    The delta is stats.paired_test over those pairs, each case's repeat scores averaged within the case
    (one cluster per case). A case is "noisy" rather than improved or regressed when its flip is within
    its repeats' noise (stats.noisy_flip); the test still counts it up or down.
    """
    dataset = dataset or CaseSets()
    if base is None or head is None:
        return SuiteDiff(name, base, head, None, (), (), (), dataset=dataset)
    left_out = set(dataset.changed)
    common = [pair for pair in _scored_pairs(base, head) if pair[1].id not in left_out]
    base_scores, head_scores = [b for _, _, b, _ in common], [h for _, _, _, h in common]
    delta = (
        stats.paired_test([_repeats(b) for b, _, _, _ in common], [_repeats(h) for _, h, _, _ in common])
        if common
        else None
    )
    compared = Compared(len(common), _mean(base_scores), _mean(head_scores))
    improved: list[CaseChange] = []
    regressed: list[CaseChange] = []
    noisy: list[str] = []
    for b, h, base_score, head_score in common:
        if round(head_score - base_score, 9) == 0:  # as the paired test rounds: it counts no change here
            continue
        if stats.noisy_flip(b.repeat_scores, h.repeat_scores, pass_at=h.pass_at):
            noisy.append(h.id)
            continue
        change = CaseChange(h.id, h.expected, b.output, h.output, base_score, head_score)
        (improved if head_score > base_score else regressed).append(change)
    regressed.sort(key=lambda c: (c.head_score - c.base_score, c.id))
    improved.sort(key=lambda c: (c.base_score - c.head_score, c.id))
    return SuiteDiff(
        name,
        base,
        head,
        delta,
        tuple(improved),
        tuple(regressed),
        tuple(noisy),
        dataset=dataset,
        compared=compared,
        scorers=dimension_deltas([b for b, _, _, _ in common], [h for _, h, _, _ in common], remeasured),
    )


def _repeats(case: CaseResult) -> tuple[float, ...]:
    # A scored case always has its repeats; the score alone stands in should a stored row lack them.
    return case.repeat_scores or ((case.score,) if case.score is not None else ())


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def plans_case_sets(base: Plan | None, head: Plan | None) -> CaseSets:
    """case_sets of two plans' suites; no difference when a side is missing (the suite is new or removed)."""
    if base is None or head is None:
        return CaseSets()
    sets = case_sets(base.suite.cases, head.suite.cases)
    return dataclasses.replace(sets, numbered=base.suite.numbered or head.suite.numbered)


def remeasured(
    base_plan: Plan | None, head_plan: Plan | None, base: SuiteResult | None, head: SuiteResult | None
) -> frozenset[str]:
    """The dimension names both results hold that the two suites do not give to one scorer alike
    (scorer_names.comparable): each side measured something else under that name."""
    if base_plan is None or head_plan is None or base is None or head is None:
        return frozenset()
    held = {s.name for s in base.scorers} & {s.name for s in head.scorers}
    return frozenset(held - comparable(base_plan.suite.scorers, head_plan.suite.scorers))


def _scored_pairs(base: SuiteResult, head: SuiteResult) -> list[tuple[CaseResult, CaseResult, float, float]]:
    """The cases both sides scored, in head's order: (base case, head case, base score, head score)."""
    base_cases = base.by_id()
    pairs = []
    for h in head.cases:
        b = base_cases.get(h.id)
        if b is not None and b.score is not None and h.score is not None:
            pairs.append((b, h, b.score, h.score))
    return pairs


def evaluate_pairs(
    project: Project,
    store: Store,
    pairs: Sequence[SuitePair],
    progress: Progress | None = None,
    time_limit: float | None = None,
    knobs: Knobs | None = None,
) -> list[SuiteDiff]:
    """Evaluate both sides of every pair in one run (shared cache and pool, `time_limit` seconds) and compare them.

    `knobs`: the command line's --repeat (both sides alike) and -j (selection.Knobs)."""
    if knobs is not None and knobs.repeat is not None:
        pairs = [_with_repeat(pair, knobs.repeat) for pair in pairs]
    plans = [plan for pair in pairs for plan in (pair.base, pair.head) if plan is not None]
    evaluated = evaluate(plans, store, options_for(project, time_limit, knobs=knobs), progress)
    results = {id(plan): result for plan, result in zip(plans, evaluated)}
    diffs = []
    for pair in pairs:
        base = results.get(id(pair.base)) if pair.base else None
        head = results.get(id(pair.head)) if pair.head else None
        files = pair.head.sources.prompt_files if pair.head else ()
        compared = compare_results(
            pair.name, base, head, plans_case_sets(pair.base, pair.head), remeasured(pair.base, pair.head, base, head)
        )
        diffs.append(dataclasses.replace(compared, prompt_files=files))
    return diffs


def _with_repeat(pair: SuitePair, repeat: int) -> SuitePair:
    base, head = (with_repeat([p], repeat)[0] if p is not None else None for p in (pair.base, pair.head))
    return dataclasses.replace(pair, base=base, head=head)
