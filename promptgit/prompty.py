"""Prompty front matter (`.prompty` files), read as that format defines it and mapped onto promptgit's.

Sources: the Prompty v1 front matter schema (microsoft/prompty, `Prompty.yaml`: `model.api`,
`model.configuration` of type `azure_openai` / `openai`, `model.parameters`, `inputs`, `sample`,
`template: jinja2`) and the v2 model (`model.id` / `provider` / `apiType` / `connection` / `options`
with camelCase names, `inputSchema.properties` as a list, `metadata`, `template.format.kind`), whose
runtime migrates v1 files the same way this module reads them.

What promptgit cannot honour is refused with a PromptgitError rather than dropped: a template format
other than Jinja (mustache), a connection type or provider litellm is not told how to reach here, an
API other than chat, structured outputs, `base` inheritance, and `${env:...}` in settings.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from promptgit.config import MODEL_SETTINGS, check_model_settings
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.yamlio import key_lines, load_yaml

TOP_KEYS = frozenset(
    {
        "$schema",
        "kind",
        "id",
        "name",
        "displayName",
        "description",
        "version",
        "authors",
        "tags",
        "metadata",
        "model",
        "inputs",
        "inputSchema",
        "sample",
        "template",
        "outputs",
        "outputSchema",
        "tools",
        "base",
    }
)
# v2's camelCase model options, as litellm names them.
_OPTIONS = {
    "maxOutputTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "stopSequences": "stop",
    "allowMultipleToolCalls": "parallel_tool_calls",
    "tools_choice": "tool_choice",  # v1 schema's spelling
}
_PROVIDERS = {"azure_openai": "azure", "azure": "azure", "openai": "openai"}
_TYPES = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class _Site:
    """Where errors point: the file and the line of each top-level key."""

    def __init__(self, path: str, lines: Mapping[str, int]) -> None:
        self.path, self.lines = path, lines

    def error(self, message: str, key: str, hint: str | None = None) -> PromptgitError:
        return PromptgitError(message, file=self.path, line=self.lines.get(key), hint=hint)


def prompty_fields(front: tuple[str, int] | None, path: str) -> dict[str, Any]:
    """A Prompty file's front matter as a Prompt's `settings`, `description` and `inputs` (name -> default)."""
    if front is None:
        return {"settings": {}, "description": None, "inputs": {}}
    text, first_line = front
    data = load_yaml(text, path, line_offset=first_line - 1) or {}
    site = _Site(path, key_lines(text, line_offset=first_line - 1))
    if not isinstance(data, dict):
        raise PromptgitError("Prompty front matter must be a mapping", file=path, line=first_line)
    _refuse_unknown(data, site)
    _template(data.get("template"), site)
    settings = _model(data.get("model"), site)
    check_model_settings(
        settings, path, {name: site.lines["model"] for name in settings} if "model" in site.lines else None
    )
    inputs = _inputs(data.get("inputs"), site, "inputs")
    schema = data.get("inputSchema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise site.error("inputSchema must be a mapping with `properties`", "inputSchema")
        inputs.update(_inputs(schema.get("properties"), site, "inputSchema"))
    description = data.get("description")
    return {
        "settings": settings,
        "description": description if isinstance(description, str) else None,
        "inputs": inputs,
    }


def _refuse_unknown(data: dict[str, Any], site: _Site) -> None:
    for key in data:
        if key not in TOP_KEYS:
            raise site.error(
                f"unknown Prompty key {key!r}",
                str(key),
                did_you_mean(str(key), TOP_KEYS) or f"Prompty front matter keys: {', '.join(sorted(TOP_KEYS))}",
            )
    if data.get("kind") not in (None, "prompt"):
        raise site.error(f"a Prompty file of kind {data['kind']!r} is not a prompt promptgit can evaluate", "kind")
    if data.get("base"):
        raise site.error("`base` (inheriting another Prompty file) is not supported", "base", "copy what it sets")
    for key in ("outputs", "outputSchema"):
        if data.get(key):
            raise site.error(
                f"`{key}` (structured output) is not supported",
                key,
                "set `response_format` under the model's parameters, and score the JSON with a scorer",
            )
    if data.get("tools"):
        raise site.error("top-level `tools` are not supported", "tools", "give `tools:` under the model's parameters")


def _template(value: Any, site: _Site) -> None:
    """Only Jinja with Prompty's role-line parser renders here; anything else is refused."""
    fmt, parser = value, None
    if isinstance(value, dict):
        fmt = value.get("format", value.get("type"))
        parser = value.get("parser")
    fmt, parser = _kind(fmt), _kind(parser)
    if fmt not in (None, "jinja2", "jinja"):
        raise site.error(
            f"template format {fmt!r} cannot be rendered here: promptgit renders Jinja",
            "template",
            "rewrite the body in Jinja (`{{ name }}` works in both) and set `template: jinja2`",
        )
    if parser not in (None, "prompty"):
        raise site.error(f"template parser {parser!r} is not supported (only `prompty`)", "template")


