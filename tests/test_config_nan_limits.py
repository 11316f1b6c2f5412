"""Found: `--max-cost nan`, `max_cost: .nan` (and `--time-limit nan`, `timeout: .nan`) were accepted: NaN
passes every `< 0` check, and `spent >= nan` is never true, so the run asked for a cost limit ran unbounded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


@pytest.mark.parametrize("args", [["--max-cost", "nan"], ["--time-limit", "nan"], ["--max-cost", "NaN"]])
def test_nan_limits_on_the_command_line_are_refused(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result], args: list[str]
) -> None:
    root = labelled_project(write, 3, wrong=set())
    result = run_cli(["eval", "--model", "openai/gpt-4o-mini", *args], root)  # a priced model: max_cost can bound it
    assert result.code == 2
    assert len(openai_server.requests) == 0


@pytest.mark.parametrize("setting", ["max_cost: .nan", "timeout: .nan"])
def test_nan_limits_in_settings_are_refused(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result], setting: str
) -> None:
    root = labelled_project(write, 3, wrong=set(), settings=setting + "\n")
    result = run_cli(["eval"], root)
    assert result.code == 2, result.out
    assert "promptgit.yaml" in result.err and "NaN" in result.err
    assert len(openai_server.requests) == 0
