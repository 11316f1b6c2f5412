"""`eval --dry-run` and `max_cost`: what a run would cost before it runs, and a budget while it runs.

Real HTTP through litellm to the local server; litellm prices openai/gpt-4o-mini from its bundled
list and has no price for openai/test-model. The server counts words as tokens.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_experiments import CHEAP, LABELS, OTHER, project
from tests.test_startup import PROBE

LOCAL = "local/qwen2.5-coder-0.5b"


def run_json(run_cli: Callable[..., Result], root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli([*args, "--json"], root)
    return result.code, json.loads(result.out)


def litellm_price(model: str) -> tuple[float, float, int]:
    import litellm

    info = litellm.model_cost[model]
    return info["input_cost_per_token"], info["output_cost_per_token"], info["max_output_tokens"]


def prompt_tokens(model: str, n: int) -> int:
    """litellm's count of the rendered prompt of cases 0..n-1 (see tests.test_experiments.project)."""
    import litellm

    return sum(
        litellm.token_counter(
            model=model,
            messages=[
                {"role": "system", "content": "Route the ticket."},
                {"role": "user", "content": f"Ticket ticket {i}"},
            ],
        )
        for i in range(n)
    )


def add_cases(root: Path, ids: range) -> None:
    with (root / "evals/cases.jsonl").open("a") as cases:
        for i in ids:
            cases.write(json.dumps({"id": f"c{i}", "text": f"ticket {i}", "label": LABELS[i % 3]}) + "\n")


def test_dry_run_counts_every_uncached_call_and_prices_it(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write, model=CHEAP)
    code, doc = run_json(run_cli, root, "eval", "--dry-run")
    assert code == 0 and openai_server.requests == []
    [estimate] = doc["estimates"]
    per_input, per_output, _ = litellm_price("gpt-4o-mini")
    tokens = prompt_tokens(CHEAP, 6)
    assert (estimate["model"], estimate["cases"], estimate["calls"]) == (CHEAP, 6, 6)
    assert (estimate["input_tokens"], estimate["output_tokens"]) == (tokens, 6 * 8)  # max_tokens: 8 bounds each
    assert estimate["cost"] == pytest.approx(tokens * per_input + 48 * per_output, rel=1e-12)
    # After the run nothing is left; two new cases need two calls (the six are in the response cache).
    assert run_cli(["eval"], root).code == 1  # every answer is an echo: below the threshold, stored all the same
    add_cases(root, range(6, 8))
    code, doc = run_json(run_cli, root, "eval", "--dry-run")
    [estimate] = doc["estimates"]
    assert (estimate["cases"], estimate["calls"], estimate["output_tokens"]) == (8, 2, 16)
    assert len(openai_server.requests) == 6
    assert run_json(run_cli, root, "eval")[1]["suites"][0]["calls"] == 2  # as the dry run said


def test_without_max_tokens_the_models_listed_output_bounds_the_estimate(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write, model=CHEAP)
    prompt = root / "prompts/route.jinja"
    prompt.write_text(prompt.read_text().replace("max_tokens: 8\n", "temperature: 0\n"))
    [estimate] = run_json(run_cli, root, "eval", "--dry-run")[1]["estimates"]
    per_input, per_output, most = litellm_price("gpt-4o-mini")
    assert estimate["output_tokens"] == 6 * most == 6 * 16384
    assert estimate["cost"] == pytest.approx(prompt_tokens(CHEAP, 6) * per_input + 6 * most * per_output)


