"""The `promptgit` command: parses arguments, calls one command function, prints through display, maps to exit codes.

Command modules are imported inside each command: `promptgit --help` must stay fast, and only
commands that call a model may import litellm. Bad input anywhere becomes `promptgit: error: ...`
and exit 2 here, once (errors.PromptgitError), never a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptgit import __version__
from promptgit.errors import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PromptgitError,
    write_output,
)

if TYPE_CHECKING:
    from promptgit.compare import DiffReport
    from promptgit.experiments import Variant
    from promptgit.gates import Gate
    from promptgit.html_report import HtmlInput
    from promptgit.project import Project
    from promptgit.selection import Knobs
    from promptgit.store import Store

TONES = {"good": "green", "bad": "red"}
REV_HELP = "Read prompts and suites at this git revision (default: the working tree)."
# A verdict's exit code (docs/spec.md, "Exit codes"); the verdict constants live in gates.py.
EXIT_CODES = {"pass": EXIT_OK, "fail": EXIT_FAILED, "inconclusive": EXIT_INCONCLUSIVE}

BUG_REPORT = "this is a bug; please report it with the traceback above"

quiet_option = click.option("-q", "--quiet", is_flag=True, help="Show no progress on stderr.")


class _Number(click.FloatRange):
    """A FloatRange that refuses NaN (which compares false with every bound, so it passes them and bounds nothing)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


time_limit_option = click.option(
    "--time-limit",
    type=_Number(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop after this long: what finished stays stored, the run ends inconclusive.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
junit_option = click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML here (a testsuite per suite, a testcase per case).",
)
repeat_option = click.option(
    "--repeat",
    type=click.IntRange(min=1),
    metavar="K",
    help="Run each case K times, in place of each suite's `repeat:` (stored rows are reused).",
)
concurrency_option = click.option(
    "-j",
    "--concurrency",
    type=click.IntRange(min=1),
    metavar="N",
    help="At most N model calls at once, in place of the `concurrency` setting.",
)


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Case selection and shards, for `eval` and `drift` (docs/spec.md, "Selections and shards")."""
    options = [
        click.option("--case", "case_ids", multiple=True, metavar="ID", help="Run only this case (repeatable)."),
        click.option(
            "--filter", "pattern", metavar="REGEX", help="Run only cases whose id or a NAME=VALUE var matches (RE2)."
        ),
        click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Run only the first N (chosen) cases."),
        click.option(
            "--sample", type=click.IntRange(min=1), metavar="N", help="Run N (chosen) cases picked by --seed."
        ),
        click.option("--seed", type=int, help="The seed --sample picks by (default: 0)."),
        click.option("--failing", is_flag=True, help="Run only the cases that failed in the stored result."),
        click.option("--shard", metavar="I/N", help="Run only shard I of N of the calls (for CI matrices)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def knobs(repeat: int | None, concurrency: int | None, fresh: bool = False, **selection: Any) -> Any:
    """The run's knobs from the command line (selection.Knobs); a malformed --shard is exit 2."""
    from promptgit.selection import Knobs, Request, parse_shard

    shard, seed = selection.pop("shard", None), selection.pop("seed", None)
    if seed is not None and not selection.get("sample"):
        raise PromptgitError("--seed only picks for --sample", hint="add --sample N, or drop --seed")
    request = Request(**selection, seed=seed or 0, shard=parse_shard(shard) if shard else None)
    return Knobs(repeat=repeat, concurrency=concurrency, fresh=fresh, request=request)


html_option = click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the HTML report here (one self-contained file: trend, comparison, cases).",
)


model_option = click.option(
    "--model",
    "models",
    multiple=True,
    metavar="MODEL",
    help="Run on this model instead of the files' (repeatable: side by side, each compared with the first).",
)
set_option = click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a model setting for this run (repeatable; VALUE is YAML: 0.7, true, [a, b]).",
)


