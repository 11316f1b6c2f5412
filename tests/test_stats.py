"""Bootstrap intervals, paired deltas, flakiness and noise: known values, determinism, calibration."""

from __future__ import annotations

import math
import random
import time
from collections import Counter

import pytest

from promptgit import stats
from promptgit.stats import Interval


def test_mean_of_values_and_of_nothing() -> None:
    assert stats.mean([0.0, 1.0, 1.0, 0.5]) == 0.625
    assert math.isnan(stats.mean([]))


def test_constant_scores_give_a_degenerate_interval_at_the_constant() -> None:
    assert stats.mean_ci([0.75] * 40) == Interval(0.75, 0.75)
    assert stats.mean_ci([1.0] * 1000) == Interval(1.0, 1.0)


def test_no_cases_give_a_nan_interval_and_one_case_its_own_value() -> None:
    empty = stats.mean_ci([])
    assert math.isnan(empty.low) and math.isnan(empty.high)
    assert stats.mean_ci([0.4]) == Interval(0.4, 0.4)


def test_half_passing_hundred_cases_has_the_textbook_interval() -> None:
    # The standard error of a 50% pass rate over 100 cases is 0.05, so ±1.96·0.05 ≈ ±0.10.
    ci = stats.mean_ci([0.0, 1.0] * 50)
    assert ci == Interval(0.40, 0.60)


def test_many_distinct_values_take_the_case_by_case_path_with_a_sensible_interval() -> None:
    rng = random.Random(3)
    values = [rng.random() for _ in range(400)]
    ci = stats.mean_ci(values)
    centre = stats.mean(values)
    half_width = 1.96 * _stdev(values) / math.sqrt(len(values))
    assert ci.low < centre < ci.high
    assert abs((ci.high - ci.low) / 2 - half_width) < 0.15 * half_width


def test_same_seed_same_interval_and_case_order_does_not_matter() -> None:
    rng = random.Random(7)
    values = [rng.choice([0.0, 1 / 3, 2 / 3, 1.0]) for _ in range(300)]
    shuffled = list(values)
    rng.shuffle(shuffled)
    first = stats.mean_ci(values, seed=11)
    assert stats.mean_ci(values, seed=11) == first
    assert stats.mean_ci(shuffled, seed=11) == first
    assert stats.mean_ci(values, seed=12) != first


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    values = [0.0, 1.0, 1.0, 1.0] * 30
    narrow = stats.mean_ci(values, confidence=0.8)
    wide = stats.mean_ci(values, confidence=0.99)
    assert wide.low < narrow.low < 0.75 < narrow.high < wide.high


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="confidence"):
        stats.mean_ci([0.0, 1.0], confidence=1.5)
    with pytest.raises(ValueError, match="resamples"):
        stats.mean_ci([0.0, 1.0], resamples=0)
    with pytest.raises(ValueError, match="same cases"):
        stats.paired_delta([1.0, 0.0], [1.0])


def test_paired_delta_of_identical_revisions_is_zero_and_not_significant() -> None:
    scores = [1.0, 0.0, 1.0, 1.0] * 25
    result = stats.paired_delta(scores, scores)
    assert result == stats.PairedDelta(delta=0.0, ci=Interval(0.0, 0.0), significant=False)


def test_paired_delta_sees_a_consistent_drop_that_unpaired_intervals_would_miss() -> None:
    # Scores vary a lot between cases but each case drops by the same 0.03: pairing removes that spread.
    base = [0.2, 0.5, 0.9, 1.0] * 25
    head = [b - 0.03 for b in base]
    result = stats.paired_delta(base, head)
    assert result.delta == pytest.approx(-0.03)
    assert result.ci.low == pytest.approx(-0.03) and result.ci.high == pytest.approx(-0.03)
    assert result.significant
    assert stats.mean_ci(base).low < stats.mean(head) < stats.mean_ci(base).high


def test_paired_delta_of_no_cases_is_nan_and_not_significant() -> None:
    result = stats.paired_delta([], [])
    assert math.isnan(result.delta) and not result.significant


def test_binomial_draws_have_the_right_mean_and_variance() -> None:
    rng = random.Random(5)
    for n, p in [(1000, 0.3), (40, 0.05), (200, 0.9)]:
        draws = [stats.binomial(rng, n, p) for _ in range(20000)]
        assert abs(stats.mean(draws) - n * p) < 0.05 * math.sqrt(n * p * (1 - p)) + 0.01
        assert _stdev(draws) ** 2 == pytest.approx(n * p * (1 - p), rel=0.05)
    assert stats.binomial(rng, 10, 0.0) == 0 and stats.binomial(rng, 10, 1.0) == 10


