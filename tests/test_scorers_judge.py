"""The LLM judge (promptgit/scorers/judge.py): structured verdicts, and where its calls go."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptgit import scorers
from promptgit.errors import PromptgitError
from promptgit.evaluate import SuiteResult, evaluate, options_for, plan_suite
from promptgit.project import open_project
from promptgit.scorers import Score, ScorerSite
from promptgit.store import Store
from tests.openai_server import Server, start_server
from tests.scorers_support import (
    SUITE,
    case,
    site_fixture,  # noqa: F401  (the `site` fixture)
)

# -- llm_judge -----------------------------------------------------------------------------------


class FakeJudge:
    """Records what it was asked and answers with a canned reply."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[tuple[str | None, list[dict[str, str]], dict[str, Any]]] = []

    async def __call__(self, model: str | None, messages: list[dict[str, str]], settings: dict[str, Any]) -> str:
        self.calls.append((model, messages, settings))
        return self.reply


def judge_score(
    site: ScorerSite, config: dict[str, Any], reply: str, output: str = "billing"
) -> tuple[Score, FakeJudge]:
    judge = FakeJudge(reply)
    scorer = scorers.build("llm_judge", config, site)
    the_case = case("billing", ticket="I was charged twice")
    return asyncio.run(scorer.score(output, "billing", the_case, judge)), judge


PASS_REPLY = '{"reasoning": "It names one queue.", "verdict": "pass"}'


def test_llm_judge_passes_with_the_judges_reasoning(site: ScorerSite) -> None:
    config = {"rubric": "Names exactly one queue", "model": "openai/gpt-4o-mini"}
    score, judge = judge_score(site, config, PASS_REPLY)
    assert score == Score(1.0, "It names one queue.")
    [(model, messages, settings)] = judge.calls
    assert model == "openai/gpt-4o-mini"
    assert settings == {"temperature": 0, "response_format": {"type": "json_object"}}
    assert [m["role"] for m in messages] == ["system", "user"]
    assert '{"reasoning": "<a few sentences>", "verdict": "pass"}' in messages[0]["content"]
    prompt = messages[1]["content"]
    assert "Names exactly one queue" in prompt
    assert "ticket: I was charged twice" in prompt
    assert "## Expected answer\nbilling" in prompt
    assert "## Output to grade\nbilling" in prompt
    assert prompt.endswith('Reply with the JSON object {"reasoning": "...", "verdict": "pass" or "fail"}.')


def test_llm_judge_fails_and_keeps_settings_and_default_model(site: ScorerSite) -> None:
    config = {"rubric": "Polite", "settings": {"max_tokens": 200, "temperature": 0.2}}
    reply = '{"reasoning": "The answer is rude.", "verdict": "fail"}'
    score, judge = judge_score(site, config, reply, output="go away")
    assert score == Score(0.0, "The answer is rude.")
    [(model, _, settings)] = judge.calls
    assert model is None  # the engine grades with the suite's model
    assert settings == {"temperature": 0.2, "response_format": {"type": "json_object"}, "max_tokens": 200}


@pytest.mark.parametrize(
    ("reply", "passed", "reasoning"),
    [
        (PASS_REPLY, True, "It names one queue."),
        (
            '{"reasoning": "PASS at first sight, but it names two queues.", "verdict": "fail"}',
            False,
            "PASS at first sight, but it names two queues.",
        ),
        ('{"verdict": "FAIL"}', False, None),
        ('{"verdict": " Pass ", "reasoning": "  "}', True, None),
        ('```json\n{"reasoning": "ok", "verdict": "pass"}\n```', True, "ok"),
        ('Here is my grade:\n{"reasoning": "two queues", "verdict": "fail"}\nThanks.', False, "two queues"),
        ('{"reasoning": "fits", "verdict": "pass", "score": 0.9}', True, "fits"),
        ('{"reasoning": "off", "verdict": "fail", "score": 0}', False, "off"),
        ('{"verdict": "pass", "details": {"verdict": "fail"}}', True, None),  # only the top-level verdict counts
    ],
)
def test_only_the_json_verdict_decides(reply: str, passed: bool, reasoning: str | None) -> None:
    assert scorers.parse_verdict(reply) == scorers.JudgeVerdict(passed, reasoning)


