"""A model's output when it calls tools: the calls parsed, their stored encoding, and how tables show them.

docs/spec.md, Tools. An output is stored as text (store.py, the shared results ref). A reply without
tool calls is stored as its text, exactly as before; a reply with tool calls is stored as one line of
versioned JSON behind a prefix that starts with NUL, which no model text carries (a text that does
start with the prefix is encoded too, so decoding is never ambiguous):

    "\\x00promptgit-output:v1\\n" + {"text": str, "tool_calls": [{"name", "arguments", "arguments_text", "error"}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_PREFIX = "\x00promptgit-output:v1\n"


@dataclass(frozen=True)
class ToolCall:
    """One function call in a reply: its name and its arguments parsed as JSON.

    Arguments that are not JSON are kept as the model wrote them (`arguments_text`), with `arguments`
    None and `error` saying why they do not parse.
    """

    name: str
    arguments: Any  # parsed JSON (usually a mapping); None when `error`
    arguments_text: str  # the arguments as the model wrote them
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The call as JSON: {"name", "arguments", "arguments_text", "error"}."""
        return {
            "name": self.name,
            "arguments": self.arguments,
            "arguments_text": self.arguments_text,
            "error": self.error,
        }


class Output(str):
    """What scorers receive: the reply's text as a `str`, and its tool calls as `.tool_calls`.

    Text scorers see the text alone ("" for a reply that only calls tools); `.tool_calls` is a tuple of
    ToolCall, empty for a plain reply.
    """

    tool_calls: tuple[ToolCall, ...]

    def __new__(cls, text: str, tool_calls: Iterable[ToolCall] = ()) -> Output:
        made = super().__new__(cls, text)
        made.tool_calls = tuple(tool_calls)
        return made


def parse_call(name: str, arguments_text: str | None) -> ToolCall:
    """A call from a provider's `function.name` and `function.arguments` (a JSON string; None or "" is {})."""
    text = arguments_text or ""
    if not text.strip():
        return ToolCall(name, {}, text)
    try:
        return ToolCall(name, json.loads(text), text)
    except json.JSONDecodeError as err:
        return ToolCall(name, None, text, f"arguments of {name} are not JSON: {err.msg} at column {err.colno}")


def encode(text: str, calls: Iterable[ToolCall]) -> str:
    """The stored form of a reply: `text` itself when it calls no tool, else the versioned encoding."""
    listed = list(calls)
    if not listed and not text.startswith(_PREFIX):
        return text
    body = {"text": text, "tool_calls": [c.as_dict() for c in listed]}
    # Keys keep the model's order, which tables show.
    return _PREFIX + json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def decode(stored: str) -> Output:
    """A stored output (see `encode`) as scorers receive it."""
    if not stored.startswith(_PREFIX):
        return Output(stored)
    try:
        body = json.loads(stored[len(_PREFIX) :])
        calls = [ToolCall(c["name"], c["arguments"], c["arguments_text"], c.get("error")) for c in body["tool_calls"]]
        return Output(body["text"], calls)
    except (ValueError, TypeError, KeyError):  # not written by encode (a result imported from elsewhere): text
        return Output(stored)


def call_text(call: ToolCall) -> str:
    """A call as tables show it: `search(query="weather", days=3)`; arguments that are not JSON in <…>."""
    if call.error is not None:
        return f"{call.name}(<not JSON: {call.arguments_text}>)"
    args = call.arguments
    inner = ", ".join(f"{k}={_json(v)}" for k, v in args.items()) if isinstance(args, Mapping) else _json(args)
    return f"{call.name}({inner})"


def display(stored: str) -> str:
    """A stored output as tables and reports show it: the text, then each call on its own line."""
    output = decode(stored)
    if not output.tool_calls:
        return str(output)
    lines = [str(output)] if output else []
    return "\n".join([*lines, *(call_text(c) for c in output.tool_calls)])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
