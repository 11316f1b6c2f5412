"""Prompt files, suites and datasets: parsing, rendering and the role split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptgit.config import Settings
from promptgit.errors import PromptgitError
from promptgit.prompts import Message, load_prompt, render, split_messages, template_graph
from promptgit.suites import load_suite, suite_names
from promptgit.templating import mark_roles
from promptgit.tree import WorkTree


def test_render_splits_roles_and_resolves_includes(basic_project: Path) -> None:
    tree = WorkTree(basic_project)
    settings = Settings(defaults={"model": "m", "temperature": 0})
    prompt = load_prompt(tree, settings, "support/classify")
    rendered = render(tree, settings, prompt, {"ticket": "charged twice"})
    assert rendered.messages == (
        Message("system", "You route tickets.\nLabels: billing, refunds."),
        Message("user", "Ticket: charged twice"),
    )
    assert rendered.settings == {"model": "m", "temperature": 0, "max_tokens": 8}
    assert prompt.description == "Route a ticket"


def test_body_without_role_line_is_one_user_message() -> None:
    assert split_messages("\n\nHello {{x}}\nthere\n", "p.jinja") == (Message("user", "Hello {{x}}\nthere"),)


def test_text_before_the_first_role_line_is_refused() -> None:
    with pytest.raises(PromptgitError, match="before the first role line"):
        split_messages(mark_roles("stray\nuser:\nhi\n", "p.jinja"), "p.jinja")


def test_template_graph_follows_includes_and_collects_variables(write) -> None:  # type: ignore[no-untyped-def]
    root = write(
        {
            "prompts/a.jinja": "user:\n{% include '_p/one.jinja' %}{{ x }}\n",
            "prompts/_p/one.jinja": "{{ y }}{% include '_p/two.jinja' %}",
            "prompts/_p/two.jinja": "{{ z }}",
        }
    )
    tree, settings = WorkTree(root), Settings()
    graph = template_graph(tree, settings, load_prompt(tree, settings, "a"))
    assert graph.files == ("prompts/a.jinja", "prompts/_p/one.jinja", "prompts/_p/two.jinja")
    assert graph.variables == {"x", "y", "z"}
    assert graph.problems == ()


def test_jinja_line_numbers_are_the_files_own(write) -> None:  # type: ignore[no-untyped-def]
    root = write({"prompts/a.jinja": "---\nmax_tokens: 3\n---\nuser:\nok\n{% if %}\n"})
    with pytest.raises(PromptgitError) as err:
        load_prompt(WorkTree(root), Settings(), "a")
    assert (err.value.file, err.value.line) == ("prompts/a.jinja", 6)


def test_inputs_defaults_fill_missing_variables(write) -> None:  # type: ignore[no-untyped-def]
    root = write({"prompts/a.jinja": "---\ninputs: {tone: friendly, name: null}\n---\nBe {{ tone }} to {{ name }}.\n"})
    tree, settings = WorkTree(root), Settings()
    rendered = render(tree, settings, load_prompt(tree, settings, "a"), {"name": "Ann"})
    assert rendered.messages == (Message("user", "Be friendly to Ann."),)


@pytest.mark.parametrize(
    "ext,content",
    [
        ("jsonl", '{"id": "x", "q": "1", "expected": "a"}\n\n{"id": "y", "q": "2", "expected": "b"}\n'),
        ("json", json.dumps([{"id": "x", "q": "1", "expected": "a"}, {"id": "y", "q": "2", "expected": "b"}])),
        ("csv", "id,q,expected\nx,1,a\ny,2,b\n"),
        ("yaml", "- {id: x, q: '1', expected: a}\n- {id: y, q: '2', expected: b}\n"),
    ],
)
def test_every_dataset_format_gives_the_same_cases(write, ext: str, content: str) -> None:  # type: ignore[no-untyped-def]
    root = write(
        {"evals/s.yaml": f"prompt: p\ndataset: data.{ext}\nscorers: [exact_match]\n", f"evals/data.{ext}": content}
    )
    suite = load_suite(WorkTree(root), Settings(), "s")
    assert [(c.id, c.vars["q"], c.expected) for c in suite.cases] == [("x", "1", "a"), ("y", "2", "b")]
    assert suite.dataset == f"evals/data.{ext}"
    assert suite_names(WorkTree(root), Settings()) == ["s"]  # the yaml dataset is not taken for a suite


def test_inline_cases_vars_mapping_and_row_numbers(write) -> None:  # type: ignore[no-untyped-def]
    root = write(
        {
            "evals/s.yaml": """\
        prompt: p
        expected: answer
        vars: {ticket: text}
        cases:
          - {text: hello, answer: greet}
          - {text: bye, answer: part}
        scorers: [exact_match, {regex: "^g", weight: 2}]
        repeat: 3
    """
        }
    )
    suite = load_suite(WorkTree(root), Settings(threshold=0.8), "s")
    assert [c.id for c in suite.cases] == ["1", "2"]
    assert suite.cases[0].vars == {"text": "hello", "answer": "greet", "ticket": "hello"}
    assert suite.cases[1].expected == "part"
    assert [(s.name, s.config, s.weight, s.line) for s in suite.scorers] == [
        ("exact_match", None, 1.0, 7),
        ("regex", "^g", 2.0, 7),
    ]
    assert (suite.repeat, suite.threshold, suite.max_drop) == (3, 0.8, None)


def test_duplicate_case_ids_are_refused(write) -> None:  # type: ignore[no-untyped-def]
    root = write(
        {
            "evals/s.yaml": "prompt: p\ndataset: d.jsonl\nscorers: [equals]\n",
            "evals/d.jsonl": '{"id": 1}\n{"id": 2}\n{"id": 1}\n',
        }
    )
    with pytest.raises(PromptgitError) as err:
        load_suite(WorkTree(root), Settings(), "s")
    assert (err.value.file, err.value.line, err.value.message) == ("evals/d.jsonl", 3, "duplicate case id '1'")


def test_defaults_refuse_keys_and_typos(write) -> None:  # type: ignore[no-untyped-def]
    from promptgit.config import load_settings

    root = write({"promptgit.yaml": "concurrency: 2\ndefaults:\n  model: openai/x\n  api_key: sk-secret\n"})
    with pytest.raises(PromptgitError) as err:
        load_settings(WorkTree(root))
    assert (err.value.file, err.value.line, err.value.message) == (
        "promptgit.yaml",
        2,
        "unknown model setting 'api_key' in defaults",
    )
    assert "OPENAI_API_KEY" in (err.value.hint or "")
