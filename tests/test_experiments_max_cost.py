"""Found: a suite whose jobs all stopped at the cost limit showed a negative time (`"seconds": -0.015`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


def test_a_run_stopped_by_max_cost_never_shows_negative_seconds(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 6, wrong=set())
    result = run_cli(["eval", "--json", "--model", "openai/gpt-4o-mini", "--max-cost", "0"], root)
    assert result.code == 3, result.err
    (suite,) = json.loads(result.out)["suites"]
    assert suite["calls"] == 0
    assert suite["seconds"] >= 0
