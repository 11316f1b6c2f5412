"""Found: `eval --failing --repeat K` after a run at the suite's own repeat said `no case failed in its stored
result` and ran nothing, though every case had failed: the failing cases were looked for at K repeats, which
no run had stored. And a run that selected nothing printed an empty table's header under the note."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


def test_failing_with_more_repeats_reruns_the_failed_cases(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 8, wrong={2, 5})
    assert run_cli(["eval", "-q"], root).code == 0
    result = run_cli(["eval", "--json", "--failing", "--repeat", "3"], root)
    assert "no case failed" not in result.err
    (suite,) = json.loads(result.out)["suites"]
    assert sorted(r["id"] for r in suite["results"]) == ["c002", "c005"]
    assert (suite["repeat"], suite["calls"], suite["cached"]) == (3, 4, 2)


def test_a_run_that_selects_nothing_prints_no_empty_table(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 4, wrong=set())
    run_cli(["eval", "-q"], root)
    result = run_cli(["eval", "--failing"], root)
    assert (result.code, result.err.strip(), result.out.strip()) == (
        0,
        "route: no case failed in its stored result",
        "",
    )
