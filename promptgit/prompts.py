"""Prompt files: front matter (promptgit's own, or Prompty's), a sandboxed Jinja body, and its messages."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptgit import includes, templating
from promptgit.config import MODEL_SETTINGS, Settings, check_model_settings
from promptgit.content import Image, image_path
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.includes import ComputedRef, TemplateGraph
from promptgit.messages import Message, MessageBuilder
from promptgit.templating import PROMPT_EXTENSIONS, ROLES, split_front_matter, template_path
from promptgit.tree import Tree, read_text
from promptgit.yamlio import key_lines, load_yaml

__all__ = [
    "PROMPT_EXTENSIONS",
    "ROLES",
    "ComputedRef",
    "Message",
    "Prompt",
    "Rendered",
    "TemplateGraph",
    "image_files",
    "load_prompt",
    "merged_settings",
    "prompt_names",
    "prompt_path",
    "render",
    "split_front_matter",
    "split_messages",
    "template_graph",
    "template_path",
]

METADATA_KEYS = frozenset({"description", "inputs"})
# The keys of a typed input in Prompty's front matter; a default that looks like one is refused here.
_TYPED_INPUT_KEYS = frozenset({"type", "kind", "description", "default", "sample", "example", "required", "name"})


@dataclass(frozen=True)
class Prompt:
    """A parsed prompt file: its settings from the front matter and its Jinja source."""

    name: str
    path: str
    settings: Mapping[str, Any]  # model settings from this file's front matter only
    description: str | None
    inputs: Mapping[str, Any]  # declared variables and their defaults (None: no default)
    source: str  # the template, front matter blanked so Jinja's line numbers are the file's
    tools_file: str | None = None  # the file `tools:` names (its tools are in `settings`), part of the fingerprint


@dataclass(frozen=True)
class Rendered:
    """A prompt rendered for one set of variables: what is sent to the model."""

    prompt: str
    settings: Mapping[str, Any]  # defaults, then the prompt's own, then any suite override
    messages: tuple[Message, ...] = field(default_factory=tuple)


def prompt_path(tree: Tree, settings: Settings, name: str) -> str:
    """The file of the prompt called `name`, with a hint listing near names when there is none."""
    for ext in PROMPT_EXTENSIONS:
        path = f"{settings.prompts}/{name}{ext}"
        if tree.exists(path):
            return path
    known = prompt_names(tree, settings)
    raise PromptgitError(
        f"no prompt named {name!r} (looked for {settings.prompts}/{name}.jinja)",
        hint=did_you_mean(name, known) or (f"prompts here: {', '.join(known)}" if known else None),
    )


def prompt_names(tree: Tree, settings: Settings) -> list[str]:
    """Every prompt's name; files or folders starting with `_` are partials, not prompts."""
    names = []
    for path in tree.files(settings.prompts):
        relative = path[len(settings.prompts) + 1 :]
        stem, ext = _split_ext(relative)
        if ext and not any(part.startswith("_") for part in relative.split("/")):
            names.append(stem)
    return names


def _split_ext(path: str) -> tuple[str, str | None]:
    for ext in PROMPT_EXTENSIONS:
        if path.endswith(ext):
            return path[: -len(ext)], ext
    return path, None


def load_prompt(tree: Tree, settings: Settings, name: str) -> Prompt:
    """Read and validate the prompt `name` (front matter and Jinja syntax); `.prompty` files by Prompty's rules."""
    path = prompt_path(tree, settings, name)
    front, source = split_front_matter(read_text(tree, path), path)
    if path.endswith(".prompty"):
        from promptgit.prompty import prompty_fields

        fields = prompty_fields(front, path)
    else:
        fields = _front_matter_fields(front, path)
        fields.update(_front_matter_tools(tree, settings, fields, front, path))
    prompt = Prompt(name=name, path=path, source=source, **fields)
    templating.parse(tree, settings.prompts, source, path)
    return prompt


