"""The LLM judge: a model grades an output against a rubric and answers with a structured verdict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptgit.config import MODEL_SETTINGS, check_model_settings
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.scorers import JudgeFn, JudgeReplyError, Score, Scorer, ScorerSite, register
from promptgit.scorers.common import expected_text, options_of, short, strip_fence

_JUDGE_SYSTEM = (
    "You are a strict evaluator. You grade one output of an AI assistant against a rubric. "
    "Reply with one JSON object and nothing else, the reasoning first, then the verdict: "
    '{"reasoning": "<a few sentences>", "verdict": "pass"} or {"reasoning": "<a few sentences>", "verdict": "fail"}.'
)
_ASK = 'Does the output meet the rubric? Reply with the JSON object {"reasoning": "...", "verdict": "pass" or "fail"}.'
# OpenAI's JSON mode; the engine drops it for a provider litellm says has no such mode (models.supports_json_mode).
JSON_MODE = {"type": "json_object"}
# Settings that shape the graded prompt's own answer (its length, format, tools): a judge writing its
# verdict inherits none of them from the suite or the defaults, only where and how to call.
_ANSWER_SHAPING = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "response_format",
        "n",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
    }
)
_VERDICTS = {"pass": True, "fail": False}


@dataclass(frozen=True)
class JudgeVerdict:
    """A parsed judge reply: the verdict, and the judge's reasoning when it gave one."""

    passed: bool
    reasoning: str | None


def parse_verdict(reply: str) -> JudgeVerdict:
    """Read the verdict of a judge's reply: one JSON object `{"reasoning": str, "verdict": "pass"|"fail"}`.

    The object may fill the reply (in a Markdown fence or not) or stand once in prose around it;
    only its `verdict` decides, never words in the reasoning or the prose. An optional `score` in
    [0, 1] must agree with the verdict (>= 0.5 for pass). Raises JudgeReplyError for a reply with no
    such object, two of them, a repeated `verdict` key, a verdict other than pass/fail, or a score
    that contradicts it: an ambiguous judge is an error for the case, never a score.
    """
    found = _verdict_objects(reply)
    if len(found) != 1:
        problem = "no JSON verdict" if not found else f"{len(found)} verdicts"
        raise JudgeReplyError(f"the judge's reply has {problem}: {short(reply.strip(), 120)}")
    fields = found[0]
    if sum(1 for key, _ in fields if key == "verdict") > 1:
        raise JudgeReplyError(f"the judge's reply gives the verdict twice: {short(reply.strip(), 120)}")
    values = dict(fields)
    verdict = values["verdict"]
    passed = _VERDICTS.get(verdict.strip().casefold()) if isinstance(verdict, str) else None
    if passed is None:
        raise JudgeReplyError(f'the judge\'s verdict is {verdict!r}, not "pass" or "fail"')
    _check_score(values.get("score"), passed)
    reasoning = values.get("reasoning")
    text = reasoning.strip() if isinstance(reasoning, str) else None
    return JudgeVerdict(passed, text or None)


def _verdict_objects(reply: str) -> list[list[tuple[str, Any]]]:
    """The top-level JSON objects in `reply` that hold a `verdict` key, each as its (key, value) pairs in order."""
    decoder = json.JSONDecoder(object_pairs_hook=list)  # pairs, so a repeated key is seen, not overwritten
    text = strip_fence(reply)
    try:
        whole = decoder.decode(text)
    except json.JSONDecodeError:
        whole = None
    candidates = [whole] if whole is not None else list(_embedded(decoder, text))
    return [c for c in candidates if isinstance(c, list) and _is_object_with_verdict(c)]


def _embedded(decoder: json.JSONDecoder, text: str) -> list[Any]:
    """Each JSON value that starts at a top-level `{` of `text`, scanning left to right."""
    found, position = [], text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        found.append(value)
        position = text.find("{", end)
    return found


def _is_object_with_verdict(value: list[Any]) -> bool:
    # With object_pairs_hook=list an object is a list of 2-tuples; a JSON array is a list of anything else.
    return all(isinstance(p, tuple) and len(p) == 2 for p in value) and any(p[0] == "verdict" for p in value)


