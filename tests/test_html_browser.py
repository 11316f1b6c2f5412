"""The HTML report in a real browser (issue 17, item 2): Debian's headless Chromium, driven by Selenium.

Asserts on the DOM Chromium builds: the suites, their scores, the chart's points, the case filter
clicked and the rows left visible, and that the page asked for nothing but itself. A screenshot is
kept in the test's tmp folder. Skipped only when Chromium (or its driver, or Selenium) is missing and
CI is not set; under CI=true a missing browser fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.openai_server import Server
from tests.test_git_native import GOOD_RIGHT, IMPROVED, REGRESSED, N, three_commits

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless, and nothing of its own on the network: no updates, sync, safe-browsing lists or first-run pages.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if absent:
        return f"{' and '.join(absent)} not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile in tmp_path, logging the network requests it makes."""
    why = _missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def requested(driver: Any) -> list[tuple[str, str]]:
    """Every request Chromium began, as (the document asking, URL), from its performance log (DevTools events).

    Chromium's own pages (chrome://) load their resources too; the caller looks at what the page asked for.
    """
    found = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            found.append((params.get("documentURL", ""), params["request"]["url"]))
    return found


def test_the_report_in_chromium(browser: Any, openai_server: Server, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    repo, c1, _, c3 = three_commits(tmp_path / "repo")
    repo.git("revert", "--no-edit", c3)
    page = tmp_path / "report.html"
    assert run_cli(["report", "--html", str(page), "--base", c1, "--head", c3, "-q"], repo.path).code == 0
    browser.get(page.as_uri())

    assert browser.title == "promptgit report"
    sections = browser.find_elements(By.CSS_SELECTOR, "section.suite")
    assert [s.get_attribute("data-suite") for s in sections] == ["route"]
    summary = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#summary tbody td")]
    assert summary[0] == "route" and summary[1].startswith("80.0% [") and summary[2:4] == ["30.0%", "80.0%"]
    points = browser.find_elements(By.CSS_SELECTOR, "svg.trend circle.point")
    assert [(p.get_attribute("data-score"), p.get_attribute("data-state")) for p in points] == [
        ("30.0%", "kept"),
        ("80.0%", "reverted"),
        ("30.0%", "kept"),
    ]
    # Three versions evenly spaced from x 44 to 624; 30% and 80% on a 0–100% axis from y 184 up to 16.
    assert [(p.get_attribute("cx"), p.get_attribute("cy")) for p in points] == [
        ("44.0", "133.6"),
        ("334.0", "49.6"),
        ("624.0", "133.6"),
    ]
    assert all(p.is_displayed() for p in points)

    rows = browser.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")
    assert len(rows) == N
    filters = browser.find_element(By.CSS_SELECTOR, ".filters")
    assert filters.is_displayed()  # the script ran: the Content-Security-Policy let our pinned script through

    def visible_after(word: str) -> list[str]:
        filters.find_element(By.CSS_SELECTOR, f"button[data-filter='{word}']").click()
        rows = browser.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")  # the script drew them anew
        return sorted(r.find_element(By.TAG_NAME, "td").text for r in rows if r.is_displayed())

    assert visible_after("regressed") == REGRESSED
    assert visible_after("improved") == IMPROVED
    assert visible_after("failed") == sorted(f"c{i:03d}" for i in range(N) if i not in GOOD_RIGHT)
    assert len(visible_after("all")) == N
    pressed = filters.find_elements(By.CSS_SELECTOR, "button[aria-pressed='true']")
    assert [b.get_attribute("data-filter") for b in pressed] == ["all"]

    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    seen = requested(browser)
    assert [url for document, url in seen if document == page.as_uri()] == [page.as_uri()]  # itself, nothing more
    assert not [url for _, url in seen if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]  # nor Chromium


def test_hostile_strings_stay_text_in_chromium(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    from promptgit.html_report import render_html
    from tests.test_html_report import HOSTILE, page_with, shown

    page = tmp_path / "hostile.html"
    page.write_text(render_html(page_with(HOSTILE)), "utf-8")
    browser.get(page.as_uri())
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  (no payload opened a dialog)
    assert browser.title == "hostile"
    assert browser.execute_script("return document.scripts.length") == 2  # the cases' JSON, then our script
    assert browser.execute_script("return document.scripts[0].type") == "application/json"
    assert browser.execute_script("return document.querySelectorAll('img, iframe, svg svg').length") == 0
    outputs = [td.get_attribute("textContent") for td in browser.find_elements(By.CSS_SELECTOR, "td.text.head")]
    assert outputs == [shown(text).replace("\r", "\n") for text in HOSTILE]  # a browser reads CR as LF


def test_a_suite_of_3000_cases_pages_and_counts_every_case(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    from promptgit.compare import DiffReport, compare_results
    from promptgit.html_report import COARSE_NOTE, HtmlInput, render_html
    from tests.test_html_report import HOSTILE, WORDS_A, WORDS_B, shown
    from tests.test_junit import case, suite

    n = 3000
    # Base passes unless i % 5 == 0, head unless i % 7 == 0; the last cases' head answers are hostile.
    hostile = {n - len(HOSTILE) + k: text for k, text in enumerate(HOSTILE)}
    # Case c0000 answers 400 other words at head: too long to diff word by word.
    hostile[0] = WORDS_B
    outputs = {0: WORDS_A}
    base = suite(tuple(case(f"c{i:04d}", float(i % 5 != 0), outputs=(outputs.get(i, "refunds"),)) for i in range(n)))
    head = suite(tuple(case(f"c{i:04d}", float(i % 7 != 0), outputs=(hostile.get(i, "refunds"),)) for i in range(n)))
    page = tmp_path / "big.html"
    diff = compare_results("s", base, head)
    page.write_text(render_html(HtmlInput("big", diff=DiffReport("a" * 40, "b" * 40, (diff,)))), "utf-8")
    browser.get(page.as_uri())
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  (no payload opened a dialog)

    regressed = [f"c{i:04d}" for i in range(n) if i % 5 != 0 and i % 7 == 0]
    improved = [f"c{i:04d}" for i in range(n) if i % 5 == 0 and i % 7 != 0]
    failed = [f"c{i:04d}" for i in range(n) if i % 7 == 0]
    assert (len(regressed), len(improved), len(failed)) == (343, 514, 429)
    buttons = browser.find_elements(By.CSS_SELECTOR, ".filters button")
    assert [b.text for b in buttons] == ["all 3000", "failed 429", "regressed 343", "improved 514"]
    assert not browser.find_element(By.CSS_SELECTOR, ".paging-note").is_displayed()

    def click(selector: str) -> None:
        browser.find_element(By.CSS_SELECTOR, selector).click()

    def shown_ids() -> list[str]:
        return [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.cases tbody tr td:first-child")]

    def position() -> str:
        return str(browser.find_element(By.CSS_SELECTOR, ".pager .position").text)

    assert shown_ids() == [f"c{i:04d}" for i in range(100)]
    assert position() == "cases 1–100 of 3000 · page 1 of 30"
    first = browser.find_element(By.CSS_SELECTOR, "table.cases tbody tr")
    assert [s.text for s in first.find_elements(By.CSS_SELECTOR, "td.head span.changed")] == [WORDS_B]
    notes = first.find_elements(By.CSS_SELECTOR, "td.head span.diff-note")
    assert [n.get_attribute("title") for n in notes] == [COARSE_NOTE]
    assert browser.find_element(By.CSS_SELECTOR, ".coarse-note").text.startswith("1 changed output is too long")
    click(".pager button[data-page='next']")
    assert shown_ids() == [f"c{i:04d}" for i in range(100, 200)]
    click(".pager button[data-page='last']")
    assert shown_ids() == [f"c{i:04d}" for i in range(2900, 3000)]
    assert position() == "cases 2901–3000 of 3000 · page 30 of 30"
    assert browser.find_element(By.CSS_SELECTOR, ".pager button[data-page='next']").get_attribute("disabled")
    heads = [td.get_attribute("textContent") for td in browser.find_elements(By.CSS_SELECTOR, "td.text.head")]
    assert heads[-len(HOSTILE) :] == [shown(text).replace("\r", "\n") for text in HOSTILE]  # a browser reads CR as LF
    assert browser.execute_script("return document.querySelectorAll('img, iframe, svg svg').length") == 0

    for word, ids in (("regressed", regressed), ("improved", improved), ("failed", failed)):
        click(f".filters button[data-filter='{word}']")
        assert shown_ids() == ids[:100]
        click(".pager button[data-page='last']")
        pages = -(-len(ids) // 100)
        assert shown_ids() == ids[(pages - 1) * 100 :]
        assert position() == f"cases {(pages - 1) * 100 + 1}–{len(ids)} of {len(ids)} · page {pages} of {pages}"
        click(".pager button[data-page='first']")
        assert shown_ids() == ids[:100]
    click(".filters button[data-filter='all']")
    assert len(shown_ids()) == 100

    seen = requested(browser)
    assert [url for document, url in seen if document == page.as_uri()] == [page.as_uri()]
    assert not [url for _, url in seen if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]
