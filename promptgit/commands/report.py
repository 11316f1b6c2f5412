"""`promptgit report --html`: the HTML report of suites' trends, and of a comparison when a base is given."""

from __future__ import annotations

from collections.abc import Sequence

from promptgit.commands.ci import CiReport
from promptgit.commands.diff import diff
from promptgit.commands.log import SuiteLog, suite_log
from promptgit.compare import DiffReport
from promptgit.errors import PromptgitError
from promptgit.evaluate import Progress
from promptgit.html_report import HtmlInput
from promptgit.project import Project
from promptgit.store import Store
from promptgit.suites import suite_names

TITLE = "promptgit report"


def report(
    project: Project,
    store: Store,
    names: Sequence[str] = (),
    base: str | None = None,
    head: str | None = None,
    stored_only: bool = False,
    progress: Progress | None = None,
) -> HtmlInput:
    """The page for `names` (default: every suite in the working tree): each suite's `log` trend, and with
    `base` the comparison of `base` with `head` (None: the working tree) as `diff` makes it.

    `stored_only` evaluates nothing: the trend shows stored scores only (`log --no-eval`); the comparison,
    when asked for, still evaluates what it needs. A `head` without a `base` is a PromptgitError.
    """
    if head is not None and base is None:
        raise PromptgitError("--head needs --base", hint="give --base REV to compare two revisions")
    logs = trend_logs(project, store, names, stored_only, progress)
    compared = diff(project, store, base, head, names, progress) if base is not None else None
    return HtmlInput(TITLE, logs, compared)


def ci_page(project: Project, store: Store, result: CiReport) -> HtmlInput:
    """`ci --html`: the comparison, gates and verdict, with each affected suite's trend from stored scores only."""
    names = [d.name for d in result.diff.suites]
    logs = trend_logs(project, store, names, stored_only=True, required=False) if names else ()
    return HtmlInput("promptgit ci", logs, result.diff, result.gates, result.verdict, result.notes)


def diff_page(project: Project, store: Store, compared: DiffReport) -> HtmlInput:
    """`diff --html`: the comparison, with each compared suite's trend from stored scores only."""
    names = [d.name for d in compared.suites]
    logs = trend_logs(project, store, names, stored_only=True, required=False) if names else ()
    return HtmlInput("promptgit diff", logs, compared)


def trend_logs(
    project: Project,
    store: Store,
    names: Sequence[str] = (),
    stored_only: bool = False,
    progress: Progress | None = None,
    required: bool | None = None,
) -> tuple[SuiteLog, ...]:
    """Each suite's refinement log (commands/log.py). A suite no commit holds yet has no trend: it is left
    out, unless it was named and `required` (default: when named), where `log`'s error stands."""
    chosen = list(names) or suite_names(project.tree, project.settings)
    must = bool(names) if required is None else required
    logs = []
    for name in chosen:
        try:
            logs.append(suite_log(project, store, name, progress, stored_only))
        except PromptgitError:
            # suite_log's only refusals are a suite no commit holds and a name the working tree lacks
            # (a suite new in this change, or removed): neither has a trend to draw.
            if must:
                raise
    return tuple(logs)
