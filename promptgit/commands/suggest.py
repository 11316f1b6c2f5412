"""`promptgit suggest SUITE`: a model reads the suite's lowest-scoring cases and proposes one measured change.

The suite is evaluated first (stored results are reused), the meta-prompt (proposals.py) goes through
the same cached model call as every case, and the reply's diff must apply with `git apply` to the
working tree and leave `check` with no new problem; otherwise the run is inconclusive, the reply is
saved under the store's `suggest/` folder and no file is touched. `--apply` writes the change (never
commits); `--try` writes it, compares the suite against HEAD as `diff` does, judges it as `ci` does
(gates.judge) and restores the file's bytes unless `keep`.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptgit import git, proposals
from promptgit.commands.check import check
from promptgit.compare import DiffReport, SuiteDiff
from promptgit.errors import PromptgitError
from promptgit.evaluate import (
    Plan,
    Progress,
    SuiteResult,
    complete_cached,
    evaluate,
    layered_override,
    options_for,
    plan_suite,
)
from promptgit.gates import INCONCLUSIVE, PASS, Gate, judge
from promptgit.patterns import find_patterns
from promptgit.project import Project
from promptgit.prompts import merged_settings, template_graph
from promptgit.proposals import LowCase, Proposal
from promptgit.scorers import judge_settings
from promptgit.store import Store
from promptgit.tree import WORKTREE, Tree, WorkTree

# What became of the proposal (SuggestReport.outcome).
PROPOSED = "proposed"  # a diff that applies and passes check
CAPABILITY = "capability"  # no patch: rewording will not help
NOTHING = "nothing to fix"  # every case scores 1.0: no call made
NO_DIFF = "no diff"
DOES_NOT_APPLY = "does not apply"
BREAKS_CHECK = "breaks check"
UNUSABLE = (NO_DIFF, DOES_NOT_APPLY, BREAKS_CHECK)


@dataclass(frozen=True)
class SuggestReport:
    """One suggest run: the cases shown, the model's proposal and what became of it.

    `problem` says why an unusable proposal was refused (git's complaint, check's problems);
    `reply_file` is where its reply was saved. `applied` is True when the change is left in the
    working tree (`--apply`, or `--try --keep`). `measured` and `gate` are `--try`'s measurement
    against HEAD. `calls` is 0 when the reply came from the cache.
    """

    suite: str
    path: str  # the template
    model: str
    score: float | None  # the suite's score before the change
    cases: tuple[LowCase, ...]
    outcome: str
    proposal: Proposal | None = None
    patch: str | None = None  # the diff as applied (file names and hunk headers put right)
    problem: str | None = None
    reply_file: str | None = None
    applied: bool = False
    measured: DiffReport | None = None  # `--try`: HEAD against the working tree with the change
    gate: Gate | None = None
    calls: int = 0

    @property
    def comparison(self) -> SuiteDiff | None:
        """`--try`'s comparison of the suite against HEAD."""
        return self.measured.suites[0] if self.measured and self.measured.suites else None

    @property
    def verdict(self) -> str:
        """inconclusive for an unusable proposal; with `--try`, the gate's verdict; else pass."""
        if self.outcome in UNUSABLE:
            return INCONCLUSIVE
        return self.gate.verdict if self.gate else PASS

    @property
    def commit_message(self) -> str | None:
        """A message for `git commit -am` when a patch was proposed: the change, its root cause, its measurement."""
        if self.proposal is None or self.patch is None or self.outcome != PROPOSED:
            return None
        cause = self.proposal.root_cause or "unclassified"
        subject = f"{self.suite}: {_first_sentence(self.proposal.reasoning) or 'one targeted change'}"
        body = f"Root cause: {cause}. Proposed by `promptgit suggest` ({self.model})."
        if self.comparison and self.comparison.delta and self.gate:
            test = self.comparison.delta
            body += f" Measured against HEAD: {test.delta * 100:+.1f} pts (p={test.p_value:.3g}), {self.gate.verdict}."
        return f"{subject}\n\n{body}"

    @property
    def commit_command(self) -> str | None:
        """The `git commit -am ...` line that commits the change with `commit_message`."""
        message = self.commit_message
        if message is None:
            return None
        subject, _, body = message.partition("\n\n")
        return f"git commit -am {shlex.quote(subject)} -m {shlex.quote(body)}"


