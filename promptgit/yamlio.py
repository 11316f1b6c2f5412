"""The one module that talks to PyYAML: safe loading with errors that name the file and line.

Each YAML text is parsed once per run: one pass builds both the node tree (for line numbers) and the
data, and the result is kept in a small cache keyed by the text itself, so a suite file read by
`suite_names`, `load_suite` and `check` is parsed once, and an edited file can never be served stale.
Cached data is shared: callers treat it as read-only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from promptgit.errors import PromptgitError
from promptgit.jsonio import JsonRefused, loads, too_long_number_message

# Nodes a document may hold once every alias is expanded. Aliases let a few lines stand for billions of
# nodes ("billion laughs"); anything that walks the data (hashing, rendering, storing) would expand them.
MAX_NODES = 1_000_000


class _TooLarge(yaml.YAMLError):
    """A document whose aliases expand past MAX_NODES, or that refers to itself."""


class _TooDeep(yaml.YAMLError):
    """A document nested deeper than the parser can follow."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading scalars as YAML 1.2's core schema does: a value is taken as written.

    YAML 1.1 (PyYAML's default) turns `2024-01-01` into a date and `yes`, `no`, `on`, `off` into
    booleans, so an expected answer `2024-01-01` or `no` was compared as something its author never
    wrote. Here only `true`/`false` are booleans and nothing is a timestamp (YAML 1.2, section 10.3).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose explicit keys are distinct: PyYAML keeps the last of two equal keys, so a
        suite with `threshold: 0.9` and, further down, `threshold: 0.5` gated at 0.5 without a word.
        Keys brought in by a merge (`<<: *base`) may still be overridden, as YAML intends."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: PyYAML's own constructor refuses it below
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {key!r} appears twice in one mapping (first on line {first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer, or a located error when it has more digits than Python converts (4300 by
        default, sys.get_int_max_str_digits: a guard against quadratic conversion), not a ValueError."""
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                too_long_number_message(len(str(node.value).lstrip("+-"))) + ": quote it to keep it as text",
                node.start_mark,
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _refuse_tag(loader: _Loader, node: yaml.Node) -> Any:
    """Explicit YAML 1.1 tags whose values (bytes, dates, sets, ordered pairs) are not data promptgit
    can hash, store or show: they raised TypeError deep in a run (exit 70). Refused at their line."""
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"the tag !!{node.tag.rsplit(':', 1)[-1]} is not supported (values are text, numbers, true/false, "
        "null, lists and mappings): drop the tag to keep the value as text",
        node.start_mark,
    )


for _tag in ("binary", "timestamp", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag != "tag:yaml.org,2002:timestamp" and tag != "tag:yaml.org,2002:bool"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class _Parsed:
    node: yaml.Node | None
    data: Any


@functools.lru_cache(maxsize=128)
def _parse(text: str) -> _Parsed:
    """Parse `text` once into nodes and data (what yaml.safe_load does, keeping the nodes)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_expansion(node)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise _TooDeep("the document nests deeper than the YAML reader can follow") from None
    finally:
        loader.dispose()
    return _Parsed(node, data)


def _refuse_expansion(root: yaml.Node) -> None:
    """Raise _TooLarge when `root` expanded (every alias copied out) holds more than MAX_NODES nodes.

    Each distinct node is sized once (memoised by identity), so the check is linear in the text.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_NODES:
                raise _TooLarge(f"its aliases expand to more than {MAX_NODES:,} values")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise _TooLarge("an alias refers to a value that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


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
    except _TooLarge as err:
        raise PromptgitError(
            f"YAML refused: {err}",
            file=file,
            line=1 + line_offset,
            hint="write the values out, or use fewer anchors (&name) and aliases (*name)",
        ) from None
    except _TooDeep:
        raise _too_deep(file) from None
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
            return loads(text)
        except JsonRefused as err:
            where = f"row {err.index + 1}: " if err.index is not None else ""
            raise PromptgitError(where + err.message, file=path, line=err.line, hint=err.hint) from None
        except json.JSONDecodeError as err:
            raise PromptgitError(f"invalid JSON: {err.msg}", file=path, line=err.lineno) from None
        except RecursionError:
            raise _too_deep(path) from None
    if path.endswith((".yaml", ".yml")):
        return load_yaml(text, path)
    raise PromptgitError(f"{path!r} is neither .json nor .yaml", file=path)


def _too_deep(file: str) -> PromptgitError:
    return PromptgitError(
        "the data nests deeper than the reader can follow",
        file=file,
        hint="flatten the data; prompts and suites read fields, not deep trees",
    )


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
