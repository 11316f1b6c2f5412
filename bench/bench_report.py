"""Benchmark the HTML report at suite sizes people run (1,000 / 10,000 / 50,000 cases), base vs head.

Builds seeded base and head results in-process (no model: the page is what is timed), compares them as
`diff --html` does, renders the page, and loads it in Debian's headless Chromium through Selenium for the
browser's own timings (Navigation Timing's domInteractive and loadEventEnd, Paint Timing's first
contentful paint). Outputs: sentences of 20-60 words; 10% of cases change a few words between base and
head, 0.5% are long (about 8,000 characters) and change; 30% fail.

    .venv/bin/python bench/bench_report.py [--sizes 1000,10000,50000] [--no-browser]
    .venv/bin/python bench/bench_report.py --diff-cost   # one word diff's time by output length (DIFF_WORK)
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptgit import stats
from promptgit.compare import DiffReport, compare_results
from promptgit.evaluate import CaseResult, SuiteResult
from promptgit.html_report import HtmlInput, render_html

WORDS = [
    "the",
    "refund",
    "was",
    "sent",
    "to",
    "your",
    "account",
    "billing",
    "queue",
    "urgent",
    "please",
    "wait",
    "order",
    "shipped",
    "delayed",
    "today",
]


def _case(case_id: str, passed: bool, output: str, expected: str) -> CaseResult:
    return CaseResult(case_id, 1.0 if passed else 0.0, passed, expected=expected, outputs=(output,), repeat_scores=())


def _suite(cases: list[CaseResult]) -> SuiteResult:
    score = sum(1 for c in cases if c.passed) / len(cases)
    return SuiteResult(
        name="support/classify",
        prompt="support/classify",
        path="evals/support/classify.yaml",
        fingerprint="f" * 64,
        revision="a" * 40,
        score=score,
        ci=stats.Interval(score - 0.01, score + 0.01),
        cases=tuple(cases),
        threshold=0.7,
        max_drop=None,
        repeat=1,
        seconds=1.0,
        model="openai/test-model",
    )


def suites(n: int, seed: int = 7) -> tuple[SuiteResult, SuiteResult]:
    """Base and head of n cases, as the module docstring lays out."""
    rng = random.Random(seed)
    base, head = [], []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
        long = rng.random() < 0.005
        if long:
            words = [rng.choice(WORDS) for _ in range(1_400)]
        text = " ".join(words)
        changed = long or rng.random() < 0.10
        new = list(words)
        if changed:
            for _ in range(3 if not long else 200):
                new[rng.randrange(len(new))] = rng.choice(WORDS)
        passed_base = rng.random() > 0.3
        passed_head = passed_base if not changed else rng.random() > 0.3
        expected = rng.choice(WORDS)
        base.append(_case(f"c{i:06d}", passed_base, text, expected))
        head.append(_case(f"c{i:06d}", passed_head, " ".join(new), expected))
    return _suite(base), _suite(head)


def render(n: int) -> tuple[str, float]:
    """The page for n cases and the seconds compare + render took (best of 1: the big ones take long)."""
    base, head = suites(n)
    start = time.perf_counter()
    diff = compare_results("support/classify", base, head)
    html = render_html(HtmlInput("promptgit diff", diff=DiffReport("a" * 40, "b" * 40, (diff,))))
    return html, time.perf_counter() - start


def browser_timings(page: Path) -> dict[str, float]:
    """Milliseconds from navigation start to DOM interactive, first contentful paint and load end, in Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp()
    flags = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
    for flag in (*flags, "--window-size=1280,1600", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.set_page_load_timeout(600)
        driver.get(page.as_uri())
        # The load event can end after `get` returns on a big page: wait for it, up to ten minutes.
        deadline = time.monotonic() + 600
        loaded = "var n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : 0;"
        while not driver.execute_script(loaded) and time.monotonic() < deadline:
            time.sleep(0.1)
        timings: dict[str, Any] = driver.execute_script(
            "var n = performance.getEntriesByType('navigation')[0];"
            "var p = performance.getEntriesByName('first-contentful-paint')[0];"
            "return {interactive: n.domInteractive, load: n.loadEventEnd, paint: p ? p.startTime : -1};"
        )
        # A filter click, to the table laid out again (reading offsetHeight forces the layout).
        timings["filter"] = driver.execute_script(
            "var b = document.querySelector('.filters button[data-filter=\"failed\"]');"
            "var t = performance.now(); b.click(); document.body.offsetHeight; return performance.now() - t;"
        )
        return {k: float(v) for k, v in timings.items()}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def diff_cost() -> None:
    """Milliseconds one word diff takes (difflib, as html_report runs it) by tokens a side, 5% of words changed."""
    from promptgit.html_report import _WORDS

    rng = random.Random(1)
    print("| tokens a side | one diff |")
    print("|---|---|")
    for words in (100, 150, 200, 300, 400, 700):
        left = [rng.choice(WORDS) for _ in range(words)]
        right = list(left)
        for _ in range(words // 20):
            right[rng.randrange(words)] = rng.choice(WORDS)
        a, b = _WORDS.findall(" ".join(left)), _WORDS.findall(" ".join(right))
        best = min(_diff_seconds(a, b) for _ in range(5))
        print(f"| {len(a)} | {best * 1000:.1f} ms |")


def _diff_seconds(a: list[str], b: list[str]) -> float:
    import difflib

    start = time.perf_counter()
    difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--diff-cost", action="store_true", help="only time one word diff by output length")
    args = parser.parse_args()
    if args.diff_cost:
        diff_cost()
        return
    print("| cases | compare + render | page | first contentful paint | DOM interactive | load end | filter click |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(s) for s in args.sizes.split(",")):
            html, seconds = render(n)
            page = Path(folder) / f"report-{n}.html"
            page.write_text(html, "utf-8")
            size = page.stat().st_size / 1e6
            t = dict.fromkeys(("paint", "interactive", "load", "filter"), -1.0)
            if not args.no_browser:
                t = browser_timings(page)
            print(
                f"| {n:,} | {seconds:.2f} s | {size:.1f} MB | {t['paint'] / 1000:.2f} s "
                f"| {t['interactive'] / 1000:.2f} s | {t['load'] / 1000:.2f} s | {t['filter']:.0f} ms |",
                flush=True,
            )


if __name__ == "__main__":
    main()
