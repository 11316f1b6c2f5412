"""Tool definitions in a prompt's front matter: `tools:` (inline, or a file under prompts/) and `tool_choice:`.

docs/spec.md, Tools. The shape is OpenAI's chat-completions `tools` parameter, which litellm passes to
every provider that takes tools: a list of `{type: function, function: {name, description?,
parameters?, strict?}}`, `parameters` a JSON Schema of an object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.templating import template_path
from promptgit.tree import Tree, read_text
from promptgit.yamlio import load_data_file

# OpenAI's rule for function names (and the strictest a provider behind litellm has): 1-64 of these.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOOL_KEYS = frozenset({"type", "function"})
_FUNCTION_KEYS = frozenset({"name", "description", "parameters", "strict"})
_CHOICES = ("auto", "none", "required")


def tools_file(folder: str, name: str, path: str, line: int | None) -> str:
    """The project path of the tools file `name` (relative to the prompts folder, like an include)."""
    try:
        found = template_path(folder, name)
    except PromptgitError:
        raise PromptgitError(
            f"tools file {name!r} is outside {folder}/", file=path, line=line, hint=f"name a file under {folder}/"
        ) from None
    if not found.endswith((".json", ".yaml", ".yml")):
        raise PromptgitError(
            f"tools file {name!r} is neither .json nor .yaml",
            file=path,
            line=line,
            hint=f"name a .json or .yaml file under {folder}/ that holds the list of tools",
        )
    return found


def load_tools(tree: Tree, file: str, path: str, line: int | None) -> list[Any]:
    """The list of tools in `file` (JSON or YAML), checked; `path` and `line` are where the prompt names it."""
    if not tree.exists(file):
        raise PromptgitError(
            f"tools file {file!r} not found", file=path, line=line, hint="name it relative to the prompts folder"
        )
    tools = load_data_file(read_text(tree, file), file)
    check_tools(tools, file, None)
    return list(tools)


def check_tools(tools: Any, file: str, line: int | None) -> None:
    """Refuse a `tools` value that is not a list of function definitions with unique names and valid schemas."""
    if not isinstance(tools, list) or not tools:
        raise PromptgitError(
            "tools must be a non-empty list of function definitions",
            file=file,
            line=line,
            hint="e.g. [{type: function, function: {name: search, parameters: {type: object, properties: …}}}]",
        )
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        name = _check_tool(tool, f"tools[{index}]", file, line)
        if name in seen:
            raise PromptgitError(f"two tools are named {name!r}", file=file, line=line, hint="give each a unique name")
        seen.add(name)


def _check_tool(tool: Any, where: str, file: str, line: int | None) -> str:
    def fail(message: str, hint: str | None = None) -> PromptgitError:
        return PromptgitError(f"{where}: {message}", file=file, line=line, hint=hint)

    if not isinstance(tool, Mapping) or tool.get("type") != "function" or not isinstance(tool.get("function"), Mapping):
        raise fail(
            "a tool is a mapping {type: function, function: {name, description, parameters}}",
            hint="the shape providers take (OpenAI's `tools`); litellm translates it for the others",
        )
    _no_unknown(tool, _TOOL_KEYS, fail)
    function = tool["function"]
    _no_unknown(function, _FUNCTION_KEYS, fail)
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(f"function name {name!r} must be 1-64 letters, digits, _ or -", hint="e.g. get_weather")
    if "description" in function and not isinstance(function["description"], str):
        raise fail(f"the description of {name} must be text")
    if "parameters" in function:
        _check_parameters(function["parameters"], name, fail)
    return name


def _no_unknown(mapping: Mapping[str, Any], known: frozenset[str], fail: Any) -> None:
    for key in mapping:
        if key not in known:
            hint = did_you_mean(str(key), known) or f"keys: {', '.join(sorted(known))}"
            raise fail(f"unknown key {key!r}", hint=hint)


def _check_parameters(schema: Any, name: str, fail: Any) -> None:
    """The parameters must be a valid JSON Schema (by its own `$schema`, else the latest draft) of an object."""
    import jsonschema  # imported on first use: ~0.1 s, and most prompts have no tools

    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise fail(
            f"the parameters of {name} must be a JSON Schema with `type: object`",
            hint="providers take a function's arguments as one JSON object: {type: object, properties: {…}}",
        )
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as err:
        path = "/".join(str(p) for p in err.absolute_path)
        where = f" (at {path})" if path else ""
        raise fail(f"the parameters of {name} are not a valid JSON Schema: {err.message}{where}") from None


def check_tool_choice(choice: Any, tools: Any, file: str, line: int | None) -> None:
    """`tool_choice` is auto, none, required or {type: function, function: {name}} naming a defined tool."""
    if choice in _CHOICES:
        return
    names = [t["function"]["name"] for t in tools] if isinstance(tools, list) else []
    function = choice.get("function") if isinstance(choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str) or choice.get("type") != "function":
        raise PromptgitError(
            f"tool_choice must be {', '.join(_CHOICES)} or {{type: function, function: {{name: …}}}}, not {choice!r}",
            file=file,
            line=line,
        )
    if name not in names:
        raise PromptgitError(
            f"tool_choice names {name!r}, which is not among the prompt's tools",
            file=file,
            line=line,
            hint=did_you_mean(name, names) or (f"tools: {', '.join(names)}" if names else "define it under `tools:`"),
        )
