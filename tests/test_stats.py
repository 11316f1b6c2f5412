"""The verdict statistics: exact paired tests, honest intervals, flakiness and noise; known values and calibration."""

from __future__ import annotations

import math
import random

import pytest

from promptgit import stats
from promptgit.stats import Interval


def test_mean_of_values_and_of_nothing() -> None:
    assert stats.mean([0.0, 1.0, 1.0, 0.5]) == 0.625
    assert math.isnan(stats.mean([]))


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="confidence"):
        stats.paired_test([0.0, 1.0], [1.0, 1.0], confidence=1.5)
    with pytest.raises(ValueError, match="same cases"):
        stats.paired_test([1.0, 0.0], [1.0])


def test_identical_revisions_change_no_case() -> None:
    scores = [1.0, 0.0, 1.0, 1.0] * 25
    assert stats.paired_test(scores, scores) == stats.PairedTest(0.0, Interval(0.0, 0.0), 1.0, 0, 0, 100)


def test_the_paired_test_sees_a_consistent_drop_that_unpaired_intervals_would_miss() -> None:
    # Scores vary a lot between cases but each case drops by the same 0.03: pairing removes that spread.
    base = [0.2, 0.5, 0.9, 1.0] * 25
    head = [b - 0.03 for b in base]
    result = stats.paired_test(base, head)
    # The interval is 0.03 times Wilson's interval for 100 of 100 moving, not the point [-0.03, -0.03].
    assert (result.delta, result.ci, result.down, result.up) == (-0.03, Interval(-0.03, -0.028890195), 100, 0)
    assert result.p_value == 0.5**99 and result.significant  # all 100 signs agree: 2 · 2^-100
    assert stats.score_interval(base).contains(stats.mean(head))
    # One magnitude off the 1/720720 lattice is still the exact sign test, at any number of changes.
    mixed = stats.paired_test([0.5] * 25, [0.47] * 24 + [0.53])
    assert (mixed.p_value, mixed.draws, mixed.up, mixed.down) == (2 * 26 / 2**25, 0, 1, 24)


def test_a_paired_test_of_no_cases_is_nan_and_not_significant() -> None:
    result = stats.paired_test([], [])
    assert math.isnan(result.delta) and not result.significant and result.p_value == 1.0


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
        hits += stats.paired_test(base, head, seed=trial).significant
    # Measured: 14 of these 300 trials (0.047): the exact test's two-sided rate is at most 5%.
    assert hits == 14


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
        result = stats.paired_test(base, head, seed=trial)
        found += result.significant and result.delta < 0
    # The exact test's power here: 85 of 100 (the earlier bootstrap found 93, at the price of false alarms).
    assert found == 85


def _case_chance(rng: random.Random) -> float:
    draw = rng.random()
    if draw < 0.05:
        return rng.uniform(0.2, 0.8)
    return 1.0 if draw < 0.82 else 0.0


# --- issue 13: exact paired test, honest intervals, sensitivity, bisect --------------------------


@pytest.mark.parametrize("flips", range(1, 9))
def test_same_way_flips_get_the_exact_sign_test_p_value(flips: int) -> None:
    # Binomial sign test: two-sided p = 2 · 0.5^k capped at 1, whatever the number of unchanged cases.
    expected = min(1.0, 0.5 ** (flips - 1))
    for unchanged, base_score in [(0, 1.0), (20, 1.0), (142, 0.0)]:
        base = [base_score] * (flips + unchanged)
        head = [1.0 - base_score] * flips + [base_score] * unchanged
        test = stats.paired_test(base, head)
        assert test.p_value == expected
        assert (test.up, test.down, test.unchanged, test.n, test.draws) == (
            flips * (base_score == 0.0),
            flips * (base_score == 1.0),
            unchanged,
            flips + unchanged,
            0,
        )
        assert test.significant == (flips >= 6)


