"""Text, JSON and report views of the refinement loop's facts: dimensions, failure patterns, plateaus.

display.py and report.py call these (docs/spec.md, Dimensions and failure patterns); they format
dimensions.py, patterns.py and plateau.py and compute nothing new. No click, no Jinja.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promptgit.display import clip, paired_text, pct, table, verdict_word
from promptgit.patterns import Patterns, find_patterns

if TYPE_CHECKING:
    from promptgit.commands.log import LogEntry, SuiteLog
    from promptgit.compare import SuiteDiff
    from promptgit.dimensions import DimensionDelta, DimensionScore
    from promptgit.evaluate import SuiteResult
    from promptgit.stats import Interval

PATTERN_CHARS = 60  # a pattern in a table cell is cut to this many characters


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)


def _interval(ci: Interval) -> list[float | None]:
    return [_num(ci.low), _num(ci.high)]


def score_text(score: DimensionScore) -> str:
    """`82.5% [74.0, 90.0]`, `-` when no case was scored."""
    if score.score is None:
        return "-"
    return f"{pct(score.score)} [{score.ci.low * 100:.1f}, {score.ci.high * 100:.1f}]"


def scorers_json(scores: Sequence[DimensionScore]) -> list[dict[str, Any]]:
    """`[{"name": "exact_match", "score": 0.75, "ci": [0.53, 0.89]}]`: fractions, rounded to 6 places."""
    return [{"name": s.name, "score": _num(s.score), "ci": _interval(s.ci)} for s in scores]


def scorer_table(results: Sequence[SuiteResult]) -> str | None:
    """The `eval` table "per scorer": one row per scorer of each suite with more than one; None when none has."""
    rows = [[r.name, s.name, score_text(s)] for r in results if len(r.scorers) > 1 for s in r.scorers]
    if not rows:
        return None
    legend = [f"  {s.name} = {s.about}" for r in results if len(r.scorers) > 1 for s in r.scorers if s.about]
    return "\n".join(["per scorer", table(["suite", "scorer", "score [95% CI]"], rows), *legend])


def patterns_lines(patterns: Patterns) -> list[str]:
    """A result's failure patterns, indented under its lowest-scoring cases; [] when there are none."""
    lines = []
    confusion = patterns.confusion
    if confusion is not None and confusion.top:
        lines.append(f"  top confusions (expected -> output, of {confusion.cases} scored cases):")
        lines += [f"    {clip(c.expected, 30)} -> {clip(c.output, 30)}  {c.count}" for c in confusion.top]
    if patterns.reasons:
        lines.append(f"  failures by reason (of {patterns.failed} failing cases):")
        lines += [f"    {clip(g, PATTERN_CHARS + 20)}" for g in patterns.reasons]
    return lines


def patterns_json(patterns: Patterns) -> dict[str, Any]:
    """`"patterns"` in every `--json` (docs/spec.md, Dimensions and failure patterns)."""
    confusion = patterns.confusion
    return {
        "failed": patterns.failed,
        "top": patterns.top,
        "reasons": [
            {"scorer": g.dimension, "reason": g.reason, "count": g.count, "cases": list(g.cases), "example": g.example}
            for g in patterns.reasons
        ],
        "confusion": None
        if confusion is None
        else {
            "labels": list(confusion.labels),
            "cases": confusion.cases,
            "counts": [{"expected": c.expected, "output": c.output, "count": c.count} for c in confusion.cells],
            "top": [{"expected": c.expected, "output": c.output, "count": c.count} for c in confusion.top],
        },
    }


def result_json(result: SuiteResult) -> dict[str, Any]:
    """What a suite result adds to `--json`: `scorers` and `patterns`."""
    return {"scorers": scorers_json(result.scorers), "patterns": patterns_json(find_patterns(result))}


def delta_text(delta: DimensionDelta) -> str:
    """`-5.0 [-8.1, -1.9] p = 0.012, 1 up / 7 down significant`, `No case changed`, `-` (one side lacks it),
    or `not compared: scorer changed` (its kind or configuration differs between the sides)."""
    if delta.remeasured:
        return "not compared: scorer changed"
    if delta.test is None:
        return "-"
    return f"{paired_text(delta.test)} {verdict_word(delta.test)}".rstrip()


