"""The Jinja boundary: the sandboxed environment prompts render in, the loader that reads a Tree, and role markers.

Role lines (`system:`, `user:`, `assistant:` alone on a line) are recognised in template *source*, at
parse time, and replaced by a marker that no value can produce: NUL followed by a role code. Every
value handed to a template has its NULs escaped (NUL becomes NUL + ESCAPE), so a dataset value that
holds `user:` lines, or even the marker itself, stays text inside the message where the template put
it. Role lines written in the template keep working wherever they are (loops, macros, partials),
because the marker is emitted like any other template text.
"""

from __future__ import annotations

import contextvars
import functools
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import jinja2
import markupsafe
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.runtime import Macro
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

from promptgit import limits
from promptgit.errors import PromptgitError
from promptgit.limits import RenderLimit
from promptgit.tree import Tree, normalize, read_text

PROMPT_EXTENSIONS = (".jinja", ".jinja2", ".j2", ".prompty")
ROLES = ("system", "user", "assistant")

_NUL = "\x00"
_ESCAPE = "\x04"
_ROLE_CODE = {"system": "\x01", "user": "\x02", "assistant": "\x03"}
ROLE_OF_CODE = {code: role for role, code in _ROLE_CODE.items()}
MARKER = re.compile("\x00([\x01\x02\x03])")

# promptgit's own role line: exactly the lowercase role and a colon (trailing spaces allowed).
_ROLE_LINE = re.compile(r"^(system|user|assistant):[ \t]*(\r?)$", re.MULTILINE)
# Prompty's parser is laxer: any case, leading spaces and an optional markdown `#`.
_PROMPTY_ROLE_LINE = re.compile(
    r"^[ \t]*#?[ \t]*(system|user|assistant)[ \t]*:[ \t]*(\r?)$", re.MULTILINE | re.IGNORECASE
)


def role_marker(role: str) -> str:
    """The text a role line in a template renders to."""
    return _NUL + _ROLE_CODE[role]


def mark_roles(source: str, filename: str | None) -> str:
    """Template source with each role line replaced by its marker; line numbers are kept."""
    if _NUL in source:
        line = source.count("\n", 0, source.index(_NUL)) + 1
        raise jinja2.TemplateSyntaxError("the template contains a NUL character", line, filename, filename)
    pattern = _PROMPTY_ROLE_LINE if (filename or "").endswith(".prompty") else _ROLE_LINE
    return pattern.sub(lambda m: role_marker(m.group(1).lower()) + m.group(2), source)


