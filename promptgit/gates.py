"""The gates: a suite's verdict (pass, fail or inconclusive) from its result, and from a comparison with its base.

One home for the rules `eval` and `ci` apply (docs/spec.md, "Gates"): a run cut short by its time
limit, or too many model errors, make a suite inconclusive; a score below `threshold` fails; a
significant drop larger than `max_drop` fails. A run's verdict is fail when any suite fails, else
inconclusive when any suite is, else pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit.compare import SuiteDiff
from promptgit.display import pct
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
        or _drop_gate(diff)
    )
    if found:
        return found
    if base is None:
        threshold = f", at or above the threshold {pct(head.threshold)}" if head.threshold else ""
        return Gate(diff.name, PASS, "new suite" + threshold)
    if diff.delta is not None and diff.delta.significant:
        direction = "improved" if diff.delta.delta > 0 else "dropped"
        return Gate(diff.name, PASS, f"{direction} significantly, within the gates")
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
    if result.below_threshold:
        return Gate(result.name, FAIL, f"score {pct(result.score)} is below the threshold {pct(result.threshold)}")
    return None


def _drop_gate(diff: SuiteDiff) -> Gate | None:
    delta, max_drop = diff.delta, diff.head.max_drop if diff.head else None
    if delta is None or max_drop is None or delta.delta >= -max_drop:
        return None
    dropped = f"dropped {-delta.delta * 100:.1f} pts"
    if delta.significant:
        return Gate(diff.name, FAIL, f"{dropped}, more than max_drop {max_drop * 100:.1f}, and the drop is significant")
    return Gate(diff.name, PASS, f"{dropped}, within noise (95% CI includes 0)")
