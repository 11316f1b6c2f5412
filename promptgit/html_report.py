"""The HTML report (issue 17): one self-contained page per run, from `report --html`, `ci --html` and `diff --html`.

Per suite: the trend over the commits `log` lists (score and its 95% interval as inline SVG, each
version's state marked, its commit on hover), the per-dimension scores where the result has them,
the base-vs-head comparison when two revisions were compared, and a per-case table a small inline
script filters to failed, regressed or improved cases and pages through, PAGE_ROWS rows at a time.

Suites run to tens of thousands of cases (bench/bench_report.py, docs/benchmarks.md): every case goes
into the page once, as a JSON data block the script reads (`json_block`), and only the first page of
rows is also HTML, which is what shows with scripts off. The filter buttons' counts are the whole
suite's, counted here. Word diffs run only for cases whose output changed, and their work is bounded
(DIFF_WORK): past it the differing middle of the two outputs is marked as a whole and the page says so.

The page is rendered by templating.page_template with autoescape on: every string from a model, a
dataset or a commit reaches the page as text. Nothing in it loads from anywhere: no CDN, no font, no
image; the page's Content-Security-Policy allows no request at all and runs only its own script
(pinned by its sha256), so a string that slipped past escaping could still neither run nor call out.
Model outputs and scorers' reasons are shown as text, never rendered as Markdown: a model's Markdown
could place an image, which is a request to a server when the page opens.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from promptgit.display import ci_text, interval_text, p_text, pct, side_score, verdict_word
from promptgit.templating import markup, page_template, visible

if TYPE_CHECKING:
    from promptgit.commands.log import LogEntry, SuiteLog
    from promptgit.compare import DiffReport, SuiteDiff
    from promptgit.evaluate import CaseResult, SuiteResult
    from promptgit.gates import Gate

TEMPLATE = "report.html.jinja"
SCRIPT = "report.js"
# A cell shows this much of an output or expected value; the rest is counted. It also bounds the word
# diff, whose time grows with the square of the words compared.
CELL_CHARS = 4_000
# The chart's size in SVG user units (the page scales it to its column).
WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 640, 200, 44, 16, 16
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")
# Rows per page of the case table: the rows a browser lays out at once, and the rows shown with scripts off.
PAGE_ROWS = 100
# The word diff's budget, in (base tokens) x (head tokens) of the outputs' differing middle (their common
# first and last tokens taken off): difflib's time grows faster than that product. One diff of 300 x 300
# tokens (about 150 words a side) took 2.5 ms here, 800 x 800 42-152 ms, 1,400 x 1,400 86-375 ms
# (`bench/bench_report.py --diff-cost`, docs/benchmarks.md). Past it the middle is marked changed whole.
DIFF_WORK = 90_000
COARSE_NOTE = "long output: its differing middle is marked as a whole, not word by word"
# Characters a JSON string may hold that would end or change the script element it sits in, once
# the HTML parser reads it (`</script>`, `<!--`), or that older JavaScript reads as line ends.
_JSON_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class HtmlInput:
    """What one page shows: the suites' logs (the trend), a comparison of two revisions, the gates.

    Suites appear in the comparison's order, then those only the logs hold, in theirs.
    """

    title: str
    logs: tuple[SuiteLog, ...] = ()
    diff: DiffReport | None = None
    gates: tuple[Gate, ...] = ()
    verdict: str | None = None  # the run's verdict (`ci`); None where nothing was gated
    notes: tuple[str, ...] = ()


def render_html(page: HtmlInput) -> str:
    """The page as one HTML document (UTF-8 text), self-contained and safe against any string in the results."""
    script = (resources.files("promptgit") / "templates" / SCRIPT).read_text("utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return page_template(TEMPLATE).render(
        title=page.title,
        verdict=page.verdict,
        notes=page.notes,
        base=page.diff.base if page.diff else None,
        head=page.diff.head if page.diff else None,
        suites=_suites(page),
        page_rows=PAGE_ROWS,
        coarse_note=COARSE_NOTE,
        script=markup(script),  # our own file, pinned by the policy below
        script_hash=f"sha256-{digest}",
    )


def _suites(page: HtmlInput) -> list[dict[str, Any]]:
    diffs = {d.name: d for d in page.diff.suites} if page.diff else {}
    logs = {log.suite: log for log in page.logs}
    gates = {g.suite: g for g in page.gates}
    names = list(diffs) + [name for name in logs if name not in diffs]
    return [_suite(i, name, logs.get(name), diffs.get(name), gates.get(name)) for i, name in enumerate(names, 1)]


def _suite(index: int, name: str, log: SuiteLog | None, diff: SuiteDiff | None, gate: Gate | None) -> dict[str, Any]:
    latest = _latest(log) if log else None
    shown = (diff.head or diff.base) if diff else latest
    rows = case_rows(diff) if diff else (result_rows(latest) if latest else [])
    return {
        "name": name,
        # An id no suite name can break or collide on: its position, then the name's safe characters.
        "anchor": f"suite{index}-" + re.sub(r"[^A-Za-z0-9_-]", "-", name),
        "score": ci_text(shown) if shown else "-",
        "gate": gate,
        "trend": trend(log.entries) if log else None,
        "dimensions": dimensions(shown) if shown else [],
        "patterns": failure_patterns(shown) if shown else [],
        "comparison": _comparison(diff) if diff and diff.base and diff.head else None,
        "side": _one_sided(diff) if diff else None,
        "compared": bool(diff),
        "cases": rows,
        "first_page": rows[:PAGE_ROWS],
        "counts": filter_counts(rows),
        "coarse": sum(1 for r in rows if r["coarse"]),
        "data": json_block([packed(r) for r in rows]),
    }


def filter_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many rows each filter button shows, over every row: {all, failed, regressed, improved}."""
    words = [r["status"].split() for r in rows]
    return {"all": len(rows), **{w: sum(1 for s in words if w in s) for w in ("failed", "regressed", "improved")}}


