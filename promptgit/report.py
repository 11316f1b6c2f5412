"""The Markdown report of `promptgit ci` (and `diff --markdown`): one PR comment, safe against any model output."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promptgit import templating
from promptgit.compare import CaseChange, DiffReport, SuiteDiff
from promptgit.display import (
    change_warning,
    ci_text,
    dataset_note,
    interval_text,
    money,
    p_text,
    pct,
    side_score,
    verdict_word,
)
from promptgit.evaluate import SuiteResult
from promptgit.gates import (
    Gate,
    overall,
    sensitivity,
    sensitivity_text,
    sensitivity_warning,
    threshold_position,
)
from promptgit.github import MARKER, MAX_BODY_CHARS, NOTHING_AFFECTED, prepare_body
from promptgit.refine_display import report_view

if TYPE_CHECKING:
    from promptgit.commands.bisect import Culprit
    from promptgit.commands.ci import CiReport

COMMENT_LIMIT = MAX_BODY_CHARS  # the report is fitted to GitHub's limit on a comment's body (one home: github.py)
ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!~|])")


def cell(value: Any, width: int = 300) -> str:
    """Text safe inside a Markdown table cell: one line, HTML and Markdown escaped, no @mentions."""
    text = "null" if value is None else str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    text = text.replace("@", "@&#8203;")  # a zero-width space stops GitHub from pinging whoever a model names
    return re.sub(r"\r\n|\r|\n", "<br>", text)  # a lone CR ends a line in Markdown too


class _Limits:
    """How much of each part the report shows; shrunk, longest part first, until it fits a comment."""

    def __init__(self, output: int = 300, cases: int = 50, diff: int = 20_000) -> None:
        self.output, self.cases, self.diff = output, cases, diff


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _cases(changes: tuple[CaseChange, ...], limit: int) -> tuple[list[CaseChange], str]:
    more = len(changes) - limit
    return list(changes[:limit]), (f" (first {limit} shown)" if more > 0 else "")


def _suite_view(
    diff: SuiteDiff,
    gate: Any,
    prompt_diff: str,
    limits: _Limits,
    culprit: Culprit | None = None,
    unbisected: str | None = None,
) -> dict[str, Any]:
    delta = diff.delta
    regressed, regressed_more = _cases(diff.regressed, limits.cases)
    improved, improved_more = _cases(diff.improved, limits.cases)
    clipped_diff = prompt_diff if len(prompt_diff) <= limits.diff else prompt_diff[: limits.diff] + "\n… (diff cut)"
    return {
        "name": diff.name,
        "base": pct(side_score(diff, "base")) if diff.base else "new",
        "head": pct(side_score(diff, "head")) if diff.head else "removed",
        "dataset": f"Dataset changed: {dataset_note(diff)}." if diff.dataset.differs else "",
        "delta": f"{interval_text(delta)} {verdict_word(delta)}".rstrip() if delta else "–",
        "p": p_text(delta.p_value).removeprefix("p = ") if delta and delta.changed else "–",
        "up": len(diff.improved),
        "down": len(diff.regressed),
        "moved": f"{delta.up} / {delta.down}" if delta else "–",
        "sees": _sensitivity_note(diff),
        "threshold": _threshold_note(diff.head) if diff.head else "",
        "gate_icon": ICONS.get(gate.verdict, ""),
        "reason": gate.reason,
        "summary": _suite_summary(diff),
        "regressed": regressed,
        "regressed_more": regressed_more,
        "improved": improved,
        "improved_more": improved_more,
        "noisy": list(diff.noisy),
        "errors": _errors(diff),
        "prompt_diff": clipped_diff.rstrip("\n") if limits.diff else "",
        "fence": _fence(clipped_diff),
        "culprit": _culprit_view(culprit, limits) if culprit else None,
        "unbisected": unbisected,  # why the pull request's bisect named no culprit (a time limit), if it stopped
        **report_view(diff),  # per-scorer deltas and head's failure patterns
    }


_ERROR_GROUPS = 10  # distinct messages shown per suite; the rest are counted in one line


def _errors(diff: SuiteDiff) -> list[dict[str, Any]]:
    """The suite's case errors grouped by message (the case's own id taken out), most frequent first.

    Each group: side, count, message and the first cases' ids. Messages beyond _ERROR_GROUPS are summed.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for side, result in (("head", diff.head), ("base", diff.base)):
        if result is None:
            continue
        for case in result.cases:
            if case.error:
                message = case.error.replace(f" (case {case.id!r})", "").replace(f" (case {case.id})", "")
                if result.stopped and message == "not evaluated":
                    message = f"not evaluated: {result.stopped}"
                groups.setdefault((side, message), []).append(case.id)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    shown = [
        {"side": side, "count": len(ids), "message": message, "cases": _first(ids)}
        for (side, message), ids in ranked[:_ERROR_GROUPS]
    ]
    rest = [case_id for _, ids in ranked[_ERROR_GROUPS:] for case_id in ids]
    if rest:
        shown.append(
            {"side": "", "count": len(rest), "message": f"{len(ranked) - _ERROR_GROUPS} other messages", "cases": ""}
        )
    return shown


def _first(ids: list[str], shown: int = 3) -> str:
    return ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _culprit_view(culprit: Culprit, limits: _Limits) -> dict[str, Any]:
    """The commit that caused the drop: its id, subject, scores and the lines it changed."""
    changed = culprit.prompt_diff
    clipped = changed if len(changed) <= limits.diff else changed[: limits.diff] + "\n… (diff cut)"
    return {
        "sha": culprit.commit.sha[:10],
        "subject": culprit.commit.subject,
        "scores": f"{pct(culprit.before)} → {pct(culprit.after)}",
        "evaluated": culprit.evaluated,
        "diff": clipped.rstrip("\n") if limits.diff else "",
        "fence": _fence(clipped),
    }