def parse_variants(models: Sequence[str], sets: Sequence[str], sweep: str | None = None) -> list[Variant]:
    """`--model`, `--set` and `--sweep` as the run's variants (experiments.Variant); none when all are absent."""
    if not (models or sets or sweep):
        return []
    from promptgit.experiments import parse_settings, parse_sweep, variants

    return variants(models, parse_settings(sets), parse_sweep(sweep) if sweep else None)


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout, nothing else (streamed: a 100,000-case result is never one string)."""
    # json.dump writes each of its ~28 pieces per case separately (0.9 s for 4,000 cases, profiled):
    # joined into blocks of about JSON_BLOCK characters, the writes are few and memory stays bounded.
    pieces: list[str] = []
    size = 0
    for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(document):
        pieces.append(piece)
        size += len(piece)
        if size >= JSON_BLOCK:
            sys.stdout.write("".join(pieces))
            pieces.clear()
            size = 0
    sys.stdout.write("".join(pieces) + "\n")


JSON_BLOCK = 1 << 16


def problem(text: str) -> None:
    """Print a message for the user on stderr."""
    click.echo(text, err=True)


@contextlib.contextmanager
def opened(rev: str | None = None) -> Iterator[tuple[Project, Store]]:
    """The project at `rev` (default: the working tree) and its local store, closed when the command ends."""
    from promptgit.project import open_project
    from promptgit.store import Store

    project = open_project(rev)
    with Store(project.store_path) as store:
        yield project, store


def progress(label: str, quiet: bool) -> Callable[[Any], None] | None:
    """The progress display for a command that may evaluate (terminal.py)."""
    from promptgit.terminal import progress_printer

    return progress_printer(label, quiet)


def secho(text: str, **style: Any) -> None:
    """Print a line on stdout, styled unless NO_COLOR is set or stdout is not a terminal."""
    from promptgit.terminal import use_colour

    click.secho(text, color=use_colour(), **style)


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--var NAME=VALUE` pairs as a mapping."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PromptgitError(
                f"--var {pair!r} is not NAME=VALUE", hint="e.g. --var ticket='My card was charged twice'"
            )
        if key.strip() in values:  # the last one silently won
            raise PromptgitError(f"--var {key.strip()} is given twice", hint="give each variable once")
        values[key.strip()] = value
    return values


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promptgit")
def cli() -> None:
    """promptgit: prompts as versioned Jinja files in git, evaluated and compared commit by commit."""


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(folder: Path) -> int:
    """Scaffold promptgit.yaml, an example prompt and suite, and the pull-request workflow."""
    from promptgit.commands.init import init

    for path in init(folder).written:
        click.echo(f"wrote {path}")
    click.echo("next: `promptgit check`, then `promptgit eval`")
    return EXIT_OK


@cli.command()
@click.option("--rev", help=REV_HELP)
@json_option
def check(rev: str | None, as_json: bool) -> int:
    """Validate every prompt and suite (parse, includes, variables, scorers) without calling a model."""
    from promptgit.annotations import check_annotations, under_github_actions
    from promptgit.commands.check import check
    from promptgit.display import check_json, check_text
    from promptgit.project import open_project

    project = open_project(rev)
    report = check(project)
    if under_github_actions():  # each problem annotated at its file and line, on stderr
        for line in check_annotations(project.root, report):
            problem(line)
    if as_json:
        emit_json(check_json(report))
    else:
        problems, summary = check_text(report)
        for line in problems:
            problem(line)
        click.echo(summary)
    return EXIT_FAILED if report.problems else EXIT_OK


@cli.command()
@click.argument("prompt", required=False)
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template variable (repeatable).")
@click.option("--suite", help="Take the variables from a case of this suite.")
@click.option("--case", "case_id", help="The case id (default: the suite's first case).")
@click.option("--rev", help=REV_HELP)
@json_option
def render(
    prompt: str | None,
    variables: tuple[str, ...],
    suite: str | None,
    case_id: str | None,
    rev: str | None,
    as_json: bool,
) -> int:
    """Print the messages PROMPT renders to."""
    from promptgit.commands.render import render_prompt
    from promptgit.display import render_json, render_lines
    from promptgit.project import open_project

    rendered = render_prompt(open_project(rev), prompt, parse_vars(variables), suite, case_id)
    if as_json:
        emit_json(render_json(rendered))
        return EXIT_OK
    for text, style in render_lines(rendered):
        secho(text, dim=style == "dim", bold=style == "bold")
    return EXIT_OK


@cli.command("eval")
@click.argument("suites", nargs=-1)
@click.option("--rev", help=REV_HELP)
@click.option("--changed-since", metavar="REV", help="Run only the suites a change since REV affects.")
@model_option
@set_option
@click.option(
    "--sweep",
    metavar="KEY=V1,V2,...",
    help="Run once per value of a model setting, side by side (crossed with each --model).",
)
@click.option("--dry-run", is_flag=True, help="Print the uncached calls and their estimated cost; call nothing.")
@click.option(
    "--max-cost",
    type=_Number(min=0),
    metavar="USD",
    help="Start no new call once this run has spent this much; it ends inconclusive.",
)
@time_limit_option
@quiet_option
@json_option
@junit_option
@repeat_option
@concurrency_option
@selection_options
@click.option("--no-cache", "fresh", is_flag=True, help="Call the model afresh and store the new answers.")
def eval_command(
    suites: tuple[str, ...],
    rev: str | None,
    changed_since: str | None,
    models: tuple[str, ...],
    sets: tuple[str, ...],
    sweep: str | None,
    dry_run: bool,
    max_cost: float | None,
    time_limit: float | None,
    quiet: bool,
    as_json: bool,
    junit_path: Path | None,
    repeat: int | None,
    concurrency: int | None,
    **selection: Any,
) -> int:
    """Run suites (all by default) and print their scores."""
    from promptgit.commands.eval import eval_suites
    from promptgit.display import eval_json, eval_text

    run_knobs = knobs(repeat, concurrency, **selection)
    variants = parse_variants(models, sets, sweep)
    if dry_run:
        return _dry_run(suites, rev, changed_since, variants, as_json, run_knobs)
    with opened(rev) as (project, store):
        report = eval_suites(
            project, store, suites, changed_since, progress("eval", quiet), time_limit, variants, max_cost, run_knobs
        )
    if report.note:
        problem(report.note)
    for note in report.notes:
        problem(note)
    if junit_path:
        from promptgit.junit import eval_junit, write_junit

        write_junit(junit_path, eval_junit(report))
    if as_json:
        emit_json(eval_json(report))
    elif report.suites or not report.note:  # nothing ran: the note says why, with no empty table under it
        click.echo(eval_text(report))
    _say_verdict(report.gates)
    return EXIT_CODES[report.verdict]


def _dry_run(
    suites: Sequence[str],
    rev: str | None,
    changed_since: str | None,
    variants: Sequence[Variant],
    as_json: bool,
    run_knobs: Knobs | None = None,
) -> int:
    """`eval --dry-run`: print what the run would call and cost."""
    from promptgit.commands.eval import dry_run
    from promptgit.display import dry_run_json, dry_run_text

    with opened(rev) as (project, store):
        report = dry_run(project, store, suites, changed_since, variants, run_knobs)
    if report.note:
        problem(report.note)
    if as_json:
        emit_json(dry_run_json(report))
    else:
        click.echo(dry_run_text(report))
    return EXIT_OK


def _say_verdict(gates: Sequence[Gate]) -> None:
    """Each suite that did not pass, with its reason, on stderr."""
    for gate in gates:
        if gate.verdict != "pass":
            problem(f"{gate.verdict}: {gate.suite}: {gate.reason}")


@cli.command("drift")
@click.argument("suites", nargs=-1)
@time_limit_option
@quiet_option
@json_option
@repeat_option
@concurrency_option
@selection_options
def drift_command(
    suites: tuple[str, ...],
    time_limit: float | None,
    quiet: bool,
    as_json: bool,
    repeat: int | None,
    concurrency: int | None,
    **selection: Any,
) -> int:
    """Re-run suites at the working tree without the response cache and compare with their stored results."""
    from promptgit.commands.drift import drift
    from promptgit.display import drift_json, drift_lines

    run_knobs = knobs(repeat, concurrency, **selection)
    with opened() as (project, store):
        report = drift(project, store, suites, progress("drift", quiet), time_limit, run_knobs)
    for note in report.notes:
        problem(note)
    if as_json:
        emit_json(drift_json(report))
    else:
        for text, tone in drift_lines(report):
            secho(text, fg=TONES.get(tone or ""))
    _say_verdict(report.gates)
    return EXIT_CODES[report.verdict]


@cli.command()
@click.argument("base", default="HEAD")
@click.argument("head", required=False)
@click.option("--suite", "suites", multiple=True, help="Compare only this suite (repeatable).")
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="MODEL",
    help="Give twice: compare the second model with the first at one revision (not two revisions).",
)
@set_option
@click.option("--rev", help="With --model: the revision both models run at (default: the working tree).")
@time_limit_option
@quiet_option
@json_option
@click.option("--markdown", is_flag=True, help="Print the Markdown report.")
@html_option
@repeat_option
@concurrency_option
def diff(
    base: str,
    head: str | None,
    suites: tuple[str, ...],
    models: tuple[str, ...],
    sets: tuple[str, ...],
    rev: str | None,
    time_limit: float | None,
    quiet: bool,
    as_json: bool,
    markdown: bool,
    html_path: Path | None,
    repeat: int | None,
    concurrency: int | None,
) -> int:
    """Compare two revisions (default: HEAD against the working tree) case by case, or two models (--model)."""
    from promptgit.commands.diff import diff, diff_variants
    from promptgit.display import diff_json, diff_lines

    run_knobs = knobs(repeat, concurrency)
    if models or rev:
        source = click.get_current_context().get_parameter_source("base")
        _refuse_revisions_with_models(models, head is not None or source != click.core.ParameterSource.DEFAULT, rev)
        with opened(rev) as (project, store):
            variants = parse_variants(models, sets)
            report = diff_variants(
                project, store, variants, suites, progress("diff", quiet), time_limit, knobs=run_knobs
            )
            _diff_html(html_path, project, store, report)
    else:
        if sets:
            raise PromptgitError("--set needs --model here", hint="diff two models: --model A --model B --set KEY=V")
        with opened() as (project, store):
            report = diff(project, store, base, head, suites, progress("diff", quiet), time_limit, knobs=run_knobs)
            _diff_html(html_path, project, store, report)
    from promptgit.gates import diff_gates, overall

    gates = diff_gates(report.suites)  # shown in every form, and the exit code: 1 when one fails, as `ci`
    if as_json:
        emit_json(diff_json(report, gates))
    elif markdown:
        from promptgit.report import diff_markdown

        click.echo(diff_markdown(report, gates))
    else:
        for text, tone in diff_lines(report, gates=gates):
            secho(text, fg=TONES.get(tone or ""))  # click drops the colour when stdout is not a terminal
    return EXIT_CODES[overall(gates)]


def _diff_html(path: Path | None, project: Project, store: Store, report: DiffReport) -> None:
    """`diff --html`: the page of the comparison, written while the store is open (its trends read it)."""
    if path:
        from promptgit.commands.report import diff_page

        write_html(path, diff_page(project, store, report))


def _refuse_revisions_with_models(models: Sequence[str], revisions: bool, rev: str | None) -> None:
    """`diff --model` compares at one revision (`--rev`); two revisions and two models at once are refused."""
    if not models:
        raise PromptgitError("--rev needs --model", hint="diff two revisions as `promptgit diff BASE HEAD`")
    if revisions:
        raise PromptgitError(
            "diff compares two revisions or two models, not both",
            hint="for two models at one revision: promptgit diff --model A --model B --rev REV",
        )


@cli.command()
@click.argument("suites", nargs=-1)
@click.option("--no-eval", is_flag=True, help="Show only stored scores; evaluate nothing.")
@click.option("--by-scorer", is_flag=True, help="A column per scorer: each one's own score and 95% CI.")
@quiet_option
@json_option
def log(suites: tuple[str, ...], no_eval: bool, by_scorer: bool, quiet: bool, as_json: bool) -> int:
    """The refinement log: one row per commit that changed a suite's fingerprint, with its score."""
    from promptgit.commands.log import log
    from promptgit.display import logs_json, logs_text

    with opened() as (project, store):
        report = log(project, store, suites, no_eval, progress("log", quiet))
    if as_json:
        emit_json(logs_json(report))
    else:
        click.echo(logs_text(report, by_scorer))
    return EXIT_OK