def _kind(value: Any) -> Any:
    return value.get("kind") if isinstance(value, dict) else value


def _model(value: Any, site: _Site) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"model": value}
    if not isinstance(value, dict):
        raise site.error("model must be a model name or a mapping", "model")
    known = {"api", "apiType", "configuration", "connection", "parameters", "options", "id", "provider", "response"}
    for key in value:
        if key not in known:
            raise site.error(f"unknown key {key!r} under model", "model", did_you_mean(str(key), known))
    api = value.get("apiType", value.get("api", "chat"))
    if api != "chat":
        raise site.error(f"model API {api!r} is not supported: promptgit evaluates chat prompts", "model")
    if value.get("response", "first") != "first":
        raise site.error("model.response other than `first` is not supported", "model")
    settings = {**_connection(value, site), **_parameters(value, site)}
    _refuse_env(settings, site)
    return settings


def _connection(model: dict[str, Any], site: _Site) -> dict[str, Any]:
    """The litellm model name (and endpoint settings) from v1 `configuration` or v2 `id`/`provider`."""
    config = model.get("configuration") or model.get("connection") or {}
    if not isinstance(config, dict):
        raise site.error("model.configuration must be a mapping", "model")
    kind = config.get("type")
    provider = model.get("provider") or (_PROVIDERS.get(kind) if kind else None)
    if (kind is not None and kind not in _PROVIDERS) or (provider is not None and provider not in _PROVIDERS.values()):
        raise site.error(
            f"connection type {kind or provider!r} is not supported",
            "model",
            "use `type: azure_openai` or `type: openai` (v2: `provider: azure` or `openai`), "
            "or set `model:` to a litellm model name",
        )
    name = model.get("id") or config.get("azure_deployment") or config.get("name")
    settings: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str):
            raise site.error(f"model name must be text, not {name!r}", "model")
        settings["model"] = f"{provider}/{name}" if provider else name
    endpoint = config.get("azure_endpoint", config.get("endpoint"))
    if isinstance(endpoint, str) and not endpoint.startswith("${"):
        settings["api_base"] = endpoint  # an ${env:...} endpoint is left to litellm's own variables
    version = config.get("api_version")
    if isinstance(version, (str, datetime.date)):  # unquoted, YAML reads 2024-02-01 as a date
        settings["api_version"] = version if isinstance(version, str) else version.isoformat()
    return settings


def _parameters(model: dict[str, Any], site: _Site) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in ("parameters", "options"):
        params = model.get(key) or {}
        if not isinstance(params, dict):
            raise site.error(f"model.{key} must be a mapping", "model")
        extra = params.get("additionalProperties") or {}
        for name, setting in [*params.items(), *extra.items()]:
            if name == "additionalProperties":
                continue
            litellm_name = _OPTIONS.get(name, name)
            if litellm_name not in MODEL_SETTINGS:
                raise site.error(
                    f"model parameter {name!r} is not a setting promptgit passes to the model",
                    "model",
                    did_you_mean(litellm_name, MODEL_SETTINGS),
                )
            settings[litellm_name] = setting
    return settings


def _refuse_env(settings: Mapping[str, Any], site: _Site) -> None:
    for name, value in settings.items():
        if isinstance(value, str) and "${" in value:
            raise site.error(
                f"{name} is {value!r}: environment references in settings cannot be honoured",
                "model",
                "settings are committed values so results are reproducible; write the value itself",
            )


def _inputs(value: Any, site: _Site, key: str) -> dict[str, Any]:
    """Inputs in either form, as name -> default (None: none). A spec's `sample` is not a default."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(name): _default(str(name), spec, site, key) for name, spec in value.items()}
    if isinstance(value, list):
        found: dict[str, Any] = {}
        for item in value:
            if isinstance(item, str):
                found[item] = None
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                found[item["name"]] = _default(item["name"], item, site, key)
            else:
                raise site.error(f"cannot read input {item!r}", key, "write `- name: x` with `kind:` and `default:`")
        return found
    raise site.error(f"{key} must be a mapping or a list of inputs", key)


def _default(name: str, spec: Any, site: _Site, key: str) -> Any:
    if not isinstance(spec, dict):
        return spec  # the shorthand `name: value` gives the default itself
    kind = spec.get("kind", spec.get("type"))
    default = spec.get("default")
    allowed = _TYPES.get(kind) if isinstance(kind, str) else None
    if (
        default is not None
        and allowed
        and (not isinstance(default, allowed) or isinstance(default, bool) != (kind == "boolean"))
    ):
        raise site.error(f"input {name!r} is of type {kind} but its default is {default!r}", key)
    return default