def _front_matter_fields(front: tuple[str, int] | None, path: str) -> dict[str, Any]:
    if front is None:
        return {"settings": {}, "description": None, "inputs": {}}
    text, first_line = front
    offset = first_line - 1
    data = load_yaml(text, path, line_offset=offset) or {}
    if not isinstance(data, dict):
        raise PromptgitError(
            "front matter must be a mapping of settings",
            file=path,
            line=first_line,
            hint="write one `key: value` per line, e.g. `temperature: 0`",
        )
    lines = key_lines(text, line_offset=offset)
    for key in data:
        if key not in MODEL_SETTINGS and key not in METADATA_KEYS:
            raise PromptgitError(
                f"unknown setting {key!r}",
                file=path,
                line=lines.get(str(key)),
                hint=did_you_mean(str(key), MODEL_SETTINGS | METADATA_KEYS)
                or "front matter holds model settings passed to litellm, `description` and `inputs`",
            )
    if "model" in data and not isinstance(data["model"], str):
        raise PromptgitError(
            f"model must be a model name, not {data['model']!r}",
            file=path,
            line=lines.get("model"),
            hint="e.g. `model: openai/gpt-4o-mini`; a Prompty file (model with api/configuration) "
            "is read as Prompty when named .prompty",
        )
    model_settings = {k: v for k, v in data.items() if k in MODEL_SETTINGS}
    # A tools file is read by _front_matter_tools, which needs the tree; its name is not a list of tools.
    listed = {k: v for k, v in model_settings.items() if k != "tools" or not isinstance(v, str)}
    check_model_settings(listed, path, lines)
    return {
        "settings": model_settings,
        "description": data.get("description"),
        "inputs": _inputs(data.get("inputs"), path, lines.get("inputs")),
    }


def _front_matter_tools(
    tree: Tree, settings: Settings, fields: Mapping[str, Any], front: tuple[str, int] | None, path: str
) -> dict[str, Any]:
    """`tools:` read from its file when it names one, and checked with `tool_choice:` (see `tools`)."""
    own = fields["settings"]
    if "tools" not in own and "tool_choice" not in own:
        return {}
    from promptgit import tools

    lines = key_lines(front[0], line_offset=front[1] - 1) if front else {}
    found = own.get("tools")
    file = None
    if isinstance(found, str):
        file = tools.tools_file(settings.prompts, found, path, lines.get("tools"))
        found = tools.load_tools(tree, file, path, lines.get("tools"))
    elif found is not None:
        tools.check_tools(found, path, lines.get("tools"))
    if "tool_choice" in own:
        tools.check_tool_choice(own["tool_choice"], found, path, lines.get("tool_choice"))
    return {"settings": {**own, **({"tools": found} if found is not None else {})}, "tools_file": file}


def _inputs(value: Any, path: str, line: int | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: None for v in value}
    if isinstance(value, dict):
        for name, default in value.items():
            if isinstance(default, dict) and {"type", "kind"} & set(default) and set(default) <= _TYPED_INPUT_KEYS:
                raise PromptgitError(
                    f"input {name!r} is written as a typed Prompty input; here its value is the default",
                    file=path,
                    line=line,
                    hint=f"write `{name}: <default>` (or `{name}: null`), or name the file .prompty",
                )
        return {str(k): v for k, v in value.items()}
    raise PromptgitError(
        "inputs must list variable names, or map each to its default",
        file=path,
        line=line,
        hint="e.g. `inputs: {ticket: null, tone: friendly}`",
    )


def template_graph(tree: Tree, settings: Settings, prompt: Prompt) -> TemplateGraph:
    """Every file `prompt` can load (see `includes`), the variables it uses and its broken references.

    The tools file its front matter names counts as one of its files (the fingerprint hashes them all).
    """
    graph = includes.template_graph(tree, settings.prompts, prompt.path, prompt.source)
    if prompt.tools_file is None:
        return graph
    return dataclasses.replace(graph, files=(*graph.files, prompt.tools_file))