def escape_values(value: Any) -> Any:
    """`value` with every NUL in its strings escaped, so no value can carry a role marker.

    Mappings, lists and tuples are copied only where a string inside them changes.
    """
    if isinstance(value, str):
        return value.replace(_NUL, _NUL + _ESCAPE) if _NUL in value else value
    if isinstance(value, Mapping):
        items = [(escape_values(k), escape_values(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items())):
            return value
        return dict(items)
    if isinstance(value, (list, tuple)):
        escaped = [escape_values(v) for v in value]
        if all(a is b for a, b in zip(escaped, value)):
            return value
        return tuple(escaped) if isinstance(value, tuple) else escaped
    return value


def unescape(text: str) -> str:
    """Rendered text between markers, with escaped NULs restored."""
    return text.replace(_NUL + _ESCAPE, _NUL)


class _RoleLines(Extension):
    """Turns role lines into markers before Jinja lexes the source (parse and load alike)."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return mark_roles(source, filename or name)


_LOADED: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("promptgit_loaded", default=None)

# Parts a render placed with turns() and image(): the marker a call renders to names its index here.
# Like role markers, a part marker starts with NUL, which no (escaped) value can produce.
_PARTS: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("promptgit_parts", default=None)
PART_MARKER = re.compile("\x00\x05([0-9]+)\x05")
# The template functions that place parts, which no dataset needs to supply.
PART_FUNCTIONS = frozenset({"turns", "image"})


# The filter every `{% for %}` loop's iterable passes through (added at parse time), counting its steps.
_STEPS_FILTER = "promptgit_counted"


class _Namespace(Namespace):
    """`namespace()`, refusing an oversized value: `{% set ns.s = ns.s ~ ns.s %}` in a loop doubles it."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, limits.check_size(value))


class _Environment(SandboxedEnvironment):
    """The sandbox, bounded by `limits` and recording the file of every template a render loads.

    Bounds: every loop iteration, call (macros included), filter and intercepted operator is a step;
    operators and calls that build strings, lists or integers are sized before and after; the whole
    rendered text is sized as it is joined. See `limits` for the numbers.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_STEPS_FILTER] = limits.counted
        self.globals["namespace"] = _Namespace
        # lorem ipsum of any length in one call; no prompt needs it
        self.globals.pop("lipsum", None)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        ast = super()._parse(source, name, filename)
        for loop in ast.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _STEPS_FILTER, [], [], None, None, lineno=loop.lineno)
        return ast

    def concat(self, parts: Iterator[str]) -> str:  # type: ignore[override]
        """The rendered text, refused as soon as it grows past the size limit."""
        size = 0
        kept: list[str] = []
        for part in parts:
            size += len(part)
            if size > limits.MAX_TEXT:
                raise RenderLimit(f"the rendered text passed {limits.MAX_TEXT:,} characters")
            kept.append(part)
        return "".join(kept)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        limits.check_binop(operator, left, right)
        return limits.check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        limits.tick(limits.MACRO_STEPS if isinstance(__obj, Macro) else 1)
        target = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        receiver = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "call")
        limits.check_arguments("range" if name == "safe_range" else name, receiver, args, kwargs)
        return limits.check_size(super().call(__context, __obj, *args, **kwargs))

    def get_template(self, name: str | jinja2.Template, parent: str | None = None, globals: Any = None) -> Any:
        template = super().get_template(name, parent, globals)
        _record(template)
        return template

    def select_template(self, names: Any, parent: str | None = None, globals: Any = None) -> Any:
        template = super().select_template(names, parent, globals)
        _record(template)
        return template


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` counting a step per call, its arguments and result sized (`limits`); Jinja's pass_* marks kept."""

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        first = next((i for i, a in enumerate(args) if isinstance(a, str)), None)
        receiver, rest = (args[first], args[first + 1 :]) if first is not None else (None, args)
        limits.check_arguments(name, receiver, rest, kwargs)
        return limits.check_size(func(*args, **kwargs))

    return bounded


def _place(part: Any) -> str:
    parts = _PARTS.get()
    if parts is None:
        raise PromptgitError("turns() and image() work only while a prompt renders into messages")
    parts.append(part)
    return f"\x00\x05{len(parts) - 1}\x05"


def _part_functions(tree: Tree) -> dict[str, Callable[[Any], str]]:
    """`turns(value)` and `image(source)`: each places its value in the rendered messages (see `content`)."""
    from promptgit import content

    def turns(value: Any) -> str:
        return _place(content.load_turns(unescape_values(value)))

    def image(source: Any) -> str:
        return _place(content.load_image(tree, unescape_values(source)))

    return {"turns": turns, "image": image}


def unescape_values(value: Any) -> Any:
    """`value` with the NULs `escape_values` escaped restored: what the dataset held."""
    if isinstance(value, str):
        return unescape(value)
    if isinstance(value, Mapping):
        return {unescape_values(k): unescape_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unescape_values(v) for v in value]
    return value


@contextmanager
def recording_parts() -> Iterator[list[Any]]:
    """Collect the parts turns() and image() place during the block, in marker order."""
    parts: list[Any] = []
    token = _PARTS.set(parts)
    try:
        yield parts
    finally:
        _PARTS.reset(token)


def _record(template: jinja2.Template) -> None:
    loaded = _LOADED.get()
    if loaded is not None and template.filename:
        loaded.add(template.filename)


@contextmanager
def recording_loads() -> Iterator[set[str]]:
    """Collect the files of every template loaded inside the block (project-relative paths)."""
    loaded: set[str] = set()
    token = _LOADED.set(loaded)
    try:
        yield loaded
    finally:
        _LOADED.reset(token)


class _TreeLoader(jinja2.BaseLoader):
    """Resolves include and import names under the prompts folder of a Tree, and nowhere else."""

    def __init__(self, tree: Tree, folder: str) -> None:
        self.tree = tree
        self.folder = folder

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = template_path(self.folder, template)
        if not self.tree.exists(path):
            raise jinja2.TemplateNotFound(template)
        _, body = split_front_matter(read_text(self.tree, path), path)
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


@functools.lru_cache(maxsize=8)
def environment(tree: Tree, folder: str) -> SandboxedEnvironment:
    """The sandboxed environment for one snapshot (so a suite's thousand renders compile a template once)."""
    env = _Environment(
        loader=_TreeLoader(tree, folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[_RoleLines],
    )
    env.globals.update(_part_functions(tree))
    return env


def parse(tree: Tree, folder: str, source: str, path: str) -> nodes.Template:
    """Parse template source (role lines marked); a syntax error becomes a PromptgitError at its line."""
    try:
        return environment(tree, folder).parse(source, name=path, filename=path)
    except jinja2.TemplateSyntaxError as err:
        raise PromptgitError(
            f"template syntax error: {err.message}",
            file=err.filename or path,
            line=err.lineno,
            hint="check the {% %} and {{ }} tags around this line",
        ) from None
    except (RecursionError, SyntaxError):
        raise _too_nested(path) from None


def _too_nested(path: str) -> PromptgitError:
    """Source nested past what Jinja's parser or Python's compiler can follow (5,000 parentheses, 200 loops)."""
    return PromptgitError(
        "the template nests too deeply to compile (brackets, operators, blocks or loops inside each other)",
        file=path,
        hint="flatten it: split deep parts into macros or partials",
    )


def loads_in(ast: nodes.Template) -> Iterator[nodes.Node]:
    """Every node of `ast` that loads another template: include, import, from-import, extends."""
    yield from ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))


def split_marked(text: str) -> Sequence[str]:
    """Rendered text split at role markers: [lead, code, content, code, content, ...]."""
    return MARKER.split(text)