def test_binomial_small_n_matches_its_distribution() -> None:
    rng = random.Random(9)
    counts = Counter(stats.binomial(rng, 3, 0.5) for _ in range(40000))
    for k, expected in {0: 1 / 8, 1: 3 / 8, 2: 3 / 8, 3: 1 / 8}.items():
        assert counts[k] / 40000 == pytest.approx(expected, abs=0.01)


def test_bootstrap_is_fast_for_a_thousand_cases() -> None:
    rng = random.Random(1)
    base = [float(rng.random() < 0.8) for _ in range(1000)]
    head = [rng.choice([0.0, 1 / 3, 2 / 3, 1.0]) for _ in range(1000)]
    start = time.perf_counter()
    stats.mean_ci(base, seed=101)
    stats.paired_delta(base, head, seed=101)
    elapsed = time.perf_counter() - start
    # About 5 ms + 25 ms on one core; the bound leaves room for a loaded CI machine.
    assert elapsed < 0.5


def test_flakiness_is_the_chance_two_repeats_disagree() -> None:
    assert stats.flakiness([1.0, 1.0, 1.0]) == 0.0
    assert stats.flakiness([0.0, 0.0]) == 0.0
    assert stats.flakiness([1.0, 0.0]) == 1.0
    assert stats.flakiness([1.0, 1.0, 0.0]) == pytest.approx(2 / 3)
    assert stats.flakiness([1.0, 1.0, 0.0, 0.0]) == pytest.approx(2 / 3)
    assert stats.flakiness([1.0]) == 0.0
    assert stats.flakiness([]) == 0.0


def test_flakiness_counts_pass_fail_at_the_pass_mark() -> None:
    assert stats.flakiness([0.8, 0.6, 0.9]) == 0.0  # all fail at the default pass mark of 1.0
    assert stats.flakiness([0.8, 0.6, 0.9], pass_at=0.7) == pytest.approx(2 / 3)


def test_noisy_flip_rules() -> None:
    # Steady on both sides: a real change, however few repeats.
    assert not stats.noisy_flip([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert not stats.noisy_flip([1.0], [0.0])
    # A flaky case whose pass rate moves within its own variation.
    assert stats.noisy_flip([1.0, 1.0, 1.0], [1.0, 0.0, 1.0])
    assert stats.noisy_flip([1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    assert stats.noisy_flip([1.0, 1.0, 1.0], [1.0, 0.0, 0.0])
    # Five repeats: 5/5 → 2/5 is beyond the noise, 5/5 → 3/5 is not.
    assert not stats.noisy_flip([1.0] * 5, [1.0, 1.0, 0.0, 0.0, 0.0])
    assert stats.noisy_flip([1.0] * 5, [1.0, 1.0, 1.0, 0.0, 0.0])
    assert not stats.noisy_flip([], [1.0])


def test_no_real_change_is_significant_about_five_percent_of_the_time() -> None:
    # Every case has its own pass probability; base and head are two independent draws of it.
    rng = random.Random(2024)
    trials = 300
    hits = 0
    for trial in range(trials):
        chance = [rng.random() for _ in range(200)]
        base = [float(rng.random() < p) for p in chance]
        head = [float(rng.random() < p) for p in chance]
        hits += stats.paired_delta(base, head, seed=trial).significant
    # Measured: 0.060 over these 300 trials (0.050 over 400 with another seed).
    assert 0.01 <= hits / trials <= 0.10


def test_a_real_five_point_drop_on_200_cases_is_found_most_of_the_time() -> None:
    # A temperature-0 model: 95% of cases always pass or always fail, 5% are flaky. Ten cases that
    # always passed now always fail: a 5-point drop.
    rng = random.Random(77)
    trials = 100
    found = 0
    for trial in range(trials):
        chance = [_case_chance(rng) for _ in range(200)]
        broken = [i for i, p in enumerate(chance) if p == 1.0][:10]
        after = [0.0 if i in broken else p for i, p in enumerate(chance)]
        base = [float(rng.random() < p) for p in chance]
        head = [float(rng.random() < p) for p in after]
        result = stats.paired_delta(base, head, seed=trial)
        found += result.significant and result.delta < 0
    # Measured power: 0.93 here (0.84 over 200 trials of another seed); 1.0 with no flaky case,
    # 0.67 with 10% flaky, 0.46 with 20%, 0.24 when every case is noisy (p ~ U(0.05, 1), head p − 0.05).
    assert found / trials >= 0.7


def _case_chance(rng: random.Random) -> float:
    draw = rng.random()
    if draw < 0.05:
        return rng.uniform(0.2, 0.8)
    return 1.0 if draw < 0.82 else 0.0


def _stdev(values: list[float]) -> float:
    centre = sum(values) / len(values)
    return math.sqrt(sum((v - centre) ** 2 for v in values) / (len(values) - 1))
