"""Plain-text tables and JSON documents for results; the CLI adds colour and prints them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # display is imported by `check` and `render`, which must not load the evaluation machinery
    from promptgit.commands.bisect import BisectReport, Culprit
    from promptgit.commands.blame import BlameReport, Impact
    from promptgit.commands.check import CheckReport
    from promptgit.commands.ci import CiReport
    from promptgit.commands.drift import DriftReport
    from promptgit.commands.eval import DryRun, EvalReport
    from promptgit.commands.log import LogEntry, LogReport, SuiteLog
    from promptgit.commands.suggest import SuggestReport
    from promptgit.compare import DiffReport, SuiteDiff
    from promptgit.evaluate import CaseResult, SuiteResult
    from promptgit.experiments import SideBySide, VariantRow
    from promptgit.gates import Gate
    from promptgit.prompts import Rendered
    from promptgit.stats import BisectCall, PairedTest


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage, `-` when unknown."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:.{digits}f}%"


def signed_pct(value: float | None, digits: int = 1) -> str:
    """A delta as signed percentage points."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:+.{digits}f}"


# Terminal control characters (C0 but newline and carriage return, DEL, C1) shown as `\x1b`: a model's
# output must not move the cursor, recolour, retitle or clear the user's terminal.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x0A, 0x0D)}


def clip(text: Any, width: int) -> str:
    """One line of at most `width` characters (newlines shown as ⏎, control characters escaped as `\x1b`)."""
    line = "null" if text is None else str(text).replace("\r", "").replace("\n", "⏎").translate(_CONTROLS)
    return line if len(line) <= width else line[: width - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A fixed-width text table."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def ci_text(result: SuiteResult) -> str:
    """`82.5% [74.0, 90.0]`."""
    if result.score is None:
        return "-"
    lo, hi = result.ci.low, result.ci.high
    return f"{pct(result.score)} [{lo * 100:.1f}, {hi * 100:.1f}]"


def eval_text(report: EvalReport, worst: int = 5) -> str:
    """The eval table, then each suite's lowest-scoring cases with expected and output."""
    if report.side_by_side is not None:
        return side_by_side_text(report.side_by_side)
    header = [
        "suite",
        "score [95% CI]",
        "cases",
        "passed",
        "failed",
        "errors",
        "flaky",
        "calls",
        "cached",
        "tokens",
        "cost",
        "time",
    ]
    rows = [
        [
            r.name,
            ci_text(r),
            str(len(r.cases)),
            str(r.passed),
            str(r.failed),
            str(r.errors),
            str(r.flaky) if r.repeat > 1 else "-",
            str(r.calls),
            str(r.cached),
            str(r.input_tokens + r.output_tokens),
            money(r.cost if r.cost_known else None),
            f"{r.seconds:.1f}s",
        ]
        for r in report.suites
    ]
    parts = [table(header, rows, right=range(2, 12))]
    parts += [f"{result.name}: {selection_text(result)}" for result in report.suites if result.selection]
    from promptgit import refine_display  # it imports display: loaded when used

    per_scorer = refine_display.scorer_table(report.suites)
    parts += [f"\n{per_scorer}"] if per_scorer else []
    parts += [f"{result.name}: {note}" for result in report.suites for note in suite_notes(result)]
    for result in report.suites:
        low = _lowest(result.cases, worst)
        if low:
            parts.append(f"\n{result.name}: lowest-scoring cases")
            parts.append(
                table(
                    ["case", "score", "expected", "output", "why"],
                    [
                        [
                            c.id,
                            "error" if c.error else pct(c.score, 0),
                            clip(c.expected, 24),
                            clip(c.output if not c.error else c.error, 40),
                            clip("; ".join(c.reasons), 50),
                        ]
                        for c in low
                    ],
                )
            )
            parts += refine_display.patterns_lines(refine_display.find_patterns(result))
    return "\n".join(parts)


def selection_text(result: SuiteResult) -> str:
    """`24 of 200 cases (--filter 'refund', --limit 24): a selection, not the suite's score`."""
    chosen = result.selection
    if chosen is None:
        return f"all {len(result.cases)} cases"
    return f"{len(result.cases)} of {chosen.of} cases ({', '.join(chosen.how)}): a selection, not the suite's score"


def selection_json(result: SuiteResult) -> dict[str, Any] | None:
    """`{"cases": 24, "of": 200, "by": ["--limit 24"], "shard": null}`, or None for a run over the whole suite."""
    chosen = result.selection
    if chosen is None:
        return None
    shard = str(chosen.shard) if chosen.shard else None
    return {"cases": len(result.cases), "of": chosen.of, "by": list(chosen.how), "shard": shard}


def suite_notes(result: SuiteResult) -> list[str]:
    """What a suite's score can and cannot say: the smallest drop it could call significant (with a
    warning when `max_drop` is below it), and where a score below `threshold` lies against it."""
    from promptgit.gates import sensitivity, sensitivity_text, sensitivity_warning, threshold_position

    if result.score is None:
        return []
    notes = [sensitivity_warning(result) or sensitivity_text(sensitivity(result))]
    where = threshold_position(result)
    if where is not None and result.threshold is not None and result.score < result.threshold:
        confidence = "with confidence" if where == "below" else "within noise of it (its 95% CI reaches it)"
        notes.append(f"score {ci_text(result)} is below the threshold {pct(result.threshold)}, {confidence}")
    return notes


def sensitivity_json(result: SuiteResult) -> dict[str, Any]:
    """`{"cases": 6, "drop": 0.25}`: the fewest cases, and the share of the suite, a significant drop needs."""
    from promptgit.gates import sensitivity

    seen = sensitivity(result)
    return {"cases": seen.cases, "drop": _num(seen.drop)}


def _lowest(cases: Sequence[CaseResult], count: int) -> list[CaseResult]:
    imperfect = [c for c in cases if c.error or (c.score is not None and c.score < 1)]
    return sorted(imperfect, key=lambda c: (c.error is None, c.score or 0.0, c.id))[:count]


def score_json(result: SuiteResult) -> dict[str, Any]:
    """The fields every JSON view of a suite result shares: {name, score, ci: [low, high], cases, passed,
    errors}; score and the interval as fractions 0-1, null where not a number (`_num`)."""
    return {
        "name": result.name,
        "score": _num(result.score),
        "ci": [_num(result.ci.low), _num(result.ci.high)],
        "cases": len(result.cases),
        "passed": result.passed,
        "errors": result.errors,
    }


def suite_json(result: SuiteResult) -> dict[str, Any]:
    """A suite result as docs/spec.md (Commands) lays out `eval --json`."""
    return {
        **score_json(result),
        "prompt": result.prompt,
        "fingerprint": result.fingerprint,
        "failed": result.failed,
        "calls": result.calls,
        "cached": result.cached,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost": result.cost if result.cost_known else None,  # null: a model with no known price, never $0
        "seconds": round(result.seconds, 3),
        "model": result.model,
        "threshold": result.threshold,
        "repeat": result.repeat,
        "flaky": result.flaky,
        "sensitivity": sensitivity_json(result),
        "threshold_rule": result.threshold_rule,
        "against_threshold": _against(result),
        "selection": selection_json(result),
        "results": [
            {
                "id": c.id,
                "score": c.score,
                "passed": c.passed,
                "output": c.output,
                "expected": c.expected,
                "error": c.error,
                **(
                    {
                        "outputs": list(c.outputs),
                        "repeat_scores": list(c.repeat_scores),
                        "flakiness": round(c.flakiness, 6),
                    }
                    if result.repeat > 1
                    else {}
                ),
            }
            for c in result.cases
        ],
        **_refine_json(result),
    }


def _refine_json(result: SuiteResult) -> dict[str, Any]:
    from promptgit.refine_display import result_json

    return result_json(result)


def _against(result: SuiteResult) -> str | None:
    from promptgit.gates import threshold_position

    return threshold_position(result)


def eval_json(report: EvalReport) -> dict[str, Any]:
    """`promptgit eval --json`."""
    document = {"revision": report.revision, "suites": [suite_json(r) for r in report.suites]}
    if report.side_by_side is not None:
        document["models"] = side_by_side_json(report.side_by_side)
    return document


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)