def test_mixed_directions_give_the_exact_mcnemar_p_value() -> None:
    # McNemar's exact test is the sign test on the discordant pairs: P(|2B − m| >= |down − up|).
    assert stats.paired_test([1.0] * 7 + [0.0], [0.0] * 7 + [1.0]).p_value == 0.0703125  # 18/256
    assert stats.paired_test([1.0] * 9 + [0.0] * 2, [0.0] * 9 + [1.0] * 2).p_value == 0.0654296875  # 134/2048
    assert stats.paired_test([1.0] * 3 + [0.0] * 3, [0.0] * 3 + [1.0] * 3).p_value == 1.0


def test_unequal_magnitudes_are_enumerated_exactly() -> None:
    # In thirds the differences are −3, −2, −1, +1 (sum −5): |±3 ±2 ±1 ±1| >= 5 for ±7 and twice ±5,
    # 6 of the 16 sign patterns, so p = 0.375.
    base = [[1, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0]]
    head = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0]]
    assert stats.paired_test(base, head).p_value == 0.375
    # Off the lattice, ten continuous differences all negative: the one most extreme pattern each way.
    base_c = [0.5] * 10
    head_c = [0.5 - 0.01 * math.pi * (i + 1) / 7 for i in range(10)]
    assert stats.paired_test(base_c, head_c).p_value == pytest.approx(2 / 1024, rel=1e-12)


def test_thirds_round_to_exact_zero_and_do_not_fail_a_small_max_drop() -> None:
    # The case: repeat 3, three cases lose one repeat; sums of thirds once gave a CI of −2e-18.
    base = [[1.0, 1.0, 1.0]] * 3 + [[1.0, 1.0, 0.0]] * 21
    head = [[1.0, 1.0, 0.0]] * 3 + [[0.0, 1.0, 1.0]] * 21
    test = stats.paired_test(base, head)
    assert (test.up, test.down, test.unchanged) == (0, 3, 21)
    assert test.delta == -0.041666667 and test.p_value == 0.25
    assert test.ci.high == 0.0 and not test.significant
    assert not stats.drop_fails(test, 0.02)
    # Repeats that sum to the same mean in another order are unchanged, not ±1e-17.
    same = stats.paired_test([[0.1, 0.2, 0.3]] * 5, [[0.3, 0.1, 0.2]] * 5)
    assert (same.changed, same.p_value, same.ci) == (0, 1.0, Interval(0.0, 0.0))
    assert stats.paired_test([2 / 3] * 4, [(1 + 1 + 0) / 3] * 4).changed == 0


