"""JUnit XML (issue 17, item 3): `eval --junit` and `ci --junit`, valid against the common schema, hostile text kept."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema

from promptgit import stats
from promptgit.commands.eval import EvalReport
from promptgit.evaluate import CaseResult, SuiteResult
from promptgit.gates import Gate
from promptgit.junit import eval_junit, xml_text
from tests.conftest import Result
from tests.openai_server import Server
from tests.test_ci import two_versions
from tests.test_git_native import dataset

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).parent / "data" / "junit.xsd"))

# Markup, an XML end of CDATA, entities, and characters XML 1.0 cannot hold at all.
HOSTILE = "</failure><script>alert('x')</script> ]]> &amp; \"quoted\"\x00\x1b\x0b\ud800\ufffe ok"
HOSTILE_KEPT = "</failure><script>alert('x')</script> ]]> &amp; \"quoted\" ok"


def case(id: str, score: float | None, **more: object) -> CaseResult:
    """A case result; passed when its score is 1."""
    fields: dict[str, object] = {"expected": "refunds", "outputs": (), "repeat_scores": ()}
    passed = None if score is None else score >= 1.0
    return CaseResult(id, score, passed, **{**fields, **more})  # type: ignore[arg-type]


def suite(cases: tuple[CaseResult, ...], **more: object) -> SuiteResult:
    """A suite result holding `cases`."""
    fields: dict[str, object] = {
        "name": "support/classify",
        "prompt": "support/classify",
        "path": "evals/support/classify.yaml",
        "fingerprint": "f" * 64,
        "revision": "a" * 40,
        "score": 0.5,
        "ci": stats.Interval(0.25, 0.75),
        "cases": cases,
        "threshold": 0.7,
        "max_drop": None,
        "repeat": 1,
        "seconds": 12.3456,
        "model": "openai/test-model",
    }
    return SuiteResult(**{**fields, **more})  # type: ignore[arg-type]


def parse(document: bytes) -> ET.Element:
    """The document's root, once it validates against the JUnit schema (xmlschema raises otherwise)."""
    SCHEMA.validate(document.decode("utf-8"))
    return ET.fromstring(document)


def test_every_kind_of_case_with_hostile_text() -> None:
    cases = (
        case("ok", 1.0, outputs=("refunds",)),
        case("wrong <1>", 0.0, outputs=(HOSTILE,), reasons=("exact_match: " + HOSTILE,), expected=HOSTILE),
        case("err", None, error="RateLimitError: too many\nsecond line"),
        case("late", None),
    )
    result = suite(cases, stopped="time limit reached")
    report = EvalReport("a" * 40, (result,), (Gate("support/classify", "inconclusive", "time limit reached"),))
    document = eval_junit(report)
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuites")
    root = parse(document)
    assert root.attrib == {"name": "promptgit", "tests": "4", "failures": "1", "errors": "1", "time": "12.346"}
    [testsuite] = root
    assert testsuite.attrib == {
        "name": "support/classify",
        "tests": "4",
        "failures": "1",
        "errors": "1",
        "skipped": "1",
        "time": "12.346",
        "file": "evals/support/classify.yaml",
    }
    properties = {p.get("name"): p.get("value") for p in testsuite.find("properties") or []}
    assert properties == {
        "score": "0.5000",
        "interval": "[0.2500, 0.7500]",
        "fingerprint": "f" * 64,
        "revision": "a" * 40,
        "prompt": "support/classify",
        "model": "openai/test-model",
        "threshold": "0.7000",
        "max_drop": "",
        "repeat": "1",
        "verdict": "inconclusive",
        "reason": "time limit reached",
        "stopped": "time limit reached",
    }
    ok, wrong, err, late = testsuite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in (ok, wrong, err, late)] == [
        ("support/classify", "ok"),
        ("support/classify", "wrong <1>"),
        ("support/classify", "err"),
        ("support/classify", "late"),
    ]
    assert list(ok) == []
    [failure] = list(wrong)
    assert failure.tag == "failure" and failure.get("type") == "score"
    assert failure.get("message") == "exact_match: " + HOSTILE_KEPT
    assert failure.text == (
        f"score: 0.0000\nexpected: {HOSTILE_KEPT}\noutput: {HOSTILE_KEPT}\nreason: exact_match: {HOSTILE_KEPT}"
    )
    [error] = list(err)
    assert (error.tag, error.get("type"), error.get("message")) == ("error", "model_error", "RateLimitError: too many")
    assert error.text == "RateLimitError: too many\nsecond line"
    [skipped] = list(late)
    assert (skipped.tag, skipped.get("message")) == ("skipped", "not evaluated: time limit reached")


def test_repeats_and_missing_values() -> None:
    cases = (case("r", 0.5, outputs=("a", "b"), repeat_scores=(1.0, 0.0)),)
    result = suite(cases, score=None, ci=stats.Interval(float("nan"), float("nan")), model=None, threshold=None)
    root = parse(eval_junit(EvalReport("WORKTREE", (result,), ())))
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (properties["score"], properties["interval"], properties["model"], properties["threshold"]) == (
        "",
        "",
        "",
        "",
    )
    assert "verdict" not in properties
    [failure] = root.iter("failure")
    assert failure.get("message") == "score 0.5000 below pass_at"
    assert failure.text == "score: 0.5000\nexpected: refunds\noutput (repeat 1): a\noutput (repeat 2): b"


