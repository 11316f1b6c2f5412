"""Found: `eval --model A --model B --junit FILE` wrote two <testsuite name="route"> with the same testcase
classname and names (a CI test reporter merges them: one model's results hide the other's), and neither had
its verdict and reason: the gates are named "route on A", so looking them up by "route" found none."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


def test_junit_keeps_each_variant_apart_with_its_verdict(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    root = labelled_project(write, 4, wrong={1})
    path = tmp_path / "junit.xml"
    result = run_cli(
        ["eval", "-q", "--model", "openai/test-model", "--model", "openai/other", "--junit", str(path)], root
    )
    assert result.code == 0, result.err
    suites = ET.parse(path).getroot().findall("testsuite")
    names = [s.get("name") for s in suites]
    assert names == ["route on openai/test-model", "route on openai/other"]
    for suite, name in zip(suites, names):
        properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert properties.get("verdict") == "pass"
        assert {c.get("classname") for c in suite.iter("testcase")} == {name}
    plain = tmp_path / "plain.xml"
    run_cli(["eval", "-q", "--junit", str(plain)], root)
    (suite,) = ET.parse(plain).getroot().findall("testsuite")
    assert suite.get("name") == "route"
    assert {c.get("classname") for c in suite.iter("testcase")} == {"route"}
