"""`eval --model/--set/--sweep` and `diff --model`: models and settings side by side, end to end.

Real HTTP through litellm to the local server (tests/openai_server.py), which answers each model from
its own table; real SQLite; the embedded model once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit import experiments
from promptgit.errors import PromptgitError
from tests.conftest import Result
from tests.openai_server import Server

LABELS = ["billing", "refunds", "technical_support"]
CHEAP, OTHER = "openai/gpt-4o-mini", "openai/test-model"  # litellm prices the first, not the second


def project(write: Callable[..., Path], n: int = 6, settings: str = "", model: str = OTHER) -> Path:
    """`n` cases with no answer in the prompt: the server answers each model from its own table (answer_models)."""
    rows = [json.dumps({"id": f"c{i}", "text": f"ticket {i}", "label": LABELS[i % 3]}) for i in range(n)]
    return write(
        {
            # `settings` may set its own concurrency: a key twice in one file is refused (yamlio).
            "promptgit.yaml": f"defaults: {{model: {model}, temperature: 0}}\n"
            + ("" if "concurrency:" in settings else "concurrency: 4\n")
            + settings,
            "prompts/route.jinja": "---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket.\nuser:\nTicket {{ text }}\n",
            "evals/route.yaml": "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"
            "threshold: 0.1\n",
            "evals/cases.jsonl": "\n".join(rows) + "\n",
        }
    )


def answer_models(server: Server, n: int = 6, wrong: dict[str, set[int]] | None = None) -> None:
    """Each model answers case i right except at the indexes `wrong[model]` (names as the server sees them)."""
    wrong = wrong or {"gpt-4o-mini": set(), "test-model": {0, 2, 4}}
    server.configure(
        model_answers={
            model: {f"Ticket ticket {i}": "nope" if i in bad else LABELS[i % 3] for i in range(n)}
            for model, bad in wrong.items()
        }
    )


def run_json(run_cli: Callable[..., Result], root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli([*args, "--json"], root)
    return result.code, json.loads(result.out) if result.out.strip() else {}, result.err


def test_two_models_side_by_side_then_a_rerun_pays_nothing(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    code, doc, _ = run_json(run_cli, root, "eval", "--model", CHEAP, "--model", OTHER)
    assert code == 0
    first, second = doc["models"]
    assert (first["label"], first["settings"], second["label"], second["settings"]) == (
        CHEAP,
        {"model": CHEAP},
        OTHER,
        {"model": OTHER},
    )
    [cheap], [other] = first["suites"], second["suites"]
    assert (cheap["score"], cheap["passed"], cheap["errors"], cheap["calls"]) == (1.0, 6, 0, 6)
    assert (other["score"], other["passed"], other["errors"], other["calls"]) == (0.5, 3, 0, 6)
    assert cheap["against_first"] is None
    against = other["against_first"]
    assert (against["delta"], against["up"], against["down"], against["regressed"]) == (
        -0.5,
        0,
        3,
        ["c0", "c2", "c4"],
    )
    assert against["compared"] == {"cases": 6, "base_score": 1.0, "head_score": 0.5}
    assert against["p_value"] == pytest.approx(0.25)  # exact sign test: 3 of 3 down, two-sided
    assert cheap["tokens"] > 0 and cheap["cost"] > 0 and other["cost"] is None  # unknown price, never $0
    assert cheap["latency_p50"] <= cheap["latency_p95"]
    assert [s["model"] for s in doc["suites"]] == [CHEAP, OTHER]
    assert sorted(r.body["model"] for r in openai_server.requests) == ["gpt-4o-mini"] * 6 + ["test-model"] * 6
    code, again, _ = run_json(run_cli, root, "eval", "--model", CHEAP, "--model", OTHER)
    assert code == 0 and len(openai_server.requests) == 12  # every answer came from the store
    assert [m["suites"][0]["calls"] for m in again["models"]] == [0, 0]
    assert [m["suites"][0]["cost"] for m in again["models"]] == [cheap["cost"], None]  # the answers' cost, stored
    assert again["models"][1]["suites"][0]["against_first"] == against


def test_the_side_by_side_table(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    result = run_cli(["eval", "--model", CHEAP, "--model", OTHER], root)
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "suite",
        "model",
        "score",
        "[95%",
        "CI]",
        "passed",
        "errors",
        "calls",
        "cost",
        "tokens",
        "p50",
        "p95",
        "vs",
        CHEAP,
        "(pts)",
        "[95%",
        "CI]",
    ]
    assert lines[2].split()[:2] == ["route", CHEAP] and lines[2].split()[5:8] == ["6/6", "0", "6"]
    assert lines[3].split()[:2] == ["route", OTHER]
    assert lines[3].split()[5:9] == ["3/6", "0", "6", "unknown"]
    assert "-50.0" in lines[3] and "0 up / 3 down" in lines[3]
    assert result.code == 0 and result.err == ""
    # Raised, the threshold fails one model's run and the verdict names the run.
    suite = root / "evals/route.yaml"
    suite.write_text(suite.read_text().replace("threshold: 0.1", "threshold: 0.75"))
    failed = run_cli(["eval", "--model", CHEAP, "--model", OTHER], root)
    assert failed.code == 1
    assert failed.err.startswith(f"fail: route on {OTHER}: score 50.0%")
    assert len(openai_server.requests) == 12  # a new fingerprint, the same calls: all from the cache


def test_a_model_override_keys_calls_as_the_front_matter_would(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    code, plain, _ = run_json(run_cli, root, "eval")
    # The files' own model given with --model: the same fingerprint, so the stored result, no call.
    code, same, _ = run_json(run_cli, root, "eval", "--model", OTHER)
    assert same["suites"][0]["fingerprint"] == plain["suites"][0]["fingerprint"]
    assert (same["suites"][0]["calls"], len(openai_server.requests)) == (0, 6)
    code, other, _ = run_json(run_cli, root, "eval", "--model", CHEAP)
    assert other["suites"][0]["fingerprint"] != plain["suites"][0]["fingerprint"]
    assert (other["suites"][0]["calls"], other["suites"][0]["score"], len(openai_server.requests)) == (6, 1.0, 12)
    # The same change made in promptgit.yaml asks the very same calls: all answered from the cache.
    project(write, model=CHEAP)
    code, edited, _ = run_json(run_cli, root, "eval")
    assert (edited["suites"][0]["calls"], edited["suites"][0]["score"], len(openai_server.requests)) == (0, 1.0, 12)
    # A transport setting changes no answer, so no fingerprint.
    code, moved, _ = run_json(run_cli, root, "eval", "--set", f"api_base={openai_server.api_base}")
    assert code == 0
    assert moved["suites"][0]["fingerprint"] == edited["suites"][0]["fingerprint"]


def test_diff_compares_two_models_as_two_revisions(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    code, doc, _ = run_json(run_cli, root, "diff", "--model", CHEAP, "--model", OTHER)
    assert code == 0
    assert (doc["base"], doc["head"]) == (CHEAP, OTHER)
    [suite] = doc["suites"]
    assert (suite["base_score"], suite["head_score"], suite["delta"], suite["up"], suite["down"]) == (
        1.0,
        0.5,
        -0.5,
        0,
        3,
    )
    assert suite["regressed"] == ["c0", "c2", "c4"]
    text = run_cli(["diff", "--model", CHEAP, "--model", OTHER], root).out
    assert text.splitlines()[0] == f"{CHEAP} -> {OTHER}"
    assert len(openai_server.requests) == 12  # the text run reused every stored answer


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", CHEAP], "promptgit: error: diff compares two models, not 1"),
        (
            ["--model", CHEAP, "--model", OTHER, "--model", "openai/x"],
            "promptgit: error: diff compares two models, not 3",
        ),
        (["HEAD", "--model", CHEAP, "--model", OTHER], "promptgit: error: diff compares two revisions or two models"),
        (["--set", "temperature=1"], "promptgit: error: --set needs --model here"),
        (["--rev", "HEAD"], "promptgit: error: --rev needs --model"),
    ],
)
def test_diff_refuses_a_mix_of_revisions_and_models(write, run_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    result = run_cli(["diff", *args], root)
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(message)


def test_set_overrides_a_setting_for_the_run(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    code, doc, _ = run_json(run_cli, root, "eval", "--set", "temperature=0.5", "--set", "stop=[END, STOP]")
    assert code == 1  # every answer is an echo, below the threshold
    bodies = [r.body for r in openai_server.requests]
    assert len(bodies) == 6
    assert {(b["temperature"], tuple(b["stop"]), b["max_tokens"]) for b in bodies} == {(0.5, ("END", "STOP"), 8)}
    assert "models" not in doc  # one variant: the plain report


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--set", "temperature=-1", "--set: setting temperature must be a number of 0 or more, not -1"),
        ("--set", "max_tokens=1.5", "--set: setting max_tokens must be a whole number of at least 1, not 1.5"),
        ("--set", "top_p=yes", "--set: setting top_p must be a number between 0 and 1, not 'yes'"),
        ("--set", "tempurature=1", "--set 'tempurature=1': unknown model setting 'tempurature'"),
        ("--set", "temperature", "--set 'temperature' is not KEY=VALUE"),
        ("--set", "temperature=", "--set 'temperature=' has an empty value"),
        ("--set", "api_base=http://me:pw@host/v1", "--set: setting api_base holds a credential"),
        ("--set", "temperature=[1", "--set 'temperature=[1': invalid YAML"),
        ("--sweep", "temperature=0", "--sweep 'temperature=0' names one value"),
        ("--sweep", "temperature=0,0", "--sweep 'temperature=0,0' names a value twice"),
        ("--sweep", "seed=1,x", "--sweep: setting seed must be a whole number, not 'x'"),
        ("--model", "", "--model: setting model must be text, not ''"),
    ],
)
def test_bad_overrides_are_refused_like_front_matter(write, run_cli, flag: str, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    result = run_cli(["eval", flag, value], root)
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(f"promptgit: error: {message}"), result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", CHEAP, "--model", CHEAP], "a model is given twice"),
        (["--model", CHEAP, "--set", f"model={OTHER}"], "setting model is given twice"),
        (["--sweep", "temperature=0,1", "--set", "temperature=1"], "setting temperature is given twice"),
        (["--sweep", f"model={CHEAP},{OTHER}", "--model", CHEAP], "setting model is given twice"),
    ],
)
def test_a_setting_given_twice_is_refused(write, run_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(["eval", *args], project(write))
    assert (result.code, result.err.splitlines()[0]) == (2, f"promptgit: error: {message}")


def test_a_sweep_runs_once_per_value_side_by_side(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    code, doc, _ = run_json(run_cli, root, "eval", "--sweep", "temperature=0,0.7,1.5")
    assert [m["label"] for m in doc["models"]] == ["temperature=0", "temperature=0.7", "temperature=1.5"]
    assert [m["settings"] for m in doc["models"]] == [{"temperature": 0}, {"temperature": 0.7}, {"temperature": 1.5}]
    assert sorted(r.body["temperature"] for r in openai_server.requests) == [0] * 6 + [0.7] * 6 + [1.5] * 6
    # temperature 0 is the files' own value: its fingerprint is the plain run's.
    code, plain, _ = run_json(run_cli, root, "eval")
    assert code == 0
    assert plain["suites"][0]["fingerprint"] == doc["models"][0]["suites"][0]["fingerprint"]
    assert len(openai_server.requests) == 18
    against = doc["models"][2]["suites"][0]["against_first"]
    assert (against["delta"], against["up"], against["down"]) == (0.0, 0, 0)  # this server ignores temperature


def test_a_sweep_crossed_with_models(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    code, doc, _ = run_json(run_cli, root, "eval", "--model", CHEAP, "--model", OTHER, "--sweep", "seed=1,2")
    assert code == 0
    assert [m["label"] for m in doc["models"]] == [
        f"{CHEAP} seed=1",
        f"{CHEAP} seed=2",
        f"{OTHER} seed=1",
        f"{OTHER} seed=2",
    ]
    assert [m["suites"][0]["score"] for m in doc["models"]] == [1.0, 1.0, 0.5, 0.5]
    assert sorted((r.body["model"], r.body["seed"]) for r in openai_server.requests) == sorted(
        [(m, s) for m in ("gpt-4o-mini", "test-model") for s in (1, 2)] * 6
    )


def test_the_judge_keeps_the_files_model(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    (root / "evals/route.yaml").write_text(
        "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers:\n  - llm_judge: {rubric: 'Names one queue'}\n"
    )
    code, doc, _ = run_json(run_cli, root, "eval", "--model", CHEAP, "--set", "temperature=0.3")
    assert (code, doc["suites"][0]["errors"]) == (3, 6)  # the judge's echo holds no verdict: errors, inconclusive
    answers = [r.body for r in openai_server.requests if r.body["messages"][0]["content"] == "Route the ticket."]
    judged = [r.body for r in openai_server.requests if r.body["messages"][0]["content"] != "Route the ticket."]
    assert {(b["model"], b["temperature"]) for b in answers} == {("gpt-4o-mini", 0.3)}
    assert len(judged) == 6 and {(b["model"], b["temperature"]) for b in judged} == {("test-model", 0)}


def test_variants_unit() -> None:
    assert experiments.variants([], {"seed": 1}, None) == [experiments.Variant("", {"seed": 1})]
    assert experiments.parse_settings(["stop=[a, b]", "logprobs=true", "model=openai/x"]) == {
        "stop": ["a", "b"],
        "logprobs": True,
        "model": "openai/x",
    }
    with pytest.raises(PromptgitError, match="unknown model setting 'api_key'"):
        experiments.parse_settings(["api_key=sk-123"])  # never a credential on the command line either
    assert experiments.nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert experiments.nearest_rank([1.0, 2.0, 3.0, 4.0], 95) == 4.0
    assert experiments.nearest_rank([5.0], 95) == 5.0
    assert experiments.nearest_rank([], 50) is None


@pytest.mark.local_model
def test_the_embedded_model_beside_a_served_one(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    local = "local/qwen2.5-coder-0.5b"
    root = project(write, n=3)
    prompt = "---\nmax_tokens: 8\n---\nsystem:\nAnswer with one word: billing, refunds or technical_support.\n"
    (root / "prompts/route.jinja").write_text(prompt + "user:\nTicket {{ text }}\n")
    answer_models(openai_server, n=3, wrong={"test-model": {1}})
    code, doc, err = run_json(run_cli, root, "eval", "--model", local, "--model", OTHER)
    assert code in (0, 1), err
    mine, served = (m["suites"][0] for m in doc["models"])
    assert (mine["calls"], mine["errors"], mine["cost"]) == (3, 0, 0.0)  # the embedded model is free: $0
    assert (served["calls"], served["score"], served["cost"]) == (3, round(2 / 3, 6), None)  # no price: unknown
    [local_result, _] = doc["suites"]
    truth = [r["output"].strip().lower() == r["expected"] for r in local_result["results"]]
    assert mine["score"] == round(sum(truth) / 3, 6)
    against = served["against_first"]
    assert against["compared"]["cases"] == 3
    assert against["delta"] == pytest.approx(2 / 3 - mine["score"], abs=1e-6)
    assert against["up"] + against["down"] == sum(t != (i != 1) for i, t in enumerate(truth))
    code, again, _ = run_json(run_cli, root, "eval", "--model", local, "--model", OTHER)
    assert [m["suites"][0]["calls"] for m in again["models"]] == [0, 0]
    assert len(openai_server.requests) == 3


def test_diff_models_with_a_setting_for_both_and_one_suite(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project(write)
    answer_models(openai_server)
    args = ["diff", "--model", CHEAP, "--model", OTHER, "--set", "temperature=0.5", "--suite", "route"]
    code, doc, _ = run_json(run_cli, root, *args)
    assert (code, [s["name"] for s in doc["suites"]], doc["suites"][0]["delta"]) == (0, ["route"], -0.5)
    assert sorted((r.body["model"], r.body["temperature"]) for r in openai_server.requests) == sorted(
        [("gpt-4o-mini", 0.5), ("test-model", 0.5)] * 6
    )


@pytest.mark.parametrize(
    ("pairs", "key"),
    [
        (["temperature=0", "temperature=1"], "temperature"),
        (["max_tokens=8", "top_p=1", "max_tokens=8"], "max_tokens"),  # the same value twice is still two answers
        (["temperature =0", " temperature=0.5"], "temperature"),  # spaces around the key
    ],
)
def test_a_setting_given_twice_in_set_is_refused(pairs: list[str], key: str) -> None:
    # The last one silently won: a run labelled with one setting measured another.
    with pytest.raises(PromptgitError) as raised:
        experiments.parse_settings(pairs)
    assert raised.value.message == f"--set {key} is given twice"