@pytest.mark.parametrize(
    "document",
    [
        '<testsuites><testsuite name="s" failures="0" errors="0"/></testsuites>',  # no tests count
        '<testsuites><testsuite name="s" tests="1" failures="0" errors="0" time="1s"/></testsuites>',
        '<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>',
    ],
)
def test_the_schema_refuses_what_dashboards_cannot_read(document: str) -> None:
    assert not SCHEMA.is_valid(document)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("a\x00b", "ab"),  # NUL
        ("tab\tnl\ncr\r", "tab\tnl\ncr\r"),  # the three controls XML 1.0 allows
        ("\x01\x08\x0c\x1f\x7f", "\x7f"),  # C0 controls go; DEL is a legal XML 1.0 character
        ("\ud83d lone surrogate", " lone surrogate"),
        ("\ufffe\uffff end", " end"),
        ("emoji 🎉 and CJK 中文", "emoji 🎉 and CJK 中文"),
        (None, "null"),
    ],
)
def test_xml_text_drops_only_what_xml_forbids(raw: str | None, kept: str) -> None:
    assert xml_text(raw) == kept


def test_eval_junit_from_the_cli(openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    repo, _, _ = two_versions(tmp_path / "repo", dataset(n=8, naive_right={0, 1}, good_right={0, 1, 2, 3, 4, 5}))
    out = tmp_path / "out" / "junit.xml"
    result = run_cli(["eval", "--json", "--junit", str(out)], repo.path)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    root = parse(out.read_bytes())
    [testsuite] = root
    assert (testsuite.get("name"), testsuite.get("tests"), testsuite.get("failures"), testsuite.get("errors")) == (
        "route",
        "8",
        "2",
        "0",
    )
    failed = sorted(c.get("name", "") for c in testsuite.iter("testcase") if c.find("failure") is not None)
    assert failed == ["c006", "c007"]
    assert failed == sorted(c["id"] for c in document["suites"][0]["results"] if not c["passed"])
    failure = next(c for c in testsuite.iter("testcase") if c.get("name") == "c006").find("failure")
    assert failure is not None
    reason = "exact_match: expected 'technical_support', got 'account_access'"
    assert failure.get("message") == reason
    assert failure.text == f"score: 0.0000\nexpected: technical_support\noutput: account_access\nreason: {reason}"


def test_model_errors_are_junit_errors(openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    repo, _, _ = two_versions(tmp_path / "repo", dataset(n=8))
    openai_server.configure(rates={"400": 1.0})  # every call refused, not retried
    out = tmp_path / "junit.xml"
    result = run_cli(["eval", "--junit", str(out), "-q"], repo.path)
    assert result.code == 3, result.err  # too many errors: inconclusive
    root = parse(out.read_bytes())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "0", "8")
    errors = list(root.iter("error"))
    assert len(errors) == 8
    assert all(e.get("type") == "model_error" and "injected bad request" in (e.text or "") for e in errors)


def test_ci_junit_has_the_head_side_and_the_comparison(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset())
    out = tmp_path / "ci.xml"
    result = run_cli(["ci", "--base", c1, "--head", c2, "--no-pull", "--junit", str(out), "-q"], repo.path)
    assert result.code == 0, result.err
    [testsuite] = parse(out.read_bytes())
    assert (testsuite.get("tests"), testsuite.get("failures"), testsuite.get("errors")) == ("40", "8", "0")
    properties = {p.get("name"): p.get("value") for p in testsuite.iter("property")}
    assert properties["score"] == "0.8000"
    assert properties["base_score"] == "0.3000"
    assert properties["delta"] == "0.5000"
    assert properties["delta_significant"] == "true"
    assert float(properties["delta_p_value"]) < 0.001
    assert (properties["base_revision"], properties["head_revision"], properties["revision"]) == (c1, c2, c2)
    assert (properties["verdict"], properties["reason"]) == (
        "pass",
        "improved significantly (p < 0.001, 22 up / 2 down), within the gates",
    )
    assert {c.get("classname") for c in testsuite.iter("testcase")} == {"route"}


@pytest.mark.parametrize(
    ("where", "said"),
    [
        (
            "blocker/junit.xml",
            "promptgit: error: cannot write the JUnit XML to {path}: File exists",
        ),  # mkdir of the parent
        ("folder", "Error: Invalid value for '--junit': File '{path}' is a directory."),
    ],
)
def test_an_unwritable_junit_path_is_a_usage_error(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], where: str, said: str
) -> None:
    repo, _, _ = two_versions(tmp_path / "repo", dataset(n=4))
    (tmp_path / "blocker").write_text("a file where a folder would go", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    result = run_cli(["eval", "-q", "--junit", str(tmp_path / where)], repo.path)
    assert result.code == 2
    assert said.format(path=tmp_path / where) in result.err.splitlines()
