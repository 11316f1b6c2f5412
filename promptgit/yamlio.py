"""The one module that talks to PyYAML: safe loading with errors that name the file and line."""

from __future__ import annotations

from typing import Any

import yaml

from promptgit.errors import PromptgitError


def load_yaml(text: str, file: str, *, line_offset: int = 0) -> Any:
    """Parse YAML safely; a syntax error becomes a PromptgitError at its line in `file`."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = err.problem or err.context or "invalid YAML"
        raise PromptgitError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise PromptgitError(f"invalid YAML: {err}", file=file) from None


def key_lines(text: str, *, line_offset: int = 0) -> dict[str, int]:
    """The line of each top-level key of a YAML mapping, for error messages (empty when unparsable)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
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
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 + line_offset for item in value.value]
    return []