def packed(row: dict[str, Any]) -> list[Any]:
    """A case row as report.js reads it: [id, status, score, expected, base, head, reasons, coarse].

    base and head: null where that side has no such case, else the output as strings alternating
    unchanged and changed text (unchanged first, "" where the output starts changed); head is 1 where
    it is base's text unchanged (sent once). Every string is shown as the HTML of the first page shows it
    (`_as_html`).
    """
    base, head = _alternating(row["base"]), _alternating(row["head"])
    same = base is not None and base == head and len(base) == 1
    return [
        _as_html(row["id"]),
        row["status"],
        row["score"],
        _as_html(row["expected"]),
        base,
        1 if same else head,
        _as_html(row["reasons"]),
        1 if row["coarse"] else 0,
    ]


def _alternating(parts: list[tuple[str, str]] | None) -> list[str] | None:
    if parts is None:
        return None
    texts = [""] if parts and parts[0][0] == "changed" else []
    return texts + [_as_html(text) for _, text in parts] if parts else [""]


def _as_html(text: str) -> str:
    """`text` as the page's HTML shows it: controls made visible as the template does, and line ends as
    the HTML parser reads them (CR LF and CR become LF; text a script sets keeps its CR, shown as a space)."""
    return visible(text).replace("\r\n", "\n").replace("\r", "\n")


