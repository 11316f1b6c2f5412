"""When refining has stopped paying: a plateau at the end of a suite's refinement log.

docs/spec.md, Commands (`promptgit log`). The practice the log serves says to stop when two or three
turns stop moving the score (issue 14). Here a change is a log row whose score was compared with the
previous scored row by stats.paired_test (the log's own test); an improvement is a significant one
(p < 0.05) with a positive delta. A plateau is PLATEAU_CHANGES or more changes in a row, up to the
latest, none of them an improvement. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptgit import stats

PLATEAU_CHANGES = 3  # issue 14: "two or three turns stop moving it"; three, so that two misses are not yet a verdict


@dataclass(frozen=True)
class Plateau:
    """The trailing run of changes without a significant improvement: how many, and the commit (sha) it
    starts at, oldest first."""

    changes: int
    since: str

    def __str__(self) -> str:
        return (
            f"the score has stalled: the last {self.changes} changes (since {self.since[:8]}) brought no "
            "significant improvement (paired test, p < 0.05); the remaining failures may be a capability "
            "problem or ambiguous cases, which rewording will not fix"
        )


def improved(test: stats.PairedTest) -> bool:
    """Whether a change improved the score significantly (p < 0.05, delta above zero)."""
    return test.significant and test.delta > 0


def plateau(changes: Sequence[tuple[str, stats.PairedTest | None]]) -> Plateau | None:
    """The plateau at the end of a log given as (commit sha, paired test against the previous scored row),
    oldest first; rows without a test (the first scored row, unscored rows) are not changes and are skipped.
    None when the trailing run is shorter than PLATEAU_CHANGES."""
    run: list[str] = []
    for sha, test in changes:
        if test is None:
            continue
        run = [] if improved(test) else [*run, sha]
    return Plateau(len(run), run[0]) if len(run) >= PLATEAU_CHANGES else None
