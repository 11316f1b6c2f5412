"""The `promptgit` command: wires Click commands to one core function each, and turns errors into messages."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from promptgit import __version__
from promptgit.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE, PromptgitError

# Core modules are imported inside each command: `promptgit --help` must stay fast, and only
# commands that call a model may import litellm.

TONES = {"good": "green", "bad": "red"}
REV_HELP = "Read prompts and suites at this git revision (default: the working tree)."


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout, nothing else (streamed: a 100,000-case result is never one string)."""
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def problem(text: str) -> None:
    """Print a message for the user on stderr."""
    click.echo(text, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promptgit")
def cli() -> None:
    """promptgit: prompts as versioned Jinja files in git, evaluated and compared commit by commit."""


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(folder: Path) -> int:
    """Scaffold promptgit.yaml, an example prompt and suite, and the pull-request workflow."""
    from promptgit.scaffold import init_project

    folder.mkdir(parents=True, exist_ok=True)
    for path in init_project(folder):
        click.echo(f"wrote {path}")
    click.echo("next: `promptgit check`, then `promptgit eval`")
    return EXIT_OK


@cli.command()
@click.option("--rev", help=REV_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def check(rev: str | None, as_json: bool) -> int:
    """Validate every prompt and suite (parse, includes, variables, scorers) without calling a model."""
    from promptgit.check import check_project
    from promptgit.project import open_project

    report = check_project(open_project(rev))
    if as_json:
        emit_json(
            {
                "prompts": report.prompts,
                "suites": report.suites,
                "cases": report.cases,
                "problems": [
                    {"file": p.file, "line": p.line, "message": p.message, "hint": p.hint} for p in report.problems
                ],
            }
        )
    else:
        for found in report.problems:
            problem(f"error: {found}")
        summary = f"checked {report.prompts} prompts and {report.suites} suites ({report.cases} cases)"
        count = len(report.problems)
        click.echo(f"{summary}: {count} problem{'s' if count != 1 else ''}" if count else f"{summary}: all good")
    return EXIT_FAILED if report.problems else EXIT_OK


@cli.command()
@click.argument("prompt", required=False)
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template variable (repeatable).")
@click.option("--suite", help="Take the variables from a case of this suite.")
@click.option("--case", "case_id", help="The case id (default: the suite's first case).")
@click.option("--rev", help=REV_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def render(
    prompt: str | None,
    variables: tuple[str, ...],
    suite: str | None,
    case_id: str | None,
    rev: str | None,
    as_json: bool,
) -> int:
    """Print the messages PROMPT renders to."""
    from promptgit.project import open_project
    from promptgit.render import parse_vars, render_prompt

    rendered = render_prompt(open_project(rev), prompt, parse_vars(variables), suite, case_id)
    if as_json:
        emit_json(
            {
                "prompt": rendered.prompt,
                "settings": dict(rendered.settings),
                "messages": [m.as_dict() for m in rendered.messages],
            }
        )
        return EXIT_OK
    settings = ", ".join(f"{k}={v}" for k, v in rendered.settings.items())
    click.secho(f"# {rendered.prompt}" + (f"  ({settings})" if settings else ""), dim=True)
    for message in rendered.messages:
        click.secho(f"{message.role}:", bold=True)
        click.echo(message.content)
    return EXIT_OK


def progress_printer(label: str) -> Callable[[int, int], None] | None:
    """A progress bar on stderr when it is a terminal; None when piped."""
    if not sys.stderr.isatty():
        return None
    last = [-1.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.1:
            return
        last[0] = now
        filled = int(30 * done / total) if total else 30
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


@cli.command("eval")
@click.argument("suites", nargs=-1)
@click.option("--rev", help=REV_HELP)
@click.option("--changed-since", metavar="REV", help="Run only the suites a change since REV affects.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def eval_command(suites: tuple[str, ...], rev: str | None, changed_since: str | None, as_json: bool) -> int:
    """Run suites (all by default) and print their scores."""
    from promptgit.display import eval_json, eval_text
    from promptgit.evaluate import evaluate_project
    from promptgit.project import open_project

    project = open_project(rev)
    plans = None
    if changed_since:
        from promptgit.changes import affected_plans

        plans = affected_plans(project, changed_since, suites)
        if not plans:
            problem(f"no suite is affected by changes since {changed_since}")
    report = evaluate_project(project, suites, progress_printer("eval"), plans=plans)
    if as_json:
        emit_json(eval_json(report))
    else:
        click.echo(eval_text(report))
    if any(r.error_rate > report.max_error_rate for r in report.suites):
        problem("inconclusive: too many model calls failed (see the errors column)")
        return EXIT_INCONCLUSIVE
    below = [r.name for r in report.suites if r.below_threshold]
    if below:
        problem(f"below threshold: {', '.join(below)}")
        return EXIT_FAILED
    return EXIT_OK


@cli.command()
@click.argument("base", default="HEAD")
@click.argument("head", required=False)
@click.option("--suite", "suites", multiple=True, help="Compare only this suite (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--markdown", is_flag=True, help="Print the Markdown report.")
def diff(base: str, head: str | None, suites: tuple[str, ...], as_json: bool, markdown: bool) -> int:
    """Compare two revisions (default: HEAD against the working tree) case by case."""
    from promptgit.compare import diff_revisions
    from promptgit.display import diff_json, diff_lines
    from promptgit.tree import find_project_root

    report = diff_revisions(find_project_root(), base, head, suites, progress_printer("diff"))
    if as_json:
        emit_json(diff_json(report))
    elif markdown:
        from promptgit.report import diff_markdown

        click.echo(diff_markdown(report))
    else:
        for text, tone in diff_lines(report):
            click.secho(text, fg=TONES.get(tone))  # click drops the colour when stdout is not a terminal
    return EXIT_OK


@cli.command()
@click.argument("suites", nargs=-1)
@click.option("--no-eval", is_flag=True, help="Show only stored scores; evaluate nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def log(suites: tuple[str, ...], no_eval: bool, as_json: bool) -> int:
    """The refinement log: one row per commit that changed a suite's fingerprint, with its score."""
    from promptgit.display import log_json, log_text
    from promptgit.history import suite_log
    from promptgit.project import open_project
    from promptgit.suites import suite_names

    project = open_project()
    names = list(suites) or suite_names(project.tree, project.settings)
    logs = [suite_log(project.root, name, progress_printer(f"log {name}"), stored_only=no_eval) for name in names]
    if as_json:
        emit_json(log_json(logs[0]) if len(logs) == 1 else [log_json(entry) for entry in logs])
    else:
        click.echo("\n\n".join(log_text(entry) for entry in logs))
    return EXIT_OK


@cli.command()
@click.argument("direction", type=click.Choice(["push", "pull"]))
@click.argument("remote", default="origin")
def sync(direction: str, remote: str) -> int:
    """Share stored results with REMOTE through the refs/promptgit/results ref."""
    from promptgit import sync as sharing
    from promptgit.tree import find_project_root

    moved = (sharing.push if direction == "push" else sharing.pull)(find_project_root(), remote)
    verb = "pushed" if direction == "push" else "pulled"
    click.echo(f"{verb} {moved.files} result file(s), {moved.rows} new row(s)")
    return EXIT_OK


@cli.command()
@click.option("--base", required=True, help="The revision to compare against (the pull request's base).")
@click.option("--head", help="The revision under test (default: the working tree).")
@click.option("--suite", "suites", multiple=True, help="Judge only this suite (repeatable).")
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the Markdown report here."
)
@click.option("--pull/--no-pull", default=True, help="Pull shared results from the remote first (default: on).")
@click.option("--remote", default="origin", show_default=True, help="The remote to pull shared results from.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def ci(
    base: str,
    head: str | None,
    suites: tuple[str, ...],
    report_path: Path | None,
    pull: bool,
    remote: str,
    as_json: bool,
) -> int:
    """Evaluate the affected suites on base and head, apply the gates, and write the report."""
    from promptgit.ci import FAIL, INCONCLUSIVE, append_step_summary, run_ci
    from promptgit.display import ci_json, diff_text
    from promptgit.report import ci_markdown
    from promptgit.tree import find_project_root

    result = run_ci(find_project_root(), base, head, suites, progress_printer("ci"), remote if pull else None)
    markdown = ci_markdown(result)
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(markdown, encoding="utf-8")
    append_step_summary(markdown)
    if as_json:
        emit_json(ci_json(result))
    else:
        click.echo(diff_text(result.diff))
        for gate in result.gates:
            click.echo(f"{gate.suite}: {gate.verdict} ({gate.reason})")
        click.echo(f"verdict: {result.verdict}")
    return {FAIL: EXIT_FAILED, INCONCLUSIVE: EXIT_INCONCLUSIVE}.get(result.verdict, EXIT_OK)


@cli.command()
@click.option(
    "--report",
    "report_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The Markdown report `promptgit ci` wrote.",
)
@click.option("--pr", "pr_number", type=int, help="The pull request number (default: from the GitHub event).")
@click.option("--head-sha", help="Refuse to comment unless the pull request's head is this commit.")
def comment(report_path: Path, pr_number: int | None, head_sha: str | None) -> int:
    """Create or update the one promptgit comment on a pull request (inside GitHub Actions)."""
    from promptgit.github import post_report

    posted = post_report(report_path.read_text(encoding="utf-8"), pr_number=pr_number, head_sha=head_sha)
    click.echo(f"{posted.action} comment {posted.url}")
    return EXIT_OK


@cli.command()
@click.argument("prompt")
@click.option("--no-eval", is_flag=True, help="Show only stored scores; evaluate nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def blame(prompt: str, no_eval: bool, as_json: bool) -> int:
    """git blame of PROMPT's template, each line with the score change its commit caused (a suite name works too)."""
    from promptgit.blame import blame_prompt
    from promptgit.display import blame_json, blame_rows
    from promptgit.tree import find_project_root

    report = blame_prompt(find_project_root(), prompt, progress_printer("blame"), stored_only=no_eval)
    if as_json:
        emit_json(blame_json(report))
        return EXIT_OK
    click.secho(
        f"# {report.path}: score change per commit for {', '.join(report.suites) or 'no suite'} "
        "(pts, 95% CI; ~ within noise)",
        dim=True,
    )
    for text, delta in blame_rows(report):
        click.secho(text, fg=None if delta is None else ("green" if delta > 0 else "red"))
    return EXIT_OK


@cli.command("bisect")
@click.argument("suite")
@click.option("--case", "case_id", help="Find where this case began to fail.")
@click.option("--good", help="A revision where the suite was good (default: its best stored version).")
@click.option("--bad", default="HEAD", show_default=True, help="A revision where it is bad.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def bisect_command(suite: str, case_id: str | None, good: str | None, bad: str, as_json: bool) -> int:
    """Find the first commit where SUITE's score dropped (or a case began to fail)."""
    from promptgit.bisect import bisect_suite
    from promptgit.display import bisect_json, bisect_text
    from promptgit.tree import find_project_root

    report = bisect_suite(find_project_root(), suite, case_id, good, bad, progress_printer("bisect"))
    if as_json:
        emit_json(bisect_json(report))
    else:
        click.echo(bisect_text(report))
    return EXIT_OK if report.first_bad else EXIT_FAILED


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: bad input becomes `promptgit: error: …` and exit 2, never a traceback."""
    if argv is None:  # the process's own entry point (console script, python -m), not a caller in-process
        atexit.register(_exit_without_teardown)  # registered first, so it runs after every other handler
    code = run(argv)
    _exit_status[0] = code
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code."""
    try:
        code = cli.main(args=argv, prog_name="promptgit", standalone_mode=False)
    except PromptgitError as err:
        problem(f"promptgit: error: {err}")
        code = err.exit_code
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except click.exceptions.Abort:
        problem("promptgit: aborted")
        code = EXIT_USAGE
    except click.exceptions.Exit as err:
        code = err.exit_code
    except KeyboardInterrupt:
        problem("promptgit: interrupted")
        code = 130
    return code if isinstance(code, int) else EXIT_OK


# What the process exits with; an exception that escapes main() keeps Python's 1 (and its traceback).
_exit_status = [1]


def _exit_without_teardown() -> None:
    """End the process once the exit handlers have run, skipping the interpreter's teardown.

    Once litellm is loaded the teardown frees about a million objects module by module, which took
    0.8 s after every evaluation that called a model, with nothing left to do: files and the store
    are closed, other exit handlers have run, and the two streams are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can reach the reader
            stream.flush()
    os._exit(_exit_status[0])