def p_text(p_value: float) -> str:
    """`p = 0.125`; `p < 0.001` below that (Monte Carlo p-values are never exactly small)."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3g}"


def test_text(test: PairedTest) -> str:
    """A paired test in one phrase: `p = 0.125, 0 up / 4 down`."""
    return f"{p_text(test.p_value)}, {test.up} up / {test.down} down"


def paired_text(test: PairedTest) -> str:
    """A paired delta in points with its 95% CI, p-value and counts: `-5.0 [-8.1, -1.9] p = 0.012, 1 up / 7 down`;
    `No case changed` when no case's score moved (its interval would be the point [+0.0, +0.0])."""
    if test.changed == 0:
        return "No case changed"
    return f"{interval_text(test)} {test_text(test)}"


def interval_text(test: PairedTest) -> str:
    """`-5.0 [-8.1, -1.9]`, or `No case changed`."""
    if test.changed == 0:
        return "No case changed"
    return f"{signed_pct(test.delta)} [{test.ci.low * 100:+.1f}, {test.ci.high * 100:+.1f}]"


def verdict_word(test: PairedTest) -> str:
    """`significant` (p < 0.05), `within noise`, or nothing when no case changed."""
    if test.changed == 0:
        return ""
    return "significant" if test.significant else "within noise"