@cli.command()
@click.argument("suites", nargs=-1)
@click.option(
    "--html",
    "html_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the HTML report here (one self-contained file).",
)
@click.option("--base", help="Also compare this revision with --head, case by case.")
@click.option("--head", help="The revision compared with --base (default: the working tree).")
@click.option("--no-eval", is_flag=True, help="The trend shows only stored scores; it evaluates nothing.")
@quiet_option
def report(
    suites: tuple[str, ...], html_path: Path, base: str | None, head: str | None, no_eval: bool, quiet: bool
) -> int:
    """Write the HTML report: each suite's trend over commits, its cases, and base vs head when --base is given."""
    from promptgit.commands.report import report

    with opened() as (project, store):
        page = report(project, store, suites, base, head, no_eval, progress("report", quiet))
    write_html(html_path, page)
    click.echo(f"wrote {html_path}")
    return EXIT_OK


def write_html(path: Path, page: HtmlInput) -> None:
    """Render an html_report.HtmlInput and write it to `path` (exit 2 naming it when it cannot be written)."""
    from promptgit.html_report import render_html

    write_output(path, render_html(page).encode("utf-8"), "the HTML report", "--html")


@cli.command()
@click.argument("direction", type=click.Choice(["push", "pull"]))
@click.argument("remote", default="origin")
def sync(direction: str, remote: str) -> int:
    """Share stored results with REMOTE through the refs/promptgit/results ref."""
    from promptgit.commands.sync import sync

    with opened() as (project, store):
        moved = sync(project, store, direction, remote)
    for skipped in moved.skipped:
        problem(f"promptgit: warning: skipped a shared results file: {skipped}")
    verb = "pushed" if direction == "push" else "pulled"
    click.echo(f"{verb} {moved.files} result file(s), {moved.rows} new row(s)")
    return EXIT_OK


