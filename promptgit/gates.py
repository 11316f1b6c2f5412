"""The gates: a suite's verdict (pass, fail or inconclusive) from its result, and from a comparison with its base.

One home for the rules `eval` and `ci` apply (docs/spec.md, "Gates"): a run cut short by its time
limit, or too many model errors, make a suite inconclusive; a score below `threshold` fails (with
`threshold_rule: interval`, only when the score's whole 95% interval is below it); a drop larger than
`max_drop` fails only when the exact paired test calls it significant (stats.drop_fails). A run's verdict
is fail when any suite fails, else inconclusive when any suite is, else pass. Also here: what a suite
can see (`sensitivity`) and the warning when a gate or a change is below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit import stats
from promptgit.compare import SuiteDiff
from promptgit.display import pct, test_text
from promptgit.evaluate import SuiteResult

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Gate:
    """A suite's verdict and the reason for it."""

    suite: str
    verdict: str
    reason: str


def overall(gates: Sequence[Gate]) -> str:
    """fail when any suite fails; otherwise inconclusive when any is; otherwise pass."""
    verdicts = {g.verdict for g in gates}
    return FAIL if FAIL in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else PASS


def suite_gate(result: SuiteResult, max_error_rate: float) -> Gate:
    """One suite on its own (`eval`): inconclusive on too many errors, fail below its threshold."""
    sides = (("", result),)
    return (
        _stopped_gate(result.name, sides)
        or _errors_gate(result.name, sides, max_error_rate)
        or _threshold_gate(result)
        or _passed(result.name)
    )


def diff_gates(suites: Sequence[SuiteDiff]) -> list[Gate]:
    """`diff`'s verdict on each suite: `judge` with max_error_rate 1.0, so the model errors `diff` shows never
    make a suite inconclusive there (`ci` gates on them with the project's max_error_rate)."""
    return [judge(d, 1.0) for d in suites]


def judge(diff: SuiteDiff, max_error_rate: float) -> Gate:
    """A suite against its base (`ci`): the suite's own gates, then a significant drop past max_drop fails."""
    head, base = diff.head, diff.base
    if head is None:
        return Gate(diff.name, PASS, "suite removed")
    sides = (("head", head), ("base", base))
    found = (
        _stopped_gate(diff.name, sides)
        or _errors_gate(diff.name, sides, max_error_rate)
        or _threshold_gate(head)
        or _unpaired_gate(diff)
        or _drop_gate(diff)
    )
    if found:
        return found
    if base is None:
        threshold = f", at or above the threshold {pct(head.threshold)}" if head.threshold else ""
        return Gate(diff.name, PASS, "new suite" + threshold)
    if diff.delta is not None and diff.delta.significant:
        direction = "improved" if diff.delta.delta > 0 else "dropped"
        return Gate(diff.name, PASS, f"{direction} significantly ({test_text(diff.delta)}), within the gates")
    return _passed(diff.name)


def _passed(name: str) -> Gate:
    return Gate(name, PASS, "within the gates")


def _stopped_gate(name: str, sides: Sequence[tuple[str, SuiteResult | None]]) -> Gate | None:
    for side, result in sides:
        if result is not None and result.stopped:
            unevaluated = sum(1 for c in result.cases if c.score is None)
            where = f" on {side}" if side else ""
            return Gate(
                name, INCONCLUSIVE, f"{result.stopped}{where}: {unevaluated} of {len(result.cases)} cases not evaluated"
            )
    return None


def _errors_gate(name: str, sides: Sequence[tuple[str, SuiteResult | None]], max_error_rate: float) -> Gate | None:
    for side, result in sides:
        if result is not None and result.error_rate > max_error_rate:
            where = f" on {side}" if side else ""
            reason = (
                f"{result.errors} of {len(result.cases)} cases failed to run{where} "
                f"(more than {pct(max_error_rate, 0)})"
            )
            return Gate(name, INCONCLUSIVE, reason)
    return None


def _threshold_gate(result: SuiteResult) -> Gate | None:
    if result.score is None:
        return Gate(result.name, INCONCLUSIVE, "no case could be scored")
    if not result.below_threshold or result.threshold is None:
        return None
    where = threshold_position(result)
    below = f"score {pct(result.score)} [{result.ci.low * 100:.1f}, {result.ci.high * 100:.1f}]"
    if where == stats.BELOW:
        return Gate(result.name, FAIL, f"{below} is below the threshold {pct(result.threshold)}, with confidence")
    noise = f"{below} is below the threshold {pct(result.threshold)}, within noise of it (its 95% CI reaches it)"
    if result.threshold_rule == "interval":
        return Gate(result.name, PASS, f"{noise}; threshold_rule: interval fails only when all of the CI is below")
    return Gate(result.name, FAIL, noise)


def threshold_position(result: SuiteResult) -> str | None:
    """Where the score's 95% interval lies against `threshold` (stats.against_threshold); None without one."""
    if result.threshold is None or result.score is None:
        return None
    return stats.against_threshold(result.ci, result.threshold)


