"""Scores as verdicts (docs/spec.md, Statistics): exact paired tests, honest score intervals, what a suite can see.

The verdict API (issue 13):

- `paired_test(base, head)` -> `PairedTest`: delta, its CI, an exact sign-flip p-value, cases up/down.
- `drop_fails(test, max_drop)`: the `max_drop` gate, failing only on a significant drop past it.
- `score_interval(cases)` / `wilson_interval(successes, n)`: a suite score's interval, never a point.
- `smallest_significant_drop(n, ...)` -> `Sensitivity`: the least drop this suite could call significant.
- `against_threshold(interval, threshold)`: below / within noise / above a threshold.
- `bisect_call(good, bad, temperature=...)` -> `BisectCall`: changed / same / undecided for bisect.

- `noisy_flip(base_repeats, head_repeats)`: whether one case's change is within its repeats' noise.

Scores are fractions of the full score (0..1); "points" are hundredths of it. numpy is imported only
inside the functions that compute these, so commands that compute no statistics never load it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from promptgit.suites import passes_at

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0

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


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; NaN for no values."""
    if not values:
        return math.nan
    return math.fsum(values) / len(values)


def passes(repeats: Sequence[float], *, pass_at: float = 1.0) -> int:
    """How many of a case's repeats pass (score at or above `pass_at`)."""
    return sum(1 for score in repeats if passes_at(score, pass_at))


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


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")


# ---------------------------------------------------------------------------------------------------
# The verdict API of issue 13: exact paired tests, honest intervals, sensitivity, bisect.
# ---------------------------------------------------------------------------------------------------

ALPHA = 0.05  # two-sided: p < ALPHA is "significant", so a one-sided gate false-alarms at most 2.5%
PRECISION = 1e-9  # differences are rounded to this before any statistic: thirds never leave -2e-18
_DIGITS = 9

# Scores on a grid of 1/720720 (the lcm of 1..16: any repeat count or equal scorer weighting up to
# 16) are tested in exact integer units; other scores in units of PRECISION.
_LATTICE = 720720
# Exact enumeration while it costs at most this many array-element operations (about 30 ms) ...
_EXACT_BUDGET = 30_000_000
# ... or, off the lattice, while there are at most this many non-zero differences (2^20 sign patterns).
_ENUMERATE_MAX = 20
# Monte Carlo beyond: batches of 1,000 seeded draws, stopping once the p-value is clearly on one side
# of ALPHA (Besag & Clifford 1991), at most 10,000 draws: a standard error of 0.0022 at p = 0.05.
MC_BATCH = 1_000
MC_MAX_DRAWS = 10_000
_MC_STOP_Z = 3.29  # a 99.9% Wilson interval of the hit rate that excludes ALPHA ends the sampling
# Bootstrap resamples of the paired CI; beyond the budget (only past 10,000 distinct differences) the
# interval is the normal one, which the bootstrap distribution of a mean equals at that size.
_BOOTSTRAP_BUDGET = 20_000_000
# While at most this many cases changed, the CI is the inverted exact test (where the bootstrap is
# least trustworthy), if each of its exact evaluations stays within this many sums.
_INVERT_MAX_CHANGED = 30
_INVERT_BUDGET = 100_000

CaseScores = Sequence[float] | Sequence[Sequence[float]]

BELOW, WITHIN_NOISE, ABOVE = "below", "within noise", "above"
CHANGED, SAME, UNDECIDED = "changed", "same", "undecided"


