"""Scores as verdicts (SPEC section 9): bootstrap CIs of a mean and of a paired delta, flakiness, noise."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0

# A binomial draw costs about as much as drawing ~30 resampled cases, so counting per distinct
# value wins while there are fewer distinct values than n / 30 (measured on CPython 3.11).
_HISTOGRAM_RATIO = 30

# z for a two-sided 95% test; noisy_flip's rule is documented there.
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A closed interval [low, high]; both NaN when there is nothing to estimate."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether `value` lies inside the interval (ends included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class PairedDelta:
    """head − base, its paired-bootstrap CI, and whether that CI excludes zero."""

    delta: float
    ci: Interval
    significant: bool


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; NaN for no values."""
    if not values:
        return math.nan
    return math.fsum(values) / len(values)


def mean_ci(
    values: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile-bootstrap CI of the mean over cases; NaN interval for none, (v, v) for one."""
    _check_parameters(confidence, resamples)
    if not values:
        return Interval(math.nan, math.nan)
    if len(values) == 1:
        return Interval(float(values[0]), float(values[0]))
    # The bootstrap of a mean depends only on the multiset of values, so sorting its histogram
    # makes the interval independent of case order and gives the cache a compact key.
    histogram = tuple(sorted(Counter(float(v) for v in values).items()))
    return _bootstrap(histogram, len(values), confidence, resamples, seed)


def paired_delta(
    base: Sequence[float],
    head: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedDelta:
    """mean(head) − mean(base) with a paired bootstrap over cases (base[i] and head[i] are one case)."""
    if len(base) != len(head):
        raise ValueError(f"paired scores need the same cases: {len(base)} base vs {len(head)} head")
    # Resampling cases and averaging head − base is the same as bootstrapping the differences.
    differences = [h - b for b, h in zip(base, head)]
    ci = mean_ci(differences, confidence=confidence, resamples=resamples, seed=seed)
    significant = ci.low > 0 or ci.high < 0  # NaN compares false: no cases is never significant
    return PairedDelta(delta=mean(differences), ci=ci, significant=significant)


def passes(repeats: Sequence[float], *, pass_at: float = 1.0) -> int:
    """How many of a case's repeats pass (score at or above `pass_at`)."""
    return sum(1 for score in repeats if score >= pass_at - 1e-9)


def flakiness(repeats: Sequence[float], *, pass_at: float = 1.0) -> float:
    """The chance that two different repeats of a case disagree on pass/fail: 0 steady … 1 alternating.

    With k repeats of which p pass, that is 2·p·(k−p) / (k·(k−1)): 0 when all agree, 2/3 for
    2 passes of 3, 1 for 1 of 2. Fewer than two repeats give 0 (no disagreement is observable).
    """
    k = len(repeats)
    if k < 2:
        return 0.0
    p = passes(repeats, pass_at=pass_at)
    return 2 * p * (k - p) / (k * (k - 1))


def noisy_flip(base_repeats: Sequence[float], head_repeats: Sequence[float], *, pass_at: float = 1.0) -> bool:
    """Whether a case's change between revisions is explainable by its repeats' own noise.

    Rule: at least one side is flaky (its repeats disagree on pass/fail), and the two pass rates
    differ by no more than a two-proportion z-test at 95% allows: |rh − rb| ≤ 1.96·√(r(1−r)(1/kb + 1/kh))
    with r the pooled pass rate. A case that passes every repeat on one side and fails every repeat
    on the other is never noise, and neither is any change without repeats: nothing shows noise there.
    """
    kb, kh = len(base_repeats), len(head_repeats)
    if kb == 0 or kh == 0:
        return False
    if flakiness(base_repeats, pass_at=pass_at) == 0 and flakiness(head_repeats, pass_at=pass_at) == 0:
        return False
    pb, ph = passes(base_repeats, pass_at=pass_at), passes(head_repeats, pass_at=pass_at)
    pooled = (pb + ph) / (kb + kh)
    spread = _Z95 * math.sqrt(pooled * (1 - pooled) * (1 / kb + 1 / kh))
    return abs(ph / kh - pb / kb) <= spread + 1e-12


def _check_parameters(confidence: float, resamples: int) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")


@lru_cache(maxsize=4096)
def _bootstrap(
    histogram: tuple[tuple[float, int], ...], n: int, confidence: float, resamples: int, seed: int
) -> Interval:
    if len(histogram) == 1:
        return Interval(histogram[0][0], histogram[0][0])
    rng = random.Random(seed)
    if len(histogram) * _HISTOGRAM_RATIO <= n:
        means = _means_by_counts(rng, histogram, n, resamples)
    else:
        means = _means_by_cases(rng, histogram, n, resamples)
    means.sort()
    tail = (1 - confidence) / 2
    return Interval(_quantile(means, tail), _quantile(means, 1 - tail))


def _means_by_counts(
    rng: random.Random, histogram: tuple[tuple[float, int], ...], n: int, resamples: int
) -> list[float]:
    """Resample means drawn as multinomial counts over the distinct values: O(distinct) per resample."""
    values = [value for value, _ in histogram]
    # A multinomial draw is a chain of binomials, each conditioned on what is left.
    shares: list[float] = []
    left = n
    for _, count in histogram[:-1]:
        shares.append(count / left)
        left -= count
    means: list[float] = []
    for _ in range(resamples):
        remaining = n
        total = 0.0
        for value, share in zip(values, shares):
            drawn = binomial(rng, remaining, share) if remaining else 0
            total += value * drawn
            remaining -= drawn
        total += values[-1] * remaining
        means.append(total / n)
    return means


def _means_by_cases(
    rng: random.Random, histogram: tuple[tuple[float, int], ...], n: int, resamples: int
) -> list[float]:
    """Resample means drawn case by case: O(n) per resample, for many distinct values."""
    values = [value for value, count in histogram for _ in range(count)]
    # Plain sum, not fsum: rounding error is far below any CI width and fsum costs 1.5x here.
    return [sum(rng.choices(values, k=n)) / n for _ in range(resamples)]


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolating linearly between order statistics."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def binomial(rng: random.Random, n: int, p: float) -> int:
    """One Binomial(n, p) draw using only `rng.random()`, so seeded draws match on every Python."""
    if p <= 0 or n <= 0:
        return 0
    if p >= 1:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1 - p)
    if n * p < 10:
        return _binomial_by_waiting(rng, n, p)
    return _binomial_btrs(rng, n, p)


def _binomial_by_waiting(rng: random.Random, n: int, p: float) -> int:
    """Count geometric waiting times that fit in n trials: fast when n·p is small."""
    log_q = math.log(1 - p)
    successes = trials = 0
    while True:
        # 1 − random() lies in (0, 1], so the log is finite.
        trials += math.floor(math.log(1 - rng.random()) / log_q) + 1
        if trials > n:
            return successes
        successes += 1


def _binomial_btrs(rng: random.Random, n: int, p: float) -> int:
    """Hörmann's BTRS transformed rejection (1993): O(1) expected time for n·p ≥ 10, p ≤ 0.5."""
    q = 1 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / q)
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        if us <= 0:
            continue
        k = math.floor((2 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v *= alpha / (a / (us * us) + b)
        if v <= 0 or math.log(v) <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - m) * lpq:
            return k
