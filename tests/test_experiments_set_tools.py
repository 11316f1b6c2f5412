"""Found: `--set tools=...` (and `--sweep tools=...`) skipped the checks front matter's `tools:` gets (tools.py),
though the spec says a --set value is "checked as front matter is": `--set tools=[1]` ran, sending every
call a tools list a provider rejects, and stored the run under its own fingerprint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--set", "tools=[1]"], "tools[0]: a tool is a mapping"),
        (["--set", 'tools=[{type: function, function: {name: "a b"}}]'], "function name 'a b' must be"),
        (["--sweep", "tools=[1],[2]"], "tools[0]: a tool is a mapping"),
        (
            [
                "--set",
                "tools=[{type: function, function: {name: ab}}]",
                "--set",
                "tool_choice={type: function, function: {name: zz}}",
            ],
            "tool_choice names 'zz'",
        ),
    ],
)
def test_set_tools_is_checked_as_front_matter_is(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result], args: list[str], said: str
) -> None:
    root = labelled_project(write, 4, wrong=set())
    result = run_cli(["eval", *args], root)
    assert result.code == 2, result.out
    assert said in result.err
    assert "Traceback" not in result.err
    assert len(openai_server.requests) == 0
