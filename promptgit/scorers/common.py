"""Helpers the built-in scorer families share: the model-free Checker, quoting, expected values, JSON parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.scorers import JudgeFn, Score, ScorerSite


@dataclass(frozen=True)
class Checker:
    """A scorer that needs no model: a plain function of output, expected and case."""

    label: str
    check: Callable[[str, Any, Any], Score]

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Score the output without calling a model."""
        return self.check(output, expected, case)


def short(text: str, limit: int = 80) -> str:
    """A value quoted for a reason, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def expected_text(expected: Any) -> str:
    """The expected value as the text a model would write: JSON spelling for non-strings."""
    if isinstance(expected, str):
        return expected
    return json.dumps(expected, ensure_ascii=False)


def require_expected(expected: Any, case: Any, site: ScorerSite, label: str) -> Any:
    if expected is None:
        raise site.error(
            f"case {case_id(case)} has no expected value, which {label} compares with",
            hint="give the case an expected value (the suite's `expected:` field), or use a scorer that needs none",
        )
    return expected


def case_id(case: Any) -> str:
    return repr(getattr(case, "id", "?"))


def no_config(name: str, config: Any) -> None:
    if config is not None:
        raise PromptgitError(f"{name} takes no configuration, got {config!r}", hint=f"write it bare: `- {name}`")


def options_of(name: str, config: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise PromptgitError(f"{name} needs a mapping, got {config!r}", hint=f"keys: {', '.join(sorted(allowed))}")
    for key in config:
        if key not in allowed:
            raise PromptgitError(
                f"{name} has no option {key!r}",
                hint=did_you_mean(str(key), allowed) or f"options: {', '.join(sorted(allowed))}",
            )
    return config


_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)


def strip_fence(output: str) -> str:
    """The text inside a Markdown code fence that wraps the whole output (```json … ```), else the output."""
    text = output.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def parse_json(output: str) -> tuple[bool, Any, str | None]:
    """(ok, value, error) for an output that should be JSON, fence allowed."""
    try:
        return True, json.loads(strip_fence(output)), None
    except json.JSONDecodeError as err:
        return False, None, f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"


def same_value(a: Any, b: Any) -> bool:
    """Equality of parsed JSON values that keeps true apart from 1 and 1 apart from "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def json_matches(output: str, expected: Any) -> bool:
    ok, value, _ = parse_json(output)
    return ok and same_value(value, expected)


def mismatch(expected: Any, output: str) -> str:
    return f"expected {short(expected_text(expected))}, got {short(output)}"
