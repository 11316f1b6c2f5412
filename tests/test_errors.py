"""Every kind of bad input is refused with its file, line and fix, the right exit code, and no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

Case = tuple[dict[str, str], list[str], int, str]

# (files written over the basic project, command, exit code, text the message must contain)
BAD_INPUTS: dict[str, Case] = {
    "unclosed front matter": (
        {"prompts/support/classify.jinja": "---\nmax_tokens: 8\nuser:\n{{ ticket }}\n"},
        ["check"],
        1,
        "prompts/support/classify.jinja:1: front matter is not closed",
    ),
    "invalid front matter": (
        {"prompts/support/classify.jinja": "---\nmax_tokens: [8\n---\nuser:\n{{ ticket }}\n"},
        ["check"],
        1,
        "prompts/support/classify.jinja:3: invalid YAML",
    ),
    "misspelt setting": (
        {"prompts/support/classify.jinja": "---\nmax_tokens: 8\ntemprature: 0\n---\n{{ ticket }}\n"},
        ["check"],
        1,
        "prompts/support/classify.jinja:3: unknown setting 'temprature'\n  hint: did you mean 'temperature'?",
    ),
    "jinja syntax error": (
        {"prompts/support/classify.jinja": "---\nmax_tokens: 8\n---\nuser:\n{{ ticket }\n"},
        ["check"],
        1,
        "prompts/support/classify.jinja:5: template syntax error",
    ),
    "missing partial": (
        {
            "prompts/support/classify.jinja": (
                "---\nmax_tokens: 8\n---\n{% include '_partials/nope.jinja' %}\n{{ ticket }}\n"
            )
        },
        ["check"],
        1,
        "prompts/support/classify.jinja:4: included template '_partials/nope.jinja' not found",
    ),
    "include outside prompts": (
        {"prompts/support/classify.jinja": "{% include '../../promptgit.yaml' %}\n{{ ticket }}\n"},
        ["check"],
        1,
        "prompts/support/classify.jinja:1: include '../../promptgit.yaml' is outside prompts/",
    ),
    "suite naming a missing prompt": (
        {"evals/support/classify.yaml": "prompt: support/clasify\ndataset: tickets.jsonl\nscorers: [exact_match]\n"},
        ["check"],
        1,
        "evals/support/classify.yaml:1: the suite's prompt 'support/clasify' does not exist",
    ),
    "broken dataset line": (
        {"evals/support/tickets.jsonl": '{"id": "a", "text": "x", "label": "b"}\n{"id": "b", "text": \n'},
        ["check"],
        1,
        "evals/support/tickets.jsonl:2: line is not a JSON object",
    ),
    "unknown scorer": (
        {
            "evals/support/classify.yaml": (
                "prompt: support/classify\ndataset: tickets.jsonl\nvars: {ticket: text}\nscorers:\n  - exact_macth\n"
            )
        },
        ["check"],
        1,
        "evals/support/classify.yaml:5: unknown scorer 'exact_macth'",
    ),
    "suite that is not a mapping": (
        {"evals/support/classify.yaml": "- prompt: support/classify\n"},
        ["check"],
        1,
        "evals/support/classify.yaml:1: a suite must be a mapping",
    ),
    "variable the dataset lacks": (
        {"evals/support/classify.yaml": "prompt: support/classify\ndataset: tickets.jsonl\nscorers: [exact_match]\n"},
        ["check"],
        1,
        "evals/support/classify.yaml:2: prompt 'support/classify' uses 'ticket', which the suite's cases never provide",
    ),
    "template reaching for python internals": (
        {"prompts/evil.jinja": "{{ ''.__class__.__mro__[1].__subclasses__() }}\n"},
        ["render", "evil"],
        2,
        "prompts/evil.jinja:1: the template reaches for Python internals",
    ),
    "undefined variable at render time": (
        {},
        ["render", "support/classify"],
        2,
        "prompts/support/classify.jinja:9: undefined variable: 'ticket' is undefined",
    ),
    "unknown project setting": (
        {"promptgit.yaml": "concurency: 4\n"},
        ["check"],
        2,
        "promptgit.yaml:1: unknown setting 'concurency'\n  hint: did you mean 'concurrency'?",
    ),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_is_refused_clearly(
    kind: str, basic_project: Path, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    files, args, code, expected = BAD_INPUTS[kind]
    write(files)
    result = run_cli(args, basic_project)
    assert result.code == code, result.err
    assert expected in result.err
    assert "Traceback" not in result.err + result.out


def test_check_passes_on_a_valid_project(basic_project: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli(["check"], basic_project)
    assert (result.code, result.err) == (0, "")
    assert result.out.strip() == "checked 1 prompts and 1 suites (3 cases): all good"


def test_check_reports_every_problem_not_only_the_first(
    basic_project: Path, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    write(
        {
            "prompts/support/classify.jinja": "---\ntemprature: 0\n---\n{{ ticket }}\n",
            "prompts/other.jinja": "{% include '_partials/gone.jinja' %}\n",
            "evals/other.yaml": "prompt: other\ncases: [{a: 1}]\nscorers: [nope]\n",
        }
    )
    result = run_cli(["check", "--json"], basic_project)
    files = sorted((p["file"], p["line"]) for p in __import__("json").loads(result.out)["problems"])
    assert result.code == 1
    assert files == [("evals/other.yaml", 3), ("prompts/other.jinja", 1), ("prompts/support/classify.jinja", 2)]
