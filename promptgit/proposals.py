"""The refinement loop's proposal (issue 14, part 3): what `suggest` shows a model, and what it makes of the reply.

The meta-prompt is a promptgit prompt file shipped in the package (`promptgit/meta/prompts/suggest.jinja`),
rendered through promptgit's own templating; `promptgit/meta/` is a promptgit project of its own, whose
suite evaluates the meta-prompt on broken prompts with a known fix. Its inputs are the template's text
with the text of every file it includes (includes.py's graph), the suite's scorers, the lowest-scoring
cases (input, expected, output, reasons) and, when given, failure patterns. The reply is read for a root cause
(instruction, context, format or capability), the reasoning, a HELP line (capability) and one
unified diff. The diff's file names and hunk headers are put right here (a model copies lines well
and counts them badly); whether it applies is git's call (git.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptgit.config import Settings
from promptgit.evaluate import CaseResult, SuiteResult
from promptgit.includes import TemplateGraph
from promptgit.prompts import Prompt, load_prompt, render
from promptgit.suites import Suite
from promptgit.tree import Tree, WorkTree

ROOT_CAUSES = ("instruction", "context", "format", "capability")
CAPABILITY = "capability"
META_PROMPT = "suggest"
# The meta-prompt's file, as errors name it; its project is the package's meta/ folder (prompts/ inside it).
META_PATH = f"promptgit/meta/prompts/{META_PROMPT}.jinja"
_CAUSE = re.compile(r"root[ _-]*cause\W*(" + "|".join(ROOT_CAUSES) + r")\b", re.IGNORECASE)
_FIELD = r"^\W*{name}[^\w\n]*?:[*_\s]*(.*?)\s*(?=^\W*(?:root[ _-]*cause|reasoning|help)\W*:|^```|^---|^@@|\Z)"
_REASONING = re.compile(_FIELD.format(name="reasoning"), re.IGNORECASE | re.MULTILINE | re.DOTALL)
_HELP = re.compile(_FIELD.format(name="help"), re.IGNORECASE | re.MULTILINE | re.DOTALL)
_FENCED_DIFF = re.compile(r"^```[ \t]*(?:diff|patch|udiff)?[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class LowCase:
    """One of the lowest-scoring cases as the meta-prompt shows it: score in [0, 1], reasons as `scorer: reason`."""

    id: str
    input: Mapping[str, Any]
    expected: Any
    output: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class MetaInputs:
    """Everything the meta-prompt is rendered with; `includes` and `files` map project paths to text."""

    path: str  # the template's file
    template: str  # its whole text, front matter included
    includes: Mapping[str, str]  # every other file the template can load, that exists
    scorers: tuple[str, ...]  # `name` or `name: config as JSON`
    cases: tuple[LowCase, ...]
    patterns: tuple[str, ...] = ()

    @property
    def files(self) -> dict[str, str]:
        """The files a proposal may change: the template and what it includes."""
        return {self.path: self.template, **self.includes}

    def values(self) -> dict[str, Any]:
        """The meta-prompt's variables."""
        return {
            "path": self.path,
            "template": self.template,
            "includes": [{"path": p, "text": t} for p, t in self.includes.items()],
            "scorers": list(self.scorers),
            "cases": [
                {
                    "input": _json(dict(c.input)),
                    "expected": _json(c.expected),
                    "output": _json(c.output),
                    "reasons": "; ".join(c.reasons),
                }
                for c in self.cases
            ],
            "patterns": list(self.patterns),
        }


@dataclass(frozen=True)
class Proposal:
    """A model's reply, read: root cause (one of ROOT_CAUSES, None when it named none), reasoning, what would
    help (for capability), and its diff as written (None when it gave none)."""

    root_cause: str | None
    reasoning: str
    help: str
    diff: str | None
    reply: str


def lowest_cases(
    suite: Suite, result: SuiteResult, count: int, used: frozenset[str] | None = None
) -> tuple[LowCase, ...]:
    """The `count` lowest-scoring scored cases below a full score, lowest first (ties in the suite's order),
    each with the variables the template `used` (all of the case's when None: a dataset row's other fields
    may hold the answer).

    Errored cases have no output to learn from and are left out; a suite whose every case scores 1.0
    gives none."""
    order = {case.id: i for i, case in enumerate(suite.cases)}
    by_id = {case.id: case for case in suite.cases}
    low = sorted(
        (c for c in result.cases if c.score is not None and c.score < 1.0), key=lambda c: (c.score, order[c.id])
    )
    return tuple(_low_case(_only(by_id[c.id].vars, used), c) for c in low[:count])


def _only(variables: Mapping[str, Any], used: frozenset[str] | None) -> Mapping[str, Any]:
    return variables if used is None else {k: v for k, v in variables.items() if k in used}


def _low_case(variables: Mapping[str, Any], case: CaseResult) -> LowCase:
    return LowCase(case.id, variables, case.expected, case.output or "", case.score or 0.0, case.reasons)


def meta_inputs(
    tree: Tree,
    prompt: Prompt,
    graph: TemplateGraph,
    suite: Suite,
    cases: Sequence[LowCase],
    patterns: Sequence[str] = (),
) -> MetaInputs:
    """The meta-prompt's inputs for `suite`, whose template is `prompt` with its include `graph`."""
    template = tree.read_bytes(prompt.path).decode("utf-8")
    includes = {path: tree.read_bytes(path).decode("utf-8") for path in graph.files[1:] if tree.exists(path)}
    scorers = tuple(s.name if s.config is None else f"{s.name}: {_json(s.config)}" for s in suite.scorers)
    return MetaInputs(prompt.path, template, includes, scorers, tuple(cases), tuple(patterns))


