"""The `promptgit` command: wires Click commands to one core function each, and turns errors into messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from promptgit import __version__
from promptgit.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PromptgitError

# Core modules are imported inside each command: `promptgit --help` must stay fast, and only
# commands that call a model may import litellm.

REV_HELP = "Read prompts and suites at this git revision (default: the working tree)."


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout, nothing else."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


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
        emit_json({
            "prompts": report.prompts, "suites": report.suites, "cases": report.cases,
            "problems": [{"file": p.file, "line": p.line, "message": p.message, "hint": p.hint} for p in report.problems],
        })
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
def render(prompt: str | None, variables: tuple[str, ...], suite: str | None, case_id: str | None,
           rev: str | None, as_json: bool) -> int:
    """Print the messages PROMPT renders to."""
    from promptgit.project import open_project
    from promptgit.render import parse_vars, render_prompt

    rendered = render_prompt(open_project(rev), prompt, parse_vars(variables), suite, case_id)
    if as_json:
        emit_json({"prompt": rendered.prompt, "settings": dict(rendered.settings),
                   "messages": [m.as_dict() for m in rendered.messages]})
        return EXIT_OK
    settings = ", ".join(f"{k}={v}" for k, v in rendered.settings.items())
    click.secho(f"# {rendered.prompt}" + (f"  ({settings})" if settings else ""), dim=True)
    for message in rendered.messages:
        click.secho(f"{message.role}:", bold=True)
        click.echo(message.content)
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: bad input becomes `promptgit: error: …` and exit 2, never a traceback."""
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
    sys.exit(code if isinstance(code, int) else EXIT_OK)