def json_block(value: Any) -> Any:
    """`value` as JSON text safe inside `<script type="application/json">`, marked as HTML (markup).

    Escaped as JSON escapes (`\\u003c`), which the parser inside the script reads back: `<`, `>` and `&`,
    so no string can end the element or open a comment (`</script>`, `<!--`), and U+2028/U+2029.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return markup(re.sub("[<>&\u2028\u2029]", lambda m: _JSON_UNSAFE[m[0]], text))


def _one_sided(diff: SuiteDiff) -> str | None:
    """ "new" for a suite only head has, "removed" for one only base has, None when both have it."""
    if diff.base and diff.head:
        return None
    return "removed" if diff.head is None else "new"


def _latest(log: SuiteLog) -> SuiteResult | None:
    return next((e.result for e in reversed(log.entries) if e.result is not None), None)


def dimensions(result: SuiteResult) -> list[dict[str, Any]]:
    """Per-dimension scores: [{name, score}] from `SuiteResult.scorers` (dimensions.py), score with its interval."""
    return [{"name": d.name, "score": _with_interval(d.score, d.ci)} for d in result.scorers]


def _with_interval(score: float | None, ci: Any) -> str:
    if score is None or math.isnan(ci.low):
        return pct(score)
    return f"{pct(score)} [{ci.low * 100:.1f}, {ci.high * 100:.1f}]"


def failure_patterns(result: SuiteResult) -> list[dict[str, Any]]:
    """The failure patterns of a result (patterns.find_patterns) as rows {pattern, cases, examples}: the
    confusion summary's top confusions (a label suite), then the scorers' reason groups."""
    from promptgit.patterns import find_patterns

    found = find_patterns(result)
    rows = [
        {"pattern": f"expected {c.expected}, answered {c.output}", "cases": c.count, "examples": ""}
        for c in (found.confusion.top if found.confusion else ())
    ]
    rows += [
        {"pattern": f"{g.dimension}: {g.reason}", "cases": g.count, "examples": ", ".join(g.cases[:3])}
        for g in found.reasons
    ]
    return rows


def trend(entries: Sequence[LogEntry]) -> dict[str, Any]:
    """The trend chart's geometry: one point per scored version, the 95% band, marks for versions not scored.

    x: versions evenly spaced, oldest left; y: score 0–100% bottom to top. Each point: x, y (SVG units),
    score, interval text, state, and the commit's short sha, date and subject for its tooltip.
    """
    step = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(len(entries) - 1, 1)
    points, gaps = [], []
    for index, entry in enumerate(entries):
        x = round(PAD_LEFT + index * step if len(entries) > 1 else (WIDTH + PAD_LEFT - PAD_RIGHT) / 2, 1)
        result = entry.result
        tip = f"{entry.commit.sha[:8]} {entry.commit.date[:10]} {entry.commit.subject}"
        if result is None or result.score is None:
            gaps.append({"x": x, "tip": f"{tip} ({entry.note or 'not scored yet'}, {entry.state})"})
            continue
        low, high = _interval(result)
        points.append(
            {
                "x": x,
                "y": _y(result.score),
                "low": _y(low),
                "high": _y(high),
                "score": pct(result.score),
                "interval": ci_text(result),
                "state": entry.state,
                "sha": entry.commit.sha[:8],
                "tip": f"{tip}: {ci_text(result)}, {entry.state}",
            }
        )
    band = (
        " ".join(f"{p['x']},{p['high']}" for p in points)
        + " "
        + " ".join(f"{p['x']},{p['low']}" for p in reversed(points))
    )
    line = " ".join(f"{p['x']},{p['y']}" for p in points)
    ticks = [{"y": _y(v / 100), "label": f"{v}%"} for v in (0, 25, 50, 75, 100)]
    frame = {"width": WIDTH, "height": HEIGHT, "left": PAD_LEFT, "right": WIDTH - PAD_RIGHT, "ticks": ticks}
    return {**frame, "points": points, "gaps": gaps, "band": band.strip(), "line": line}


def _interval(result: SuiteResult) -> tuple[float, float]:
    low, high = result.ci.low, result.ci.high
    score = result.score or 0.0
    return (score if math.isnan(low) else low), (score if math.isnan(high) else high)


def _y(value: float) -> float:
    return round(HEIGHT - PAD_Y - value * (HEIGHT - 2 * PAD_Y), 1)


def _comparison(diff: SuiteDiff) -> dict[str, Any]:
    delta = diff.delta
    return {
        "base": pct(side_score(diff, "base")),
        "head": pct(side_score(diff, "head")),
        "delta": f"{interval_text(delta)} {verdict_word(delta)}".rstrip() if delta else "-",
        "p": p_text(delta.p_value) if delta and delta.changed else "-",
        "up": len(diff.improved),
        "down": len(diff.regressed),
        "cases": diff.compared.cases,
        "noisy": len(diff.noisy),
    }


def case_rows(diff: SuiteDiff) -> list[dict[str, Any]]:
    """One row per case either side holds (head's order, then cases only base has).

    Each row: id, status words (regressed / improved / failed / error / passed, space-separated, for the
    filter), expected, base and head output as highlighted segments, head's (else base's) reasons.
    """
    base = diff.base.by_id() if diff.base else {}
    moved = {c.id: "regressed" for c in diff.regressed} | {c.id: "improved" for c in diff.improved}
    order = [c.id for c in diff.head.cases] if diff.head else []
    listed = set(order)
    order += [i for i in base if i not in listed]
    head = diff.head.by_id() if diff.head else {}
    rows = []
    for case_id in order:
        b, h = base.get(case_id), head.get(case_id)
        last = h or b
        assert last is not None  # every id came from one side or the other
        base_parts, head_parts, coarse = _word_diff(_output(b), _output(h))
        status = [moved[case_id]] if case_id in moved else []
        rows.append(
            {
                "id": case_id,
                "status": " ".join([*status, _outcome(last)]),
                "expected": _clip(_expected(last.expected)),
                "base": base_parts if b else None,
                "head": head_parts if h else None,
                "score": _scores(b, h),
                "reasons": last.error or "; ".join(last.reasons),
                "coarse": coarse and bool(b and h),
            }
        )
    return rows


def result_rows(result: SuiteResult) -> list[dict[str, Any]]:
    """One row per case of a single result (no comparison): the same shape as case_rows, head side only."""
    rows = []
    for case in result.cases:
        rows.append(
            {
                "id": case.id,
                "status": _outcome(case),
                "expected": _clip(_expected(case.expected)),
                "base": None,
                "head": [("same", _clip(_output(case)))],
                "score": pct(case.score, 0),
                "reasons": case.error or "; ".join(case.reasons),
                "coarse": False,
            }
        )
    return rows


def _outcome(case: CaseResult) -> str:
    if case.error is not None:
        return "error failed"
    return "passed" if case.passed else "failed"


def _output(case: CaseResult | None) -> str:
    if case is None:
        return ""
    return case.output if case.output is not None else ""


def _expected(value: Any) -> str:
    # As the terminal shows it (display.clip): a case that expects null must not look like an empty string.
    return "null" if value is None else str(value)


def _scores(base: CaseResult | None, head: CaseResult | None) -> str:
    if base and head:
        return f"{pct(base.score, 0)} → {pct(head.score, 0)}"
    one = head or base
    return pct(one.score if one else None, 0)


def _clip(text: str) -> str:
    more = len(text) - CELL_CHARS
    return text if more <= 0 else f"{text[:CELL_CHARS]}… ({more} more characters)"


def highlight(base: str, head: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The two outputs as (kind, text) segments, kind "same" or "changed", word by word (difflib).

    Each side's segments joined give its text, clipped to CELL_CHARS before it is compared; a kind
    never follows itself. Past DIFF_WORK the differing middle is one "changed" segment (`_word_diff`).
    """
    base_parts, head_parts, _ = _word_diff(base, head)
    return base_parts, head_parts


