"""Versioned content hashes: the same inputs give the same key on any branch, commit or machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# Bump when what goes into a hash changes meaning, so old cache entries are never misread.
HASH_VERSION = "v1"

# Model settings that change where or how long a call runs, never what it answers.
TRANSPORT_SETTINGS = frozenset(
    {"api_base", "base_url", "api_version", "api_key", "timeout", "num_retries", "extra_headers"}
)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one spelling per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(kind: str, value: Any) -> str:
    """`v1:<sha256>` of a value's canonical JSON, namespaced by `kind` so keys of two uses never meet."""
    digest = hashlib.sha256(f"{kind}\n{canonical_json(value)}".encode()).hexdigest()
    return f"{HASH_VERSION}:{digest}"


def output_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The model settings that can change a model's output (the model name included)."""
    return {k: v for k, v in settings.items() if k not in TRANSPORT_SETTINGS}


def call_key(messages: Sequence[Mapping[str, str]], settings: Mapping[str, Any], repeat: int) -> str:
    """The response-cache key: rendered messages, output-affecting settings and the repeat index."""
    payload = {
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "settings": output_settings(settings),
        "repeat": repeat,
    }
    return content_hash("call", payload)