def meta_settings() -> dict[str, Any]:
    """The meta-prompt's own model settings (its front matter: temperature, max_tokens; no model)."""
    tree, settings = _meta_place()
    return dict(load_prompt(tree, settings, META_PROMPT).settings)


def meta_messages(inputs: MetaInputs) -> list[dict[str, str]]:
    """The meta-prompt rendered with `inputs`, as chat messages."""
    tree, settings = _meta_place()
    rendered = render(tree, settings, load_prompt(tree, settings, META_PROMPT), inputs.values())
    return [m.as_dict() for m in rendered.messages]


def _meta_place() -> tuple[Tree, Settings]:
    """The meta-prompt's project (the package's meta/ folder) as a tree, with its default prompts folder."""
    return WorkTree(Path(__file__).resolve().parent / "meta"), Settings()


def parse_reply(reply: str) -> Proposal:
    """Read a model's reply: `ROOT CAUSE: x`, `REASONING: ...`, `HELP: ...` and a diff (fenced, or bare from
    its first `---`/`@@` line). Markdown decoration (`**Root cause**:`) is tolerated; nothing is guessed."""
    cause = _CAUSE.search(reply)
    reasoning = _REASONING.search(reply)
    helps = _HELP.search(reply)
    return Proposal(
        root_cause=cause.group(1).lower() if cause else None,
        reasoning=_squash(reasoning.group(1)) if reasoning else "",
        help=_squash(helps.group(1)) if helps else "",
        diff=_diff_in(reply),
        reply=reply,
    )


def _squash(text: str) -> str:
    return " ".join(text.split())


def _diff_in(reply: str) -> str | None:
    for block in _FENCED_DIFF.findall(reply):
        if _looks_like_diff(block):
            return str(block)
    lines = reply.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(("--- ", "@@ "))), None)
    if start is None:
        return None
    body = "".join(lines[start:]).split("```", 1)[0]
    return body if _looks_like_diff(body) else None


def _looks_like_diff(text: str) -> bool:
    return any(line.startswith("@@") for line in text.splitlines())


class Unusable(Exception):
    """A diff that cannot be made a patch of the template's files (says why)."""


def patch_of(diff: str, files: Mapping[str, str]) -> str:
    """`diff` as a patch git can apply to `files` (project path -> current text): each file header names one
    of `files` (`a/`/`b/` prefixes dropped; a bare name or a path ending in a known file's path is taken
    as it), hunks with no header are the first file's, and each hunk header is recomputed from where its
    old lines stand in the file (when they stand anywhere). Raises Unusable for a file outside `files`
    or a diff with no hunk."""
    first = next(iter(files))
    out: list[str] = []
    current: str | None = None
    shift = 0  # lines the file's earlier hunks added (a later hunk's new start moves by it)
    hunks = _split_hunks(diff)
    if not hunks:
        raise Unusable("the diff has no hunk (no `@@` line)")
    for path, hunk in hunks:
        target = _known(path, files) if path is not None else (current or first)
        if target != current:
            out += [f"--- a/{target}\n", f"+++ b/{target}\n"]
            current, shift = target, 0
        lines, added = _placed(hunk, files[target], shift)
        out += lines
        shift += added
    return "".join(out)


def _split_hunks(diff: str) -> list[tuple[str | None, list[str]]]:
    """(the file named before it, or None; its lines with the `@@` header first) for each hunk."""
    hunks: list[tuple[str | None, list[str]]] = []
    path: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[4:].split("\t")[0].strip()
        elif line.startswith(("--- ", "diff --git", "index ", "new file", "deleted file")):
            continue
        elif line.startswith("@@"):
            hunks.append((path, [line]))
            path = None
        elif hunks:
            hunks[-1][1].append(line)
    return hunks


def _known(path: str, files: Mapping[str, str]) -> str:
    name = path[2:] if path.startswith(("a/", "b/")) and path[2:] else path
    if name in files:
        return name
    ends = [known for known in files if known.endswith("/" + name) or name.endswith("/" + known)]
    if len(ends) == 1:
        return ends[0]
    raise Unusable(f"the diff changes {name}, which is not the template or a file it includes")


def _placed(hunk: list[str], text: str, shift: int) -> tuple[list[str], int]:
    """The hunk with its header recomputed from where its old lines are in `text`; a line the model left
    empty is an empty context line, and the text after `@@ ... @@` on the header line is dropped."""
    body = [line if line[:1] in (" ", "-", "+", "\\") else " " + line for line in hunk[1:]]
    while body and body[-1] == " ":  # blank lines a reply ends with are not part of the hunk
        body.pop()
    old = [line[1:] for line in body if line[:1] in (" ", "-")]
    new = [line[1:] for line in body if line[:1] in (" ", "+")]
    start = _find(old, text.splitlines())
    header = hunk[0]
    if start is not None:
        new_start = start + shift + (1 if new else 0)
        header = f"@@ -{start + 1},{len(old)} +{new_start},{len(new)} @@"
    elif not _HUNK.match(header):
        raise Unusable("a hunk's lines are not in the file and its header gives no line numbers")
    return [header + "\n", *(line + "\n" for line in body)], len(new) - len(old)


def _find(needle: list[str], lines: list[str]) -> int | None:
    if not needle:
        return None
    for i in range(len(lines) - len(needle) + 1):
        if lines[i : i + len(needle)] == needle:
            return i
    return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
