"""Prompt files: YAML front matter, a sandboxed Jinja body, and the role lines that split it into messages."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from promptgit.config import MODEL_SETTINGS, Settings
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.tree import Tree, normalize, read_text
from promptgit.yamlio import key_lines, load_yaml

PROMPT_EXTENSIONS = (".jinja", ".jinja2", ".j2")
ROLES = ("system", "user", "assistant")
METADATA_KEYS = frozenset({"description", "inputs"})
_ROLE_LINE = re.compile(r"^(system|user|assistant):[ \t]*$")


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        """The message as litellm and JSON want it."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Prompt:
    """A parsed prompt file: its settings from the front matter and its Jinja source."""

    name: str
    path: str
    settings: Mapping[str, Any]  # model settings from this file's front matter only
    description: str | None
    inputs: Mapping[str, Any]  # declared variables and their defaults (None: no default)
    source: str  # the template, front matter blanked so Jinja's line numbers are the file's


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
    """Read and validate the prompt `name` (front matter and Jinja syntax)."""
    path = prompt_path(tree, settings, name)
    front, source = split_front_matter(read_text(tree, path), path)
    prompt = Prompt(name=name, path=path, source=source, **_front_matter_fields(front, path))
    _parse(tree, settings, source, path)
    return prompt


def split_front_matter(text: str, path: str) -> tuple[tuple[str, int] | None, str]:
    """Split `---` front matter from the body; the body keeps its line numbers (front matter blanked)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            front = "".join(lines[1:index])
            body = "\n" * (index + 1) + "".join(lines[index + 1 :])
            return (front, 2), body
    raise PromptgitError(
        "front matter is not closed",
        file=path,
        line=1,
        hint="end the settings block with a line that is exactly `---`",
    )


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
    return {
        "settings": {k: v for k, v in data.items() if k in MODEL_SETTINGS},
        "description": data.get("description"),
        "inputs": _inputs(data.get("inputs"), path, lines.get("inputs")),
    }


def _inputs(value: Any, path: str, line: int | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: None for v in value}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    raise PromptgitError(
        "inputs must list variable names, or map each to its default",
        file=path,
        line=line,
        hint="e.g. `inputs: {ticket: null, tone: friendly}`",
    )


class _TreeLoader(jinja2.BaseLoader):
    """Resolves include and import names under the prompts folder of a Tree, and nowhere else."""

    def __init__(self, tree: Tree, folder: str) -> None:
        self.tree = tree
        self.folder = folder

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        path = template_path(self.folder, template)
        try:
            text = self.tree.read_bytes(path).decode("utf-8")
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template) from None
        _, body = split_front_matter(text, path)
        return body, path, lambda: True


def template_path(folder: str, template: str) -> str:
    """The file an include name refers to; a name that leaves the prompts folder is refused."""
    try:
        path = normalize(f"{folder}/{template}")
    except PromptgitError:
        path = ""
    if not path.startswith(folder + "/"):
        raise PromptgitError(
            f"include {template!r} is outside {folder}/",
            hint=f"templates may include only files under {folder}/, named relative to it",
        )
    return path


def environment(tree: Tree, settings: Settings) -> SandboxedEnvironment:
    """The sandboxed Jinja environment prompts render in: strict about undefined variables."""
    return _environment(tree, settings.prompts)


@functools.lru_cache(maxsize=8)
def _environment(tree: Tree, folder: str) -> SandboxedEnvironment:
    # One environment per snapshot, so a suite's thousand renders compile the template once.
    return SandboxedEnvironment(
        loader=_TreeLoader(tree, folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _parse(tree: Tree, settings: Settings, source: str, path: str) -> nodes.Template:
    try:
        return environment(tree, settings).parse(source, name=path, filename=path)
    except jinja2.TemplateSyntaxError as err:
        raise PromptgitError(
            f"template syntax error: {err.message}",
            file=err.filename or path,
            line=err.lineno,
            hint="check the {% %} and {{ }} tags around this line",
        ) from None


@dataclass(frozen=True)
class TemplateRef:
    """An include or import of another template, where it is written."""

    name: str
    file: str
    line: int


@dataclass(frozen=True)
class TemplateGraph:
    """What a prompt reads: the files it includes or imports, transitively, and the variables it uses."""

    files: tuple[str, ...]  # the prompt's own file first
    variables: frozenset[str]
    problems: tuple[PromptgitError, ...]


def template_graph(tree: Tree, settings: Settings, prompt: Prompt) -> TemplateGraph:
    """Walk includes and imports from `prompt`, collecting files, variables and broken references."""
    files = [prompt.path]
    variables: set[str] = set()
    problems: list[PromptgitError] = []
    pending = [(prompt.path, prompt.source, True)]
    while pending:
        path, source, shares_context = pending.pop()
        try:
            ast = _parse(tree, settings, source, path)
        except PromptgitError as err:
            problems.append(err)
            continue
        if shares_context:
            from jinja2 import meta

            variables |= meta.find_undeclared_variables(ast)
        for ref in _refs_in(ast, path):
            _follow(tree, settings, ref, files, pending, problems)
    return TemplateGraph(tuple(files), frozenset(variables), tuple(problems))


def _refs_in(ast: nodes.Template, path: str) -> list[tuple[TemplateRef, bool]]:
    refs = []
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
        # An include sees the caller's variables; an import does so only `with context`.
        shares = isinstance(node, nodes.Include) or bool(getattr(node, "with_context", False))
        template = node.template
        items = template.items if isinstance(template, (nodes.List, nodes.Tuple)) else [template]
        for item in items:
            if isinstance(item, nodes.Const) and isinstance(item.value, str):
                refs.append((TemplateRef(item.value, path, node.lineno), shares))
    return refs


def _follow(
    tree: Tree,
    settings: Settings,
    ref_share: tuple[TemplateRef, bool],
    files: list[str],
    pending: list[tuple[str, str, bool]],
    problems: list[PromptgitError],
) -> None:
    ref, shares = ref_share
    try:
        target = template_path(settings.prompts, ref.name)
    except PromptgitError as err:
        problems.append(err.located(ref.file, ref.line))
        return
    if target in files:
        return
    if not tree.exists(target):
        problems.append(
            PromptgitError(
                f"included template {ref.name!r} not found (looked for {target})",
                file=ref.file,
                line=ref.line,
                hint=f"include names are relative to {settings.prompts}/",
            )
        )
        return
    files.append(target)
    _, body = split_front_matter(read_text(tree, target), target)
    pending.append((target, body, shares))


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
    try:
        template = environment(tree, settings).get_template(prompt.path[len(settings.prompts) + 1 :])
        text = template.render(values)
    except PromptgitError as err:
        raise err.located(*_template_frame(sys.exc_info()[2], prompt.path)) from None
    except jinja2.TemplateSyntaxError as err:
        raise PromptgitError(f"template syntax error: {err.message}", file=err.filename, line=err.lineno) from None
    except jinja2.UndefinedError as err:
        raise PromptgitError(
            f"undefined variable: {err.message}",
            **_where(sys.exc_info()[2], prompt.path),
            hint="pass it with --var NAME=VALUE, from the suite's dataset (or `vars:`), "
            "or give it a default in `inputs:`",
        ) from None
    except SecurityError as err:
        raise PromptgitError(
            f"the template reaches for Python internals ({err})",
            **_where(sys.exc_info()[2], prompt.path),
            hint="templates may use variables, filters and tests, not attributes such as __class__",
        ) from None
    except jinja2.TemplateNotFound as err:
        raise PromptgitError(
            f"included template {err.name!r} not found",
            **_where(sys.exc_info()[2], prompt.path),
            hint=f"include names are relative to {settings.prompts}/",
        ) from None
    return Rendered(prompt.name, merged_settings(settings, prompt, override), split_messages(text, prompt.path))


def _where(tb: TracebackType | None, default_file: str) -> dict[str, Any]:
    file, line = _template_frame(tb, default_file)
    return {"file": file, "line": line}


def _template_frame(tb: TracebackType | None, default_file: str) -> tuple[str, int | None]:
    """The innermost template file and line in a traceback (Jinja rewrites frames to template lines)."""
    found: tuple[str, int | None] = (default_file, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(PROMPT_EXTENSIONS) or filename == default_file:
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def split_messages(text: str, path: str) -> tuple[Message, ...]:
    """Split rendered text at lines that are exactly `system:`, `user:` or `assistant:`."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        match = _ROLE_LINE.match(line)
        if match:
            sections.append((match.group(1), []))
        else:
            sections[-1][1].append(line)
    lead = "\n".join(sections[0][1]).strip()
    if len(sections) == 1:
        if not lead:
            raise PromptgitError(
                "the prompt renders to no message", file=path, hint="write a body under the front matter"
            )
        return (Message("user", lead),)  # a body with no role line is one user message
    if lead:
        raise PromptgitError(
            f"text before the first role line: {lead[:60]!r}",
            file=path,
            hint="start the body with `system:` or `user:` on a line of its own, or use no role line at all",
        )
    return tuple(Message(role, "\n".join(lines).strip()) for role, lines in sections[1:] if role)