def _sensitivity_note(diff: SuiteDiff) -> str:
    """What the head suite can see, as a warning when max_drop or the drop shown is below it."""
    head = diff.head
    if head is None or head.score is None:
        return ""
    warning = change_warning(diff) or sensitivity_warning(head)
    text = warning or sensitivity_text(sensitivity(head))
    sentence = text[0].upper() + text[1:]
    return f"⚠️ {sentence}" if warning else sentence


def _threshold_note(result: SuiteResult) -> str:
    """Where the score lies against `threshold`, as the gate sees it (empty without a threshold)."""
    where = threshold_position(result)
    if where is None or result.threshold is None:
        return ""
    rule = "whole 95% CI below it" if result.threshold_rule == "interval" else "score below it"
    place = {
        "below": "below the threshold with confidence (all of its 95% CI is below)",
        "within noise": "within noise of the threshold (its 95% CI straddles it)",
        "above": "above the threshold with confidence",
    }[where]
    return f"Threshold {pct(result.threshold)} (fails on: {rule}): score {ci_text(result)} is {place}."


def _suite_summary(diff: SuiteDiff) -> str:
    parts = []
    for side, result in (("base", diff.base), ("head", diff.head)):
        if result is not None:
            parts.append(
                f"{side}: {result.passed}/{len(result.cases)} passed, {result.errors} errors, "
                f"{result.calls} calls made, {result.cached} cached"
            )
    return " · ".join(parts)


def _footer(report: DiffReport) -> str:
    results = [r for d in report.suites for r in (d.base, d.head) if r is not None]
    calls = sum(r.calls for r in results)
    cached = sum(r.cached for r in results)
    tokens = sum(r.input_tokens + r.output_tokens for r in results)
    seconds = max((r.seconds for r in results), default=0.0)
    return (
        f"{calls} model calls made, {cached} cached · {tokens} tokens · {spent_text(results)} · {seconds:.1f}s · "
        f"base {report.base[:12]} → head {report.head[:12]}"
    )


def spent_text(results: list[SuiteResult]) -> str:
    """What the results' calls cost, as display.money writes it. A sum with a part of unknown price is
    not that sum: `at least $0.0123 (no known price for m)`, or `unknown (...)` when nothing known was
    paid (SuiteResult.cost_known; never `$0.0000` for calls whose price nobody knows)."""
    unpriced = sorted({m for r in results if not r.cost_known for m in r.unpriced_models or (r.model or "-",)})
    known = math.fsum(r.cost for r in results)
    if not unpriced:
        return money(known)
    why = f"(no known price for {', '.join(cell(m) for m in unpriced)})"
    return f"at least {money(known)} {why}" if known > 0 else f"cost unknown {why}"


def render_report(
    report: DiffReport,
    gates: dict[str, Any],
    verdict: str,
    prompt_diffs: dict[str, str],
    headline: str,
    limits: _Limits | None = None,
    culprits: tuple[Culprit, ...] = (),
    unbisected: dict[str, str] | None = None,
) -> str:
    """Render the report with the given limits."""
    limits = limits or _Limits()
    by_suite = {c.suite: c for c in culprits}
    stopped = unbisected or {}
    suites = [
        _suite_view(d, gates[d.name], prompt_diffs.get(d.name, ""), limits, by_suite.get(d.name), stopped.get(d.name))
        for d in report.suites
    ]
    return templating.text_template("report.md.jinja", {"cell": lambda value: cell(value, limits.output)}).render(
        marker=MARKER,
        icon=ICONS.get(verdict, ""),
        verdict=verdict,
        headline=headline,
        suites=suites,
        datasets_differ=any(d.dataset.differs for d in report.suites),
        footer=_footer(report),
    )


def fit(render: Any, limit: int = COMMENT_LIMIT) -> str:
    """Render, then shrink the largest part (prompt diff, case lists, outputs) until the text fits `limit`."""
    limits = _Limits()
    text = render(limits)
    while len(text) > limit:
        if not _shrink(limits):
            return prepare_body(text)  # last resort: cut safely, closing open <details> and fences
        text = render(limits)
    return text


def _shrink(limits: _Limits) -> bool:
    case_budget = limits.cases * limits.output * 3
    if limits.diff > 500 and limits.diff >= case_budget:
        limits.diff //= 2
    elif limits.cases > 5 and limits.cases * 10 >= limits.output:
        limits.cases //= 2
    elif limits.output > 40:
        limits.output //= 2
    elif limits.diff:
        limits.diff = 0
    else:
        return False
    return True


def ci_markdown(ci: CiReport, limit: int = COMMENT_LIMIT) -> str:
    """The `promptgit ci` report for a pull request comment (or, with a larger `limit`, the job summary)."""
    gates = {g.suite: g for g in ci.gates}
    count = len(ci.diff.suites)
    headline = f"{count} suite{'s' if count != 1 else ''} affected by this change." if count else NOTHING_AFFECTED
    return fit(
        lambda limits: render_report(
            ci.diff, gates, ci.verdict, ci.prompt_diffs, headline, limits, ci.culprits, ci.unbisected
        ),
        limit,
    )


def diff_markdown(report: DiffReport, gates: Sequence[Gate]) -> str:
    """`promptgit diff --markdown`: the same report, with diff's gates (gates.diff_gates)."""
    by_suite = {g.suite: g for g in gates}
    headline = f"{len(report.suites)} suite(s) changed."
    return fit(lambda limits: render_report(report, by_suite, overall(gates), {}, headline, limits))
