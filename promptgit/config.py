"""Project settings from `promptgit.yaml` (docs/spec.md, Project settings), with their defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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


# The type each known model setting must have: a value of another type is refused where it is written
# (promptgit.yaml, a prompt's front matter, a judge's settings), since the provider would reject every call.
_NUMBER, _TEXT, _MAPPING = "a number", "text", "a mapping"
_SETTING_TYPES = {
    "model": _TEXT,
    "temperature": "a number of 0 or more",
    "top_p": "a number between 0 and 1",
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "timeout": "a number of seconds above 0",
    "max_tokens": "a whole number of at least 1",
    "max_completion_tokens": "a whole number of at least 1",
    "n": "1",  # promptgit scores one reply per call: more choices would be paid for and never scored
    "top_k": "a whole number of at least 1",
    "seed": "a whole number",
    "top_logprobs": "a whole number of 0 or more",
    "logprobs": "true or false",
    "parallel_tool_calls": "true or false",
    "api_base": "a URL",
    "api_version": _TEXT,
    "reasoning_effort": _TEXT,
    "stop": "text or a list of texts",
    "extra_headers": "a mapping of header names to text",
    "logit_bias": _MAPPING,
    "thinking": _MAPPING,
    "response_format": _MAPPING,
    "tools": "a list",
    "tool_choice": "text or a mapping",
}
# Hints for a setting whose wrong value the provider would accept, and promptgit would not honour.
_HINTS = {
    "n": "promptgit scores one reply per call, so further choices would be paid for and never scored; "
    "remove `n`, and give the suite `repeat: N` to sample the prompt N times",
}
# Names that hold a credential, compared lowercase with `-` and `_` removed: a header, a nested key, a
# URL query parameter. Settings are committed to git and written into reports: they never hold secrets.
_SECRET_NAMES = frozenset(
    {
        "apikey",
        "xapikey",
        "authorization",
        "proxyauthorization",
        "cookie",
        "secret",
        "clientsecret",
        "password",
        "accesstoken",
        "token",
        "bearertoken",
        "ocpapimsubscriptionkey",
        "awssecretaccesskey",
        "awssessiontoken",
        "key",
        "sig",
        "code",
    }
)
# Settings that describe shapes (JSON schemas, tool signatures), where `token` or `password` is a field name.
_DESCRIPTIVE = frozenset({"response_format", "tools", "tool_choice", "logit_bias"})


def check_model_settings(values: Mapping[str, Any], file: str, lines: Mapping[str, int] | None = None) -> None:
    """Refuse a known model setting of the wrong type or range, and any setting that carries a credential.

    `values` are model settings as written in `file` (keys already known, see MODEL_SETTINGS); `lines`
    gives each key's line. Raises PromptgitError naming the file, line and setting.
    """
    for key, value in values.items():
        line = (lines or {}).get(str(key))
        expected = _SETTING_TYPES.get(key)
        if expected is not None and not _fits(key, value):
            raise PromptgitError(
                f"setting {key} must be {expected}, not {value!r}",
                file=file,
                line=line,
                hint=_HINTS.get(
                    key, "the provider would reject every call with it; e.g. `temperature: 0`, `max_tokens: 256`"
                ),
            )
        secret = _credential_in(key, value)
        if secret:
            raise PromptgitError(
                f"setting {key} holds a credential ({secret}); settings are committed and shown in reports",
                file=file,
                line=line,
                hint="remove it and give the key through the environment (e.g. OPENAI_API_KEY, or the "
                "provider's own variable), as litellm reads it",
            )


def _fits(key: str, value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    whole = isinstance(value, int) and not isinstance(value, bool)
    checks = {
        "temperature": number and value >= 0,
        "top_p": number and 0 <= value <= 1,
        "presence_penalty": number,
        "frequency_penalty": number,
        "timeout": number and value > 0,
        "max_tokens": whole and value >= 1,
        "max_completion_tokens": whole and value >= 1,
        "n": whole and value == 1,
        "top_k": whole and value >= 1,
        "seed": whole,
        "top_logprobs": whole and value >= 0,
        "logprobs": isinstance(value, bool),
        "parallel_tool_calls": isinstance(value, bool),
        "stop": isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
        "extra_headers": isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
        "tools": isinstance(value, list),
        "tool_choice": isinstance(value, (str, dict)),
    }
    if key in checks:
        return bool(checks[key])
    return isinstance(value, dict) if _SETTING_TYPES[key] == _MAPPING else isinstance(value, str) and bool(value)


def _credential_in(key: str, value: Any) -> str | None:
    """What in setting `key` looks like a credential (described without its value), or None."""
    if key == "api_base" and isinstance(value, str):
        parts = urlsplit(value)
        if "@" in parts.netloc:
            return "a user name or password before @ in the URL"
        secret = next((name for name, _ in parse_qsl(parts.query) if _secret_name(name)), None)
        if secret:
            return f"the URL's query parameter {secret!r}"
    if key in _DESCRIPTIVE:
        return None
    stack: list[tuple[str, Any]] = [(key, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for name, child in item.items():
                if isinstance(name, str) and _secret_name(name):
                    return f"{where}.{name}"
                stack.append((f"{where}.{name}", child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
        elif isinstance(item, str) and item.strip().lower().startswith(("bearer ", "basic ")):
            return f"an authorization value in {where}"
    return None


def _secret_name(name: str) -> bool:
    return name.lower().replace("-", "").replace("_", "") in _SECRET_NAMES


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
    suggest_cases: int = 5  # the lowest-scoring cases `suggest` shows its model (a small model's context is short)
    max_cost: float | None = None  # USD one run may spend on model calls; then it stops, inconclusive


_NUMBERS = {"concurrency": int, "max_error_rate": float, "timeout": float, "retries": int, "suggest_cases": int}
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
        check_model_settings(value, SETTINGS_FILE, {name: line for name in value} if line else None)
        return dict(value)
    if key in ("prompts", "evals", "cache"):
        if not isinstance(value, str) or not value.strip():
            raise bad("a folder path")
        return value.strip().rstrip("/")
    if value is None and key in ("threshold", "max_drop", "max_cost"):
        return None
    kind = _NUMBERS.get(key, float)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise bad("a whole number" if kind is int else "a number")
    if value != value:  # NaN compares false with every bound below, so it would pass them all and bound nothing
        raise bad("a number (not NaN)")
    if key in _FRACTIONS and not 0 <= value <= 1:
        raise bad("a fraction between 0 and 1")
    if key in ("concurrency", "suggest_cases") and value < 1:
        raise bad("at least 1")
    if key == "retries" and value < 0:
        raise bad("zero or more")
    if key == "timeout" and not value > 0:  # 0 s would time every call out before it could answer
        raise bad("a number of seconds above 0")
    if key == "max_cost" and value < 0:
        raise bad("a number of US dollars, 0 or more")
    if key == "scorer_timeout" and not value > 0:
        raise bad("a number of seconds above 0")
    return kind(value)