def delta_text(diff: SuiteDiff) -> str:
    """`-5.0 [-8.1, -1.9] p = 0.012, 1 up / 7 down significant`, `... within noise` or `No case changed`."""
    if diff.delta is None:
        return "new" if diff.base is None else "-"
    return f"{paired_text(diff.delta)} {verdict_word(diff.delta)}".rstrip()


def diff_lines(report: DiffReport, cases: int = 10, gates: Sequence[Gate] = ()) -> list[tuple[str, str | None]]:
    """The diff as lines, each with a tone for a terminal: "good", "bad" or None. `gates` (the `diff`
    command's own, gates.diff_gates) adds a line for each that is not a pass: what sets its exit code.
    `ci`, `drift` and `suggest` show their own gates, so they pass none."""
    base, head = _side_name(report.base), _side_name(report.head)
    if not report.suites:
        return [(f"no suite changed between {base} and {head}", None)]
    header = ["suite", "base", "head", "delta (pts) [95% CI]", "improved", "regressed"]
    rows = [
        [
            d.name,
            pct(side_score(d, "base")),
            pct(side_score(d, "head")),
            delta_text(d),
            str(len(d.improved)),
            str(len(d.regressed)),
        ]
        for d in report.suites
    ]
    grid = table(header, rows, right=(1, 2, 4, 5)).splitlines()
    lines: list[tuple[str, str | None]] = [
        (f"{base} -> {head}", None),
        (grid[0], None),
        (grid[1], None),
    ]
    lines += [(text, _tone(d)) for text, d in zip(grid[2:], report.suites)]
    lines += [(f"{d.name}: {dataset_note(d)}", None) for d in report.suites if d.dataset.differs]
    lines += [(f"{d.name}: {warning}", None) for d in report.suites if (warning := change_warning(d))]
    lines += [(f"{g.suite}: {g.verdict} ({g.reason})", "bad") for g in gates if g.verdict != "pass"]
    for diff in report.suites:
        if diff.regressed:
            lines.append((f"\n{diff.name}: regressed cases", "bad"))
            lines += [
                (line, None)
                for line in table(
                    ["case", "expected", "base output", "head output"],
                    [
                        [c.id, clip(c.expected, 20), clip(c.base_output, 36), clip(c.head_output, 36)]
                        for c in diff.regressed[:cases]
                    ],
                ).splitlines()
            ]
        lines += [(line, None) for line in _scorer_deltas(diff)]
        if diff.noisy:
            lines.append(
                (
                    f"{diff.name}: {len(diff.noisy)} case(s) flipped within their repeats' noise: "
                    f"{', '.join(diff.noisy[:10])}",
                    None,
                )
            )
    return lines


def _scorer_deltas(diff: SuiteDiff) -> list[str]:
    from promptgit.refine_display import deltas_lines

    return deltas_lines(diff)


def side_score(diff: SuiteDiff, side: str) -> float | None:
    """The score a table shows for `side` ("base" or "head"): over all its cases, unless the datasets differ.

    When they differ, the score over the compared cases (both sides, unchanged), so head - base is the delta.
    """
    result = diff.base if side == "base" else diff.head
    if result is None:
        return None
    if diff.dataset.differs:
        return diff.compared.base_score if side == "base" else diff.compared.head_score
    return result.score


def dataset_note(diff: SuiteDiff) -> str:
    """What changed in a suite's dataset and which numbers are over which cases, in one sentence."""
    sets = diff.dataset
    counts = f"{len(sets.added)} added, {len(sets.removed)} removed, {len(sets.changed)} changed"
    whole = [
        f"{side} {pct(result.score)} over its {len(result.cases)}"
        for side, result in (("base", diff.base), ("head", diff.head))
        if result is not None
    ]
    return (
        f"cases {counts} (changed: same id, new input or expected); "
        f"base, head and delta are over the {diff.compared.cases} case(s) both sides hold "
        f"unchanged and scored (over all their cases: {', '.join(whole)})" + numbered_note(diff)
    )


def numbered_note(diff: SuiteDiff) -> str:
    """Why many cases may show as changed when a dataset's cases are named by row number ("" otherwise)."""
    if not (diff.dataset.numbered and diff.dataset.differs):
        return ""
    return (
        "; cases without an `id` are named by row number, so a row added, removed or moved renumbers "
        "the rows after it: they show as changed and are left out, never paired with another row "
        "(give each case an `id`)"
    )


def change_warning(diff: SuiteDiff) -> str | None:
    """gates.sensitivity_warning for a diff's head and the drop it shows (None when none applies)."""
    from promptgit.gates import sensitivity_warning  # gates imports display: loaded when used

    if diff.head is None or diff.delta is None or diff.delta.changed == 0:
        return None
    return sensitivity_warning(diff.head, diff.delta.delta)