@cli.command()
@click.option("--base", required=True, help="The revision to compare against (the pull request's base).")
@click.option("--head", help="The revision under test (default: the working tree).")
@click.option("--suite", "suites", multiple=True, help="Judge only this suite (repeatable).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the Markdown report here.",
)
@click.option("--pull/--no-pull", default=True, help="Pull shared results from the remote first (default: on).")
@click.option("--remote", default="origin", show_default=True, help="The remote to pull shared results from.")
@click.option(
    "--trust-shared-head",
    is_flag=True,
    help="Let pulled results stand in for the head side too (anyone who can push a ref can write them).",
)
@click.option("--no-bisect", is_flag=True, help="Do not bisect a failing pull request for the commit that caused it.")
@time_limit_option
@quiet_option
@json_option
@junit_option
@html_option
@repeat_option
@concurrency_option
def ci(
    base: str,
    head: str | None,
    suites: tuple[str, ...],
    report_path: Path | None,
    pull: bool,
    remote: str,
    no_bisect: bool,
    trust_shared_head: bool,
    time_limit: float | None,
    quiet: bool,
    as_json: bool,
    junit_path: Path | None,
    html_path: Path | None,
    repeat: int | None,
    concurrency: int | None,
) -> int:
    """Evaluate the affected suites on base and head, apply the gates, and write the report."""
    from promptgit.annotations import ci_annotations, under_github_actions
    from promptgit.commands.ci import ci
    from promptgit.display import ci_json, ci_run_text
    from promptgit.github import STEP_SUMMARY_CHARS, append_step_summary
    from promptgit.report import ci_markdown

    with opened() as (project, store):
        pull_from = remote if pull else None
        result = ci(
            project,
            store,
            base,
            head,
            suites,
            progress("ci", quiet),
            pull_from,
            time_limit,
            trust_shared_head,
            bisect=not no_bisect,
            knobs=knobs(repeat, concurrency),
        )
        if html_path:
            from promptgit.commands.report import ci_page

            write_html(html_path, ci_page(project, store, result))
    for note in result.notes:
        problem(f"promptgit: {note}")
    markdown = ci_markdown(result)
    if report_path:
        write_output(report_path, markdown.encode("utf-8"), "the report", "--report")
    append_step_summary(ci_markdown(result, STEP_SUMMARY_CHARS))  # the full report a trimmed comment points to
    if junit_path:
        from promptgit.junit import ci_junit, write_junit

        write_junit(junit_path, ci_junit(result))
    if under_github_actions():  # annotations on the pull request's Files tab, on stderr so --json stays clean
        for line in ci_annotations(project.root, result):
            problem(line)
    if as_json:
        emit_json(ci_json(result))
    else:
        click.echo(ci_run_text(result))
    return EXIT_CODES[result.verdict]


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
@click.option("--html-url", metavar="URL", help="Link the HTML report uploaded here (an https artifact URL).")
def comment(report_path: Path, pr_number: int | None, head_sha: str | None, html_url: str | None) -> int:
    """Create or update the one promptgit comment on a pull request (inside GitHub Actions)."""
    from promptgit.commands.comment import comment
    from promptgit.github import describe

    click.echo(describe(comment(report_path, pr_number, head_sha, html_url)))
    return EXIT_OK