def test_a_model_with_no_price_is_unknown_never_zero(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    code, doc = run_json(run_cli, root, "eval", "--dry-run", "--model", CHEAP, "--model", OTHER, "--model", LOCAL)
    assert code == 0
    got = [(e["label"], e["calls"], e["cost"] is None) for e in doc["estimates"]]
    assert got == [(CHEAP, 6, False), (OTHER, 6, True), (LOCAL, 6, False)]
    assert doc["estimates"][2]["cost"] == 0.0  # the embedded model is free
    text = run_cli(["eval", "--dry-run", "--model", CHEAP, "--model", OTHER], root).out.splitlines()
    assert text[3].split()[-1] == "unknown" and text[2].split()[-1].startswith("$0.0000")
    assert text[-1].startswith("dry run: 12 uncached call(s), estimated cost $0.0000")
    assert text[-1].endswith(f"plus unknown for {OTHER} (no known price); judge calls not counted")
    assert openai_server.requests == []


def test_a_dry_run_with_nothing_to_call_imports_no_model_library(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    assert run_cli(["eval"], root).code == 1  # every answer is an echo: below the threshold, stored all the same
    for args, expected in (
        (["eval", "--dry-run"], "0 uncached call(s), estimated cost $0.0000 at most"),
        (["eval", "--dry-run", "--model", LOCAL], "6 uncached call(s), estimated cost $0.0000 at most"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(args=args)], cwd=root, capture_output=True, text=True, timeout=60
        )
        assert done.stderr.strip().splitlines()[-1] == "IMPORTED [] 0", done.stderr
        assert expected in done.stdout


def test_max_cost_stops_new_calls_and_the_run_is_inconclusive(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    # One call at a time; each costs 6 prompt words and 3 answer words (the echo) at gpt-4o-mini's price.
    root = project(write, model=CHEAP, settings="concurrency: 1\n")
    per_input, per_output, _ = litellm_price("gpt-4o-mini")
    one = 6 * per_input + 3 * per_output
    code, doc = run_json(run_cli, root, "eval", "--max-cost", f"{1.5 * one}")
    [suite] = doc["suites"]
    assert code == 3
    assert len(openai_server.requests) == 2  # the second call reached the limit: no third
    assert (suite["calls"], suite["passed"], suite["failed"], suite["errors"]) == (2, 0, 2, 4)  # echoes fail
    assert suite["cost"] == pytest.approx(2 * one)
    assert [r["error"] for r in suite["results"]].count("not evaluated") == 4
    err = run_cli(["eval", "--max-cost", f"{1.5 * one}"], root).err
    assert f"inconclusive: route: the run's cost limit of ${1.5 * one:g} was reached" in err
    assert len(openai_server.requests) == 4  # that run paid two more, then stopped
    code, doc = run_json(run_cli, root, "eval")
    assert (code, doc["suites"][0]["calls"], len(openai_server.requests)) == (1, 2, 6)  # what was stored stayed


def test_max_cost_from_the_settings_and_zero_answers_only_from_the_store(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write, model=CHEAP)
    assert run_cli(["eval"], root).code == 1
    add_cases(root, range(6, 9))
    project(write, model=CHEAP, settings="max_cost: 0\n")
    add_cases(root, range(6, 9))
    code, doc = run_json(run_cli, root, "eval")
    [suite] = doc["suites"]
    assert (code, suite["calls"], suite["cached"], len(openai_server.requests)) == (3, 0, 6, 6)
    assert [r["id"] for r in suite["results"] if r["error"] == "not evaluated"] == ["c6", "c7", "c8"]
    # --max-cost replaces the setting for one run.
    code, doc = run_json(run_cli, root, "eval", "--max-cost", "1")
    assert (code, doc["suites"][0]["calls"], len(openai_server.requests)) == (1, 3, 9)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "max_cost must be a number of US dollars, 0 or more, not -1"),
        ("'1'", "max_cost must be a number, not '1'"),
        ("true", "max_cost must be a number, not True"),
    ],
)
def test_a_bad_max_cost_setting_is_refused(write, run_cli, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    root = project(write, settings=f"max_cost: {value}\n")
    result = run_cli(["eval"], root)
    assert (result.code, result.err.splitlines()[0]) == (2, f"promptgit: error: promptgit.yaml:3: {message}")


@pytest.mark.parametrize("value", ["-1", "x", "-0.5"])
def test_a_bad_max_cost_flag_is_refused(write, run_cli, value: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(["eval", "--max-cost", value], project(write))
    assert result.code == 2 and "Invalid value for '--max-cost'" in result.err


def test_max_cost_cannot_bound_a_model_with_no_price(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(["eval", "--max-cost", "1"], project(write))
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        f"promptgit: error: max_cost cannot bound model {OTHER}: litellm has no price for it"
    )
    assert openai_server.requests == []


def test_prices_come_from_litellms_list() -> None:
    from promptgit import models

    per_input, per_output, most = litellm_price("gpt-4o-mini")
    assert models.price(CHEAP) == models.Price(per_input, per_output, most)
    assert models.price("gpt-4o-mini") == models.Price(per_input, per_output, most)
    assert models.price(LOCAL) == models.Price(0.0, 0.0, None)
    assert [models.price(m) for m in (OTHER, "openai/no-such-model", "nobody/knows")] == [None, None, None]
    assert [models.price_known(m) for m in (CHEAP, LOCAL, OTHER)] == [True, True, False]


def test_the_eval_table_says_unknown_for_a_model_with_no_price(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    unknown = run_cli(["eval"], root)
    assert unknown.out.splitlines()[2].split()[11:13] == ["54", "unknown"]  # 6 calls: 6 + 3 echoed words each
    assert json.loads(run_cli(["eval", "--json"], root).out)["suites"][0]["cost"] == 0.0  # nothing paid now
    code, doc = run_json(run_cli, root, "eval", "--model", CHEAP)
    per_input, per_output, _ = litellm_price("gpt-4o-mini")
    assert code == 1  # echoes: below the threshold
    assert doc["suites"][0]["cost"] == pytest.approx(6 * (6 * per_input + 3 * per_output))
    project(write, model=OTHER, settings="")
    (root / "evals/cases.jsonl").write_text("")
    add_cases(root, range(10, 12))
    assert json.loads(run_cli(["eval", "--json"], root).out)["suites"][0]["cost"] is None
