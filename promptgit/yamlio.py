"""The one module that talks to PyYAML: safe loading with errors that name the file and line.

Each YAML text is parsed once per run: one pass builds both the node tree (for line numbers) and the
data, and the result is kept in a small cache keyed by the text itself, so a suite file read by
`suite_names`, `load_suite` and `check` is parsed once, and an edited file can never be served stale.
Cached data is shared: callers treat it as read-only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import yaml

from promptgit.errors import PromptgitError


@dataclass(frozen=True)
class _Parsed:
    node: yaml.Node | None
    data: Any


@functools.lru_cache(maxsize=128)
def _parse(text: str) -> _Parsed:
    """Parse `text` once into nodes and data (what yaml.safe_load does, keeping the nodes)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return _Parsed(node, data)


def _node(text: str) -> yaml.Node | None:
    try:
        return _parse(text).node
    except yaml.YAMLError:
        return None


def load_yaml(text: str, file: str, *, line_offset: int = 0) -> Any:
    """Parse YAML safely; a syntax error becomes a PromptgitError at its line in `file`.

    The data is shared with other readers of the same text in this run: do not mutate it.
    """
    try:
        return _parse(text).data
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = err.problem or err.context or "invalid YAML"
        raise PromptgitError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise PromptgitError(f"invalid YAML: {err}", file=file) from None


def key_lines(text: str, *, line_offset: int = 0) -> dict[str, int]:
    """The line of each top-level key of a YAML mapping, for error messages (empty when unparsable)."""
    node = _node(text)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1 + line_offset
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def load_data_file(text: str, path: str) -> Any:
    """A .json, .yaml or .yml file's data, by its extension (errors name the file and line)."""
    if path.endswith(".json"):
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise PromptgitError(f"invalid JSON: {err.msg}", file=path, line=err.lineno) from None
    if path.endswith((".yaml", ".yml")):
        return load_yaml(text, path)
    raise PromptgitError(f"{path!r} is neither .json nor .yaml", file=path)


def item_lines(text: str, key: str, *, line_offset: int = 0) -> list[int]:
    """The line of each item of the sequence under top-level `key` (empty when there is none)."""
    node = _node(text)
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 + line_offset for item in value.value]
    return []


def parse_count() -> int:
    """How many distinct YAML texts were parsed in this process (for tests of the parse-once rule)."""
    return _parse.cache_info().misses