@cli.command()
@click.argument("prompt")
@click.option("--no-eval", is_flag=True, help="Show only stored scores; evaluate nothing.")
@quiet_option
@json_option
def blame(prompt: str, no_eval: bool, quiet: bool, as_json: bool) -> int:
    """git blame of PROMPT's template, each line with the score change its commit caused (a suite name works too)."""
    from promptgit.commands.blame import blame
    from promptgit.display import blame_json, blame_rows

    with opened() as (project, store):
        report = blame(project, store, prompt, progress("blame", quiet), stored_only=no_eval)
    if as_json:
        emit_json(blame_json(report))
        return EXIT_OK
    suites = ", ".join(report.suites) or "no suite"
    secho(f"# {report.path}: score change per commit for {suites} (pts, 95% CI; ~ within noise)", dim=True)
    for text, delta in blame_rows(report):
        secho(text, fg=None if delta is None else ("green" if delta > 0 else "red"))
    return EXIT_OK


@cli.command("bisect")
@click.argument("suite")
@click.option("--case", "case_id", help="Find where this case began to fail.")
@click.option("--good", help="A revision where the suite was good (default: its best stored version).")
@click.option("--bad", default="HEAD", show_default=True, help="A revision where it is bad.")
@quiet_option
@json_option
def bisect_command(suite: str, case_id: str | None, good: str | None, bad: str, quiet: bool, as_json: bool) -> int:
    """Find the first commit where SUITE's score dropped (or a case began to fail)."""
    from promptgit.commands.bisect import bisect
    from promptgit.display import bisect_json, bisect_text

    with opened() as (project, store):
        report = bisect(project, store, suite, case_id, good, bad, progress("bisect", quiet))
    if as_json:
        emit_json(bisect_json(report))
    else:
        click.echo(bisect_text(report))
    return EXIT_OK if report.first_bad else EXIT_FAILED