def deltas_json(deltas: Sequence[DimensionDelta]) -> list[dict[str, Any]]:
    """Each scorer's paired delta over the compared cases (`diff`/`ci --json`, `"scorers"`)."""
    return [
        {
            "name": d.name,
            "base": _num(d.base),
            "head": _num(d.head),
            "delta": _num(d.test.delta) if d.test else None,
            "ci": _interval(d.test.ci) if d.test else None,
            "p_value": d.test.p_value if d.test else None,
            "up": d.test.up if d.test else None,
            "down": d.test.down if d.test else None,
            "significant": d.significant,
            "scorer_changed": d.remeasured,
        }
        for d in deltas
    ]


def deltas_lines(diff: SuiteDiff) -> list[str]:
    """The `diff` table "per scorer" of a suite with more than one scorer; [] otherwise (it would repeat the suite)."""
    if len(diff.scorers) < 2:
        return []
    rows = [[d.name, pct(d.base), pct(d.head), delta_text(d)] for d in diff.scorers]
    grid = table(["scorer", "base", "head", "delta (pts) [95% CI]"], rows, right=(1, 2))
    return [f"\n{diff.name}: per scorer", *grid.splitlines(), *_legend(diff)]


def _legend(diff: SuiteDiff) -> list[str]:
    """Which scorer each digest-named dimension is (DimensionScore.about), head's word before base's."""
    about = {s.name: s.about for side in (diff.base, diff.head) if side for s in side.scorers if s.about}
    return [f"  {d.name} = {about[d.name]}" for d in diff.scorers if d.name in about]


def top_pattern(result: SuiteResult | None) -> str | None:
    """A version's most frequent failure pattern in one line (Patterns.top), None when nothing failed."""
    return find_patterns(result).top if result is not None else None


def log_columns(log: SuiteLog, by_scorer: bool) -> tuple[list[str], list[list[str]]]:
    """The columns `log` adds after its own: each scorer's score with `--by-scorer`, then the top failure."""
    names = _log_scorers(log) if by_scorer else []
    rows = []
    for entry in log.entries:
        scores = {s.name: s for s in entry.result.scorers} if entry.result else {}
        cells = [_log_cell(scores[n], n in entry.scorer_changed) if n in scores else "-" for n in names]
        rows.append([*cells, clip(top_pattern(entry.result) or "", PATTERN_CHARS)])
    return [*names, "top failure"], rows


def _log_cell(score: DimensionScore, changed: bool) -> str:
    # A column is one name; the scorer under it may have changed (scorer_names.comparable): say so in the cell.
    return score_text(score) + (" (scorer changed)" if changed else "")


def _log_scorers(log: SuiteLog) -> list[str]:
    return list(dict.fromkeys(s.name for e in log.entries if e.result for s in e.result.scorers))


def log_entry_json(entry: LogEntry) -> dict[str, Any]:
    """What a log row adds to `log --json`: its `scorers`, `scorer_changed` (names whose scorer differs from the
    previous scored row's) and its `top_pattern`."""
    return {
        "scorers": scorers_json(entry.result.scorers) if entry.result else [],
        "scorer_changed": sorted(entry.scorer_changed),
        "top_pattern": top_pattern(entry.result),
    }


def plateau_json(log: SuiteLog) -> dict[str, Any] | None:
    """`"plateau"` in `log --json`: `{"changes": 3, "since": sha, "message": ...}`, or None."""
    if log.plateau is None:
        return None
    return {"changes": log.plateau.changes, "since": log.plateau.since, "message": str(log.plateau)}


def scorer_delta_cells(deltas: Sequence[DimensionDelta]) -> list[dict[str, str]]:
    """The report's per-scorer rows: name, base, head, and `text`: the delta with its interval, p and verdict."""
    return [
        {
            "name": d.name,
            "base": pct(d.base),
            "head": pct(d.head),
            "text": delta_text(d),
        }
        for d in deltas
    ]


def report_view(diff: SuiteDiff) -> dict[str, Any]:
    """What the Markdown report shows of a suite beyond the comparison: `scorers`, the per-scorer deltas
    (suites with more than one scorer), and head's failure patterns: `failed`, `confusions` (expected,
    output, count) and `reasons` (text, count)."""
    patterns = find_patterns(diff.head) if diff.head else Patterns(0, ())
    confusions = patterns.confusion.top if patterns.confusion else ()
    return {
        "scorers": scorer_delta_cells(diff.scorers) if len(diff.scorers) > 1 else [],
        "failed": patterns.failed,
        "confusions": [{"expected": c.expected, "output": c.output, "count": c.count} for c in confusions],
        "reasons": [{"text": f"{g.dimension}: {g.reason}", "count": g.count} for g in patterns.reasons],
    }