def _tone(diff: SuiteDiff) -> str | None:
    if diff.delta is None or not diff.delta.significant:
        return None
    return "good" if diff.delta.delta > 0 else "bad"


def diff_text(report: DiffReport, cases: int = 10) -> str:
    """Per affected suite: base, head, delta with CI, improved and regressed cases."""
    return "\n".join(text for text, _ in diff_lines(report, cases))


def diff_json(report: DiffReport, gates: Sequence[Gate]) -> dict[str, Any]:
    """`promptgit diff --json` (docs/spec.md, Commands): each suite's comparison with its gate (gates.diff_gates,
    one per suite in the report's order)."""
    suites = [{**suite_diff_json(d), "verdict": g.verdict, "reason": g.reason} for d, g in zip(report.suites, gates)]
    return {"base": report.base, "head": report.head, "suites": suites}


def suite_diff_json(diff: SuiteDiff) -> dict[str, Any]:
    """One suite's comparison as JSON."""
    delta = diff.delta
    return {
        "name": diff.name,
        "base_score": _num(diff.base.score) if diff.base else None,
        "head_score": _num(diff.head.score) if diff.head else None,
        "base_cases": len(diff.base.cases) if diff.base else None,
        "head_cases": len(diff.head.cases) if diff.head else None,
        # The set the delta is over: ids on both sides with the same input and expected, scored on both.
        "compared": {
            "cases": diff.compared.cases,
            "base_score": _num(diff.compared.base_score),
            "head_score": _num(diff.compared.head_score),
        },
        "dataset": {
            "added": list(diff.dataset.added),
            "removed": list(diff.dataset.removed),
            "changed": list(diff.dataset.changed),
            "numbered": diff.dataset.numbered,
        },
        "delta": _num(delta.delta) if delta else None,
        "ci": [_num(delta.ci.low), _num(delta.ci.high)] if delta else None,
        "p_value": delta.p_value if delta else None,
        "up": delta.up if delta else None,
        "down": delta.down if delta else None,
        "significant": diff.significant,
        "sensitivity": sensitivity_json(diff.head) if diff.head and diff.head.score is not None else None,
        "against_threshold": _against(diff.head) if diff.head else None,
        "improved": [c.id for c in diff.improved],
        "regressed": [c.id for c in diff.regressed],
        "noisy": list(diff.noisy),
        "regressions": [
            {
                "id": c.id,
                "expected": c.expected,
                "base_output": c.base_output,
                "head_output": c.head_output,
                "base_score": c.base_score,
                "head_score": c.head_score,
            }
            for c in diff.regressed
        ],
        **_refine_diff_json(diff),
    }


def _refine_diff_json(diff: SuiteDiff) -> dict[str, Any]:
    """Each scorer's delta (`scorers`) and head's failure patterns (`patterns`, None without a head)."""
    from promptgit.refine_display import deltas_json, find_patterns, patterns_json

    return {
        "scorers": deltas_json(diff.scorers),
        "patterns": patterns_json(find_patterns(diff.head)) if diff.head else None,
    }


def log_text(log: SuiteLog, by_scorer: bool = False) -> str:
    """The refinement log: version | change made | score | delta | kept? (| each scorer) | top failure,
    then the plateau line when the score has stalled (plateau.py)."""
    from promptgit.refine_display import log_columns

    extra_header, extra_rows = log_columns(log, by_scorer)
    rows = []
    for e in log.entries:
        r = e.result
        rows.append(
            [
                e.commit.sha[:8],
                e.commit.date[:10],
                clip(e.commit.subject, 48),
                ci_text(r) if r else (clip(e.note, 48) if e.note else "not evaluated"),
                _log_delta(e),
                e.state,
            ]
        )
    rows = [[*row, *extra] for row, extra in zip(rows, extra_rows)]
    header = ["commit", "date", "change made", "score [95% CI]", "delta", "keep?", *extra_header]
    stalled = f"\n{log.suite}: {log.plateau}" if log.plateau else ""
    return f"{log.suite}\n" + table(header, rows, right=(4,)) + stalled


def _log_delta(entry: LogEntry) -> str:
    """A log row's change from the previous scored row: the paired test (~ within noise), else the score difference."""
    if entry.test is not None:
        return f"{'' if entry.test.significant or not entry.test.changed else '~'}{paired_text(entry.test)}"
    return signed_pct(entry.delta) if entry.delta is not None else ""


def log_json(log: SuiteLog) -> dict[str, Any]:
    """`promptgit log --json` (docs/spec.md, Commands)."""
    from promptgit.refine_display import log_entry_json, plateau_json

    return {
        "suite": log.suite,
        "entries": [
            {
                "commit": e.commit.sha,
                "date": e.commit.date,
                "message": e.commit.subject,
                "fingerprint": e.fingerprint,
                "score": _num(e.result.score) if e.result else None,
                "ci": [_num(e.result.ci.low), _num(e.result.ci.high)] if e.result else None,
                "delta": _num(e.delta),
                "p_value": e.test.p_value if e.test else None,
                "up": e.test.up if e.test else None,
                "down": e.test.down if e.test else None,
                "kept": e.state == "kept",
                "state": e.state,
                "note": e.note,
                **log_entry_json(e),
            }
            for e in log.entries
        ],
        "plateau": plateau_json(log),
    }


