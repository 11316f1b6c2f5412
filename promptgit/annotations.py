"""GitHub Actions annotations: workflow commands that put `ci` verdicts and `check` problems on the Files tab.

A line `::error file=F,line=L,endLine=E,title=T::message` (or `::warning …`) printed by a step becomes an
annotation on F's lines in the pull request (docs.github.com, "Workflow commands for GitHub Actions").
The runner reads the commands from stdout and stderr alike; the CLI prints them on stderr so stdout
stays one document under `--json`. GitHub shows at most 10 errors and 10 warnings per step, so a failing
suite is annotated on at most MAX_RANGES changed ranges per prompt file.

Escaping follows the runner (actions/toolkit's command.ts): in the message `%`, CR and LF become
%25, %0D and %0A; in a property value `:` and `,` also become %3A and %2C, since they end a property.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptgit.commands.check import CheckReport
    from promptgit.commands.ci import CiReport
    from promptgit.compare import SuiteDiff
    from promptgit.gates import Gate

MAX_RANGES = 5


@dataclass(frozen=True)
class Annotation:
    """One workflow command: level is `error`, `warning` or `notice`; lines are 1-based, in the file at head."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    title: str | None = None

    def command(self) -> str:
        """The workflow command line, escaped."""
        props = [
            f"{key}={escape_property(str(value))}"
            for key, value in (
                ("file", self.file),
                ("line", self.line),
                ("endLine", self.end_line),
                ("title", self.title),
            )
            if value is not None
        ]
        return f"::{self.level}{' ' + ','.join(props) if props else ''}::{escape_data(self.message)}"


def under_github_actions(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process runs as a GitHub Actions step (the runner sets GITHUB_ACTIONS=true)."""
    return environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A message escaped for a workflow command: %, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value escaped for a workflow command: the message's escapes plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def ci_annotations(project_root: Path, report: CiReport) -> list[str]:
    """The workflow commands for a `ci` run: an error per changed range of each failing suite's prompt files
    (of its suite file when no prompt file changed; on the suite file as a whole when neither did, as when
    only its dataset changed), a warning for an inconclusive suite, and one for a drop within noise.
    Paths are given relative to GITHUB_WORKSPACE (see `workspace_path`)."""
    found: list[Annotation] = []
    for diff in report.diff.suites:
        gate = report.gate(diff.name)
        if gate.verdict == "fail":
            found += _failed(project_root, report, diff, gate)
        elif gate.verdict == "inconclusive":
            found.append(
                Annotation("warning", gate.reason, _suite_file(diff), title=f"promptgit: {diff.name} inconclusive")
            )
        elif _dropped_within_noise(diff):
            found.append(_noise_warning(diff))
    return _commands(project_root, found)


def _failed(project_root: Path, report: CiReport, diff: SuiteDiff, gate: Gate) -> list[Annotation]:
    """Errors on the changed ranges of the suite's prompt files; else of the suite file; else on the suite file."""
    from promptgit import git
    from promptgit.tree import WORKTREE

    title = f"promptgit: {diff.name} failed"
    head = None if report.diff.head == WORKTREE else report.diff.head
    suite_file = _suite_file(diff)
    for paths in (diff.prompt_files, (suite_file,) if suite_file else ()):
        found = [
            Annotation("error", gate.reason, path, first, last, title)
            for path in paths
            for first, last in git.changed_lines(project_root, report.diff.base, head, path)[:MAX_RANGES]
        ]
        if found:
            return found
    return [Annotation("error", gate.reason, suite_file, title=title)]


def _suite_file(diff: SuiteDiff) -> str | None:
    side = diff.head or diff.base
    return side.path if side else None


def _dropped_within_noise(diff: SuiteDiff) -> bool:
    return diff.delta is not None and diff.delta.delta < 0 and not diff.delta.significant


def _noise_warning(diff: SuiteDiff) -> Annotation:
    from promptgit.display import paired_text

    assert diff.delta is not None  # _dropped_within_noise checked it
    message = f"score dropped within noise: {paired_text(diff.delta)} (pts, 95% CI); more cases or repeats would tell"
    return Annotation("warning", message, _suite_file(diff), title=f"promptgit: {diff.name} dropped within noise")


def check_annotations(project_root: Path, report: CheckReport) -> list[str]:
    """An error per `check` problem, at its file and line when it names them (the hint follows the message)."""
    found = []
    for err in report.problems:
        message = f"{err.message}\nhint: {err.hint}" if err.hint else err.message
        found.append(Annotation("error", message, err.file, err.line, title="promptgit check"))
    return _commands(project_root, found)


def _commands(project_root: Path, found: list[Annotation]) -> list[str]:
    return [replace(a, file=workspace_path(project_root, a.file)).command() for a in found]


def workspace_path(project_root: Path, path: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """`path` (project-relative, or absolute) relative to GITHUB_WORKSPACE, the checkout, which is what the
    runner resolves an annotation's `file` against; unchanged when there is no workspace or it lies outside."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if path is None or not workspace:
        return path
    try:
        return (project_root / path).resolve().relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return path
