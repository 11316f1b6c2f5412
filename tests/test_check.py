"""`promptgit check` (commands/check.py): every problem found without calling a model, as text and as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result


@pytest.mark.parametrize("partial", ["_partials/labels", "_partials/deeper/hi"])
def test_a_suite_whose_prompt_is_a_partial_is_one_clear_problem(
    basic_project: Path, run_cli: Callable[..., Result], partial: str
) -> None:
    (basic_project / "prompts" / f"{partial}.jinja").parent.mkdir(parents=True, exist_ok=True)
    (basic_project / "prompts" / f"{partial}.jinja").write_text("Hi {{ ticket }}\n", encoding="utf-8")
    suite = basic_project / "evals/support/classify.yaml"
    suite.write_text(suite.read_text().replace("prompt: support/classify", f"prompt: {partial}"), encoding="utf-8")

    text = run_cli(["check"], basic_project)
    assert text.code == 1
    assert text.err.splitlines() == [
        f"error: evals/support/classify.yaml:1: the suite's prompt {partial!r} is a partial: files and folders "
        "under prompts/ starting with `_` are included by prompts, not evaluated",
        "  hint: name the prompt that includes it, or rename the file without the leading `_` if it is a prompt itself",
    ]

    document = run_cli(["check", "--json"], basic_project)
    assert document.code == 1
    problems = json.loads(document.out)["problems"]
    assert [(p["file"], p["line"]) for p in problems] == [("evals/support/classify.yaml", 1)]
    assert "is a partial" in problems[0]["message"]


def test_a_suite_whose_prompt_does_not_exist_suggests_the_near_name(
    basic_project: Path, run_cli: Callable[..., Result]
) -> None:
    suite = basic_project / "evals/support/classify.yaml"
    suite.write_text(suite.read_text().replace("prompt: support/classify", "prompt: support/clasify"))

    result = run_cli(["check", "--json"], basic_project)

    assert result.code == 1
    (found,) = json.loads(result.out)["problems"]
    assert found["message"] == "the suite's prompt 'support/clasify' does not exist"
    assert "support/classify" in found["hint"]


def test_check_says_when_a_computed_template_name_made_the_fingerprint_cover_several_files(
    basic_project: Path, run_cli: Callable[..., Result]
) -> None:
    prompt = basic_project / "prompts/support/classify.jinja"
    prompt.write_text(prompt.read_text().replace('"_partials/labels.jinja"', '"_partials/" ~ lang ~ ".jinja"'))
    (basic_project / "prompts/_partials/en.jinja").write_text("Labels: billing, refunds.\n")
    suite = basic_project / "evals/support/classify.yaml"
    suite.write_text(suite.read_text().replace("vars: {ticket: text}", "vars: {ticket: text, lang: lang}"))
    data = basic_project / "evals/support/tickets.jsonl"
    data.write_text(data.read_text().replace('"label"', '"lang": "en", "label"'))

    text = run_cli(["check"], basic_project)
    document = run_cli(["check", "--json"], basic_project)

    note = (
        "the template name at prompts/support/classify.jinja:7 is computed when rendering; "
        "the fingerprint covers all 2 files matching '_partials/*.jinja'"
    )
    assert (text.code, text.err.splitlines()) == (0, [f"note: {note}"])
    assert json.loads(document.out)["notes"] == [note]


@pytest.mark.parametrize(
    ("scorer", "message"),
    [
        ("exact_match", "has no expected value, which exact_match compares with"),
        ("levenshtein", "has no expected value, which levenshtein compares with"),
        ("contains", "has no expected value, which contains compares with"),
        ("numeric", "has no expected value, which numeric compares with"),
    ],
)
def test_a_scorer_that_needs_expected_on_a_dataset_without_it_is_found_before_any_call(
    basic_project: Path, run_cli: Callable[..., Result], scorer: str, message: str
) -> None:
    suite = basic_project / "evals/support/classify.yaml"
    suite.write_text(
        suite.read_text()
        .replace("expected: label\n", "expected: answer\n")
        .replace("scorers: [exact_match]", f"scorers: [{scorer}]")
    )

    result = run_cli(["check", "--json"], basic_project)

    assert result.code == 1
    (found,) = json.loads(result.out)["problems"]
    assert (found["file"], found["line"]) == ("evals/support/classify.yaml", 5)
    assert "case 'a'" in found["message"] and message in found["message"]


def test_a_bare_regex_from_the_dataset_that_re2_cannot_compile_is_found_by_check(
    basic_project: Path, run_cli: Callable[..., Result]
) -> None:
    suite = basic_project / "evals/support/classify.yaml"
    suite.write_text(suite.read_text().replace("scorers: [exact_match]", "scorers: [regex]"))
    data = basic_project / "evals/support/tickets.jsonl"
    data.write_text(data.read_text().replace('"label": "billing"', '"label": "(?=bill)billing"'))

    result = run_cli(["check", "--json"], basic_project)

    assert result.code == 1
    (found,) = json.loads(result.out)["problems"]
    assert found["file"] == "evals/support/classify.yaml" and "case 'b'" in found["message"]


@pytest.mark.parametrize(("written", "expected"), [("2024-01-01", "2024-01-01"), ("no", "no"), ("on", "on")])
def test_yaml_values_are_taken_as_written(
    basic_project: Path, run_cli: Callable[..., Result], written: str, expected: str
) -> None:
    suite = basic_project / "evals/support/classify.yaml"
    suite.write_text(
        "prompt: support/classify\nexpected: label\nscorers: [exact_match]\n"
        f"cases:\n  - {{id: a, ticket: hi, label: {written}}}\n"
    )

    result = run_cli(["render", "--suite", "support/classify", "--json"], basic_project)
    checked = run_cli(["check"], basic_project)

    assert (result.code, checked.code) == (0, 0)
    from promptgit.project import open_project
    from promptgit.suites import load_suite

    project = open_project(None, basic_project)
    case = load_suite(project.tree, project.settings, "support/classify").cases[0]
    assert case.expected == expected


@pytest.mark.parametrize("where", ["blocker/report.md", "blocker"])
def test_an_output_file_that_cannot_be_written_is_bad_input(tmp_path: Path, where: str) -> None:
    from promptgit.errors import PromptgitError, write_output

    (tmp_path / "blocker").mkdir() if where == "blocker" else (tmp_path / "blocker").write_text("a file\n")
    with pytest.raises(PromptgitError) as caught:
        write_output(tmp_path / where, b"# report\n", "the report", "--report")
    assert caught.value.message.startswith(f"cannot write the report to {tmp_path / where}: ")
    assert caught.value.hint == "give --report a writable file path"


def test_check_lists_every_model_the_suites_call(basic_project: Path, run_cli: Callable[..., Result]) -> None:
    # The Action installs the embedded model only when one of these starts with local/ (action.yml).
    suite = basic_project / "evals/support/classify.yaml"
    text = suite.read_text(encoding="utf-8")
    for name, extra in [
        ("override", "model: local/qwen2.5-coder-0.5b\n"),
        ("judged", "model: openai/other\n"),
        ("plain", ""),
    ]:
        body = text.replace("scorers: [exact_match]", "scorers: [exact_match]\n" + extra)
        if name == "judged":
            body = body.replace(
                "scorers: [exact_match]", "scorers:\n  - llm_judge: {rubric: polite, model: anthropic/judge}"
            )
        (basic_project / f"evals/support/{name}.yaml").write_text(body, encoding="utf-8")
    document = run_cli(["check", "--json"], basic_project)
    assert document.code == 0, document.err
    assert json.loads(document.out)["models"] == [
        "anthropic/judge",
        "local/qwen2.5-coder-0.5b",
        "openai/other",
        "openai/test-model",
    ]


def problems_of(run_cli: Callable[..., Result], root: Path) -> list[tuple[str, int | None, str]]:
    result = run_cli(["check", "--json"], root)
    return [(p["file"], p["line"], p["message"]) for p in json.loads(result.out)["problems"]]


@pytest.mark.parametrize("n", [2, 5, 0])
def test_n_other_than_1_is_refused_where_it_is_written(
    basic_project: Path, run_cli: Callable[..., Result], n: int
) -> None:
    prompt = basic_project / "prompts/support/classify.jinja"
    prompt.write_text(prompt.read_text().replace("max_tokens: 8\n", f"max_tokens: 8\nn: {n}\n"))
    assert problems_of(run_cli, basic_project) == [
        ("prompts/support/classify.jinja", 4, f"setting n must be 1, not {n}")
    ]
    result = run_cli(["check"], basic_project)
    assert "give the suite `repeat: N` to sample the prompt N times" in result.err
    prompt.write_text(prompt.read_text().replace(f"n: {n}\n", "n: 1\n"))
    assert problems_of(run_cli, basic_project) == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [("top_k", "40"), ("logit_bias", "{'15': -100}"), ("reasoning_effort", "low"), ("parallel_tool_calls", "false")],
)
def test_a_setting_the_embedded_model_would_drop_is_refused_with_its_line(
    basic_project: Path, run_cli: Callable[..., Result], setting: str, value: str
) -> None:
    (basic_project / "promptgit.yaml").write_text("defaults: {model: local/qwen2.5-coder-0.5b, temperature: 0}\n")
    prompt = basic_project / "prompts/support/classify.jinja"
    prompt.write_text(prompt.read_text().replace("max_tokens: 8\n", f"max_tokens: 8\n{setting}: {value}\n"))
    assert problems_of(run_cli, basic_project) == [
        (
            "prompts/support/classify.jinja",
            4,
            f"setting {setting} would be dropped: suite 'support/classify' runs on the embedded model "
            "local/qwen2.5-coder-0.5b, which does not take it",
        )
    ]
    # The same prompt on a model that takes the setting is fine.
    (basic_project / "promptgit.yaml").write_text("defaults: {model: openai/test-model, temperature: 0}\n")
    assert problems_of(run_cli, basic_project) == []


def test_a_dropped_setting_from_defaults_names_promptgit_yaml(
    basic_project: Path, run_cli: Callable[..., Result]
) -> None:
    (basic_project / "promptgit.yaml").write_text(
        "concurrency: 2\ndefaults: {model: local/qwen2.5-coder-0.5b, top_k: 5, seed: 1, api_base: 'http://x'}\n"
    )
    assert problems_of(run_cli, basic_project) == [
        (
            "promptgit.yaml",
            2,
            "setting top_k would be dropped: suite 'support/classify' runs on the embedded model "
            "local/qwen2.5-coder-0.5b, which does not take it",
        )
    ]