def impact_text(impact: Impact) -> str:
    """`-12.5 [-20.0, -5.0]` for one suite's impact, `·` when unknown, `×` when the commit cannot be evaluated."""
    if impact.note:
        return "×"
    if impact.delta is None:
        return "·" if impact.after is None else f"{pct(impact.after)}"
    if impact.delta.changed == 0:
        return "no case changed"
    return f"{'' if impact.delta.significant else '~'}{paired_text(impact.delta)}"


def blame_rows(report: BlameReport) -> list[tuple[str, float | None]]:
    """Each blame line as text, with the signed delta that colours it (None: no measured change)."""
    width = max((len(str(r.line)) for r in report.rows), default=1)
    column = max((len("  ".join(impact_text(i) for i in r.impacts)) for r in report.rows), default=24)
    out = []
    for row in report.rows:
        commit = report.commits.get(row.commit)
        who = f"{row.commit[:8]} {commit.date[:10]}" if commit else f"{row.commit[:8]:<8} {'':10}"
        impacts = "  ".join(impact_text(i) for i in row.impacts)
        delta = next((i.delta.delta for i in row.impacts if i.delta is not None and i.delta.significant), None)
        out.append((f"{who} {impacts:>{column}} {row.line:>{width}}| {row.text}", delta))
    notes = {(row.commit, i.suite): i.note for row in report.rows for i in row.impacts if i.note}
    out += [(f"× {sha[:8]} {suite}: {note}", None) for (sha, suite), note in notes.items()]
    return out


def blame_json(report: BlameReport) -> dict[str, Any]:
    """`promptgit blame --json` (docs/spec.md, Commands): `delta` is the first suite's; `suites` has them all."""

    def impact(i: Impact) -> dict[str, Any]:
        d = i.delta
        return {
            "before": _num(i.before),
            "after": _num(i.after),
            "delta": _num(d.delta) if d else None,
            "ci": [_num(d.ci.low), _num(d.ci.high)] if d else None,
            "p_value": d.p_value if d else None,
            "up": d.up if d else None,
            "down": d.down if d else None,
            "significant": bool(d and d.significant),
            "note": i.note,
        }

    return {
        "prompt": report.prompt,
        "path": report.path,
        "suites": list(report.suites),
        "lines": [
            {
                "line": r.line,
                "text": r.text,
                "commit": r.commit,
                "delta": _num(r.impacts[0].delta.delta) if r.impacts and r.impacts[0].delta else None,
                "impacts": {i.suite: impact(i) for i in r.impacts},
            }
            for r in report.rows
        ],
    }


def bisect_text(report: BisectReport) -> str:
    """The culprit (or why none), the revisions evaluated, and the culprit's diff."""
    lines = [report.message]
    if report.first_bad is not None:
        c = report.first_bad
        lines.append(f"  {c.sha}  {c.date[:10]}  {c.author}\n  {c.subject}")
        lines.append(
            f"  score {pct(report.before)} -> {pct(report.after)}"
            if report.case is None
            else f"  case {report.case}: {pct(report.before, 0)} -> {pct(report.after, 0)}"
        )
    if report.change is not None and report.change.test.changed:
        lines.append(f"  good -> bad: {change_text(report.change)}")
    lines.append(f"\nevaluated {len(report.steps)} revision(s):")
    lines.extend(f"  {s.commit[:10]}  {pct(s.score):>7}  {s.verdict:<9} {s.note}" for s in report.steps)
    if report.skipped:
        lines.append(f"\nstepped over {len(report.skipped)} version(s) that cannot be evaluated:")
        lines.extend(f"  {s.commit[:10]}  {s.note}" for s in report.skipped)
    if report.prompt_diff:
        lines.append("\n" + report.prompt_diff.rstrip())
    return "\n".join(lines)


def bisect_json(report: BisectReport) -> dict[str, Any]:
    """`promptgit bisect --json` (docs/spec.md, Commands)."""
    return {
        "suite": report.suite,
        "case": report.case,
        "good": report.good,
        "bad": report.bad,
        "first_bad": report.first_bad.sha if report.first_bad else None,
        "evaluated": [s.commit for s in report.steps],
        "message": report.message,
        "steps": [
            {"commit": s.commit, "score": _num(s.score), "verdict": s.verdict, "note": s.note} for s in report.steps
        ],
        "before": _num(report.before),
        "after": _num(report.after),
        "skipped": [{"commit": s.commit, "verdict": s.verdict, "note": s.note} for s in report.skipped],
        **change_json(report.change),
    }


