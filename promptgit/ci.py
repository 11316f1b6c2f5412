"""`promptgit ci`: evaluate the suites a change affects on both sides, apply the gates, give a verdict."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptgit.compare import DiffReport, SuiteDiff, diff_revisions
from promptgit.display import pct
from promptgit.evaluate import Progress

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Gate:
    """A suite's verdict and the reason for it."""

    suite: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class CiReport:
    """Everything `ci` decided, for the report, the JSON and the exit code."""

    verdict: str
    diff: DiffReport
    gates: tuple[Gate, ...]
    prompt_diffs: dict[str, str]

    def gate(self, suite: str) -> Gate:
        """The gate of one suite."""
        return next(g for g in self.gates if g.suite == suite)


def judge(diff: SuiteDiff, max_error_rate: float) -> Gate:
    """A suite's gate: inconclusive on too many errors; fails below threshold or on a significant drop past max_drop."""
    head, base = diff.head, diff.base
    if head is None:
        return Gate(diff.name, PASS, "suite removed")
    for side, result in (("head", head), ("base", base)):
        if result is not None and result.error_rate > max_error_rate:
            return Gate(
                diff.name,
                INCONCLUSIVE,
                f"{result.errors} of {len(result.cases)} cases failed to run on {side} "
                f"(more than {pct(max_error_rate, 0)})",
            )
    if head.score is None:
        return Gate(diff.name, INCONCLUSIVE, "no case could be scored")
    if head.below_threshold:
        return Gate(diff.name, FAIL, f"score {pct(head.score)} is below the threshold {pct(head.threshold)}")
    delta, max_drop = diff.delta, head.max_drop
    if delta is not None and max_drop is not None and delta.delta < -max_drop:
        if delta.significant:
            return Gate(
                diff.name,
                FAIL,
                f"dropped {-delta.delta * 100:.1f} pts, more than max_drop {max_drop * 100:.1f}, "
                "and the drop is significant",
            )
        return Gate(diff.name, PASS, f"dropped {-delta.delta * 100:.1f} pts, within noise (95% CI includes 0)")
    if diff.base is None:
        return Gate(
            diff.name,
            PASS,
            "new suite" + (f", at or above the threshold {pct(head.threshold)}" if head.threshold else ""),
        )
    if delta is not None and delta.significant:
        return Gate(diff.name, PASS, f"{'improved' if delta.delta > 0 else 'dropped'} significantly, within the gates")
    return Gate(diff.name, PASS, "within the gates")


def overall(gates: Sequence[Gate]) -> str:
    """fail when any suite fails; otherwise inconclusive when any is; otherwise pass."""
    verdicts = {g.verdict for g in gates}
    return FAIL if FAIL in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else PASS


def run_ci(
    root: Path,
    base: str,
    head: str | None,
    names: Sequence[str] = (),
    progress: Progress | None = None,
    pull_from: str | None = None,
) -> CiReport:
    """Pull shared results when a remote has them, evaluate both sides, and judge every affected suite."""
    from promptgit import git
    from promptgit.project import open_project

    if pull_from:
        _pull_quietly(root, pull_from)
    settings = open_project(head, root).settings
    diff = diff_revisions(root, base, head, names, progress)
    gates = tuple(judge(d, settings.max_error_rate) for d in diff.suites)
    prompt_diffs = {
        d.name: git.diff_text(root, diff.base, head, list(d.prompt_files)) for d in diff.suites if d.prompt_files
    }
    return CiReport(overall(gates), diff, gates, prompt_diffs)


def _pull_quietly(root: Path, remote: str) -> None:
    from promptgit import sync
    from promptgit.errors import PromptgitError

    try:
        pulled = sync.pull(root, remote)
        if pulled.rows:
            print(f"promptgit: pulled {pulled.rows} stored result row(s) from {remote}", file=sys.stderr)
    except PromptgitError as err:
        print(f"promptgit: no shared results pulled ({err.message})", file=sys.stderr)


def append_step_summary(markdown: str) -> bool:
    """Append the report to $GITHUB_STEP_SUMMARY when it is set."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")
    return True