def _first_sentence(text: str, width: int = 60) -> str:
    first = text.split(". ")[0].strip().rstrip(".")
    return first if len(first) <= width else first[: width - 1].rstrip() + "…"


def suggest(
    project: Project,
    store: Store,
    name: str,
    model: str | None = None,
    cases: int | None = None,
    apply: bool = False,
    try_it: bool = False,
    keep: bool = False,
    progress: Progress | None = None,
) -> SuggestReport:
    """Propose one change to suite `name`'s template from its `cases` lowest-scoring cases (default:
    Settings.suggest_cases) with `model` (default: the suite's own), check it, and apply or try it.

    Raises PromptgitError for bad input (no such suite, a revision other than the working tree),
    errors.Inconclusive when the model call fails after its retries.
    """
    if project.revision != WORKTREE:
        raise PromptgitError("suggest works on the working tree", hint="run it without --rev")
    if cases is not None and cases < 1:
        raise PromptgitError(f"--cases must be at least 1, not {cases}")
    plan = plan_suite(project, name)
    result = evaluate([plan], store, options_for(project), progress)[0]
    graph = template_graph(project.tree, project.settings, plan.prompt)
    low = proposals.lowest_cases(plan.suite, result, cases or project.settings.suggest_cases, graph.variables)
    settings = _meta_settings(project, plan, model)
    base = SuggestReport(plan.suite.name, plan.prompt.path, settings["model"], result.score, low, NOTHING)
    if not low:
        return base
    inputs = proposals.meta_inputs(project.tree, plan.prompt, graph, plan.suite, low, pattern_lines(result))
    messages = proposals.meta_messages(inputs)
    response, paid = complete_cached(store, options_for(project), settings, messages, proposals.META_PATH)
    proposal = proposals.parse_reply(response.text)
    report = replace(base, proposal=proposal, calls=int(paid), outcome=PROPOSED)
    if proposal.root_cause == proposals.CAPABILITY:
        return replace(report, outcome=CAPABILITY)
    checked = _checked(project, proposal, inputs.files)
    if checked.outcome != PROPOSED or checked.files is None:
        saved = _save_reply(project, plan.suite.name, response.text)
        return replace(report, outcome=checked.outcome, problem=checked.problem, patch=checked.patch, reply_file=saved)
    report = replace(report, patch=checked.patch)
    if try_it:
        return _tried(project, store, plan, report, checked.files, keep, progress)
    if apply:
        _write(project.root, checked.files)
        return replace(report, applied=True)
    return report


def pattern_lines(result: SuiteResult) -> tuple[str, ...]:
    """The suite's failure patterns (patterns.find_patterns) as the meta-prompt shows them: the top confusions
    of a label suite (`expected refunds, answered billing: 6 cases`), then failures grouped by scorer reason."""
    found = find_patterns(result)
    top = found.confusion.top if found.confusion else ()
    confusions = [f"expected {c.expected}, answered {c.output}: {c.count} cases" for c in top]
    return (*confusions, *(f"{g.dimension}: {g.reason} ({g.count} cases)" for g in found.reasons))


def _meta_settings(project: Project, plan: Plan, model: str | None) -> dict[str, Any]:
    """The meta call's settings: its own front matter, sent where the suite's calls go (as a judge's are:
    scorers.judge_settings); `model` overrides the suite's model and then inherits promptgit.yaml's defaults."""
    own = proposals.meta_settings()
    suite_settings = merged_settings(project.settings, plan.prompt, layered_override(plan))
    chosen = judge_settings(model, own, project.settings.defaults, suite_settings)
    if not chosen.get("model"):
        raise PromptgitError("no model to ask", file=plan.prompt.path, hint="give --model, or set the suite's `model:`")
    return chosen