def change_text(call: BisectCall) -> str:
    """Both answers about good vs bad: the gate's (the exact test) and bisect's (is it a real change?)."""
    gate = "significant" if call.test.significant else "within noise for the gate"
    follows = "reproducible (temperature 0, repeats agree), so bisect follows it" if call.reproducible else call.verdict
    return f"{paired_text(call.test)}, {gate}; for bisect: {follows}"


def change_json(call: BisectCall | None) -> dict[str, Any]:
    """Good vs bad in `bisect --json`: the paired test and bisect's call (changed, same or undecided)."""
    test = call.test if call else None
    return {
        "delta": _num(test.delta) if test else None,
        "ci": [_num(test.ci.low), _num(test.ci.high)] if test else None,
        "p_value": test.p_value if test else None,
        "up": test.up if test else None,
        "down": test.down if test else None,
        "significant": bool(test and test.significant),
        "call": call.verdict if call else None,
        "reproducible": bool(call and call.reproducible),
    }


def ci_json(result: CiReport) -> dict[str, Any]:
    """`promptgit ci --json` (docs/spec.md, Commands): each suite's comparison with its gate verdict and reason."""
    return {
        "verdict": result.verdict,
        "base": result.diff.base,
        "head": result.diff.head,
        "suites": [
            {
                **suite_diff_json(d),
                "verdict": result.gate(d.name).verdict,
                "reason": result.gate(d.name).reason,
                "culprit": culprit_json(next((c for c in result.culprits if c.suite == d.name), None)),
            }
            for d in result.diff.suites
        ],
    }


def culprit_json(culprit: Culprit | None) -> dict[str, Any] | None:
    """The commit inside the pull request that caused a suite's drop (`ci --json`), or None."""
    if culprit is None:
        return None
    return {
        "commit": culprit.commit.sha,
        "subject": culprit.commit.subject,
        "author": culprit.commit.author,
        "before": _num(culprit.before),
        "after": _num(culprit.after),
        "evaluated": culprit.evaluated,
        "prompt_diff": culprit.prompt_diff,
    }


def culprit_text(culprit: Culprit) -> str:
    """`route: caused by 1a2b3c4d5e Answer from the short field (score 100.0% -> 97.3%)`."""
    scores = f"score {pct(culprit.before)} -> {pct(culprit.after)}"
    return f"{culprit.suite}: caused by {culprit.commit.sha[:10]} {culprit.commit.subject} ({scores})"


def check_text(report: CheckReport) -> tuple[list[str], str]:
    """`promptgit check`: `note: ...` and `error: ...` lines (for stderr), and the summary line (for stdout)."""
    problems = [f"note: {note}" for note in report.notes] + [f"error: {found}" for found in report.problems]
    summary = f"checked {report.prompts} prompts and {report.suites} suites ({report.cases} cases)"
    count = len(report.problems)
    return problems, f"{summary}: {count} problem{'s' if count != 1 else ''}" if count else f"{summary}: all good"


def check_json(report: CheckReport) -> dict[str, Any]:
    """`promptgit check --json`."""
    return {
        "prompts": report.prompts,
        "suites": report.suites,
        "cases": report.cases,
        "problems": [{"file": p.file, "line": p.line, "message": p.message, "hint": p.hint} for p in report.problems],
        "notes": list(report.notes),
        "models": list(report.models),
    }


def render_lines(rendered: Rendered) -> list[tuple[str, str]]:
    """`promptgit render` as (text, style) lines: the prompt and its settings dimmed, each role bold, then its text.

    Tools are listed after the settings line, one definition (JSON) a line; images show by name and size.
    """
    settings = ", ".join(f"{k}={v}" for k, v in rendered.settings.items() if k != "tools")
    lines = [(f"# {rendered.prompt}" + (f"  ({settings})" if settings else ""), "dim")]
    lines += tool_lines(rendered.settings.get("tools"))
    for message in rendered.messages:
        lines += [(f"{message.role}:", "bold"), *message_lines(message)]
    return lines


def tool_lines(tools: Any) -> list[tuple[str, str]]:
    """`tools:` then each tool's function definition as one line of JSON, for `render`."""
    if not tools:
        return []
    return [("tools:", "bold"), *((json.dumps(t.get("function", t), ensure_ascii=False), "") for t in tools)]


def message_lines(message: Any) -> list[tuple[str, str]]:
    """A rendered message's text, its images as `[image: path, type, N bytes]` in place (never their bytes)."""
    if not message.parts:
        return [(message.content, "")]
    return [(part if isinstance(part, str) else part.label(), "") for part in message.parts]