# Replies that are ambiguous, contradictory or not a verdict at all: each an error, never a score.
AMBIGUOUS = {
    "label then reasons (the issue's)": ("Pass/Fail: FAIL\nIt names two queues.", "has no JSON verdict"),
    "a bare word": ("PASS", "has no JSON verdict"),
    "prose only": ("The output meets the rubric.", "has no JSON verdict"),
    "verdict key missing": ('{"reasoning": "fine", "result": "pass"}', "has no JSON verdict"),
    "a JSON array": ('["pass"]', "has no JSON verdict"),
    "cut off": ('{"reasoning": "It names one queue.", "verdict": "pa', "has no JSON verdict"),
    "the key twice": ('{"verdict": "pass", "verdict": "fail"}', "gives the verdict twice"),
    "two objects that disagree": ('{"verdict": "pass"}\n{"verdict": "fail"}', "has 2 verdicts"),
    "two objects that agree": ('{"verdict": "fail"} and again {"verdict": "fail"}', "has 2 verdicts"),
    "both labels": ('{"verdict": "PASS/FAIL"}', 'verdict is \'PASS/FAIL\', not "pass" or "fail"'),
    "a boolean": ('{"verdict": true}', 'verdict is True, not "pass" or "fail"'),
    "another word": ('{"verdict": "partial"}', 'verdict is \'partial\', not "pass" or "fail"'),
    "fail with a high score": ('{"verdict": "fail", "score": 0.9}', "score 0.9 contradicts its verdict 'fail'"),
    "pass with a low score": ('{"verdict": "pass", "score": 0.1}', "score 0.1 contradicts its verdict 'pass'"),
    "a score out of range": ('{"verdict": "pass", "score": 7}', "score 7 is not a number in [0, 1]"),
    "an empty reply": ("", "has no JSON verdict"),
}


@pytest.mark.parametrize("kind", sorted(AMBIGUOUS))
def test_an_ambiguous_or_contradictory_reply_is_a_judge_error(kind: str) -> None:
    reply, problem = AMBIGUOUS[kind]
    with pytest.raises(scorers.JudgeReplyError) as caught:
        scorers.parse_verdict(reply)
    assert problem in str(caught.value)
    assert isinstance(caught.value, scorers.ScorerError)  # the engine counts it as an error for the case


def test_judge_settings_layer_where_to_call_under_the_judges_own() -> None:
    defaults = {"model": "openai/default", "api_base": "http://gateway", "timeout": 30, "max_tokens": 5}
    suite = {**defaults, "model": "openai/suite", "api_base": "http://prompt-gateway", "stop": ["\n"], "seed": 1}
    own = {"temperature": 0, "response_format": {"type": "json_object"}}
    # No model of its own: the suite's model and its layered settings, minus what shapes the suite's answer.
    assert scorers.judge_settings(None, own, defaults, suite) == {
        "model": "openai/suite",
        "api_base": "http://prompt-gateway",
        "timeout": 30,
        "seed": 1,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }
    # A model of its own: promptgit.yaml's defaults only (the prompt's endpoint serves the prompt's model).
    assert scorers.judge_settings("openai/judge", own, defaults, suite) == {
        "model": "openai/judge",
        "api_base": "http://gateway",
        "timeout": 30,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }
    # The judge's own settings come last.
    mine = {**own, "api_base": "http://judge-host"}
    assert scorers.judge_settings("openai/judge", mine, defaults, suite)["api_base"] == "http://judge-host"


def test_llm_judge_config_errors(site: ScorerSite) -> None:
    cases = [
        ("be nice", "llm_judge needs a mapping, got 'be nice'"),
        ({"model": "m"}, "llm_judge needs a rubric"),
        ({"rubric": "x", "rubrik": "y"}, "llm_judge has no option 'rubrik'"),
        ({"rubric": "x", "settings": ["t"]}, "llm_judge's settings must be a mapping of model settings, got ['t']"),
        ({"rubric": "x", "settings": {"temprature": 0}}, "llm_judge has no model setting 'temprature'"),
        ({"rubric": "x", "settings": {"api_key": "sk-x"}}, "llm_judge has no model setting 'api_key'"),
        ({"rubric": "x", "settings": {"model": "m"}}, "llm_judge has no model setting 'model'"),
    ]
    for config, message in cases:
        with pytest.raises(PromptgitError) as caught:
            scorers.build("llm_judge", config, site)
        assert (caught.value.message, caught.value.file, caught.value.line) == (message, SUITE, 7)


# -- through the engine, to the local test server ------------------------------------------------

RUBRIC = "Names exactly one queue"
# Case id -> (the model's output, the judge's scripted reply, the case's score or None for an error).
SCRIPTED = {
    "c00": ("billing", PASS_REPLY, 1.0),
    "c01": ("billing", '{"reasoning": "PASS? No: it adds a second queue.", "verdict": "fail"}', 0.0),
    "c02": ("refunds", '```json\n{"reasoning": "one queue", "verdict": "pass"}\n```', 1.0),
    "c03": ("billing or refunds", "Pass/Fail: FAIL\nIt names two queues.", None),
    "c04": ("billing", "PASS", None),
    "c05": ("billing", '{"verdict": "pass", "verdict": "fail"}', None),
    "c06": ("billing", '{"verdict": "pass"} {"verdict": "fail"}', None),
    "c07": ("billing", '{"verdict": "fail", "score": 0.95}', None),
    "c08": ("billing", '{"verdict": "PASS/FAIL"}', None),
    "c09": ("billing", '{"reasoning": "fine"}', None),
    "c10": ("billing", '{"reasoning": "one queue", "verdict": "pa', None),
}


