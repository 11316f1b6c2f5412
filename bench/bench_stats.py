"""Benchmark the verdict statistics at scale (issue 13: under 1 s for 100,000 cases, repeat 3).

Builds seeded suites and times, best of ROUNDS, each step the way a comparison uses it: the paired
test of base against head (p-value, CI, counts) and the two suites' score intervals. (The earlier
bootstrap functions it was compared with took 30 s and 50 s here; they are gone.)

    .venv/bin/python bench/bench_stats.py [--cases 100000] [--repeat 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptgit import stats


def suites(cases: int, repeat: int, kind: str, seed: int) -> tuple[list[list[float]], list[list[float]]]:
    """Base and head repeat scores: continuous (head a little lower), continuous with a drop whose p is
    near 0.05 (the Monte Carlo's worst case: it runs all its draws), or pass/fail with a 2-point drop."""
    rng = random.Random(seed)
    if kind == "near 0.05":
        base = [[rng.uniform(0.25, 0.75) for _ in range(repeat)] for _ in range(cases)]
        noise = [rng.gauss(0.0, 0.05) for _ in range(cases)]
        centre = sum(noise) / cases
        spread = (sum((e - centre) ** 2 for e in noise) / cases) ** 0.5
        # Shifted so that the mean difference is 1.96 standard errors below zero: two-sided p about 0.05.
        moves = [e - centre - 1.96 * spread / cases**0.5 for e in noise]
        return base, [[s + move for s in case] for case, move in zip(base, moves)]
    if kind == "continuous":
        base = [[rng.random() for _ in range(repeat)] for _ in range(cases)]
        head = [[min(1.0, max(0.0, s + rng.gauss(-0.001, 0.05))) for s in case] for case in base]
        return base, head
    chances = [rng.choice([0.0, 1.0, 1.0, 1.0, rng.random()]) for _ in range(cases)]
    base = [[float(rng.random() < p) for _ in range(repeat)] for p in chances]
    lowered = [max(0.0, p - 0.02) for p in chances]
    head = [[float(rng.random() < p) for _ in range(repeat)] for p in lowered]
    return base, head


def best(rounds: int, step: Callable[[], object]) -> tuple[float, object]:
    """The fastest of `rounds` runs of step, in seconds, and its result."""
    times = []
    result: object = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure(kind: str, cases: int, repeat: int, rounds: int) -> None:
    """Time one kind of suite and print the numbers."""
    base, head = suites(cases, repeat, kind, seed=1)
    paired, test = best(rounds, lambda: stats.paired_test(base, head))
    intervals, _ = best(rounds, lambda: (stats.score_interval(base), stats.score_interval(head)))
    print(f"{kind}, {cases} cases x {repeat} repeats:")
    print(f"  paired_test          {paired * 1000:8.1f} ms  {test}")
    print(f"  2 x score_interval   {intervals * 1000:8.1f} ms  {stats.score_interval(head)}")
    print(f"  total                {(paired + intervals) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stats.paired_test([0.0, 1.0], [1.0, 1.0])  # numpy's import is a one-off cost, not the statistic's
    for kind in ("continuous", "near 0.05", "pass/fail"):
        measure(kind, args.cases, args.repeat, args.rounds)


if __name__ == "__main__":
    main()