def _unpaired_gate(diff: SuiteDiff) -> Gate | None:
    """Inconclusive when `max_drop` has nothing to compare: base scored cases, but none of them is in head
    unchanged (ids renamed, every expected or input edited). Passing there called 100% -> 0% "within the
    gates"."""
    base, head = diff.base, diff.head
    if base is None or head is None or head.max_drop is None or diff.compared.cases:
        return None
    if not any(c.score is not None for c in base.cases):
        return None
    sets = diff.dataset
    counts = f"{len(sets.added)} added, {len(sets.removed)} removed, {len(sets.changed)} changed"
    return Gate(
        diff.name,
        INCONCLUSIVE,
        f"max_drop cannot be judged: no case is on both sides unchanged ({counts}); keep the ids, inputs "
        "and expected values of cases the change does not mean to touch",
    )


def _drop_gate(diff: SuiteDiff) -> Gate | None:
    test, max_drop = diff.delta, diff.head.max_drop if diff.head else None
    if test is None or max_drop is None or test.changed == 0 or test.delta >= -max_drop:
        return None
    dropped = f"dropped {-test.delta * 100:.1f} pts ({test_text(test)})"
    if stats.drop_fails(test, max_drop):
        return Gate(diff.name, FAIL, f"{dropped}, more than max_drop {max_drop * 100:.1f}, and the drop is significant")
    return Gate(diff.name, PASS, f"{dropped}, within noise")


def sensitivity(result: SuiteResult) -> stats.Sensitivity:
    """The smallest drop this suite could call significant, from its scored cases, `repeat` and the
    flakiness its repeats showed (stats.smallest_significant_drop, stats.noisy_share)."""
    scored = [c for c in result.cases if c.score is not None]
    share = stats.noisy_share([c.flakiness for c in scored], result.repeat)
    return stats.smallest_significant_drop(len(scored), repeats=result.repeat, noisy_share=share)


def sensitivity_text(seen: stats.Sensitivity) -> str:
    """`with 24 cases, only drops of 25 pts or more can be significant` (or that none can)."""
    if seen.drop is None:
        return f"with {seen.n} cases, no drop can be significant"
    return f"with {seen.n} cases, only drops of {seen.drop * 100:.3g} pts or more can be significant"


def sensitivity_warning(result: SuiteResult, change: float | None = None) -> str | None:
    """The warning when `max_drop`, or a drop `change` (a negative fraction) being shown, is below what the
    suite can see; None when both are within it. Advice as the issue gives it: add cases or `repeat:`."""
    seen = sensitivity(result)
    floor = seen.drop if seen.drop is not None else float("inf")
    small = []
    if result.max_drop is not None and result.max_drop < floor - stats.PRECISION:
        small.append(f"max_drop is {result.max_drop * 100:.3g} pts")
    if change is not None and change < 0 and -change < floor - stats.PRECISION:
        small.append(f"this drop is {-change * 100:.3g} pts")
    if not small:
        return None
    return f"{sensitivity_text(seen)} ({'; '.join(small)}): add cases or `repeat:`"


def drift_gate(diff: SuiteDiff, max_error_rate: float) -> Gate:
    """A fresh run (head) against the same revision's stored result (base), for `drift`: inconclusive when a
    side was cut short or errored too often; fail on a drop the exact paired test calls significant (and,
    when the suite sets `max_drop`, larger than it: stats.drop_fails); otherwise pass, saying what moved."""
    head, base = diff.head, diff.base
    if head is None:
        return Gate(diff.name, INCONCLUSIVE, "the suite did not run")
    found = _stopped_gate(diff.name, (("fresh", head),)) or _errors_gate(diff.name, (("fresh", head),), max_error_rate)
    if found:
        return found
    test = diff.delta
    if base is None:
        return Gate(diff.name, PASS, "nothing was stored to compare with: this run is stored as the baseline")
    if test is None or test.changed == 0:
        return Gate(diff.name, PASS, "no case changed since the stored result")
    moved = f"{-test.delta * 100:.1f} pts ({test_text(test)})"
    if test.significant and test.delta < 0:
        if head.max_drop is None or stats.drop_fails(test, head.max_drop):
            return Gate(diff.name, FAIL, f"dropped {moved} since the stored result, and the drop is significant")
        return Gate(diff.name, PASS, f"dropped {moved}, significant but within max_drop {head.max_drop * 100:.1f}")
    if test.significant:
        return Gate(diff.name, PASS, f"improved significantly since the stored result ({test_text(test)})")
    return Gate(diff.name, PASS, f"moved within noise since the stored result ({test_text(test)})")


def shard_gate(result: SuiteResult) -> Gate:
    """A shard of a suite (`eval --shard I/N`): its cases are no sample of the suite, so neither its score nor
    its errors are judged here; the gates apply where the shards meet, in a run over the whole suite (a
    failed call is not stored, so that run makes it again). Inconclusive only when the shard was cut short."""
    stopped = _stopped_gate(result.name, (("", result),))
    if stopped:
        return stopped
    shard = result.selection.shard if result.selection else None
    return Gate(result.name, PASS, f"shard {shard}: stored; the suite is judged where its shards meet")