def render_json(rendered: Rendered) -> dict[str, Any]:
    """`promptgit render --json`: messages as sent, except that an image file is described, not inlined."""
    return {
        "prompt": rendered.prompt,
        "settings": dict(rendered.settings),
        "messages": [m.described() for m in rendered.messages],
    }


def ci_run_text(result: CiReport) -> str:
    """`promptgit ci`: the comparison, each suite's gate and the verdict."""
    gates = [f"{gate.suite}: {gate.verdict} ({gate.reason})" for gate in result.gates]
    culprits = [culprit_text(c) for c in result.culprits]
    return "\n".join([diff_text(result.diff), *gates, *culprits, f"verdict: {result.verdict}"])


def logs_json(report: LogReport) -> list[dict[str, Any]]:
    """`promptgit log --json`: always a list of suite logs (log_json), also for one suite: one shape to parse."""
    return [log_json(entry) for entry in report.logs]


def logs_text(report: LogReport, by_scorer: bool = False) -> str:
    """`promptgit log`: each suite's table, a blank line between them (`by_scorer`: a column per scorer)."""
    return "\n\n".join(log_text(entry, by_scorer) for entry in report.logs)


def drift_lines(report: DriftReport) -> list[tuple[str, str | None]]:
    """`promptgit drift` as diff_lines shows a diff: the stored result as base, the fresh run as head."""
    if not report.diff.suites:
        return [("no suite to re-run", None)]
    chosen = [d for d in report.diff.suites if d.head is not None and d.head.selection is not None]
    return diff_lines(report.diff) + [(f"{d.name}: {selection_text(d.head)}", None) for d in chosen if d.head]


def drift_json(report: DriftReport) -> dict[str, Any]:
    """`promptgit drift --json`: each suite's comparison (as `diff --json`, base = stored, head = fresh) and gate."""
    return {
        "verdict": report.verdict,
        "revision": report.revision,
        "suites": [
            {
                **suite_diff_json(d),
                "fresh_calls": d.head.calls if d.head else 0,
                "selection": selection_json(d.head) if d.head else None,
                "verdict": report.gate(d.name).verdict,
                "reason": report.gate(d.name).reason,
            }
            for d in report.diff.suites
        ],
    }


def _side_name(side: str) -> str:
    """A diff side as shown: a commit id shortened to 12, a model's label (`diff --model`) whole."""
    return side[:12] if len(side) == 40 and all(c in "0123456789abcdef" for c in side) else side


def money(cost: float | None) -> str:
    """`$0.0123`, or `unknown` when the model has no known price (never $0)."""
    if cost is None:
        return "unknown"
    return f"${cost:.6f}" if 0 < cost < 0.01 else f"${cost:.4f}"  # a fraction of a cent still shows


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def side_by_side_text(sbs: SideBySide) -> str:
    """`eval --model A --model B`: one row per suite and model, each after the first compared with the first."""
    header = ["suite", "model", "score [95% CI]", "passed", "errors", "calls", "cost", "tokens", "p50", "p95"]
    header.append(f"vs {sbs.variants[0].label} (pts) [95% CI]")
    rows = [
        [
            row.result.name,
            row.variant.label,
            ci_text(row.result),
            f"{row.result.passed}/{len(row.result.cases)}",
            str(row.result.errors),
            str(row.result.calls),
            money(row.cost),
            str(row.tokens),
            _seconds(row.latency_p50),
            _seconds(row.latency_p95),
            delta_text(row.against_first) if row.against_first else "",
        ]
        for row in sbs.rows
    ]
    parts = [table(header, rows, right=range(3, 10))]
    parts += [
        f"{row.result.name} on {row.variant.label}: {note}" for row in sbs.rows for note in suite_notes(row.result)
    ]
    return "\n".join(parts)


def side_by_side_json(sbs: SideBySide) -> list[dict[str, Any]]:
    """`models: [...]` of `eval --json` with two or more variants: per variant its settings and its suites."""
    return [
        {
            "label": variant.label,
            "settings": dict(variant.settings),
            "suites": [_variant_row_json(row) for row in sbs.rows if row.variant == variant],
        }
        for variant in sbs.variants
    ]


_AGAINST_KEYS = ("compared", "delta", "ci", "p_value", "up", "down", "significant", "improved", "regressed", "noisy")


def _variant_row_json(row: VariantRow) -> dict[str, Any]:
    result = row.result
    against = suite_diff_json(row.against_first) if row.against_first else None
    return {
        **score_json(result),
        "model": result.model,
        "fingerprint": result.fingerprint,
        "calls": result.calls,
        "cost": row.cost,
        "tokens": row.tokens,
        "latency_p50": row.latency_p50,
        "latency_p95": row.latency_p95,
        "stopped": result.stopped,
        "against_first": {k: against[k] for k in _AGAINST_KEYS} if against else None,
        **_refine_json(result),  # each scorer's score and the failure patterns, as in every eval --json
    }


