"""Found: `eval --model A --model B` summed tokens, cost and latency over every row stored at a variant's
fingerprint, not over the run's cases and repeats: after an earlier `--repeat 3` (or a wider run) A showed
three times B's tokens and cost for the very same calls, and `--limit 2` showed A's whole suite beside B's 2 cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


def tokens(run_cli: Callable[..., Result], root: Path, *args: str) -> list[int]:
    result = run_cli(["eval", "--json", "--model", "openai/test-model", "--model", "openai/other", *args], root)
    assert result.code in (0, 1), result.err
    return [s["tokens"] for m in json.loads(result.out)["models"] for s in m["suites"]]


def test_each_variant_counts_the_answers_of_its_own_run(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 6, wrong=set())
    assert run_cli(["eval", "-q", "--repeat", "3"], root).code == 0  # 18 rows stored for test-model
    a, b = tokens(run_cli, root)  # both at the suite's repeat: 1, same prompts, same answers
    assert a == b
    small_a, small_b = tokens(run_cli, root, "--limit", "2")
    assert small_a == small_b == a // 3