@dataclass(frozen=True)
class PairedTest:
    """A change between two revisions, paired case by case (docs/spec.md, Statistics).

    delta: mean of head − base over the n paired cases, as a fraction (−1..1); NaN when n == 0.
    ci: its interval at `confidence` (ends rounded to PRECISION): the inverted sign-flip test while
        at most 30 cases changed (so it contains 0 exactly when p >= 0.05), else the paired
        bootstrap; (0, 0) when no case changed: show "No case changed" when `changed == 0`.
    p_value: two-sided p of the exact sign-flip test (1.0 when nothing changed);
        `draws` is 0 when it is exact, else the number of Monte Carlo draws behind it.
    up / down / unchanged: cases whose score rose / fell / stayed (at PRECISION).
    """

    delta: float
    ci: Interval
    p_value: float
    up: int
    down: int
    unchanged: int
    draws: int = 0
    alpha: float = ALPHA

    @property
    def n(self) -> int:
        """How many cases were paired."""
        return self.up + self.down + self.unchanged

    @property
    def changed(self) -> int:
        """How many paired cases changed score at all."""
        return self.up + self.down

    @property
    def significant(self) -> bool:
        """Whether the two-sided p-value is below alpha (0.05)."""
        return self.p_value < self.alpha


def case_means(cases: CaseScores) -> list[float]:
    """Each case's score: a number as it is, a sequence of repeats averaged (one cluster per case).

    Raises ValueError for a case with no repeats.
    """
    return [float(m) for m in _means_and_trials(cases)[0]]


def _means_and_trials(cases: CaseScores) -> tuple[NDArray[np.float64], int]:
    """Case means as an array, and how many scores (repeats) stand behind them."""
    import numpy as np

    if len(cases) and all(isinstance(c, (int, float)) for c in cases[:1]):
        try:
            flat = np.asarray(cases, dtype=float)
            if flat.ndim == 1:
                return flat, len(flat)
        except (TypeError, ValueError):
            pass  # numbers and sequences mixed: the general path below
    elif len(cases):
        try:
            # Equal repeat counts (the usual case) convert in one step, 30x faster than case by case.
            grid = np.asarray(cases, dtype=float)
            if grid.ndim == 2 and grid.shape[1] > 0:
                return grid.mean(axis=1), int(grid.size)
        except (TypeError, ValueError):
            pass  # ragged repeats: the general path below
    means, trials = [], 0
    for case in cases:
        if isinstance(case, (int, float)):
            means.append(float(case))
            trials += 1
        elif len(case) == 0:
            raise ValueError("a case has no repeat scores")
        else:
            means.append(math.fsum(case) / len(case))
            trials += len(case)
    return np.asarray(means, dtype=float), trials


