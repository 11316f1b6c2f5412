"""YAML and .json data read strictly: a key twice in one mapping and a number too long to read are
refused at their line, never read as the last value or raised as a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit.errors import PromptgitError
from promptgit.yamlio import load_data_file, load_yaml
from tests.conftest import Result

LONG = "9" * 5000  # more digits than Python converts to an int by default (4300)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("prompt: p\nthreshold: 0.9\nscorers: [exact_match]\nthreshold: 0.5\n", 4, "the key 'threshold' appears twice"),
        ("cases:\n- {id: a, expected: x, expected: y}\n", 2, "the key 'expected' appears twice"),
        ("defaults:\n  model: a\n  temperature: 0\n  model: b\n", 4, "the key 'model' appears twice"),
        ("vars:\n  1: a\n  '1': b\n  1: c\n", 4, "the key 1 appears twice"),
        (f"cases:\n- {{id: a, expected: {LONG}}}\n", 2, "a number of 5000 digits"),
        (f"max_cost: -{LONG}\n", 1, "a number of 5000 digits"),
        (f"a: 1\nx: [+{LONG}]\n", 2, "a number of 5000 digits"),
    ],
)
def test_duplicate_keys_and_too_long_numbers_are_refused_at_their_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PromptgitError) as raised:
        load_yaml(text, "evals/s.yaml")
    assert (raised.value.file, raised.value.line) == ("evals/s.yaml", line)
    assert raised.value.message.startswith(f"invalid YAML: {message}")


def test_a_merge_may_still_be_overridden_by_an_explicit_key() -> None:
    # `<<: *base` then `temperature: 1` is YAML's way to override: not a duplicate.
    text = "base: &base {model: a, temperature: 0}\nfast:\n  <<: *base\n  temperature: 1\n"
    assert load_yaml(text, "promptgit.yaml")["fast"] == {"model": "a", "temperature": 1}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '[{"id": "a"},\n {"id": "b", "expected": "x",\n  "expected": "y"}]',
            2,
            "row 2: the field 'expected' appears twice",
        ),
        ('[\n{"id": "a", "meta": {"k": 1, "k": 2}}]', 2, "row 1: the field 'k' appears twice"),
        ('{"cases": [{"id": "a"}], "cases": []}', None, "the field 'cases' appears twice"),
        (f'[{{"id": "a"}},\n{{"id": "b", "expected": {LONG}}}]', 2, "a number of 5000 digits"),
        (f'[{{"id": -{LONG}}}]', 1, "a number of 5000 digits"),
    ],
)
def test_json_data_with_a_duplicate_field_or_a_too_long_number_is_refused(
    text: str, line: int | None, message: str
) -> None:
    with pytest.raises(PromptgitError) as raised:
        load_data_file(text, "evals/cases.json")
    assert (raised.value.file, raised.value.line) == ("evals/cases.json", line)
    assert raised.value.message.startswith(message)
    assert raised.value.hint


def test_a_suite_that_sets_its_threshold_twice_is_refused_not_read_as_the_last_value(
    write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    # The gate used to run at 0.5, the value further down, and pass a suite its author meant to hold at 0.9.
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/p.jinja": "user:\n{{ text }}\n",
            "evals/s.yaml": (
                "prompt: p\nthreshold: 0.9\ncases: [{id: a, text: hi}]\nscorers: [exact_match]\nthreshold: 0.5\n"
            ),
        }
    )
    result = run_cli(["check"], root)
    assert result.code == 1
    assert (
        "evals/s.yaml:5: invalid YAML: the key 'threshold' appears twice in one mapping (first on line 2)" in result.err
    )


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!binary aGVsbG8=", "binary"),
        ("!!timestamp 2024-01-01", "timestamp"),
        ("!!set {a, b}", "set"),
        ("!!omap [a: 1]", "omap"),
        ("!!pairs [a: 1]", "pairs"),
    ],
)
def test_tags_for_values_that_are_not_data_are_refused_at_their_line(
    write: Callable[..., Path], run_cli: Callable[..., Result], value: str, tag: str
) -> None:
    # Bytes, dates and sets reached the case hash and raised TypeError there: exit 70.
    text = f"prompt: p\ncases:\n- {{id: a, text: x, expected: {value}}}\nscorers: [exact_match]\n"
    with pytest.raises(PromptgitError) as raised:
        load_yaml(text, "evals/s.yaml")
    assert raised.value.line == 3
    assert raised.value.message.startswith(f"invalid YAML: the tag !!{tag} is not supported")
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/p.jinja": "user:\n{{ text }}\n",
            "evals/s.yaml": text,
        }
    )
    result = run_cli(["eval", "s"], root)
    assert result.code == 2
    assert f"evals/s.yaml:3: invalid YAML: the tag !!{tag} is not supported" in result.err
