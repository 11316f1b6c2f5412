"""Per-dimension scores: each scorer of a suite scored on its own, with its interval and its paired delta.

docs/spec.md, Dimensions and failure patterns. A dimension is one scorer of a suite, named by its `name:` or else by its
label (`exact_match`, `regex`, `python:tone`, ...): the name the store keeps in StoredCase.scores.
A case's dimension score is the mean of that scorer's values over the case's repeats; a suite's is
the mean over the scored cases, with stats.score_interval (the method of the suite score) and, between
two results, stats.paired_test (the method of the suite delta). Standard library only, plus stats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from promptgit import stats


@dataclass(frozen=True, slots=True)
class CaseDimension:
    """One scorer's values on one case: `repeats` holds one value in [0, 1] per repeat, in repeat order."""

    name: str
    repeats: tuple[float, ...]

    @property
    def score(self) -> float:
        """The mean over repeats, in [0, 1]; NaN when there are none."""
        return stats.mean(self.repeats)


@dataclass(frozen=True)
class DimensionScore:
    """One scorer's score over a suite: the mean over scored cases in [0, 1] (None when none was scored)
    and its interval (stats.score_interval, NaN ends when none was scored). `about`: for a default name with
    a digest (`regex~a98d91`), the scorer it names (`regex: '^[a-z]+$'`, scorer_names.described), else ""."""

    name: str
    score: float | None
    ci: stats.Interval
    about: str = ""


@dataclass(frozen=True)
class DimensionDelta:
    """One scorer's change between two results of a suite, over the cases both scored (head's case order).

    `base` and `head` are the dimension's means over exactly those cases, so head - base is `test.delta`;
    `test` is stats.paired_test over them (None when no case is shared). `remeasured`: the scorer's kind or
    configuration differs between the sides (compare.remeasured), so base and head are each side's own
    score over the cases it scored and there is no test.
    """

    name: str
    base: float | None
    head: float | None
    test: stats.PairedTest | None
    remeasured: bool = False

    @property
    def significant(self) -> bool:
        """Whether the exact paired test gives p < 0.05."""
        return bool(self.test and self.test.significant)


class _Scored(Protocol):
    """What these functions read of a case (evaluate.CaseResult has it)."""

    @property
    def id(self) -> str: ...

    @property
    def score(self) -> float | None: ...

    @property
    def dimensions(self) -> tuple[CaseDimension, ...]: ...


def names_of(cases: Sequence[_Scored]) -> list[str]:
    """Dimension names in the order the suite lists its scorers (first seen across cases)."""
    return list(dict.fromkeys(d.name for c in cases for d in c.dimensions))


def dimension_scores(cases: Sequence[_Scored]) -> tuple[DimensionScore, ...]:
    """Each dimension's score over the cases with a score (errored and unevaluated cases are left out).

    Returns () when no case carries dimensions (results stored before dimensions were kept behave so too).
    """
    scored = [c for c in cases if c.score is not None]
    found = []
    for name in names_of(scored):
        repeats = [d.repeats for c in scored for d in c.dimensions if d.name == name and d.repeats]
        means = [math.fsum(r) / len(r) for r in repeats]
        found.append(DimensionScore(name, stats.mean(means) if means else None, stats.score_interval(repeats)))
    return tuple(found)


def dimension_deltas(
    base: Sequence[_Scored], head: Sequence[_Scored], remeasured: frozenset[str] = frozenset()
) -> tuple[DimensionDelta, ...]:
    """Each of head's dimensions compared with base's over the cases both scored and both hold it.

    Callers pass the cases they compare (compare.py passes the unchanged cases both sides scored).
    A dimension only one side has gets base or head None and no test; one both have that is named in
    `remeasured` gets each side's own score, no test, and `remeasured` set.
    """
    before = {c.id: {d.name: d.repeats for d in c.dimensions} for c in base if c.score is not None}
    deltas = []
    names = list(dict.fromkeys([*names_of(head), *names_of(base)]))
    for name in names:
        pairs = []
        for case in head:
            own = next((d.repeats for d in case.dimensions if d.name == name), None)
            other = before.get(case.id, {}).get(name)
            if case.score is not None and own and other:
                pairs.append((other, own))
        if not pairs or name in remeasured:  # one side alone holds it (a scorer added, removed or renamed)
            remade = bool(pairs)  # or both hold it for different scorers: each side's score, no test
            deltas.append(DimensionDelta(name, _alone(base, name), _alone(head, name), None, remeasured=remade))
            continue
        test = stats.paired_test([b for b, _ in pairs], [h for _, h in pairs])
        base_mean = stats.mean([stats.mean(b) for b, _ in pairs])
        head_mean = stats.mean([stats.mean(h) for _, h in pairs])
        deltas.append(DimensionDelta(name, base_mean, head_mean, test))
    return tuple(deltas)


def _alone(cases: Sequence[_Scored], name: str) -> float | None:
    """The dimension's score over the cases that scored it (None when none did): a side with no pair to test."""
    repeats = [d.repeats for c in cases if c.score is not None for d in c.dimensions if d.name == name and d.repeats]
    return stats.mean([math.fsum(r) / len(r) for r in repeats]) if repeats else None