def render_file(tree: Tree, folder: str, path: str, values: Mapping[str, Any]) -> tuple[str, set[str]]:
    """Render the template at `path` with `values` (escaped, see `escape_values`).

    Returns the rendered text (role markers in it) and the files of every template the render loaded.
    Jinja's errors become PromptgitErrors at the template file and line where they happened.
    """
    try:
        with recording_loads() as loaded, limits.budget():
            template = _compiled(environment(tree, folder), folder, path)
            text = template.render(escape_values(values))
    except PromptgitError as err:
        raise err.located(*_template_frame(sys.exc_info()[2], path)) from None
    except jinja2.TemplateSyntaxError as err:
        raise PromptgitError(f"template syntax error: {err.message}", file=err.filename, line=err.lineno) from None
    except jinja2.UndefinedError as err:
        raise PromptgitError(
            f"undefined variable: {err.message}",
            **_where(sys.exc_info()[2], path),
            hint="pass it with --var NAME=VALUE, from the suite's dataset (or `vars:`), "
            "or give it a default in `inputs:`",
        ) from None
    except SecurityError as err:
        raise PromptgitError(
            f"the template reaches for Python internals ({err})",
            **_where(sys.exc_info()[2], path),
            hint="templates may use variables, filters and tests, not attributes such as __class__",
        ) from None
    except jinja2.TemplateNotFound as err:
        raise PromptgitError(
            f"included template {err.name!r} not found",
            **_where(sys.exc_info()[2], path),
            hint=f"include names are relative to {folder}/",
        ) from None
    except RenderLimit as err:
        raise PromptgitError(
            f"the template went past a render limit: {err}",
            **_where(sys.exc_info()[2], path),
            hint=limits.summary() + "; render less, or move the work into the dataset",
        ) from None
    except RecursionError:
        raise PromptgitError(
            "the template recurses without end (a macro that calls itself, or a template that includes itself)",
            **_where(sys.exc_info()[2], path),
            hint="give the recursion a condition that stops it, or remove the include of itself",
        ) from None
    except _TEMPLATE_FAULTS as err:
        raise PromptgitError(
            f"the template failed while rendering: {type(err).__name__}: {_short(err)}",
            **_where(sys.exc_info()[2], path),
            hint="fix the expression at this line (or the values it is given)",
        ) from None
    return text, loaded


# What an expression in a template can raise on bad values (`1/0`, `1 + 'a'`, `x.nope()`, `[][1]`,
# a number too large to print); anything else is a bug in promptgit and keeps its traceback.
_TEMPLATE_FAULTS = (
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    jinja2.TemplateRuntimeError,
)


def _short(err: BaseException) -> str:
    text = str(err)
    return text if len(text) <= 200 else text[:200] + "…"


def _compiled(env: SandboxedEnvironment, folder: str, path: str) -> jinja2.Template:
    """The compiled template at `path`; source too deep for the parser or Python's compiler is a PromptgitError."""
    try:
        return env.get_template(path[len(folder) + 1 :])
    except (RecursionError, SyntaxError):
        raise _too_nested(path) from None


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


def page_template(name: str) -> jinja2.Template:
    """promptgit's own template `name` from the package's templates/ folder, for a page of HTML.

    Autoescape is on: every value a model or dataset wrote is escaped where the template puts it, and
    only what the caller marks with `markup` goes in as HTML. Control characters and lone surrogates
    in printed strings are shown as `\x1b` and `\ud800` (HTML forbids the one, UTF-8 cannot hold the other).
    The environment is not sandboxed: the template is ours, the values are data. Raises
    jinja2.TemplateNotFound for a name the package does not hold (a bug, not bad input).
    """
    return _page_environment().get_template(name)


def markup(html: str) -> Any:
    """`html` marked as already safe for page_template (the caller built it from escaped parts)."""
    return markupsafe.Markup(html)


# Characters a page shows as `\x1b` (C0 but tab and line ends, DEL, C1), and lone surrogates as `\ud800`:
# HTML forbids the controls (a browser drops or replaces them), and a lone surrogate cannot be encoded.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def visible(text: str) -> str:
    """`text` as page_template prints it, before escaping: controls shown as `\\x1b`, lone surrogates as `\\ud800`.

    For text a page carries other than through the template (the HTML report's JSON data block).
    """
    return str(_visible(text))


def _visible(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return _INVISIBLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", value)
    return value


@functools.lru_cache(maxsize=1)
def _page_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("promptgit", "templates"),
        autoescape=True,  # every page is HTML
        finalize=_visible,  # every value printed, before it is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def text_template(name: str, filters: Mapping[str, Callable[[Any], str]]) -> jinja2.Template:
    """promptgit's own template `name` from the package's templates/ folder, for plain text or Markdown.

    No autoescape (Markdown has no one escape: the caller's `filters`, e.g. report.cell, escape each
    value where the template puts it); undefined names are errors; block tags leave no blank lines.
    Not sandboxed: the template is ours, the values are data. A fresh environment per call, as the
    filters may close over per-render state (report.py's shrinking limits). Raises
    jinja2.TemplateNotFound for a name the package does not hold (a bug, not bad input).
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptgit", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(filters)
    return env.get_template(name)
