"""Found: `eval --dry-run` ignored the run's knobs (--limit/--case/--shard, --repeat, --no-cache): it counted
the whole suite's calls at the suite's own repeat, so its count disagreed with what the run then did."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project

Run = Callable[..., Result]


def dry(run_cli: Run, root: Path, *args: str) -> dict:
    result = run_cli(["eval", "--dry-run", "--json", *args], root)
    assert result.code == 0, result.err
    (estimate,) = json.loads(result.out)["estimates"]
    return estimate


def calls_made(run_cli: Run, root: Path, *args: str) -> int:
    result = run_cli(["eval", "--json", *args], root)
    assert result.code in (0, 1), result.err
    return sum(s["calls"] for s in json.loads(result.out)["suites"])


def test_dry_run_counts_what_the_run_then_calls(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 10, wrong=set())
    for args in (["--limit", "3"], ["--case", "c001", "--case", "c004"], ["--shard", "1/3"]):
        assert dry(run_cli, root, *args)["calls"] == calls_made(run_cli, root, *args), args
    assert dry(run_cli, root, "--limit", "3")["cases"] == 3
    calls_made(run_cli, root)  # the whole suite stored at repeat 1
    assert dry(run_cli, root)["calls"] == 0
    # --repeat 3 makes two more calls a case; --no-cache calls every case afresh.
    assert dry(run_cli, root, "--repeat", "3")["calls"] == 20 == calls_made(run_cli, root, "--repeat", "3")
    assert (
        dry(run_cli, root, "--no-cache", "--limit", "4")["calls"]
        == 4
        == calls_made(run_cli, root, "--no-cache", "--limit", "4")
    )