def paired_test(
    base: CaseScores,
    head: CaseScores,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> PairedTest:
    """Test head against base on the same cases: base[i] and head[i] are case i (a score or its repeats).

    Repeats are averaged within a case first (a case is one cluster), and the differences head − base
    are rounded to PRECISION. The p-value is the two-sided sign-flip permutation test of their sum
    (Fisher 1935, *The Design of Experiments* §21; Good 2005, *Permutation, Parametric and Bootstrap
    Tests of Hypotheses* §3): under "no change" each case's difference is as likely to have had the
    other sign. Zero differences carry no information under sign flipping and drop out. With equal
    magnitudes it is the exact binomial sign test, and for pass/fail cases with one repeat the exact
    McNemar test (McNemar 1947): 4 same-way flips give p = 0.125, 6 give 0.03125. See `sign_flip_p`
    for when it is exact and when Monte Carlo. The CI inverts the same test while at most 30 cases
    changed (`_inverted_interval`: the shifts it does not reject); with more changes, where the
    bootstrap is trustworthy, it is the paired percentile bootstrap of the mean difference (Efron &
    Tibshirani 1993, ch. 13; normal beyond 10,000 distinct differences). The verdict is the p-value.

    Raises ValueError when the sides have different numbers of cases or a bad confidence.
    """
    _check_confidence(confidence)
    if len(base) != len(head):
        raise ValueError(f"paired scores need the same cases: {len(base)} base vs {len(head)} head")
    import numpy as np

    if len(base) == 0:
        return PairedTest(math.nan, Interval(math.nan, math.nan), 1.0, 0, 0, 0)
    differences = np.round(_means_and_trials(head)[0] - _means_and_trials(base)[0], _DIGITS)
    up = int(np.count_nonzero(differences > 0))
    down = int(np.count_nonzero(differences < 0))
    unchanged = len(differences) - up - down
    delta = round(math.fsum(differences.tolist()) / len(differences), _DIGITS)
    if up + down == 0:
        return PairedTest(delta, Interval(0.0, 0.0), 1.0, 0, 0, unchanged)
    p_value, draws = sign_flip_p(differences, seed=seed)
    ci = _paired_interval(differences, confidence, seed)
    return PairedTest(delta, ci, p_value, up, down, unchanged, draws)


def drop_fails(test: PairedTest, max_drop: float) -> bool:
    """The `max_drop` gate: fail only on a significant drop larger than max_drop (a fraction, 0.02 = 2 pts).

    A drop within noise never fails, however large it looks; a significant drop of at most max_drop
    passes. Compared at PRECISION, so a drop of exactly max_drop in thirds is not "larger".
    """
    return test.significant and test.delta < 0 and -test.delta > max_drop + PRECISION / 2


def sign_flip_p(differences: Sequence[float] | NDArray[np.float64], *, seed: int = DEFAULT_SEED) -> tuple[float, int]:
    """Two-sided sign-flip permutation p-value of per-case differences, and the Monte Carlo draws used.

    The statistic is |sum of differences|; the p-value is the share of the 2^k sign assignments of
    the k non-zero differences whose |sum| is at least the observed one. Exact (draws = 0):
    - on the 1/720720 lattice (pass/fail, repeats, equally weighted scorers), by the distribution of
      the sum over the distinct magnitudes: a binomial per magnitude, convolved (for one magnitude it
      is the binomial sign test at any k); while that costs at most ~3e7 array operations;
    - with one magnitude off the lattice, by the binomial sign test too;
    - otherwise while k <= 20, by enumerating all 2^k assignments (sums compared within k·PRECISION).
    Beyond, a seeded Monte Carlo of the same sign flips: batches of 1,000 draws, stopping when a 99.9%
    interval of the hit rate excludes 0.05, at most 10,000 draws (standard error 0.0022 at p = 0.05);
    the p-value is (1 + hits) / (1 + draws), never 0 (Phipson & Smyth 2010; Besag & Clifford 1991).
    p is 1.0 when no difference is non-zero.
    """
    import numpy as np

    d = np.round(np.asarray(differences, dtype=float), _DIGITS)
    d = d[d != 0]
    k = int(d.size)
    if k == 0:
        return 1.0, 0
    units = _lattice_units(np.abs(d))
    tolerance = 0
    if units is None:
        units = np.rint(np.abs(d) / PRECISION).astype(np.int64)
        tolerance = k  # each unit is rounded by at most half a unit on either side of a tie
        if bool((units == units[0]).all()):
            # One magnitude off the lattice (every case moved by the same 0.03): still the exact sign test.
            units, tolerance = np.ones_like(units), 0
    observed = abs(int(np.where(d > 0, units, -units).sum()))
    threshold = observed - tolerance
    if threshold <= 0:
        return 1.0, 0
    if tolerance == 0:
        p, draws = _lattice_p(units, threshold, seed)
    elif k <= _ENUMERATE_MAX:
        p, draws = _enumerated_p(units, threshold), 0
    else:
        p, draws = _sequential_p(_table_sampler(units), threshold, seed)
    # No assignment is more extreme than all signs agreeing: p is never below 2 · 2^-k.
    return min(1.0, max(p, 0.5 ** (k - 1))), draws


def _lattice_units(magnitudes: NDArray[np.float64]) -> NDArray[np.int64] | None:
    """The magnitudes as integers on the 1/720720 lattice divided by their gcd, or None when off it."""
    import numpy as np

    scaled = magnitudes * _LATTICE
    whole = np.rint(scaled)
    # Differences were rounded to 1e-9, so a lattice value is at most 720720 · 0.5e-9 off its point.
    if float(np.max(np.abs(scaled - whole))) > 1e-3:
        return None
    units = whole.astype(np.int64)
    return units // int(np.gcd.reduce(units))


def _lattice_p(units: NDArray[np.int64], threshold: int, seed: int) -> tuple[float, int]:
    """P(|T| >= threshold) for T = sum of ±units: T = 2S − U, S = sum over magnitudes u of u·Binomial(c, ½)."""
    import numpy as np

    values, counts = np.unique(units, return_counts=True)
    total = int(units.sum())
    # |T| >= threshold  <=>  S >= (U + threshold) / 2, doubled by symmetry.
    cut = -(-(total + threshold) // 2)
    if len(values) == 1:
        step = int(values[0])
        return min(1.0, 2 * _binomial_upper_tail(int(counts[0]), -(-cut // step))), 0
    if total * int(counts.sum() + len(counts)) <= _EXACT_BUDGET:
        distribution = np.ones(1)
        for value, count in zip(values.tolist(), counts.tolist()):
            distribution = _convolve_binomial(distribution, value, count)
        return min(1.0, 2 * float(distribution[cut:].sum())), 0

    def draw(rng: np.random.Generator, size: int) -> NDArray[np.int64]:
        heads = rng.binomial(counts[:, None], 0.5, size=(len(counts), size))
        return 2 * (values[:, None] * heads).sum(axis=0) - total

    return _sequential_p(draw, threshold, seed)


def _convolve_binomial(distribution: NDArray[np.float64], step: int, count: int) -> NDArray[np.float64]:
    """The distribution of S + step·Binomial(count, ½) given that of S (index = value)."""
    import numpy as np

    weights = _binomial_half_pmf(count)
    out = np.zeros(len(distribution) + step * count)
    for heads, weight in enumerate(weights):
        out[heads * step : heads * step + len(distribution)] += weight * distribution
    return out


@lru_cache(maxsize=64)
def _binomial_half_pmf(count: int) -> tuple[float, ...]:
    """Binomial(count, ½) probabilities; exact ratios of integers (dyadic, so sums stay exact) up to 1,000."""
    if count <= 1000:
        whole = 2**count
        return tuple(math.comb(count, j) / whole for j in range(count + 1))
    import numpy as np

    # log C(count, j) as a running sum of log((count − i + 1) / i): vectorised, no big integers.
    steps = np.arange(1, count + 1)
    logs = np.concatenate(([0.0], np.cumsum(np.log((count - steps + 1) / steps)))) + count * math.log(0.5)
    return tuple(np.exp(logs).tolist())


def _binomial_upper_tail(count: int, at_least: int) -> float:
    """P(Binomial(count, ½) >= at_least), exactly rounded up to 5,000 trials."""
    if at_least <= 0:
        return 1.0
    if at_least > count:
        return 0.0
    if count <= 5000:
        return sum(math.comb(count, j) for j in range(at_least, count + 1)) / 2**count
    return math.fsum(_binomial_half_pmf(count)[at_least:])


def _enumerated_p(units: NDArray[np.int64], threshold: int) -> float:
    """P(|T| >= threshold) by listing the sums of all 2^k sign assignments."""
    import numpy as np

    positive = np.zeros(1, dtype=np.int64)
    for unit in units.tolist():
        positive = np.concatenate((positive, positive + unit))
    sums = 2 * positive - int(units.sum())
    return float(np.count_nonzero(np.abs(sums) >= threshold)) / len(sums)


def _table_sampler(units: NDArray[np.int64]) -> Callable[[np.random.Generator, int], NDArray[np.int64]]:
    """Random sign-flip sums at O(k / 8) per draw: one random byte picks the signs of 8 cases at once."""
    import numpy as np

    blocks = np.zeros(-(-len(units) // 8) * 8, dtype=np.int64)
    blocks[: len(units)] = units
    bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1
    # table[b, byte] = the sum of block b's units whose bit is set in byte: those get a plus sign.
    # Float matmul is BLAS-fast and exact here: every sum is an integer below 2^53.
    table = np.rint(blocks.reshape(-1, 8).astype(float) @ bits.T.astype(float)).astype(np.int64)
    flat = table.ravel()
    offsets = np.arange(table.shape[0]) * 256
    total = int(units.sum())
    blocks_at_once = 1000  # block-major chunks keep each block's 2 KB of table in cache while it is used

    def draw(rng: np.random.Generator, size: int) -> NDArray[np.int64]:
        out = np.zeros(size, dtype=np.int64)
        for start in range(0, len(offsets), blocks_at_once):
            chunk = offsets[start : start + blocks_at_once, None]
            picks = rng.integers(0, 256, size=(len(chunk), size), dtype=np.uint8)
            out += flat[chunk + picks].sum(axis=0)
        return 2 * out - total

    return draw


def _sequential_p(
    draw: Callable[[np.random.Generator, int], NDArray[np.int64]], threshold: int, seed: int
) -> tuple[float, int]:
    """Seeded Monte Carlo P(|T| >= threshold) with Besag–Clifford style early stopping."""
    import numpy as np

    rng = np.random.default_rng(seed)
    hits = draws = 0
    while draws < MC_MAX_DRAWS:
        hits += int(np.count_nonzero(np.abs(draw(rng, MC_BATCH)) >= threshold))
        draws += MC_BATCH
        low, high = _wilson(hits, draws, _MC_STOP_Z)
        if high < ALPHA or low > ALPHA:
            break
    return (1 + hits) / (1 + draws), draws


def _paired_interval(differences: NDArray[np.float64], confidence: float, seed: int) -> Interval:
    """The inverted exact test while few cases changed, else the percentile bootstrap (normal beyond
    the budget); ends rounded to PRECISION."""
    import numpy as np

    d = np.asarray(differences, dtype=float)
    n = len(d)
    values, counts = np.unique(d, return_counts=True)
    # No shortcut for one distinct difference: 1 to 5 cases all moved alike are not significant
    # (p >= 0.0625), and their interval must say so by reaching past 0, not sit on a point.
    if len(values) == 1 and n >= _ALIKE_MIN:
        return _alike_interval(float(values[0]), n, confidence)
    if int(np.count_nonzero(d)) <= _INVERT_MAX_CHANGED:
        inverted = _inverted_interval(values, counts, 1 - confidence)
        if inverted is not None:
            return inverted
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2
    if len(values) * DEFAULT_RESAMPLES <= _BOOTSTRAP_BUDGET // 10:
        # A resample is a multinomial draw of counts over the distinct differences: O(distinct).
        draws = rng.multinomial(n, counts / n, size=DEFAULT_RESAMPLES)
        means = draws @ values / n
    elif n * DEFAULT_RESAMPLES <= _BOOTSTRAP_BUDGET:
        means = np.array([d[rng.integers(0, n, size=n)].mean() for _ in range(DEFAULT_RESAMPLES)])
    else:
        centre, spread = float(d.mean()), float(d.std(ddof=1)) / math.sqrt(n)
        z = _normal_quantile(1 - tail)
        return Interval(round(centre - z * spread, _DIGITS), round(centre + z * spread, _DIGITS))
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(round(float(low), _DIGITS), round(float(high), _DIGITS))


_ALIKE_MIN = 6  # the fewest cases all moving alike that the sign test calls significant (p = 2^-5)


def _alike_interval(step: float, n: int, confidence: float) -> Interval:
    """The interval when all n paired cases moved by the same `step` (n >= 6, so p <= 0.031).

    The sign-flip test's inversion and the bootstrap both give the point [step, step] here, as if
    every further case would move too. The mean difference is step times the share of cases that
    move, so the interval is `step` times Wilson's interval for n of n (Wilson 1927): 12 of 12
    rising by 1 give [+0.758, +1.0], which excludes 0 as the test does.
    """
    share = wilson_interval(n, n, confidence=confidence)
    ends = sorted((step * share.low, step * share.high))
    return Interval(round(ends[0], _DIGITS), round(ends[1], _DIGITS))


def _inverted_interval(values: NDArray[np.float64], counts: NDArray[np.int64], alpha: float) -> Interval | None:
    """The shifts δ the sign-flip test of (d − δ) does not reject at alpha (Lehmann 1975, *Nonparametrics*
    §4; Good 2005 §3.3): it contains 0 exactly when the test's p >= alpha, so a change "within noise"
    never shows an interval that excludes 0. None when an exact evaluation would exceed the budget.

    The acceptance region is found by bisection from the observed mean (p = 1 there) towards the
    far ends, to 1e-5 (0.001 pts); beyond the smallest and largest difference every sign agrees, which rejects
    once 6 or more cases are paired, and otherwise the interval runs to −1 or +1 (the extremes of a
    mean difference of scores in [0, 1]).
    """
    centre = float((values * counts).sum() / counts.sum())
    if _shift_p(values, counts, centre) is None:
        return None
    ends = []
    for far in (min(float(values[0]), -1.0) - PRECISION, max(float(values[-1]), 1.0) + PRECISION):
        inside, outside = centre, far
        p_far = _shift_p(values, counts, far)
        if p_far is None:
            return None
        if p_far >= alpha:
            ends.append(max(-1.0, min(1.0, far)))
            continue
        while abs(outside - inside) > 1e-5:
            middle = (inside + outside) / 2
            p = _shift_p(values, counts, middle)
            if p is None:
                return None
            inside, outside = (middle, outside) if p >= alpha else (inside, middle)
        ends.append(_snap(values, counts, alpha, inside, outside))
    return Interval(round(ends[0], _DIGITS), round(ends[1], _DIGITS))


def _snap(values: NDArray[np.float64], counts: NDArray[np.int64], alpha: float, inside: float, outside: float) -> float:
    """A bisected end moved to a round number within 1e-5 where the test still accepts: boundaries
    often sit exactly on one (0, when the unchanged cases start to count)."""
    for candidate in (round(outside, 5), round(inside, 5)):
        p = _shift_p(values, counts, candidate)
        if p is not None and p >= alpha:
            return candidate + 0.0  # + 0.0 turns −0.0 into 0.0
    return inside


def _shift_p(values: NDArray[np.float64], counts: NDArray[np.int64], shift: float) -> float | None:
    """Exact two-sided sign-flip p of the differences minus `shift`, grouped by magnitude; None past
    the budget. Sums are in PRECISION units, compared within one unit per case. All groups but the
    largest (usually the unchanged cases) are enumerated; the largest enters through its binomial CDF."""
    import numpy as np

    shifted = np.round(values - shift, _DIGITS)
    units = np.rint(np.abs(shifted) / PRECISION).astype(np.int64)
    observed = abs(int((np.rint(shifted / PRECISION).astype(np.int64) * counts).sum()))
    magnitudes, where = np.unique(units, return_inverse=True)
    grouped = np.bincount(where.ravel(), weights=counts).astype(np.int64)
    keep = magnitudes > 0
    magnitudes, grouped = magnitudes[keep], grouped[keep]
    threshold = observed - int(grouped.sum())
    if threshold <= 0:
        return 1.0
    order = np.argsort(grouped)
    support, probabilities = np.zeros(1, dtype=np.int64), np.ones(1)
    for magnitude, count in zip(magnitudes[order[:-1]].tolist(), grouped[order[:-1]].tolist()):
        if len(support) * (count + 1) > _INVERT_BUDGET:
            return None
        steps = magnitude * (2 * np.arange(count + 1, dtype=np.int64) - count)
        support, merged = np.unique((support[:, None] + steps[None, :]).ravel(), return_inverse=True)
        weights = (probabilities[:, None] * np.asarray(_binomial_half_pmf(count))[None, :]).ravel()
        probabilities = np.asarray(np.bincount(merged.ravel(), weights=weights), dtype=float)
    big, count = int(magnitudes[order[-1]]), int(grouped[order[-1]])
    sums = big * (2 * np.arange(count + 1, dtype=np.int64) - count)  # increasing
    below = np.concatenate(([0.0], np.cumsum(_binomial_half_pmf(count))))  # below[i] = P(index < i)
    upper = 1 - below[np.searchsorted(sums, threshold - support, side="left")]
    lower = below[np.searchsorted(sums, -threshold - support, side="right")]
    return min(1.0, float((probabilities * (upper + lower)).sum()))


def wilson_interval(successes: float, n: float, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson's score interval for a proportion successes / n (Wilson 1927, JASA 22:209–212).

    The inverted score test, so it never collapses to a point: all 24 of 24 give [0.862, 1.0] and
    0 of 10 give [0.0, 0.278]; coverage stays near nominal down to small n and extreme rates
    (Brown, Cai & DasGupta 2001). successes and n may be effective (non-integer) counts.
    NaN interval for n == 0; ValueError for successes outside [0, n] or a bad confidence.
    """
    _check_confidence(confidence)
    if n <= 0:
        return Interval(math.nan, math.nan)
    if not -PRECISION <= successes <= n + PRECISION:
        raise ValueError(f"successes must lie between 0 and n ({n}), not {successes}")
    low, high = _wilson(min(max(successes, 0.0), n), n, _normal_quantile(1 - (1 - confidence) / 2))
    return Interval(round(low, _DIGITS), round(high, _DIGITS))


def _wilson(successes: float, n: float, z: float) -> tuple[float, float]:
    rate = successes / n
    z2 = z * z
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def score_interval(cases: CaseScores, *, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """A suite score's interval: Wilson's interval on the effective number of cases.

    Each case is one cluster: its score is the mean of its repeats, in [0, 1]. With mean m and
    per-case variance v, a binomial of n_eff = n · m(1−m) / v trials has the same variance of the
    mean (Kish 1965's design effect); Wilson's interval is then taken at (m·n_eff, n_eff), the
    effective-sample-size Wilson interval of Korn & Graubard (1998, Survey Methodology 24:193–201).
    n_eff is bounded below by n cases (for [0, 1] scores v <= m(1−m), Bhatia & Davis 2000, so the
    bound only guards rounding) and above by the number of repeats scored, and it is n when every
    case scores 0 or 1 (repeats that agree add nothing). So the interval never collapses: all 24
    cases passing give [0.862, 1.0]; 24 cases each at 2 of 3 repeats are taken as 72 trials.
    Pass/fail cases with one repeat get exactly `wilson_interval(passed, n)`. Continuous scores
    with one repeat get the binomial width, conservative when they vary less than pass/fail would.

    NaN interval for no cases; ValueError for a score outside [0, 1].
    """
    if len(cases) == 0:
        return Interval(math.nan, math.nan)
    means, trials = _means_and_trials(cases)
    n = len(means)
    if float(means.min()) < -PRECISION or float(means.max()) > 1 + PRECISION:
        raise ValueError("score_interval needs case scores between 0 and 1")
    centre = math.fsum(means.tolist()) / n
    spread = float(((means - centre) ** 2).mean())
    bernoulli = centre * (1 - centre)
    if bernoulli <= PRECISION:
        effective = float(n)
    elif spread <= PRECISION * PRECISION:
        effective = float(trials)
    else:
        effective = min(max(n * bernoulli / spread, float(n)), float(trials))
    return wilson_interval(centre * effective, effective, confidence=confidence)


def against_threshold(interval: Interval, threshold: float) -> str:
    """Where a score's interval lies against a threshold: BELOW (all of it below), ABOVE (none of it
    below) or WITHIN_NOISE (it straddles the threshold; also for a NaN interval)."""
    if interval.high < threshold - PRECISION / 2:
        return BELOW
    if interval.low >= threshold - PRECISION / 2:
        return ABOVE
    return WITHIN_NOISE


@dataclass(frozen=True)
class Sensitivity:
    """What a suite can see: the smallest drop it could call significant.

    cases: the fewest cases that must all drop (pass -> fail) for the exact test to give p < 0.05
    amid the expected noise; None when even all n cases could not. drop: cases / n (a fraction;
    ×100 for points), None likewise.
    """

    n: int
    cases: int | None
    drop: float | None


def smallest_significant_drop(n: int, *, repeats: int = 1, noisy_share: float = 0.0) -> Sensitivity:
    """The smallest drop n cases could call significant (docs/spec.md, Statistics: what a suite can see).

    A drop of m cases falling from pass to fail, amid the noise of two runs: `noisy_share` of the
    cases (see `noisy_share`) change by one repeat's worth (1/repeats), half up and half down. The
    answer is the least m whose exact sign-flip p (`sign_flip_p`) is below 0.05. With no noise that
    is the sign test's 6 (p = 2^-5 = 0.031; 5 give 0.0625): 24 cases can see 6/24 = 25 pts and no
    less; fewer than 6 cases can see nothing. A planning figure, not a verdict.
    """
    if n < 0 or repeats < 1 or not 0 <= noisy_share <= 1:
        raise ValueError("n >= 0, repeats >= 1 and 0 <= noisy_share <= 1 are needed")
    each_way = round(n * noisy_share / 2)
    noise = [1 / repeats] * each_way + [-1 / repeats] * each_way

    def seen(m: int) -> bool:
        return sign_flip_p([-1.0] * m + noise)[0] < ALPHA

    most = n - 2 * each_way
    if most < 1 or not seen(most):
        return Sensitivity(n, None, None)
    low, high = 0, most  # seen(high) holds, seen(low) does not: the p-value falls as m grows
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if seen(middle) else (middle, high)
    return Sensitivity(n, high, high / n)


def noisy_share(case_flakiness: Sequence[float], repeats: int) -> float:
    """The expected share of cases whose score (mean of `repeats`) differs between two runs.

    A case with flakiness f (the chance two repeats disagree, `flakiness`) passes each repeat with a
    rate r where 2r(1−r) = f; two runs of `repeats` give the same count of passes with probability
    sum over j of Binomial(j; repeats, r)^2. The mean over cases of one minus that.
    """
    if not case_flakiness:
        return 0.0
    total = 0.0
    for flaky in case_flakiness:
        rate = (1 - math.sqrt(max(0.0, 1 - 2 * min(flaky, 0.5)))) / 2
        same = sum((math.comb(repeats, j) * rate**j * (1 - rate) ** (repeats - j)) ** 2 for j in range(repeats + 1))
        total += 1 - same
    return total / len(case_flakiness)


@dataclass(frozen=True)
class BisectCall:
    """Bisect's reading of good vs bad: CHANGED, SAME or UNDECIDED, with the test and why."""

    verdict: str
    test: PairedTest
    reproducible: bool
    reason: str


def bisect_call(
    good: Sequence[Sequence[float]], bad: Sequence[Sequence[float]], *, temperature: float | None
) -> BisectCall:
    """Whether behaviour changed between two revisions, for bisect (not the gate).

    good[i] and bad[i] are case i's repeat scores. Bisect explains where an observed change came
    from, so at temperature 0 with every case's repeats agreeing (nothing shows noise), any set of
    changed cases is a real, reproducible change: CHANGED even for 4 flips in 150, which the gate
    would call within noise. Otherwise the exact paired test (`paired_test`, on the cases that
    changed) decides: CHANGED when p < 0.05, UNDECIDED when within noise (the reason names the
    delta's range and p). SAME when no case changed at all.
    """
    test = paired_test(good, bad)
    steady = all(max(r) - min(r) <= PRECISION for side in (good, bad) for r in side if len(r))
    reproducible = temperature == 0 and steady
    moved = f"{test.down} down, {test.up} up of {test.n}"
    if test.changed == 0:
        return BisectCall(SAME, test, reproducible, "no case changed")
    if reproducible:
        return BisectCall(CHANGED, test, True, f"{moved}, reproducibly (temperature 0, repeats agree)")
    range_ = (
        f"{test.delta * 100:+.1f} pts [{test.ci.low * 100:+.1f}, {test.ci.high * 100:+.1f}], p = {test.p_value:.3g}"
    )
    if test.significant:
        return BisectCall(CHANGED, test, False, f"{moved}: {range_}")
    return BisectCall(UNDECIDED, test, False, f"{moved}: within noise, {range_}")


def _normal_quantile(q: float) -> float:
    """The standard normal q-quantile (exact to float precision through the stdlib)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)