def dry_run_text(report: DryRun) -> str:
    """`eval --dry-run`: per suite and model the calls not in the store and their estimated cost."""
    labelled = any(e.label for e in report.estimates)
    header = ["suite", *(["variant"] if labelled else []), "model", "cases", "calls"]
    header += ["prompt tokens", "output bound", "est. cost"]
    rows = [
        [
            e.suite,
            *([e.label] if labelled else []),
            e.model or "-",
            str(e.cases),
            str(e.calls),
            "-" if e.input_tokens is None else str(e.input_tokens),
            "-" if e.output_tokens is None else str(e.output_tokens),
            money(e.cost),
        ]
        for e in report.estimates
    ]
    known = math.fsum(e.cost for e in report.estimates if e.cost is not None)
    unpriced = sorted({e.model or "-" for e in report.estimates if e.cost is None})
    calls = sum(e.calls for e in report.estimates)
    cost = f"{money(known)} at most" + (
        f", plus unknown for {', '.join(unpriced)} (no known price)" if unpriced else ""
    )
    summary = f"dry run: {calls} uncached call(s), estimated cost {cost}; judge calls not counted"
    return "\n".join([table(header, rows, right=range(len(header) - 5, len(header))), summary])


def dry_run_json(report: DryRun) -> dict[str, Any]:
    """`eval --dry-run --json`."""
    return {
        "revision": report.revision,
        "estimates": [
            {
                "suite": e.suite,
                "label": e.label,
                "model": e.model,
                "cases": e.cases,
                "calls": e.calls,
                "input_tokens": e.input_tokens,
                "output_tokens": e.output_tokens,
                "cost": e.cost,
            }
            for e in report.estimates
        ],
    }


def suggest_lines(report: SuggestReport) -> list[tuple[str, str | None]]:
    """`promptgit suggest`: the cases shown, the root cause, the reasoning, the diff or what would help,
    `--try`'s comparison against HEAD and the commit command; each line with its tone (good, bad, None)."""
    lines: list[tuple[str, str | None]] = [
        (
            f"{report.suite}: score {pct(report.score)}; {len(report.cases)} lowest-scoring case(s) shown to "
            f"{report.model}" + ("" if report.calls else " (reply from the cache)"),
            None,
        ),
    ]
    if report.proposal is None:
        return [*lines, ("every case scores 100%: nothing to suggest", "good")]
    proposal = report.proposal
    lines.append((f"root cause: {proposal.root_cause or 'unclassified (the reply names none)'}", None))
    if proposal.reasoning:
        lines.append((f"reasoning: {proposal.reasoning}", None))
    if report.outcome == "capability":
        help_text = proposal.help or "split the task into smaller prompts, or try a stronger model (--model)"
        return [*lines, (f"no patch: rewording will not fix a capability problem. Instead: {help_text}", None)]
    if report.patch:
        lines += [
            (line, "good" if line.startswith("+") else "bad" if line.startswith("-") else None)
            for line in report.patch.splitlines()
        ]
    if report.problem:
        lines.append((f"inconclusive: the proposal {report.outcome}: {report.problem}", "bad"))
        lines.append((f"the reply is saved in {report.reply_file}; no file was changed", None))
        return lines
    if report.measured is not None:
        lines += diff_lines(report.measured)
    if report.gate is not None:
        lines.append(
            (f"{report.gate.verdict}: {report.gate.reason}", "good" if report.gate.verdict == "pass" else "bad")
        )
    kept = (
        "the change is in the working tree (not committed)"
        if report.applied
        else (
            "the file is restored"
            if report.measured is not None
            else "nothing written (--apply writes it, --try measures it)"
        )
    )
    lines.append((kept, None))
    if report.applied and report.commit_command:
        lines.append((f"to commit it: {report.commit_command}", None))
    elif report.commit_command:
        lines.append((f"once applied, commit it with: {report.commit_command}", None))
    return lines


def suggest_json(report: SuggestReport) -> dict[str, Any]:
    """`promptgit suggest --json` (docs/spec.md, Commands)."""
    proposal = report.proposal
    return {
        "suite": report.suite,
        "prompt_path": report.path,
        "model": report.model,
        "score": _num(report.score),
        "cases": [{"id": c.id, "score": c.score, "expected": c.expected, "output": c.output} for c in report.cases],
        "outcome": report.outcome,
        "verdict": report.verdict,
        "root_cause": proposal.root_cause if proposal else None,
        "reasoning": proposal.reasoning if proposal else None,
        "help": proposal.help if proposal else None,
        "diff": report.patch,
        "problem": report.problem,
        "reply_file": report.reply_file,
        "applied": report.applied,
        "comparison": suite_diff_json(report.comparison) if report.comparison else None,
        "reason": report.gate.reason if report.gate else None,
        "commit_message": report.commit_message,
        "calls": report.calls,
    }
