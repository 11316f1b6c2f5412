"""Project settings from `promptgit.yaml` (docs/spec.md, Project settings), with their defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.tree import SETTINGS_FILE, Tree, read_text
from promptgit.yamlio import key_lines, load_yaml

# Model settings litellm understands that can sensibly live in a prompt file or `defaults:`. Anything
# else is a typo far more often than a new litellm parameter, so it is refused (with a suggestion).
# Keys and credentials are deliberately absent: settings never hold secrets.
MODEL_SETTINGS = frozenset(
    {
        "model",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "top_k",
        "seed",
        "stop",
        "response_format",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "api_base",
        "api_version",
        "timeout",
        "n",
        "parallel_tool_calls",
        "tools",
        "tool_choice",
        "extra_headers",
        "thinking",
    }
)


@dataclass(frozen=True)
class Settings:
    """Project-wide settings; every field is optional in promptgit.yaml."""

    prompts: str = "prompts"
    evals: str = "evals"
    defaults: Mapping[str, Any] = field(default_factory=dict)  # model settings under every prompt's own
    concurrency: int = 16
    cache: str = ".promptgit"
    threshold: float | None = None
    max_drop: float | None = None
    max_error_rate: float = 0.05
    timeout: float = 120.0  # seconds for one model call
    retries: int = 4  # extra attempts after a failed model call
    scorer_timeout: float = 30.0  # seconds a python scorer may take on one output


_NUMBERS = {"concurrency": int, "max_error_rate": float, "timeout": float, "retries": int}
_FRACTIONS = ("threshold", "max_drop", "max_error_rate")


def load_settings(tree: Tree) -> Settings:
    """Read promptgit.yaml from `tree`, or the defaults when there is none."""
    if not tree.exists(SETTINGS_FILE):
        return Settings()
    text = read_text(tree, SETTINGS_FILE)
    data = load_yaml(text, SETTINGS_FILE)
    if data is None:
        return Settings()
    if not isinstance(data, dict):
        raise PromptgitError(
            "settings must be a mapping of keys to values",
            file=SETTINGS_FILE,
            hint=f"e.g. `concurrency: 8`; the keys are {', '.join(f.name for f in dataclasses.fields(Settings))}",
        )
    return _parse(data, key_lines(text))


def _parse(data: dict[str, Any], lines: dict[str, int]) -> Settings:
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = lines.get(str(key))
        if key not in known:
            raise PromptgitError(
                f"unknown setting {key!r}",
                file=SETTINGS_FILE,
                line=line,
                hint=did_you_mean(str(key), known) or f"known settings: {', '.join(sorted(known))}",
            )
        values[key] = _check_value(key, value, line)
    return Settings(**values)


def _check_value(key: str, value: Any, line: int | None) -> Any:
    def bad(expected: str) -> PromptgitError:
        return PromptgitError(f"{key} must be {expected}, not {value!r}", file=SETTINGS_FILE, line=line)

    if key == "defaults":
        if not isinstance(value, dict):
            raise bad("a mapping of model settings")
        for name in value:
            if name not in MODEL_SETTINGS:
                raise PromptgitError(
                    f"unknown model setting {name!r} in defaults",
                    file=SETTINGS_FILE,
                    line=line,
                    hint=did_you_mean(str(name), MODEL_SETTINGS)
                    or "defaults hold model settings such as model and temperature; keys belong in the environment "
                    "(e.g. OPENAI_API_KEY), never in settings",
                )
        return dict(value)
    if key in ("prompts", "evals", "cache"):
        if not isinstance(value, str) or not value.strip():
            raise bad("a folder path")
        return value.strip().rstrip("/")
    if value is None and key in ("threshold", "max_drop"):
        return None
    kind = _NUMBERS.get(key, float)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise bad("a whole number" if kind is int else "a number")
    if key in _FRACTIONS and not 0 <= value <= 1:
        raise bad("a fraction between 0 and 1")
    if key == "concurrency" and value < 1:
        raise bad("at least 1")
    if key in ("timeout", "retries") and value < 0:
        raise bad("zero or more")
    if key == "scorer_timeout" and not value > 0:
        raise bad("a number of seconds above 0")
    return kind(value)
