"""JSON Schemas for promptgit.yaml and suite files (issue 17, item 7): shipped, in step with the loaders, strict."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from promptgit import scorers
from promptgit.commands.check import check
from promptgit.config import MODEL_SETTINGS, Settings
from promptgit.errors import PromptgitError
from promptgit.project import open_project
from promptgit.suites import SUITE_KEYS, THRESHOLD_RULES, suite_names, suite_path

ROOT = Path(__file__).resolve().parent.parent
SCAFFOLD = ROOT / "promptgit" / "scaffold"


def schema(name: str) -> dict[str, Any]:
    """A schema as the installed package ships it."""
    text = (resources.files("promptgit") / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    jsonschema.Draft7Validator.check_schema(found)
    return found


PROJECT = jsonschema.Draft7Validator(schema("promptgit"))
SUITE = jsonschema.Draft7Validator(schema("suite"))


def errors(validator: jsonschema.Draft7Validator, data: Any) -> list[str]:
    """Each validation error as `path: message`, sorted."""
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data))


def suites_in(root: Path) -> list[Path]:
    """Every suite file of the project at `root` (datasets that happen to be YAML are not suites)."""
    project = open_project(start=root)
    return [root / suite_path(project.tree, project.settings, n) for n in suite_names(project.tree, project.settings)]


def test_the_schemas_list_exactly_the_keys_the_loaders_accept() -> None:
    project = schema("promptgit")
    assert set(project["properties"]) == {f.name for f in dataclasses.fields(Settings)}
    assert set(project["properties"]["defaults"]["properties"]) == MODEL_SETTINGS
    suite = schema("suite")
    assert set(suite["properties"]) == SUITE_KEYS
    bare, configured = suite["properties"]["scorers"]["items"]["oneOf"]
    assert bare["enum"] == scorers.names()
    assert suite["properties"]["threshold_rule"]["enum"] == list(THRESHOLD_RULES)
    assert configured["propertyNames"]["enum"] == [*scorers.names(), "weight", "name"]


def test_defaults_in_the_schema_are_the_settings_defaults() -> None:
    properties = schema("promptgit")["properties"]
    defaults = {k: v["default"] for k, v in properties.items() if "default" in v}
    assert defaults == {
        f.name: getattr(Settings(), f.name)
        for f in dataclasses.fields(Settings)
        if f.name not in ("defaults", "threshold", "max_drop")
    }


@pytest.mark.parametrize("root", [ROOT, SCAFFOLD], ids=["examples", "scaffold"])
def test_every_settings_file_and_suite_here_is_valid(root: Path) -> None:
    assert errors(PROJECT, yaml.safe_load((root / "promptgit.yaml").read_text(encoding="utf-8"))) == []
    found = suites_in(root)
    assert len(found) == (3 if root == ROOT else 1)
    for path in found:
        assert errors(SUITE, yaml.safe_load(path.read_text(encoding="utf-8"))) == [], path


BASE_SUITE = {"prompt": "support/classify", "dataset": "tickets.jsonl", "scorers": ["exact_match"]}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"scorerz": ["exact_match"]}, ": Additional properties are not allowed ('scorerz' was unexpected)"),
        ({"temprature": 0}, ": Additional properties are not allowed ('temprature' was unexpected)"),
        ({"treshold": 0.7}, ": Additional properties are not allowed ('treshold' was unexpected)"),
        ({"scorers": ["exact_mach"]}, "scorers/0: 'exact_mach' is not valid under any of the given schemas"),
        (
            {"scorers": [{"regex": "^a$", "wieght": 2}]},
            "scorers/0: {'regex': '^a$', 'wieght': 2} is not valid under any of the given schemas",
        ),
        (
            {"scorers": [{"regex": "^a$", "contains": "b"}]},
            "scorers/0: {'regex': '^a$', 'contains': 'b'} is not valid under any of the given schemas",
        ),
        ({"threshold": 70}, "threshold: 70 is greater than the maximum of 1"),
        ({"repeat": 0}, "repeat: 0 is less than the minimum of 1"),
        ({"threshold_rule": "intervals"}, "threshold_rule: 'intervals' is not one of ['score', 'interval']"),
        (
            {"cases": [{"expected": "a"}]},
            ": {'prompt': 'support/classify', 'dataset': 'tickets.jsonl', 'scorers': "
            "['exact_match'], 'cases': [{'expected': 'a'}]} is valid under each of {'required': ['cases']}, "
            "{'required': ['dataset']}",
        ),
    ],
)
def test_a_suite_typo_is_refused_by_the_schema_and_by_the_loader(
    change: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    data = {**BASE_SUITE, **change}
    assert errors(SUITE, data) == [expected]
    assert check_problems(tmp_path, BASE_SUITE) == []  # the project is sound without the typo
    assert check_problems(tmp_path, data) != []  # `promptgit check` agrees: nothing the schema refuses passes


def check_problems(root: Path, suite: dict[str, Any]) -> list[str]:
    """What `promptgit check` finds in a project holding `suite`."""
    files = {
        "prompts/support/classify.jinja": "user:\nclassify this\n",
        "evals/tickets.jsonl": '{"expected": "a"}\n',
        "evals/s.yaml": yaml.safe_dump(suite),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return [str(p) for p in check(open_project(start=root)).problems]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"defaults": {"temprature": 0}},
            "defaults: Additional properties are not allowed ('temprature' was unexpected)",
        ),
        ({"concurency": 4}, ": Additional properties are not allowed ('concurency' was unexpected)"),
        (
            {"defaults": {"api_key": "sk-..."}},
            "defaults: Additional properties are not allowed ('api_key' was unexpected)",
        ),
        ({"concurrency": 0}, "concurrency: 0 is less than the minimum of 1"),
        ({"max_error_rate": 5}, "max_error_rate: 5 is greater than the maximum of 1"),
        ({"retries": 1.5}, "retries: 1.5 is not of type 'integer'"),
        ({"timeout": 0}, "timeout: 0 is less than or equal to the minimum of 0"),
        ({"defaults": {"timeout": 0}}, "defaults/timeout: 0 is less than or equal to the minimum of 0"),
        ({"defaults": {"n": 2}}, "defaults/n: 2 is greater than the maximum of 1"),
    ],
)
def test_a_settings_typo_is_refused_by_the_schema_and_by_the_loader(
    data: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    assert errors(PROJECT, data) == [expected]
    (tmp_path / "promptgit.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PromptgitError):
        open_project(start=tmp_path)


def test_what_the_loader_accepts_the_schema_accepts() -> None:
    assert errors(PROJECT, None) == []  # an empty promptgit.yaml
    assert errors(PROJECT, {"threshold": None, "defaults": {"model": "openai/x", "stop": ["\n"], "seed": None}}) == []
    inline = {"prompt": "p", "cases": [{"q": "a"}], "scorers": ["exact_match", {"regex": "^a$", "weight": 2}]}
    assert errors(SUITE, {**inline, "json_columns": "q", "id": None, "expected": "q", "pass_at": 0.5}) == []