def test_degenerate_changes() -> None:
    nothing = stats.paired_test([1.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    assert (nothing.delta, nothing.ci, nothing.p_value, nothing.changed, nothing.n) == (0.0, Interval(0, 0), 1.0, 0, 3)
    empty = stats.paired_test([], [])
    assert math.isnan(empty.delta) and math.isnan(empty.ci.low) and empty.p_value == 1.0 and empty.n == 0
    assert not empty.significant and not stats.drop_fails(empty, 0.0)
    with pytest.raises(ValueError, match="same cases"):
        stats.paired_test([1.0], [])
    with pytest.raises(ValueError, match="no repeat"):
        stats.paired_test([[]], [[1.0]])


def test_while_few_cases_changed_the_interval_is_the_inverted_test() -> None:
    # It contains 0 exactly when the test is not significant, and its ends are the shifts the test
    # stops rejecting: 4 drops of 24 reach −8 cases' worth (−33.3 pts) but never above 0.
    for flips, low, high in [(4, -0.33333, 0.0), (5, -0.38462, 0.0), (6, -0.44444, -0.07692)]:
        test = stats.paired_test([1.0] * 24, [0.0] * flips + [1.0] * (24 - flips))
        assert test.ci.low == pytest.approx(low, abs=2e-5) and test.ci.high == pytest.approx(high, abs=2e-5)
        assert (test.ci.high == 0.0) == (flips < 6)
    rng = random.Random(8)
    for _ in range(40):
        n = rng.choice([8, 24, 150])
        base = [[float(rng.random() < 0.9) for _ in range(3)] for _ in range(n)]
        head = [[float(rng.random() < 0.8) if rng.random() < 0.1 else s for s in case] for case in base]
        test = stats.paired_test(base, head)
        assert test.ci.contains(0.0) == (not test.significant) or test.changed > 30
        assert test.ci.low <= test.delta <= test.ci.high


def test_the_max_drop_gate_fails_only_on_a_significant_drop_past_it() -> None:
    six_of_24 = stats.paired_test([1.0] * 24, [0.0] * 6 + [1.0] * 18)  # −25 pts, p = 0.031
    five_of_24 = stats.paired_test([1.0] * 24, [0.0] * 5 + [1.0] * 19)  # −20.8 pts, p = 0.0625
    gain = stats.paired_test([0.0] * 24, [1.0] * 6 + [0.0] * 18)
    assert stats.drop_fails(six_of_24, 0.02) and stats.drop_fails(six_of_24, 0.0)
    assert not stats.drop_fails(six_of_24, 0.25)  # exactly max_drop is not "larger"
    assert not stats.drop_fails(five_of_24, 0.02)
    assert not stats.drop_fails(gain, 0.0)


def test_monte_carlo_beyond_the_exact_budget_is_seeded_and_says_so() -> None:
    rng = random.Random(4)
    base = [rng.random() for _ in range(400)]
    head = [b + rng.gauss(0.0, 0.1) for b in base]
    first = stats.paired_test(base, head, seed=3)
    assert first.draws >= stats.MC_BATCH and first == stats.paired_test(base, head, seed=3)
    assert 0 < first.p_value <= 1 and not first.significant
    shifted = stats.paired_test(base, [h - 0.05 for h in head], seed=3)
    assert shifted.significant and shifted.p_value == 1 / (1 + shifted.draws) and shifted.draws == stats.MC_BATCH


def test_wilson_interval_known_values() -> None:
    assert stats.wilson_interval(24, 24) == Interval(0.862023795, 1.0)
    assert stats.wilson_interval(0, 10) == Interval(0.0, 0.2775328)
    assert stats.wilson_interval(5, 10) == Interval(0.236593091, 0.763406909)
    # Newcombe (1998, Stat Med 17:857, table I) gives 0.2553 to 0.3662 for 81 of 263.
    newcombe = stats.wilson_interval(81, 263)
    assert (round(newcombe.low, 4), round(newcombe.high, 4)) == (0.2553, 0.3662)
    assert math.isnan(stats.wilson_interval(0, 0).low)
    with pytest.raises(ValueError, match="between 0 and n"):
        stats.wilson_interval(11, 10)


def test_score_interval_never_collapses_and_keeps_a_case_as_one_cluster() -> None:
    assert stats.score_interval([1.0] * 24) == stats.wilson_interval(24, 24)
    assert stats.score_interval([[1.0, 1.0, 1.0]] * 24) == stats.wilson_interval(24, 24)  # agreeing repeats: n = 24
    assert stats.score_interval([0.0] * 10) == Interval(0.0, 0.2775328)
    # Every case at 2 of 3: no spread between cases, so the 72 repeats count as trials.
    assert stats.score_interval([[1.0, 1.0, 0.0]] * 24) == stats.wilson_interval(48, 72)
    # Pass/fail with one repeat is plain Wilson.
    assert stats.score_interval([1.0] * 18 + [0.0] * 6) == stats.wilson_interval(18, 24)
    # A continuous score where every case agrees is still an interval.
    wide = stats.score_interval([0.8] * 24)
    assert wide.low < 0.8 < wide.high
    assert math.isnan(stats.score_interval([]).high)
    with pytest.raises(ValueError, match="between 0 and 1"):
        stats.score_interval([1.5])


@pytest.mark.parametrize(
    ("n", "repeat", "clustered"), [(10, 1, False), (24, 1, False), (10, 3, False), (24, 3, True), (100, 3, True)]
)
def test_score_interval_covers_a_true_rate_of_99_percent(n: int, repeat: int, clustered: bool) -> None:
    # clustered: temperature 0, 1% of cases always fail; else every repeat passes with p = 0.99.
    rng = random.Random(n * 10 + repeat)
    trials = 2000
    covered = 0
    for _ in range(trials):
        if clustered:
            cases = [[float(rng.random() < 0.99)] * repeat for _ in range(n)]
        else:
            cases = [[float(rng.random() < 0.99) for _ in range(repeat)] for _ in range(n)]
        covered += stats.score_interval(cases).contains(0.99)
    # Measured: 0.906 (10 cases), 0.980 (24), 0.963 (10 × 3), 0.975 (24 × 3 clustered), 0.921 (100 × 3).
    assert covered / trials >= 0.90


def test_against_threshold() -> None:
    assert stats.against_threshold(Interval(0.6, 0.7), 0.8) == stats.BELOW
    assert stats.against_threshold(Interval(0.75, 0.85), 0.8) == stats.WITHIN_NOISE
    assert stats.against_threshold(Interval(0.8, 0.9), 0.8) == stats.ABOVE
    assert stats.against_threshold(Interval(0.7, 0.8), 0.8) == stats.WITHIN_NOISE
    assert stats.against_threshold(Interval(math.nan, math.nan), 0.8) == stats.WITHIN_NOISE


def test_what_the_suite_can_see() -> None:
    assert stats.smallest_significant_drop(24) == stats.Sensitivity(24, 6, 0.25)
    assert stats.smallest_significant_drop(150) == stats.Sensitivity(150, 6, 0.04)
    assert stats.smallest_significant_drop(6) == stats.Sensitivity(6, 6, 1.0)
    assert stats.smallest_significant_drop(5) == stats.Sensitivity(5, None, None)
    assert stats.smallest_significant_drop(0) == stats.Sensitivity(0, None, None)
    # Noise costs sight; repeats shrink each noisy move to a third and win some back.
    assert stats.smallest_significant_drop(150, noisy_share=0.1) == stats.Sensitivity(150, 12, 0.08)
    assert stats.smallest_significant_drop(150, repeats=3, noisy_share=0.1) == stats.Sensitivity(150, 6, 0.04)
    assert stats.noisy_share([0.0, 0.0], 3) == 0.0
    assert stats.noisy_share([0.5], 1) == 0.5  # a fair coin differs between two runs half the time
    assert stats.noisy_share([0.5, 0.0], 1) == 0.25


def test_bisect_names_a_reproducible_four_in_150_drop() -> None:
    good = [[1.0]] * 150
    bad = [[0.0]] * 4 + [[1.0]] * 146
    call = stats.bisect_call(good, bad, temperature=0)
    assert (call.verdict, call.reproducible, call.test.p_value) == (stats.CHANGED, True, 0.125)
    assert call.reason == "4 down, 0 up of 150, reproducibly (temperature 0, repeats agree)"
    assert stats.bisect_call(good, [[1.0, 1.0]] * 150, temperature=0).verdict == stats.SAME
    # Sampling noise or flaky repeats: only the exact test can call it.
    warm = stats.bisect_call(good, bad, temperature=0.7)
    assert (warm.verdict, warm.reproducible) == (stats.UNDECIDED, False)
    assert warm.reason.startswith("4 down, 0 up of 150: within noise, -2.7 pts [")
    assert warm.reason.endswith("p = 0.125")
    flaky = stats.bisect_call([[1.0, 0.0]] + [[1.0, 1.0]] * 149, [[0.0, 0.0]] * 10 + [[1.0, 1.0]] * 140, temperature=0)
    assert (flaky.verdict, flaky.reproducible, flaky.test.p_value) == (stats.CHANGED, False, 0.001953125)


def _run_suite(rng: random.Random, chances: list[float], repeat: int) -> list[list[float]]:
    return [[float(rng.random() < p) for _ in range(repeat)] for p in chances]


@pytest.mark.parametrize("repeat", [1, 3])
def test_the_gates_false_alarm_rate_under_random_noise(repeat: int) -> None:
    # No real change: base and head are two runs of the same suite, every case with its own pass rate
    # drawn from U(0, 1), the noisiest suite there is. The gate fails on a significant drop (max_drop 0).
    rng = random.Random(13 + repeat)
    alarms: dict[int, float] = {}
    total = runs = 0
    for n, trials in [(10, 600), (24, 600), (100, 400), (1000, 300)]:
        hits = 0
        for trial in range(trials):
            chances = [rng.random() for _ in range(n)]
            test = stats.paired_test(_run_suite(rng, chances, repeat), _run_suite(rng, chances, repeat), seed=trial)
            hits += stats.drop_fails(test, 0.0)
        alarms[n] = hits / trials
        total, runs = total + hits, runs + trials
    # Measured, for 10 / 24 / 100 / 1,000 cases (all together):
    # repeat 1: 0.002 / 0.008 / 0.023 / 0.020 (0.011); repeat 3: 0.010 / 0.018 / 0.023 / 0.023 (0.017).
    # 3,000 further runs of 1,000 cases at repeat 1 (another seed): 0.020 one-sided, 0.041 two-sided.
    assert max(alarms.values()) <= 0.05, alarms
    assert total / runs <= 0.03


@pytest.mark.parametrize("repeat", [1, 3])
@pytest.mark.parametrize("n", [10, 24, 150, 1000])
def test_four_noisy_flips_never_fail_the_gate(n: int, repeat: int) -> None:
    rng = random.Random(n + repeat)
    for _ in range(50):
        base = [[1.0] * repeat for _ in range(n)]
        head = [list(case) for case in base]
        for i in rng.sample(range(n), 4):
            head[i][rng.randrange(repeat)] = 0.0
        test = stats.paired_test(base, head)
        assert test.p_value >= 0.125 and not stats.drop_fails(test, 0.0)


@pytest.mark.parametrize(
    ("base", "head", "p_value"),
    [
        ([1.0], [0.0], 1.0),  # one case fell
        ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 0.25),  # three fell alike
        ([0.5], [1.0], 1.0),  # one case rose by half
        ([[1.0, 1.0], [1.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]], 0.5),  # repeats: two cases, each fell by half
        ([0.0] * 5, [1.0] * 5, 0.0625),  # five rose alike: still not significant
    ],
)
def test_paired_interval_of_cases_that_all_moved_alike_is_not_a_point(base: list, head: list, p_value: float) -> None:
    # Every changed case moving by the same amount once gave the interval [delta, delta], a point that
    # excludes 0 beside a p-value that calls the change noise.
    test = stats.paired_test(base, head)
    assert test.p_value == p_value
    assert test.ci == stats.Interval(-1.0, 1.0)


@pytest.mark.parametrize(
    ("base", "head", "ci"),
    [
        ([0.0] * 12, [1.0] * 12, Interval(0.757505993, 1.0)),  # 12 of 12 rose: Wilson's 12/12 is [0.758, 1]
        ([1.0] * 6, [0.0] * 6, Interval(-1.0, -0.609665712)),  # 6 fell, the fewest the sign test sees
        ([1.0] * 40, [0.0] * 40, Interval(-1.0, -0.912378399)),  # past 30 changed (the bootstrap's range)
        ([[1.0, 1.0, 1.0]] * 12, [[1.0, 1.0, 0.0]] * 12, Interval(-0.333333333, -0.252501997)),  # a repeat each
    ],
)
def test_paired_interval_of_many_cases_moving_alike_is_not_a_point(base: list, head: list, ci: Interval) -> None:
    # The inverted test and the bootstrap both gave [delta, delta]: certainty that every further case moves.
    test = stats.paired_test(base, head)
    assert test.significant
    assert test.ci == ci
