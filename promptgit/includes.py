"""What a prompt can load: every file reachable by include, import, from-import and extends, however named.

A name written as a string is followed exactly. A name computed at render time (`"_partials/" ~ lang
~ ".jinja"`, a variable, a filter, a call) cannot be known before rendering, so the graph covers every
file under the prompts folder that the name could be: those that start with the name's constant prefix
and end with its constant suffix (every file, when there is neither). Each such reference is recorded
as a `ComputedRef`, so `check` can say what the fingerprint covers. Rendering checks the files it
actually loaded against `TemplateGraph.files` (see `prompts.render`), the second line of defence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from jinja2 import meta, nodes

from promptgit.errors import PromptgitError
from promptgit.templating import loads_in, parse, split_front_matter, template_path
from promptgit.tree import Tree, read_text


@dataclass(frozen=True)
class ComputedRef:
    """A load whose name is computed at render time, and the files it could name."""

    file: str  # where the load is written
    line: int
    prefix: str  # the name's constant start, relative to the prompts folder ("" when none)
    suffix: str  # the name's constant end
    files: tuple[str, ...]  # every file under the prompts folder the name could be

    @property
    def note(self) -> str:
        """One line for `check`: what the fingerprint covers for this load."""
        pattern = f"{self.prefix}*{self.suffix}"
        return (
            f"the template name at {self.file}:{self.line} is computed when rendering; "
            f"the fingerprint covers all {len(self.files)} files matching {pattern!r}"
        )


@dataclass(frozen=True)
class TemplateGraph:
    """What a prompt reads: the files it can load, transitively, and the variables it uses."""

    files: tuple[str, ...]  # the prompt's own file first; missing ones too (an `ignore missing` target)
    variables: frozenset[str]
    problems: tuple[PromptgitError, ...]
    computed: tuple[ComputedRef, ...] = ()


@dataclass(frozen=True)
class _Name:
    """A template name: exact, or a pattern of constant prefix and suffix around a computed middle."""

    text: str
    suffix: str | None = None  # None: exact; otherwise `text` is the prefix


@dataclass
class _Walk:
    tree: Tree
    folder: str
    files: list[str]
    variables: set[str] = field(default_factory=set)
    problems: list[PromptgitError] = field(default_factory=list)
    computed: list[ComputedRef] = field(default_factory=list)
    pending: list[tuple[str, str, bool, bool]] = field(default_factory=list)  # path, source, shares, exact


def template_graph(tree: Tree, folder: str, path: str, source: str) -> TemplateGraph:
    """Walk every load from the template at `path` (its body `source`), collecting files and variables."""
    return _graph(tree, folder, path, source)


@functools.lru_cache(maxsize=64)
def _graph(tree: Tree, folder: str, path: str, source: str) -> TemplateGraph:
    walk = _Walk(tree, folder, [path], pending=[(path, source, True, True)])
    while walk.pending:
        current, text, shares, exact = walk.pending.pop()
        try:
            ast = parse(tree, folder, text, current)
        except PromptgitError as err:
            if exact:  # a file reached only through a computed name may not be a template at all
                walk.problems.append(err)
            continue
        if shares and exact:
            walk.variables |= meta.find_undeclared_variables(ast)
        for node in loads_in(ast):
            _follow(walk, node, current, shares and exact)
    return TemplateGraph(tuple(walk.files), frozenset(walk.variables), tuple(walk.problems), tuple(walk.computed))


def _follow(walk: _Walk, node: nodes.Node, current: str, shares: bool) -> None:
    # An include or extends sees the caller's variables; an import does so only `with context`.
    passes = isinstance(node, (nodes.Include, nodes.Extends)) or bool(getattr(node, "with_context", False))
    names = _names(node.template)  # type: ignore[attr-defined]
    ignore_missing = bool(getattr(node, "ignore_missing", False))
    found = False
    for name in names:
        if name.suffix is None:
            found = _exact(walk, name.text, current, node.lineno, shares and passes) or found
        else:
            _computed(walk, name, current, node.lineno)
            found = True
    if not found and not ignore_missing:
        written = ", ".join(repr(n.text) for n in names)
        walk.problems.append(
            PromptgitError(
                f"included template {written} not found",
                file=current,
                line=node.lineno,
                hint=f"include names are relative to {walk.folder}/",
            )
        )


def _exact(walk: _Walk, name: str, current: str, line: int, shares: bool) -> bool:
    """Follow a name known before rendering; False when its file does not exist (it is covered anyway)."""
    try:
        target = template_path(walk.folder, name)
    except PromptgitError as err:
        walk.problems.append(err.located(current, line))
        return True
    if target in walk.files:
        return True
    walk.files.append(target)  # a missing file is covered too: adding it later changes the render
    if not walk.tree.exists(target):
        return False
    _, body = split_front_matter(read_text(walk.tree, target), target)
    walk.pending.append((target, body, shares, True))
    return True


def _computed(walk: _Walk, name: _Name, current: str, line: int) -> None:
    suffix = name.suffix or ""
    start = f"{walk.folder}/"
    matches = tuple(
        path
        for path in walk.tree.files(walk.folder)
        if path[len(start) :].startswith(name.text)
        and path.endswith(suffix)
        and len(path) - len(start) >= len(name.text) + len(suffix)
    )
    walk.computed.append(ComputedRef(current, line, name.text, suffix, matches))
    for path in matches:
        if path in walk.files:
            continue
        walk.files.append(path)
        _, body = split_front_matter(read_text(walk.tree, path), path)
        walk.pending.append((path, body, False, False))


def _names(expr: nodes.Node) -> list[_Name]:
    """The names a template expression can evaluate to, exact where constant, else prefix/suffix patterns."""
    if isinstance(expr, nodes.Const):
        return [_Name(expr.value)] if isinstance(expr.value, str) else []
    if isinstance(expr, (nodes.List, nodes.Tuple)):
        return [name for item in expr.items for name in _names(item)]
    if isinstance(expr, nodes.CondExpr):
        return _names(expr.expr1) + (_names(expr.expr2) if expr.expr2 is not None else [])
    parts = _parts(expr)
    if all(isinstance(p, str) for p in parts):
        return [_Name("".join(p for p in parts if p is not None))]
    prefix: list[str] = []
    for part in parts:
        if part is None:
            break
        prefix.append(part)
    suffix: list[str] = []
    for part in reversed(parts):
        if part is None:
            break
        suffix.append(part)
    return [_Name("".join(prefix), "".join(reversed(suffix)))]


def _parts(expr: nodes.Node) -> list[str | None]:
    """A string concatenation (`~` or `+`) as its constant pieces, None for each computed piece."""
    if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, nodes.Concat):
        return [part for node in expr.nodes for part in _parts(node)]
    if isinstance(expr, nodes.Add):
        return _parts(expr.left) + _parts(expr.right)
    return [None]
