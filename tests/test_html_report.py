"""The HTML report (issue 17, item 1): `report --html`, `ci --html`, `diff --html`: one offline page, text escaped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from promptgit import git, stats
from promptgit.commands.log import KEPT, NOT_EVALUABLE, REVERTED, LogEntry, SuiteLog
from promptgit.compare import DiffReport, SuiteDiff, compare_results
from promptgit.gates import Gate
from promptgit.html_report import CELL_CHARS, HtmlInput, highlight, render_html, trend
from tests.html_dom import Node, parse
from tests.openai_server import Server
from tests.test_ci import EVIL, two_versions
from tests.test_git_native import (
    GOOD_RIGHT,
    IMPROVED,
    LABELS,
    NAIVE_RIGHT,
    REGRESSED,
    N,
    cli_json,
    dataset,
    three_commits,
)
from tests.test_junit import HOSTILE as JUNIT_HOSTILE
from tests.test_junit import HOSTILE_KEPT, case, suite

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config

# Kinds of hostile text: markup that runs script (the comment's EVIL, JUnit's), attributes that would,
# markup that ends the element it sits in, an entity, template syntax that must stay text, and the
# terminal corpus of test_hostile_inputs (controls and a lone surrogate: shown escaped, as `\x1b`).
HOSTILE = [
    EVIL,
    HOSTILE_KEPT,
    '"><img src=x onerror="alert(1)">',
    "</td></tr></table></title></textarea><svg onload=alert(1)>",
    "</script><script>alert(document.domain)</script>",
    "&lt;b&gt; &amp;amp; {{ 7 * 7 }} {% raw %}",
    JUNIT_HOSTILE,
    "\x1b[2J\x1b]0;pwned\x07ok",
    "c1\x9bcsi\x85",
]
SHOWN = {
    JUNIT_HOSTILE: HOSTILE_KEPT.replace('" ok', '"\\x00\\x1b\\x0b\\ud800\ufffe ok'),
    "\x1b[2J\x1b]0;pwned\x07ok": "\\x1b[2J\\x1b]0;pwned\\x07ok",
    "c1\x9bcsi\x85": "c1\\x9bcsi\\x85",
}


def shown(text: str) -> str:
    """How the page shows `text` (the same but for control characters and lone surrogates)."""
    return SHOWN.get(text, text)


# The route suite of test_ci's two_versions, 8 cases: all right at c1, half at c2.
TWO_VERSIONS = [("100.0%", "kept"), ("50.0%", "kept")]


def commit(n: int, subject: str) -> git.Commit:
    """A commit as history lists it, the n-th of a day."""
    return git.Commit(f"{n:02d}" * 20, f"2026-11-{n:02d}T10:00:00+00:00", 0, subject, "A U Thor", ())


def page_with(texts: Sequence[str]) -> HtmlInput:
    """A page of one suite, "s", whose head answers case c<i> with texts[i] (base answered "refunds" to all)."""
    base = suite(tuple(case(f"c{i}", 1.0, outputs=("refunds",)) for i in range(len(texts))))
    head = suite(tuple(case(f"c{i}", 0.0, outputs=(t,), reasons=(t,), expected=t) for i, t in enumerate(texts)))
    versions = (
        LogEntry(commit(1, texts[0]), "f", base, None, KEPT),
        LogEntry(commit(2, texts[-1]), "g", head, -1.0, KEPT),
    )
    return HtmlInput("hostile", (SuiteLog("s", versions),), _report(compare_results("s", base, head)))


def page_dom(page: HtmlInput) -> Node:
    """The rendered page, parsed; every page passes the safety checks first."""
    html = render_html(page)
    dom = parse(html)
    assert_offline_and_inert(dom)
    return dom


def assert_offline_and_inert(dom: Node) -> None:
    """One script that runs (ours, pinned by the policy) after the suites' JSON data blocks, which no string
    from the results can end (json_block), no element that loads anything, no event-handler attribute."""
    scripts = dom.find_all("script")
    assert [n.attrs.get("type") for n in scripts] == ["application/json"] * (len(scripts) - 1) + [None]
    for block in scripts[:-1]:
        assert isinstance(json.loads(block.text()), list)  # the whole block is one JSON value: nothing broke out
        assert block.children == [block.text()] and "<" not in block.text()
    policy = dom.one("meta", **{"http-equiv": "Content-Security-Policy"}).attrs["content"] or ""
    assert policy.startswith("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-")
    assert not [n for n in dom.iter() if n.tag in ("img", "iframe", "link", "object", "embed", "image", "base")]
    assert not [(n.tag, a) for n in dom.iter() for a in n.attrs if a.startswith("on")]
    assert not [
        (n.tag, a) for n in dom.iter() for a in ("src", "href") if (n.attrs.get(a) or "#").startswith("#") is False
    ]


def cells(dom: Node, name: str, by: str = "id") -> list[list[str]]:
    """The body rows, as cell texts, of the one table with this id (or class)."""
    table = dom.one("table", **{by: name})
    return [[td.text() for td in tr.find_all("td")] for tr in table.one("tbody").find_all("tr")]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_string_from_a_model_a_dataset_or_a_commit_is_text(text: str) -> None:
    base = suite((case("c1", 1.0, outputs=("refunds",)), case(text, 1.0, outputs=("same",))))
    head = suite(
        (
            case("c1", 0.0, outputs=(text,), reasons=(f"exact_match: {text}",), expected=text),
            case(text, 1.0, outputs=("same",)),
        ),
        name=text,
    )
    diff = compare_results(text, base, head)
    logs = (
        SuiteLog(
            text, (LogEntry(commit(1, text), "f", base, None, KEPT), LogEntry(commit(2, text), "g", head, -0.5, KEPT))
        ),
    )
    page = HtmlInput(text, logs, diff=_report(diff), gates=(Gate(text, "fail", text),), verdict="fail", notes=(text,))
    dom = page_dom(page)
    seen = shown(text)
    assert dom.one("head").one("title").text() == seen
    assert dom.one("p", class_="note").text() == seen
    section = dom.one("section", class_="suite")
    assert section.attrs["data-suite"] == seen
    assert section.one("h2").children[0] == seen + " "
    rows = cells(dom, section.attrs["id"] + "-cases")  # type: ignore[operator]
    assert rows == [
        ["c1", "regressed failed", "100% → 0%", seen, "refunds", seen, f"exact_match: {seen}"],
        [seen, "passed", "100% → 100%", "refunds", "same", "same", ""],
    ]
    assert [c.one("title").text() for c in dom.find_all("circle")] == [
        f"01010101 2026-11-01 {seen}: 50.0% [25.0, 75.0], kept",
        f"02020202 2026-11-02 {seen}: 50.0% [25.0, 75.0], kept",
    ]


def _report(diff: SuiteDiff) -> DiffReport:
    return DiffReport("a" * 40, "b" * 40, (diff,))


def test_the_trend_marks_each_version_and_leaves_gaps_for_the_unscored() -> None:
    scored = [suite((), score=s, ci=stats.Interval(s - 0.1, s + 0.1)) for s in (0.3, 0.8, 0.3)]
    entries = (
        LogEntry(commit(1, "first"), "f1", None, None, NOT_EVALUABLE, "no model configured"),
        LogEntry(commit(2, "naive"), "f2", scored[0], None, KEPT),
        LogEntry(commit(3, "better"), "f3", scored[1], 0.5, REVERTED),
        LogEntry(commit(4, "revert"), "f2", scored[2], -0.5, KEPT),
    )
    chart = trend(entries)
    # x: four versions evenly spaced from 44 to 624; y: 184 at 0% up to 16 at 100%.
    assert [(p["x"], p["y"], p["low"], p["high"], p["state"]) for p in chart["points"]] == [
        (237.3, 133.6, 150.4, 116.8, "kept"),
        (430.7, 49.6, 66.4, 32.8, "reverted"),
        (624.0, 133.6, 150.4, 116.8, "kept"),
    ]
    assert chart["gaps"] == [{"x": 44.0, "tip": "01010101 2026-11-01 first (no model configured, not evaluable)"}]
    assert chart["line"] == "237.3,133.6 430.7,49.6 624.0,133.6"
    assert chart["band"] == "237.3,116.8 430.7,32.8 624.0,116.8 624.0,150.4 430.7,66.4 237.3,150.4"
    dom = page_dom(HtmlInput("t", (SuiteLog("s", entries),)))
    circles = dom.find_all("circle")
    assert [(c.attrs["data-score"], c.attrs["data-state"], c.attrs["class"]) for c in circles] == [
        ("30.0%", "kept", "point kept"),
        ("80.0%", "reverted", "point reverted"),
        ("30.0%", "kept", "point kept"),
    ]
    assert circles[1].one("title").text() == "03030303 2026-11-03 better: 80.0% [70.0, 90.0], reverted"
    assert (
        dom.one("line", class_="gap").one("title").text()
        == "01010101 2026-11-01 first (no model configured, not evaluable)"
    )
    assert dom.one("polygon", class_="band").attrs["points"] == chart["band"]


@pytest.mark.parametrize(
    ("base", "head", "shown"),
    [
        ("refunds", "refunds", ([("same", "refunds")], [("same", "refunds")])),
        ("billing", "refunds", ([("changed", "billing")], [("changed", "refunds")])),
        (
            "queue: billing, urgent",
            "queue: refunds, urgent!",
            (
                [("same", "queue: "), ("changed", "billing"), ("same", ", urgent")],
                [("same", "queue: "), ("changed", "refunds"), ("same", ", urgent"), ("changed", "!")],
            ),
        ),
        ("", "new text", ([], [("changed", "new text")])),
        (
            "x" * 15_000,
            "y" * 15_000,
            (
                [("changed", "x" * CELL_CHARS), ("same", "… (11000 more characters)")],
                [("changed", "y" * CELL_CHARS), ("same", "… (11000 more characters)")],
            ),
        ),
    ],
)
def test_outputs_are_highlighted_word_by_word(base: str, head: str, shown: tuple[list[tuple[str, str]], ...]) -> None:
    assert highlight(base, head) == shown


def test_report_shows_trend_comparison_and_filterable_cases(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    repo, c1, _, c3 = three_commits(tmp_path / "repo")
    repo.git("revert", "--no-edit", c3)
    out = tmp_path / "out" / "report.html"
    result = run_cli(["report", "--html", str(out), "--base", c1, "--head", c3, "-q"], repo.path)
    assert (result.code, result.out, result.err) == (0, f"wrote {out}\n", "")
    dom = read_dom(out)
    assert dom.one("head").one("title").text() == "promptgit report"
    [log] = cli_json(run_cli, repo.path, ["log", "--json", "--no-eval"])
    scores = [f"{e['score'] * 100:.1f}%" for e in log["entries"]]
    assert scores == ["30.0%", "80.0%", "30.0%"]
    assert [(c.attrs["data-score"], c.attrs["data-state"]) for c in dom.find_all("circle")] == [
        ("30.0%", "kept"),
        ("80.0%", "reverted"),
        ("30.0%", "kept"),
    ]
    bands = [f"{e['score'] * 100:.1f}% [{e['ci'][0] * 100:.1f}, {e['ci'][1] * 100:.1f}]" for e in log["entries"]]
    assert [c.one("title").text().split(" ", 2)[2] for c in dom.find_all("circle")] == [
        f"naive prompt: {bands[0]}, kept",
        f"answer with one queue: {bands[1]}, reverted",
        f'Revert "answer with one queue": {bands[2]}, kept',
    ]
    [comparison] = cells(dom, "comparison", by="class")
    delta = comparison[2]
    assert comparison[:2] == ["30.0%", "80.0%"]
    assert delta.startswith("+50.0 [") and delta.endswith("] significant")
    assert comparison[3:] == ["p < 0.001", "22", "2", str(N), "0"]
    [summary] = cells(dom, "summary")
    assert summary == ["route", "80.0% " + summary[1].split(" ", 1)[1], "30.0%", "80.0%", delta, "-"]
    rows = dom.one("table", id="suite1-route-cases").one("tbody").find_all("tr")
    assert len(rows) == N
    assert statuses(rows, "regressed") == REGRESSED
    assert statuses(rows, "improved") == IMPROVED
    assert statuses(rows, "failed") == sorted(f"c{i:03d}" for i in range(N) if i not in GOOD_RIGHT)
    # Scripts off: every row shows; the filter buttons, which need the script, are hidden.
    assert not [r for r in rows if "hidden" in r.attrs]
    assert "hidden" in dom.one("div", class_="filters").attrs
    # Each button counts the rows it shows, over the whole suite.
    failing = N - len(GOOD_RIGHT)
    assert filter_buttons(dom) == [("all", N), ("failed", failing), ("regressed", 2), ("improved", 22)]
    assert (len(REGRESSED), len(IMPROVED)) == (2, 22)
    assert "hidden" in dom.one("div", class_="pager").attrs and not dom.find_all("p", class_="paging-note")
    # A case that regressed: expected, both outputs (the changed word marked), no reasons from exact_match.
    first = next(r for r in rows if r.find_all("td")[0].text() == REGRESSED[0])
    texts = [td.text() for td in first.find_all("td")]
    i = int(REGRESSED[0][1:])
    assert texts == [
        REGRESSED[0],
        "regressed failed",
        "100% → 0%",
        LABELS[i % 4],
        LABELS[i % 4],
        LABELS[(i + 1) % 4],
        f"exact_match: expected {LABELS[i % 4]!r}, got {LABELS[(i + 1) % 4]!r}",
    ]
    assert [s.text() for s in first.find_all("span", class_="changed")] == [LABELS[i % 4], LABELS[(i + 1) % 4]]


def test_ci_and_diff_write_the_page_beside_their_other_outputs(openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    data = dataset(8, naive_right=set(range(8)), good_right=set(range(4, 8)))
    repo, c1, c2 = two_versions(tmp_path / "repo", data, gates="threshold: 0.9\n")
    # The fake model answers one line; its answers table gives the multi-line hostile outputs (as in test_ci).
    answers = {}
    for i in range(4):
        args = ["render", "route", "--suite", "route", "--case", f"c{i:03d}", "--json"]
        answers[cli_json(run_cli, repo.path, args)["messages"][-1]["content"]] = f"{EVIL} case {i}"
    openai_server.configure(answers=answers)
    page = tmp_path / "ci.html"
    document = cli_json(
        run_cli, repo.path, ["ci", "--base", c1, "--head", c2, "--html", str(page), "--json", "--no-bisect"], code=1
    )
    dom = read_dom(page)
    assert dom.one("span", id="verdict").text() == document["verdict"] == "fail"
    gate = dom.one("p", class_="gate")
    assert gate.text() == f"fail: {document['suites'][0]['reason']}"
    rows = dom.one("table", class_="cases").one("tbody").find_all("tr")
    assert statuses(rows, "regressed") == ["c000", "c001", "c002", "c003"]
    shown = [[td.text() for td in r.find_all("td")][5] for r in rows if "regressed" in (r.attrs["data-status"] or "")]
    # Shown verbatim, as the output was stored (its carriage return comes back a line feed: test_ci's SHOWN_EVIL).
    assert shown == [f"{EVIL} case {i}".replace("\r", "\n") for i in range(4)]
    # Both versions were stored by this run: the trend draws them from the store.
    assert [(c.attrs["data-score"], c.attrs["data-state"]) for c in dom.find_all("circle")] == TWO_VERSIONS

    requests = len(openai_server.requests)
    diff_page = tmp_path / "diff.html"
    result = run_cli(["diff", c1, c2, "--html", str(diff_page), "-q"], repo.path)
    assert result.code == 1, result.err  # the gate ci failed fails diff too
    assert len(openai_server.requests) == requests  # both sides stored by `ci`
    dom = read_dom(diff_page)
    assert dom.one("head").one("title").text() == "promptgit diff"
    assert not dom.find_all("span", id="verdict")
    assert statuses(dom.one("table", class_="cases").one("tbody").find_all("tr"), "regressed") == [
        "c000",
        "c001",
        "c002",
        "c003",
    ]
    assert [(c.attrs["data-score"], c.attrs["data-state"]) for c in dom.find_all("circle")] == TWO_VERSIONS


def test_report_without_a_base_shows_the_latest_scores_and_failed_cases(
    openai_server: Server, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    repo, c1, _, _ = three_commits(tmp_path / "repo")
    cli_json(run_cli, repo.path, ["eval", "--rev", c1, "--json"])
    requests = len(openai_server.requests)
    out = tmp_path / "report.html"
    assert run_cli(["report", "--html", str(out), "--no-eval"], repo.path).code == 0
    assert len(openai_server.requests) == requests
    dom = read_dom(out)
    assert [c.attrs["data-score"] for c in dom.find_all("circle")] == ["30.0%"]
    assert [g.one("title").text().split(" ", 2)[2] for g in dom.find_all("line", class_="gap")] == [
        "answer with one queue (not scored yet, kept)"
    ]
    rows = dom.one("table", class_="cases").one("tbody").find_all("tr")
    assert statuses(rows, "failed") == sorted(f"c{i:03d}" for i in range(N) if i not in NAIVE_RIGHT)
    assert filter_buttons(dom) == [("all", N), ("failed", N - len(NAIVE_RIGHT))]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--html", "x.html", "--head", "HEAD"], "promptgit: error: --head needs --base"),
        (
            ["report", "--html", "README.md/x.html", "--no-eval"],
            "promptgit: error: cannot write the HTML report to README.md/x.html",
        ),
        (["report", "--html", "x.html", "nosuch", "--no-eval"], "promptgit: error: no suite named 'nosuch'"),
    ],
)
def test_bad_report_arguments_are_exit_2(tmp_path: Path, run_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = three_commits(tmp_path / "repo")
    result = run_cli(args, repo.path)
    assert result.code == 2
    assert result.err.startswith(message), result.err
    assert "Traceback" not in result.err


def read_dom(path: Path) -> Node:
    """A written page, parsed and checked like page_dom."""
    dom = parse(path.read_text(encoding="utf-8"))
    assert_offline_and_inert(dom)
    return dom


def filter_buttons(dom: Node) -> list[tuple[str, int]]:
    """The filter buttons as (filter word, the count it shows)."""
    buttons = dom.one("div", class_="filters").find_all("button")
    return [(b.attrs["data-filter"] or "", int(b.one("span", class_="count").text())) for b in buttons]


def statuses(rows: list[Node], word: str) -> list[str]:
    """The ids of the rows whose status holds `word`, sorted."""
    return sorted(r.find_all("td")[0].text() for r in rows if word in (r.attrs["data-status"] or "").split())


def test_a_case_that_expects_null_shows_null_as_the_terminal_does() -> None:
    # An expected null (a delivery date that is not in the text) must not read as an expected empty string.
    base = suite((case("none", 1.0, outputs=("null",), expected=None), case("empty", 1.0, outputs=("",), expected="")))
    head = suite(
        (case("none", 0.0, outputs=("2026-03-13",), expected=None), case("empty", 1.0, outputs=("",), expected=""))
    )
    logs = (
        SuiteLog(
            "s", (LogEntry(commit(1, "a"), "f", base, None, KEPT), LogEntry(commit(2, "b"), "g", head, -0.5, KEPT))
        ),
    )
    dom = page_dom(HtmlInput("nulls", logs, diff=_report(compare_results("s", base, head))))
    section = dom.one("section", class_="suite")
    rows = cells(dom, section.attrs["id"] + "-cases")  # type: ignore[operator]
    assert [(row[0], row[3]) for row in rows] == [("none", "null"), ("empty", "")]


# Kinds of text that would end or break a JSON block inside <script> if it went in raw: the end tag in
# any case and with spaces, a comment opener (which makes the parser look for </script> differently), a
# CDATA end, an escaped slash, the JavaScript line separators, and quotes and backslashes of JSON itself.
JSON_HOSTILE = [
    *HOSTILE,
    "</SCRIPT >alert(1)",
    "<!--<script>alert(1)//-->",
    "]]></script><script>alert(1)</script>",
    "<\\/script>\\u003c/script>",
    "line\u2028separator\u2029paragraph",
    '"]},{"x": 1} \\" \\\\',
]


@pytest.mark.parametrize("text", JSON_HOSTILE)
def test_the_case_data_block_holds_any_string_as_data(text: str) -> None:
    dom = page_dom(page_with([text, "refunds"]))
    [block] = dom.find_all("script", type="application/json")
    raw = block.text()
    assert "<" not in raw and ">" not in raw and "&" not in raw and "\u2028" not in raw
    seen = shown(text).replace("\r", "\n")
    # [id, status, score, expected, base, head, reasons, coarse]: head differs wholly, so it is one change.
    assert (
        json.loads(raw)
        == [
            ["c0", "regressed failed", "100% → 0%", seen, ["", "refunds"], ["", seen], seen, 0],
            ["c1", "regressed failed", "100% → 0%", "refunds", ["refunds"], 1, "refunds", 0],
        ]
        or text == "refunds"
    )


def test_a_long_suite_shows_its_first_page_and_counts_every_case() -> None:
    n = 250
    base = suite(tuple(case(f"c{i:03d}", float(i % 5 != 0), outputs=("refunds",)) for i in range(n)))
    head = suite(tuple(case(f"c{i:03d}", float(i % 7 != 0), outputs=("refunds",)) for i in range(n)))
    dom = page_dom(HtmlInput("long", diff=_report(compare_results("s", base, head))))
    rows = dom.one("table", class_="cases").one("tbody").find_all("tr")
    assert [r.find_all("td")[0].text() for r in rows] == [f"c{i:03d}" for i in range(100)]
    assert dom.one("p", class_="paging-note").text() == (
        "The first 100 of 250 cases; with scripts on, the page pages through all of them."
    )
    regressed = [i for i in range(n) if i % 5 != 0 and i % 7 == 0]
    improved = [i for i in range(n) if i % 5 == 0 and i % 7 != 0]
    failed = [i for i in range(n) if i % 7 == 0]
    assert (len(regressed), len(improved), len(failed)) == (28, 42, 36)
    assert filter_buttons(dom) == [("all", 250), ("failed", 36), ("regressed", 28), ("improved", 42)]
    data = json.loads(dom.one("script", type="application/json").text())
    assert [row[0] for row in data] == [f"c{i:03d}" for i in range(n)]
    assert [row[0] for row in data if "regressed" in row[1].split()] == [f"c{i:03d}" for i in regressed]
    assert [row[0] for row in data if "failed" in row[1].split()] == [f"c{i:03d}" for i in failed]
    assert {(row[4][0], row[5]) for row in data} == {("refunds", 1)}  # an unchanged output is sent once


WORDS_A = " ".join(f"a{i}" for i in range(400))  # 799 tokens: 400 words and the spaces between
WORDS_B = " ".join(f"b{i}" for i in range(400))


@pytest.mark.parametrize(
    ("base", "head", "shown", "coarse"),
    [
        # Nothing in common and past DIFF_WORK (799 x 799 tokens): one change a side.
        (WORDS_A, WORDS_B, ([("changed", WORDS_A)], [("changed", WORDS_B)]), True),
        # A long common start and end around a long change: those stay, the middle is marked whole.
        (
            f"start {WORDS_A} end.",
            f"start {WORDS_B} end.",
            (
                [("same", "start "), ("changed", WORDS_A), ("same", " end.")],
                [("same", "start "), ("changed", WORDS_B), ("same", " end.")],
            ),
            True,
        ),
        # Changed at both ends: nothing common to take off, and the middle is long.
        (
            f"x {WORDS_A} y",
            f"z {WORDS_A} w",
            ([("changed", f"x {WORDS_A} y")], [("changed", f"z {WORDS_A} w")]),
            True,
        ),
        # One word changed in a long output: the common ends leave one token each, compared word by word.
        (
            f"{WORDS_A} tail {WORDS_A}",
            f"{WORDS_A} TAIL {WORDS_A}",
            (
                [("same", f"{WORDS_A} "), ("changed", "tail"), ("same", f" {WORDS_A}")],
                [("same", f"{WORDS_A} "), ("changed", "TAIL"), ("same", f" {WORDS_A}")],
            ),
            False,
        ),
        # A long output against an empty one: nothing to compare with, so no work at all.
        ("", WORDS_A, ([], [("changed", WORDS_A)]), False),
    ],
)
def test_long_outputs_bound_the_diff_and_say_so(
    base: str, head: str, shown: tuple[list[tuple[str, str]], ...], coarse: bool
) -> None:
    assert highlight(base, head) == shown
    dom = page_dom(page_with_outputs(base, head))
    notes = dom.find_all("p", class_="coarse-note")
    assert [n.text() for n in notes] == (
        ["1 changed output is too long to compare word by word: each marks its differing middle as a whole."]
        if coarse
        else []
    )
    head_cell = dom.one("td", class_="head")
    assert [s.attrs["title"] for s in head_cell.find_all("span", class_="diff-note")] == (
        ["long output: its differing middle is marked as a whole, not word by word"] if coarse else []
    )
    assert json.loads(dom.one("script", type="application/json").text())[0][7] == int(coarse)


def page_with_outputs(base: str, head: str) -> HtmlInput:
    """A page of one suite, one case, answered `base` at base and `head` at head."""
    diff = compare_results("s", suite((case("c0", 1.0, outputs=(base,)),)), suite((case("c0", 1.0, outputs=(head,)),)))
    return HtmlInput("long outputs", diff=_report(diff))
