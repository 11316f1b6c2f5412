"""JSON scorers (promptgit/scorers/json_output.py): json_valid and json_schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptgit import scorers
from promptgit.errors import PromptgitError
from promptgit.scorers import Score, ScorerSite
from tests.scorers_support import (
    SUITE,
    make_site,
    run,
    site_fixture,  # noqa: F401  (the `site` fixture)
)

# -- json_valid, json_schema ---------------------------------------------------------------------


def test_json_valid_accepts_fenced_json(site: ScorerSite) -> None:
    assert run("json_valid", None, '{"a": 1}', None, site) == Score(1.0)
    assert run("json_valid", None, '```json\n{"a": 1}\n```', None, site) == Score(1.0)
    assert run("json_valid", None, "```\n[1, 2]\n```", None, site) == Score(1.0)
    assert run("json_valid", None, "{'a': 1}", None, site) == Score(
        0.0,
        "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
    )


SCHEMA = {"type": "object", "required": ["date"], "properties": {"date": {"type": ["string", "null"]}}}


def test_json_schema_inline(site: ScorerSite) -> None:
    assert run("json_schema", SCHEMA, '{"date": "2026-03-10"}', None, site) == Score(1.0)
    assert run("json_schema", {"schema": SCHEMA}, '```json\n{"date": null}\n```', None, site) == Score(1.0)
    assert run("json_schema", SCHEMA, '{"day": 3}', None, site) == Score(0.0, "$: 'date' is a required property")
    assert run("json_schema", SCHEMA, '{"date": 3}', None, site) == Score(
        0.0,
        "$.date: 3 is not of type 'string', 'null'",
    )
    assert run("json_schema", SCHEMA, "not json", None, site) == Score(
        0.0,
        "invalid JSON: Expecting value at line 1 column 1",
    )


def test_json_schema_from_a_file_beside_the_suite(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        {
            "evals/support/answer.schema.json": '{"type": "object", "required": ["queue"]}',
            "evals/support/answer.schema.yaml": "type: array\nitems: {type: integer}\n",
        },
    )
    assert run("json_schema", "answer.schema.json", '{"queue": "billing"}', None, site) == Score(1.0)
    assert run("json_schema", "answer.schema.json", "{}", None, site) == Score(0.0, "$: 'queue' is a required property")
    assert run("json_schema", {"schema": "answer.schema.yaml"}, "[1, 2]", None, site) == Score(1.0)
    assert run("json_schema", "answer.schema.yaml", '[1, "x"]', None, site) == Score(
        0.0, "$[1]: 'x' is not of type 'integer'"
    )


def test_json_schema_rejects_invalid_schemas_and_missing_files(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/bad.json": '{"type": 12}'})
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", {"type": "objekt"}, site)
    assert caught.value.message.startswith("invalid JSON schema: 'objekt' is not valid under any of the given schemas")
    assert (caught.value.file, caught.value.line) == (SUITE, 7)
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", "bad.json", site)
    assert caught.value.message.startswith("invalid JSON schema: 12 is not valid under any of the given schemas")
    assert caught.value.file == "evals/support/bad.json"
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", "missing.json", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "json_schema file 'evals/support/missing.json' not found",
        SUITE,
        7,
    )
    with pytest.raises(PromptgitError) as caught:
        scorers.build("json_schema", 5, site)
    assert caught.value.message == "json_schema needs a schema mapping or a schema file, got 5"


def test_files_read_lists_schema_and_python_files_relative_to_the_project() -> None:
    assert scorers.files_read("json_schema", "answer.schema.json", SUITE) == ["evals/support/answer.schema.json"]
    assert scorers.files_read("json_schema", {"schema": "../shared/s.yaml"}, SUITE) == ["evals/shared/s.yaml"]
    assert scorers.files_read("json_schema", SCHEMA, SUITE) == []
    assert scorers.files_read("python", "scorers.py:tone", SUITE) == ["evals/support/scorers.py"]
    assert scorers.files_read("python", "no colon", SUITE) == []
    assert scorers.files_read("exact_match", None, SUITE) == []
    assert scorers.files_read("no_such_scorer", "x.py", SUITE) == []