def _check_score(score: Any, passed: bool) -> None:
    if score is None:
        return
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise JudgeReplyError(f"the judge's score {score!r} is not a number in [0, 1]")
    if (score >= 0.5) != passed:
        verdict = "pass" if passed else "fail"
        raise JudgeReplyError(f"the judge's score {score!r} contradicts its verdict {verdict!r}")


def judge_settings(
    model: str | None, own: Mapping[str, Any], defaults: Mapping[str, Any], suite: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings of one judge call, `model` included: where to call from the project's layers, then the judge's own.

    A judge with no `model:` grades with the suite's model and the suite's layered settings
    (promptgit.yaml `defaults` < prompt < suite override: its `api_base`, `api_version`, timeout,
    headers); a judge with its own model inherits only promptgit.yaml's `defaults`, since the
    prompt's endpoint serves the prompt's model. Either way the graded output goes where the team's
    settings send model calls, never to a provider's default endpoint. Settings that shape an answer
    (`_ANSWER_SHAPING`) are not inherited; the judge's own `settings:` come last.
    """
    base = suite if model is None else defaults
    inherited = {k: v for k, v in base.items() if k not in _ANSWER_SHAPING and k != "model"}
    return {**inherited, **own, "model": model if model is not None else suite.get("model")}


def judge_messages(rubric: str, output: str, expected: Any, case: Any) -> list[dict[str, str]]:
    """The messages that ask a judge model whether `output` meets `rubric`."""
    parts = [f"## Rubric\n{rubric.strip()}"]
    variables = getattr(case, "vars", None) or {}
    if variables:
        parts.append("## Input\n" + "\n".join(f"{name}: {_as_text(value)}" for name, value in variables.items()))
    if expected is not None:
        parts.append(f"## Expected answer\n{expected_text(expected)}")
    parts.append(f"## Output to grade\n{output}")
    parts.append(_ASK)
    return [{"role": "system", "content": _JUDGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class _Judge:
    """A rubric graded pass/fail by a model through the engine's cached judge call."""

    label: str
    rubric: str
    model: str | None
    settings: Mapping[str, Any]

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Ask the judge model and turn its verdict into 1 or 0, with its reasoning."""
        reply = await judge(self.model, judge_messages(self.rubric, output, expected, case), dict(self.settings))
        verdict = parse_verdict(reply)
        return Score(1.0 if verdict.passed else 0.0, verdict.reasoning)


@register("llm_judge")
def _llm_judge(config: Any, site: ScorerSite) -> Scorer:
    """A model grades the output against a rubric: `{rubric: …, model: …, settings: {…}}`."""
    options = options_of("llm_judge", config, {"rubric", "model", "settings"})
    rubric, model, settings = options.get("rubric"), options.get("model"), options.get("settings", {})
    if not isinstance(rubric, str) or not rubric.strip():
        raise PromptgitError("llm_judge needs a rubric", hint='e.g. `llm_judge: {rubric: "Names one queue only"}`')
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise PromptgitError(f"llm_judge's model must be a model name, got {model!r}")
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise PromptgitError(f"llm_judge's settings must be a mapping of model settings, got {settings!r}")
    allowed = MODEL_SETTINGS - {"model"}  # the judge's model is its own option
    unknown = sorted(set(settings) - allowed)
    if unknown:
        # The same rule as promptgit.yaml's defaults: no credentials in files, no typo sent to a provider.
        raise PromptgitError(
            f"llm_judge has no model setting {unknown[0]!r}",
            hint=did_you_mean(unknown[0], allowed)
            or "the judge's model is `model:` beside `rubric:`; keys belong in the environment, never in settings",
        )
    check_model_settings(settings, site.suite_path, dict.fromkeys(settings, site.line) if site.line else None)
    # A judge should be as repeatable as the model allows.
    return _Judge("llm_judge", rubric, model, {"temperature": 0, "response_format": JSON_MODE, **settings})