@cli.command()
@click.argument("suite")
@click.option("--model", help="The model that proposes the change (default: the suite's own).")
@click.option(
    "--cases",
    "case_count",
    type=click.IntRange(min=1),
    help="How many lowest-scoring cases to show it (default: suggest_cases in promptgit.yaml, 5).",
)
@click.option("--apply", "apply_it", is_flag=True, help="Write the change to the working tree (never commits).")
@click.option("--try", "try_it", is_flag=True, help="Write it, compare the suite against HEAD, then restore the file.")
@click.option("--keep", is_flag=True, help="With --try: leave the change in the working tree.")
@quiet_option
@json_option
def suggest(
    suite: str,
    model: str | None,
    case_count: int | None,
    apply_it: bool,
    try_it: bool,
    keep: bool,
    quiet: bool,
    as_json: bool,
) -> int:
    """A model reads SUITE's lowest-scoring cases and proposes one change to its template, checked and measured."""
    from promptgit.commands.suggest import suggest
    from promptgit.display import suggest_json, suggest_lines

    if keep and not try_it:
        raise PromptgitError("--keep goes with --try", hint="--apply alone writes the change and keeps it")
    with opened() as (project, store):
        report = suggest(
            project, store, suite, model, case_count, apply_it, try_it, keep or apply_it, progress("suggest", quiet)
        )
    if as_json:
        emit_json(suggest_json(report))
    else:
        for text, tone in suggest_lines(report):
            secho(text, fg=TONES.get(tone or ""))
    return EXIT_CODES[report.verdict]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: bad input becomes `promptgit: error: …` and exit 2, never a traceback."""
    if argv is None:  # the process's own entry point (console script, python -m), not a caller in-process
        atexit.register(_exit_without_teardown)  # registered first, so it runs after every other handler
    try:
        code = run(argv)
    except Exception:  # a bug, not bad input: keep the traceback for the report, and never exit 1
        traceback.print_exc()
        problem(f"promptgit: internal error (exit {EXIT_INTERNAL}): {BUG_REPORT}")
        code = EXIT_INTERNAL
    _exit_status[0] = code
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # Not cli.main(): it turns Ctrl-C into an Abort after printing a blank line of its own.
        with cli.make_context("promptgit", list(args)) as ctx:
            code = cli.invoke(ctx)
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
        code = EXIT_INTERRUPTED
    return code if isinstance(code, int) else EXIT_OK


# What the process exits with, set before the exit handlers run.
_exit_status = [EXIT_INTERNAL]


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