def _word_diff(base: str, head: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], bool]:
    """highlight's segments, and whether the diff was coarse (the middle marked whole, past DIFF_WORK)."""
    base, head = _clip(base), _clip(head)
    if base == head:
        return [("same", base)], [("same", head)], False
    left, right = _WORDS.findall(base), _WORDS.findall(head)
    # The common first and last tokens cost nothing to find and are most of a slightly changed output.
    start = 0
    while start < min(len(left), len(right)) and left[start] == right[start]:
        start += 1
    end = 0
    while end < min(len(left), len(right)) - start and left[-1 - end] == right[-1 - end]:
        end += 1
    middle_left, middle_right = left[start : len(left) - end], right[start : len(right) - end]
    coarse = len(middle_left) * len(middle_right) > DIFF_WORK
    opcodes: Sequence[tuple[str, int, int, int, int]] = (
        [("replace", 0, len(middle_left), 0, len(middle_right))]
        if coarse
        else difflib.SequenceMatcher(None, middle_left, middle_right, autojunk=False).get_opcodes()
    )
    base_parts: list[tuple[str, str]] = []
    head_parts: list[tuple[str, str]] = []
    _append(base_parts, "same", "".join(left[:start]))
    _append(head_parts, "same", "".join(right[:start]))
    for tag, i1, i2, j1, j2 in opcodes:
        kind = "same" if tag == "equal" else "changed"
        _append(base_parts, kind, "".join(middle_left[i1:i2]))
        _append(head_parts, kind, "".join(middle_right[j1:j2]))
    _append(base_parts, "same", "".join(left[len(left) - end :]))
    _append(head_parts, "same", "".join(right[len(right) - end :]))
    return base_parts, head_parts, coarse


def _append(parts: list[tuple[str, str]], kind: str, text: str) -> None:
    if not text:
        return
    if parts and parts[-1][0] == kind:
        parts[-1] = (kind, parts[-1][1] + text)
    else:
        parts.append((kind, text))