@dataclass(frozen=True)
class _Checked:
    outcome: str
    problem: str | None = None
    patch: str | None = None
    files: Mapping[str, bytes] | None = None  # the changed files' new bytes


def _checked(project: Project, proposal: Proposal, files: Mapping[str, str]) -> _Checked:
    """Whether the proposal's diff applies to the working tree (git apply --check) and leaves `check` with no
    new problem (checked on the patched files in memory: the working tree is not touched)."""
    if proposal.diff is None:
        return _Checked(NO_DIFF, "the reply holds no unified diff")
    try:
        patch = proposals.patch_of(proposal.diff, files)
    except proposals.Unusable as err:
        return _Checked(DOES_NOT_APPLY, str(err))
    refused = git.apply_patch(project.root, patch, check_only=True)
    current = {path: project.tree.read_bytes(path) for path in files}
    patched = refused or git.patched_files(patch, current)
    if isinstance(patched, str):
        return _Checked(DOES_NOT_APPLY, patched, patch)
    changed = {path: data for path, data in patched.items() if data != current[path]}
    if not changed:
        return _Checked(DOES_NOT_APPLY, "the diff changes nothing", patch)
    new = _new_problems(project, changed)
    if new:
        return _Checked(BREAKS_CHECK, "; ".join(new), patch)
    return _Checked(PROPOSED, None, patch, changed)


def _new_problems(project: Project, changed: Mapping[str, bytes]) -> list[str]:
    """`check`'s problems with the change that it did not have without it."""
    before = {str(p) for p in check(project).problems}
    after = check(replace(project, tree=_Overlay(WorkTree(project.root), changed))).problems
    return [str(p) for p in after if str(p) not in before]


class _Overlay:
    """The working tree with some files' bytes replaced (a Tree): `check` on a change before it is written."""

    revision = WORKTREE

    def __init__(self, under: Tree, files: Mapping[str, bytes]) -> None:
        self.under = under
        self.changed = dict(files)

    def read_bytes(self, path: str) -> bytes:
        """The replaced bytes, else the working tree's."""
        return self.changed[path] if path in self.changed else self.under.read_bytes(path)

    def exists(self, path: str) -> bool:
        """Whether the file exists (a replaced file does)."""
        return path in self.changed or self.under.exists(path)

    def files(self, folder: str) -> list[str]:
        """The working tree's files under `folder` (a change never adds one)."""
        return self.under.files(folder)


def _tried(
    project: Project,
    store: Store,
    plan: Plan,
    report: SuggestReport,
    files: Mapping[str, bytes],
    keep: bool,
    progress: Progress | None,
) -> SuggestReport:
    """Write the change, compare the suite against HEAD as `diff` does, judge it as `ci` does, restore unless `keep`."""
    from promptgit.commands.diff import diff

    original = {path: (project.root / path).read_bytes() for path in files}
    _write(project.root, files)
    try:
        measured = diff(project, store, "HEAD", None, [plan.suite.name], progress)
    finally:
        if not keep:
            _write(project.root, original)
    tried = replace(report, measured=measured, applied=keep)
    comparison = tried.comparison
    gate = judge(comparison, project.settings.max_error_rate) if comparison else None
    return replace(tried, gate=gate)


def _write(root: Path, files: Mapping[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).write_bytes(data)


def _save_reply(project: Project, suite: str, reply: str) -> str:
    """Save an unusable reply as `<store>/suggest/<suite>-<12 hex of its sha256>.txt`; its path."""
    digest = hashlib.sha256(reply.encode("utf-8")).hexdigest()[:12]
    folder = project.store_path / "suggest"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{suite.replace('/', '__')}-{digest}.txt"
    path.write_text(reply, encoding="utf-8")
    return str(path)
