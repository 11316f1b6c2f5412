"""Two results of a suite compared case by case: the paired delta, and the cases that improved or regressed."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptgit import stats
from promptgit.changes import SuitePair
from promptgit.evaluate import CaseResult, Progress, SuiteResult, evaluate, options_for
from promptgit.project import Project
from promptgit.store import Store


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
class SuiteDiff:
    """One suite compared across two revisions."""

    name: str
    base: SuiteResult | None
    head: SuiteResult | None
    delta: stats.PairedDelta | None
    improved: tuple[CaseChange, ...]
    regressed: tuple[CaseChange, ...]
    noisy: tuple[str, ...]  # ids of cases that flipped only within their repeats' noise
    prompt_files: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        """Whether the delta's CI excludes zero."""
        return bool(self.delta and self.delta.significant)


@dataclass(frozen=True)
class DiffReport:
    """Every affected suite between two revisions."""

    base: str
    head: str
    suites: tuple[SuiteDiff, ...]


def compare_results(name: str, base: SuiteResult | None, head: SuiteResult | None) -> SuiteDiff:
    """Pair the cases both sides scored; list who improved and who regressed beyond noise."""
    if base is None or head is None:
        return SuiteDiff(name, base, head, None, (), (), ())
    common = _scored_pairs(base, head)
    delta = stats.paired_delta([b for _, _, b, _ in common], [h for _, _, _, h in common]) if common else None
    improved: list[CaseChange] = []
    regressed: list[CaseChange] = []
    noisy: list[str] = []
    for b, h, base_score, head_score in common:
        if math.isclose(base_score, head_score):
            continue
        if stats.noisy_flip(b.repeat_scores, h.repeat_scores, pass_at=h.pass_at):
            noisy.append(h.id)
            continue
        change = CaseChange(h.id, h.expected, b.output, h.output, base_score, head_score)
        (improved if head_score > base_score else regressed).append(change)
    regressed.sort(key=lambda c: (c.head_score - c.base_score, c.id))
    improved.sort(key=lambda c: (c.base_score - c.head_score, c.id))
    return SuiteDiff(name, base, head, delta, tuple(improved), tuple(regressed), tuple(noisy))


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
) -> list[SuiteDiff]:
    """Evaluate both sides of every pair in one run (shared cache and pool, `time_limit` seconds) and compare them."""
    plans = [plan for pair in pairs for plan in (pair.base, pair.head) if plan is not None]
    evaluated = evaluate(plans, store, options_for(project, time_limit), progress)
    results = {id(plan): result for plan, result in zip(plans, evaluated)}
    diffs = []
    for pair in pairs:
        base = results.get(id(pair.base)) if pair.base else None
        head = results.get(id(pair.head)) if pair.head else None
        files = pair.head.sources.prompt_files if pair.head else ()
        diffs.append(dataclasses.replace(compare_results(pair.name, base, head), prompt_files=files))
    return diffs
