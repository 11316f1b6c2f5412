"""Found: `drift --limit/--case/--shard ...` compared a selection but showed it as the whole suite: no
`N of M cases (...): a selection, not the suite's score` line and no `selection` in --json, unlike eval
(docs/spec.md: "A selection is shown beside the table ... and in --json")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


def test_drift_shows_its_selection(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 10, wrong={1})
    assert run_cli(["eval", "-q"], root).code == 0
    text = run_cli(["drift", "--limit", "3"], root)
    assert text.code == 0, text.err
    assert "route: 3 of 10 cases (--limit 3): a selection, not the suite's score" in text.out
    document = json.loads(run_cli(["drift", "--json", "--case", "c001"], root).out)
    (suite,) = document["suites"]
    assert suite["selection"] == {"cases": 1, "of": 10, "by": ["--case c001"], "shard": None}
    whole = json.loads(run_cli(["drift", "--json"], root).out)
    assert whole["suites"][0]["selection"] is None