def merged_settings(settings: Settings, prompt: Prompt, override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Project defaults, then the prompt's own settings, then a suite's override."""
    return {**settings.defaults, **prompt.settings, **(override or {})}


def render(
    tree: Tree,
    settings: Settings,
    prompt: Prompt,
    variables: Mapping[str, Any],
    override: Mapping[str, Any] | None = None,
) -> Rendered:
    """Render `prompt` with `variables` (over its declared input defaults) into role-split messages."""
    values = {k: v for k, v in prompt.inputs.items() if v is not None}
    values.update(variables)
    with templating.recording_parts() as parts:
        text, loaded = templating.render_file(tree, settings.prompts, prompt.path, values)
    _refuse_uncovered(tree, settings, prompt, loaded)
    _refuse_unnamed_images(prompt, parts, values)
    messages = split_messages(text, prompt.path, parts)
    return Rendered(prompt.name, merged_settings(settings, prompt, override), messages)


def image_files(values: Mapping[str, Any]) -> set[str]:
    """The project paths of image files that strings in `values` (nested too) name: what a render may load."""
    found: set[str] = set()
    stack: list[Any] = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            path = image_path(value)
            if path is not None:
                found.add(path)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def _refuse_unnamed_images(prompt: Prompt, parts: Sequence[Any], values: Mapping[str, Any]) -> None:
    """An image file must be named, as written, by a value: the fingerprint hashes exactly those files."""
    named = image_files(values)
    for part in parts:
        if isinstance(part, Image) and part.is_file and part.source not in named:
            raise PromptgitError(
                f"the render loaded image {part.source!r}, which no dataset value names as written",
                file=prompt.path,
                hint="give the image's project path in a dataset field (or --var) and pass that value to image()",
            )


def _refuse_uncovered(tree: Tree, settings: Settings, prompt: Prompt, loaded: set[str]) -> None:
    """The second line of defence: a render that loaded a file its fingerprint does not cover is refused.

    The fingerprint hashes `template_graph(...).files`; a file outside it could change without the
    fingerprint changing, and a stored result would be reused for a prompt that is no longer the same.
    """
    covered = set(template_graph(tree, settings, prompt).files)
    stray = sorted(loaded - covered)
    if stray:
        raise PromptgitError(
            f"the render loaded {', '.join(stray)}, which the suite's fingerprint does not cover",
            file=prompt.path,
            hint="name templates so their constant start and end match the file (e.g. "
            '"_partials/" ~ lang ~ ".jinja"), without `..` in the computed part',
        )


def split_messages(text: str, path: str, parts: Sequence[Any] = ()) -> tuple[Message, ...]:
    """Split rendered text at the role markers its template's role lines rendered to (see `templating`).

    Text from values never splits: only role lines written in template source become markers.
    A body with no role line is one user message; text before the first role line is refused.
    `parts` are what turns() and image() placed (see `content`): prior turns become messages of their
    own, and text after them needs a role line; an image joins the user message it is placed in.
    """
    pieces = templating.split_marked(text)
    lead = templating.unescape(pieces[0]).strip()
    if not parts:
        return _text_messages(pieces, lead, path)
    has_roles = len(pieces) > 1
    builder = MessageBuilder(path, None if has_roles else "user")
    builder.add_text(pieces[0])
    for code, body in zip(pieces[1::2], pieces[2::2]):
        builder.start(templating.ROLE_OF_CODE[code])
        builder.add_text(body)
    return builder.finish(parts, has_roles)


def _text_messages(pieces: Sequence[str], lead: str, path: str) -> tuple[Message, ...]:
    if len(pieces) == 1:
        if not lead:
            raise PromptgitError(
                "the prompt renders to no message", file=path, hint="write a body under the front matter"
            )
        return (Message("user", lead),)
    if lead:
        raise PromptgitError(
            f"text before the first role line: {lead[:60]!r}",
            file=path,
            hint="start the body with `system:` or `user:` on a line of its own, or use no role line at all",
        )
    return tuple(
        Message(templating.ROLE_OF_CODE[code], templating.unescape(content).strip())
        for code, content in zip(pieces[1::2], pieces[2::2])
    )