def judge_project(write: Callable[..., Path], gateway: Server, *, where: str, judge: str = "") -> Path:
    """A suite whose cases the model answers with SCRIPTED outputs and an llm_judge grades.

    `where` puts the gateway's api_base in promptgit.yaml's defaults ("defaults") or in the prompt's
    front matter ("prompt"); `judge` is extra llm_judge options (YAML flow mapping entries).
    """
    in_defaults = f", api_base: '{gateway.api_base}'" if where == "defaults" else ""
    in_prompt = f"api_base: '{gateway.api_base}'\n" if where == "prompt" else ""
    rows = [json.dumps({"id": cid, "reply": output, "label": "billing"}) for cid, (output, _, _) in SCRIPTED.items()]
    return write(
        {
            "promptgit.yaml": f"defaults: {{model: openai/test-model, temperature: 0{in_defaults}}}\nconcurrency: 4\n",
            "prompts/route.jinja": f"---\nmax_tokens: 8\n{in_prompt}---\nuser:\nRoute it.\nANSWER: {{{{ reply }}}}\n",
            "evals/route.yaml": "prompt: route\ndataset: cases.jsonl\nexpected: label\n"
            f"scorers:\n  - llm_judge: {{rubric: '{RUBRIC}'{judge}}}\n",
            "evals/cases.jsonl": "\n".join(rows) + "\n",
        }
    )


def script_judge(gateway: Server, root: Path) -> None:
    """Teach the gateway each case's judge reply, keyed by the exact judge message the engine will send."""
    project = open_project(start=root)
    plan = plan_suite(project, "route")
    answers = {}
    for the_case in plan.suite.cases:
        output, reply, _ = SCRIPTED[the_case.id]
        messages = scorers.judge_messages(RUBRIC, output, the_case.expected, the_case)
        answers[messages[1]["content"]] = reply
    gateway.configure(answers=answers)


def run_suite(root: Path) -> SuiteResult:
    project = open_project(start=root)
    with Store(project.store_path) as store:
        [suite] = evaluate([plan_suite(project, "route")], store, options_for(project))
    return suite


@pytest.fixture
def gateway() -> Iterator[Server]:
    """A second local server: the team's gateway, apart from the default endpoint (the openai_server fixture)."""
    with start_server() as server:
        yield server


@pytest.mark.parametrize("where", ["defaults", "prompt"])
def test_the_judge_reads_only_the_verdict_and_calls_the_suites_endpoint(
    openai_server: Server, gateway: Server, write: Callable[..., Path], where: str
) -> None:
    root = judge_project(write, gateway, where=where)
    script_judge(gateway, root)
    suite = run_suite(root)
    got = {c.id: (c.score, c.error is not None) for c in suite.cases}
    assert got == {cid: (score, score is None) for cid, (_, _, score) in SCRIPTED.items()}
    assert (suite.passed, suite.failed, suite.errors) == (2, 1, 8)
    assert suite.by_id()["c03"].error == (
        "llm_judge: the judge's reply has no JSON verdict: 'Pass/Fail: FAIL\\nIt names two queues.'"
    )
    assert suite.by_id()["c07"].error == "llm_judge: the judge's score 0.95 contradicts its verdict 'fail'"
    # Every call, the judge's included, went to the gateway; none to the default endpoint.
    assert openai_server.requests == []
    bodies = [r.body for r in gateway.requests]
    judged = [b for b in bodies if b["messages"][0]["role"] == "system"]
    assert len(judged) == 11  # the model's own calls may repeat a cached reply in flight, so they are not counted
    assert {b["model"] for b in judged} == {"test-model"}
    assert all(b["response_format"] == {"type": "json_object"} and b["temperature"] == 0 for b in judged)
    assert not any("max_tokens" in b for b in judged)  # the prompt's answer length is not the judge's


def test_a_judge_with_its_own_model_still_goes_through_the_defaults_gateway(
    openai_server: Server, gateway: Server, write: Callable[..., Path]
) -> None:
    root = judge_project(write, gateway, where="defaults", judge=", model: openai/judge-model")
    gateway.configure(answers={})  # an unknown judge message is echoed: no verdict, an error
    suite = run_suite(root)
    assert suite.errors == len(SCRIPTED)
    assert openai_server.requests == []
    judged = [r.body for r in gateway.requests if r.body["messages"][0]["role"] == "system"]
    assert {b["model"] for b in judged} == {"judge-model"}
    assert len(judged) == len(SCRIPTED)
