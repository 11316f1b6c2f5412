"""JUnit XML for CI dashboards: `eval --junit FILE` and `ci --junit FILE`.

The shape is the one Jenkins' xunit plugin checks (its junit-10.xsd, after Ant's XMLJUnitResultFormatter),
which GitLab, Azure DevOps and the GitHub test-report actions also read: <testsuites> holding a
<testsuite> per suite (name, tests, failures, errors, skipped, time in seconds, <properties>) holding a
<testcase> per case (classname = the suite's name, name = the case id). A case that was scored and
did not pass carries <failure> (expected, output and the scorers' reasons); a case whose model call
failed carries <error>; a case a time limit left unevaluated carries <skipped>. A case's own duration
is not measured (repeats and cached answers share one clock per suite), so only suites carry `time`.

Every string from a model or a dataset goes through ElementTree, which escapes markup; characters
XML 1.0 cannot hold at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF) are dropped first.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptgit.errors import write_output

if TYPE_CHECKING:
    from promptgit.commands.ci import CiReport
    from promptgit.commands.eval import EvalReport
    from promptgit.evaluate import CaseResult, SuiteResult
    from promptgit.gates import Gate

# XML 1.0 section 2.2, Char: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """`value` as text XML 1.0 can hold: None as `null`, forbidden characters removed (escaping is ElementTree's)."""
    return _NOT_XML.sub("", "null" if value is None else str(value))


def eval_junit(report: EvalReport) -> bytes:
    """The JUnit XML document (UTF-8 bytes) for an `eval` run: one <testsuite> per suite evaluated."""
    # report.gates pair with report.suites in order; with --model/--sweep each names its run ("route on
    # openai/x"), and that name is the testsuite's and its cases' classname, so two variants stay apart.
    if len(report.gates) != len(report.suites):
        gates = {g.suite: g for g in report.gates}
        return _document([_suite(r, gates.get(r.name), {}) for r in report.suites])
    named = report.side_by_side is not None
    return _document([_suite(r, g, {}, g.suite if named else None) for r, g in zip(report.suites, report.gates)])


def ci_junit(report: CiReport) -> bytes:
    """The JUnit XML document for a `ci` run: the head side of every judged suite (a removed suite has none)."""
    suites = []
    for diff in report.diff.suites:
        if diff.head is None:
            continue
        extra = {"base_revision": report.diff.base, "head_revision": report.diff.head}
        if diff.base is not None:
            extra["base_score"] = _number(diff.base.score)
        if diff.delta is not None:
            extra["delta"] = _number(diff.delta.delta)
            extra["delta_interval"] = _interval(diff.delta.ci.low, diff.delta.ci.high)
            extra["delta_significant"] = "true" if diff.delta.significant else "false"
            extra["delta_p_value"] = f"{diff.delta.p_value:.4g}"
        suites.append(_suite(diff.head, report.gate(diff.name), extra))
    return _document(suites)


def write_junit(path: Path, document: bytes) -> None:
    """Write a JUnit document to `path`, creating its folder; PromptgitError when the file cannot be written."""
    write_output(path, document, "the JUnit XML", "--junit")


def _document(suites: Sequence[ET.Element]) -> bytes:
    root = ET.Element("testsuites", name="promptgit")
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", _seconds(sum(float(s.get("time", "0")) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _suite(result: SuiteResult, gate: Gate | None, extra: dict[str, str], name: str | None = None) -> ET.Element:
    skipped = sum(1 for c in result.cases if c.score is None and c.error is None)
    label = name or result.name
    element = ET.Element(
        "testsuite",
        name=xml_text(label),
        tests=str(len(result.cases)),
        failures=str(result.failed - skipped),
        errors=str(result.errors),
        skipped=str(skipped),
        time=_seconds(result.seconds),
        file=xml_text(result.path),
    )
    properties = ET.SubElement(element, "properties")
    for name, value in _properties(result, gate, extra):
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    for case in result.cases:
        element.append(_case(result, case, label))
    return element


def _properties(result: SuiteResult, gate: Gate | None, extra: dict[str, str]) -> list[tuple[str, str]]:
    pairs = [
        ("score", _number(result.score)),
        ("interval", _interval(result.ci.low, result.ci.high)),
        ("fingerprint", result.fingerprint),
        ("revision", result.revision),
        ("prompt", result.prompt),
        ("model", result.model or ""),
        ("threshold", _number(result.threshold)),
        ("max_drop", _number(result.max_drop)),
        ("repeat", str(result.repeat)),
    ]
    if gate is not None:
        pairs += [("verdict", gate.verdict), ("reason", gate.reason)]
    if result.stopped:
        pairs.append(("stopped", result.stopped))
    return pairs + sorted(extra.items())


def _case(result: SuiteResult, case: CaseResult, suite: str) -> ET.Element:
    element = ET.Element("testcase", classname=xml_text(suite), name=xml_text(case.id))
    if case.error is not None:
        error = ET.SubElement(element, "error", message=xml_text(_first_line(case.error)), type="model_error")
        error.text = xml_text(case.error)
    elif case.score is None:
        ET.SubElement(element, "skipped", message=xml_text(f"not evaluated: {result.stopped or 'no score'}"))
    elif not case.passed:
        reasons = "; ".join(case.reasons) or f"score {_number(case.score)} below pass_at"
        failure = ET.SubElement(element, "failure", message=xml_text(_first_line(reasons)), type="score")
        failure.text = xml_text(_failure_text(case))
    return element


def _failure_text(case: CaseResult) -> str:
    lines = [f"score: {_number(case.score)}", f"expected: {'null' if case.expected is None else case.expected}"]
    for number, output in enumerate(case.outputs, start=1):
        label = "output" if len(case.outputs) == 1 else f"output (repeat {number})"
        lines.append(f"{label}: {output}")
    lines += [f"reason: {reason}" for reason in case.reasons]
    return "\n".join(lines)


def _first_line(text: str, width: int = 300) -> str:
    # Lines end at CR or LF only: splitlines() would also cut at a form feed or U+2028 inside an output.
    line = xml_text(text).strip().replace("\r", "\n").split("\n")[0]
    return line if len(line) <= width else line[: width - 1] + "…"


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def _interval(low: float, high: float) -> str:
    return "" if math.isnan(low) or math.isnan(high) else f"[{low:.4f}, {high:.4f}]"


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"
