"""Eval suites: a prompt, a dataset of cases (read by `datasets`), scorers and gates."""

from __future__ import annotations

import dataclasses
import math
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptgit.config import Settings
from promptgit.datasets import inline_rows, json_cells, load_rows
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.scorer_names import default_names, label_of
from promptgit.tree import Tree, normalize, read_text
from promptgit.yamlio import item_lines, key_lines, load_yaml

SUITE_EXTENSIONS = (".yaml", ".yml")
SUITE_KEYS = frozenset(
    {
        "prompt",
        "dataset",
        "cases",
        "id",
        "expected",
        "vars",
        "scorers",
        "threshold",
        "max_drop",
        "threshold_rule",
        "repeat",
        "model",
        "pass_at",
        "description",
        "json_columns",
    }
)


@dataclass(frozen=True)
class ScorerSpec:
    """One scorer as a suite configures it: `- exact_match` or `- regex: "^a$"` (plus `weight:` and `name:`)."""

    name: str  # the scorer's kind, a registered scorer name
    config: Any  # None when the scorer is given bare
    weight: float = 1.0
    line: int | None = None
    label: str | None = None  # the suite's `name:` for this scorer's dimension, if it gives one
    default: str | None = None  # the name scorer_names gives it when unnamed, set as the suite is read

    @property
    def dimension(self) -> str:
        """The dimension's name in results: `name:` if given, else its default (scorer_names.default_names:
        the scorer's label, with a digest of its configuration when another unnamed scorer shares the label)."""
        if self.label is not None:
            return self.label
        return self.default if self.default is not None else label_of(self.name, self.config)


# A dimension name is a short word that fits a table column and a JSON key (the suite schema says the same).
DIMENSION_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,40}")


@dataclass(frozen=True, slots=True)
class Case:
    """One dataset row: its id, the template variables it provides and the reference answer."""

    id: str
    vars: Mapping[str, Any]
    expected: Any
    row: Mapping[str, Any]
    line: int | None = None


def passes_at(score: float, pass_at: float) -> bool:
    """The pass rule, its one home: a score passes at `pass_at` or above; 1e-9 absorbs the rounding of weighted
    means (three equal scorers at 1/3 each sum to 0.9999999999999999)."""
    return score >= pass_at - 1e-9


@dataclass(frozen=True)
class Suite:
    """A parsed eval suite with its cases loaded."""

    name: str
    path: str
    prompt: str
    dataset: str | None  # project-relative path, None for inline cases
    cases: tuple[Case, ...]
    scorers: tuple[ScorerSpec, ...]
    threshold: float | None
    max_drop: float | None
    repeat: int = 1
    model: str | None = None
    pass_at: float = 1.0
    threshold_rule: str = "score"  # issue 13: "score" fails below threshold; "interval" only when all of the CI is
    numbered: bool = False  # some case is named by its row number (no `id:`, no `id` field): its id follows its place

    def passes(self, score: float) -> bool:
        """Whether a case (or one repeat) with this score passes this suite (`passes_at`)."""
        return passes_at(score, self.pass_at)

    @property
    def override(self) -> dict[str, Any]:
        """Model settings the suite sets over its prompt's."""
        return {"model": self.model} if self.model else {}


def suite_names(tree: Tree, settings: Settings) -> list[str]:
    """Every suite's name: YAML files under the evals folder that no suite uses as its dataset."""
    candidates = [p for p in tree.files(settings.evals) if p.endswith(SUITE_EXTENSIONS)]
    datasets = {_dataset_of(tree, path) for path in candidates}
    return [_name_of(settings, p) for p in candidates if p not in datasets]


def _name_of(settings: Settings, path: str) -> str:
    return posixpath.splitext(path[len(settings.evals) + 1 :])[0]


def _dataset_of(tree: Tree, path: str) -> str | None:
    try:
        data = load_yaml(read_text(tree, path), path)
    except PromptgitError:
        return None
    if isinstance(data, dict) and "prompt" in data and isinstance(data.get("dataset"), str):
        try:
            return normalize(posixpath.join(posixpath.dirname(path), data["dataset"]))
        except PromptgitError:
            return None
    return None


def suite_path(tree: Tree, settings: Settings, name: str) -> str:
    """The file of the suite called `name` (a path to the file is accepted too)."""
    for candidate in (name, *(f"{settings.evals}/{name}{ext}" for ext in SUITE_EXTENSIONS)):
        if candidate.endswith(SUITE_EXTENSIONS) and tree.exists(candidate):
            return candidate
    known = suite_names(tree, settings)
    raise PromptgitError(
        f"no suite named {name!r} (looked for {settings.evals}/{name}.yaml)",
        hint=did_you_mean(name, known) or (f"suites here: {', '.join(known)}" if known else None),
    )


def load_suite(tree: Tree, settings: Settings, name: str) -> Suite:
    """Read a suite and its dataset; every problem names the file and line."""
    path = suite_path(tree, settings, name)
    text = read_text(tree, path)
    data = load_yaml(text, path)
    if not isinstance(data, dict):
        raise PromptgitError(
            "a suite must be a mapping of keys to values",
            file=path,
            line=1,
            hint="start with `prompt: <prompt name>` and `dataset: <file>`",
        )
    lines = key_lines(text)
    _refuse_unknown_keys(data, path, lines)
    if not isinstance(data.get("prompt"), str):
        raise PromptgitError(
            "the suite names no prompt",
            file=path,
            line=lines.get("prompt", 1),
            hint="add `prompt: <name>`, the prompt's path under prompts/ without .jinja",
        )
    fields = _Fields(data, path, lines)
    dataset, rows = _rows(tree, data, path, lines)
    return Suite(
        name=_name_of(settings, path) if path.startswith(settings.evals + "/") else path,
        path=path,
        prompt=data["prompt"],
        dataset=dataset,
        cases=_cases(rows, fields, dataset or path),
        scorers=_scorers(data.get("scorers"), path, lines.get("scorers"), item_lines(text, "scorers")),
        threshold=fields.fraction("threshold", settings.threshold),
        max_drop=fields.fraction("max_drop", settings.max_drop),
        repeat=fields.whole("repeat", 1),
        model=fields.text("model"),
        pass_at=fields.fraction("pass_at", 1.0),
        threshold_rule=_threshold_rule(data, path, lines),
        numbered=fields.field_name("id", None) is None and any("id" not in row for row, _ in rows),
    )


THRESHOLD_RULES = ("score", "interval")


def _threshold_rule(data: dict[str, Any], path: str, lines: dict[str, int]) -> str:
    """`threshold_rule:` (issue 13): `score` (default) fails a score below `threshold`; `interval` fails only
    when the score's whole 95% interval is below it (gates.py applies the rule)."""
    value = data.get("threshold_rule", "score")
    if value not in THRESHOLD_RULES:
        raise PromptgitError(
            f"threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, not {value!r}",
            file=path,
            line=lines.get("threshold_rule"),
            hint="`score` fails whenever the score is below threshold; `interval` only when its whole 95% CI is",
        )
    return str(value)


def _refuse_unknown_keys(data: dict[str, Any], path: str, lines: dict[str, int]) -> None:
    for key in data:
        if key not in SUITE_KEYS:
            raise PromptgitError(
                f"unknown suite key {key!r}",
                file=path,
                line=lines.get(str(key)),
                hint=did_you_mean(str(key), SUITE_KEYS) or f"suite keys: {', '.join(sorted(SUITE_KEYS))}",
            )


class _Fields:
    """Typed access to a suite's optional keys, with errors at their lines."""

    def __init__(self, data: dict[str, Any], path: str, lines: dict[str, int]) -> None:
        self.data, self.path, self.lines = data, path, lines

    def _bad(self, key: str, expected: str) -> PromptgitError:
        return PromptgitError(
            f"{key} must be {expected}, not {self.data[key]!r}", file=self.path, line=self.lines.get(key)
        )

    def fraction(self, key: str, default: float | None) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self._bad(key, "a fraction between 0 and 1")
        return float(value)

    def whole(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._bad(key, "a whole number of at least 1")
        return value

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def var_map(self) -> dict[str, str] | None:
        value = self.data.get("vars")
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self._bad("vars", "a mapping of template variable to dataset field")
        return {str(k): v for k, v in value.items()}

    def names(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._bad(key, "a list of dataset field names")
        return tuple(value)

    def field_name(self, key: str, default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "a dataset field name")
        return value


def _rows(
    tree: Tree, data: dict[str, Any], path: str, lines: dict[str, int]
) -> tuple[str | None, list[tuple[dict, int | None]]]:
    has_dataset, has_cases = "dataset" in data, "cases" in data
    if has_dataset == has_cases:
        raise PromptgitError(
            "a suite needs exactly one of `dataset:` (a file) or `cases:` (inline rows)",
            file=path,
            line=lines.get("dataset") or lines.get("cases"),
            hint="e.g. `dataset: tickets.jsonl`, relative to the suite file",
        )
    if has_cases:
        return None, inline_rows(data["cases"], path, lines.get("cases"))
    if not isinstance(data["dataset"], str):
        raise PromptgitError("dataset must be a file name", file=path, line=lines.get("dataset"))
    try:
        dataset = normalize(posixpath.join(posixpath.dirname(path), data["dataset"]))
    except PromptgitError as err:
        raise err.located(path, lines.get("dataset")) from None
    if not tree.exists(dataset):
        raise PromptgitError(
            f"dataset {data['dataset']!r} not found (looked for {dataset})",
            file=path,
            line=lines.get("dataset"),
            hint="the dataset path is relative to the suite file",
        )
    return dataset, load_rows(tree, dataset)


def _cases(rows: list[tuple[dict, int | None]], fields: _Fields, file: str) -> tuple[Case, ...]:
    id_field = fields.field_name("id", None)
    expected_field = fields.field_name("expected", "expected")
    var_map = fields.var_map() or {}
    json_columns = fields.names("json_columns")
    cases: list[Case] = []
    seen: dict[str, int | None] = {}
    for number, (row, line) in enumerate(rows, start=1):
        row = json_cells(row, json_columns, file, line)
        case_id = _case_id(row, id_field, number, file, line)
        if case_id in seen:
            raise PromptgitError(
                f"duplicate case id {case_id!r}",
                file=file,
                line=line,
                hint="give every case a distinct id, or drop `id:` to number the rows",
            )
        seen[case_id] = line
        variables = dict(row) if var_map else row  # shared, not copied: rows are never mutated
        for name, source in var_map.items():
            if source not in row:
                raise PromptgitError(f"row has no field {source!r} (vars maps {name!r} to it)", file=file, line=line)
            variables[name] = row[source]
        cases.append(Case(case_id, variables, row.get(expected_field) if expected_field else None, row, line))
    return tuple(cases)


def _case_id(row: dict, id_field: str | None, number: int, file: str, line: int | None) -> str:
    # With no `id:` the row's own `id` field names the case when it has one, else its row number.
    field_name = id_field or ("id" if "id" in row else None)
    if field_name is None:
        return str(number)
    if field_name not in row or row[field_name] in (None, ""):
        raise PromptgitError(f"row has no id field {field_name!r}", file=file, line=line)
    # NFC: "café" typed as one code point or as e + a combining accent looks the same everywhere it is
    # shown; as two ids the pair passed as distinct cases, and an editor that re-saved the file in the
    # other form renamed every such case between revisions (no pair left to compare).
    return normal_id(str(row[field_name]))


def normal_id(text: str) -> str:
    """A case id as compared everywhere (dataset rows, --case): the text in Unicode NFC."""
    return unicodedata.normalize("NFC", text)


def _scorers(value: Any, path: str, line: int | None, lines: list[int]) -> tuple[ScorerSpec, ...]:
    if not isinstance(value, list) or not value:
        raise PromptgitError(
            "the suite lists no scorers",
            file=path,
            line=line,
            hint="add e.g. `scorers: [exact_match]` (docs/spec.md, Scorers, lists the built-ins)",
        )
    specs = _with_defaults(
        tuple(_scorer(item, path, lines[i] if i < len(lines) else line) for i, item in enumerate(value))
    )
    _refuse_shared_dimensions(specs, path)
    if not math.isfinite(sum(spec.weight for spec in specs)):
        raise PromptgitError(
            "the scorers' weights add up to more than a float holds",
            file=path,
            line=line,
            hint="weights only matter relative to each other: use e.g. 1 and 3",
        )
    return specs


def _with_defaults(specs: tuple[ScorerSpec, ...]) -> tuple[ScorerSpec, ...]:
    unnamed = [i for i, spec in enumerate(specs) if spec.label is None]
    names = iter(default_names([(specs[i].name, specs[i].config) for i in unnamed]))
    return tuple(dataclasses.replace(s, default=next(names)) if s.label is None else s for s in specs)


def _scorer(item: Any, path: str, line: int | None) -> ScorerSpec:
    if isinstance(item, str):
        return ScorerSpec(item, None, 1.0, line)
    if isinstance(item, dict):
        weight = item.get("weight", 1.0)
        label = item.get("name")
        named = [k for k in item if k not in ("weight", "name")]
        if label is not None and not (isinstance(label, str) and DIMENSION_NAME.fullmatch(label)):
            raise PromptgitError(
                f"cannot use {label!r} as a scorer's name",
                file=path,
                line=line,
                hint="a scorer's `name:` is 1 to 40 letters, digits, `_`, `.`, `:` or `-`",
            )
        # Finite: a weight of .inf made a case's weighted mean inf/inf = NaN, which the store refused (exit 70).
        if (
            len(named) == 1
            and isinstance(weight, (int, float))
            and not isinstance(weight, bool)
            and 0 < weight < math.inf
        ):
            return ScorerSpec(str(named[0]), item[named[0]], float(weight), line, label)
    raise PromptgitError(
        f"cannot read scorer {item!r}",
        file=path,
        line=line,
        hint="write a scorer as a name (`- exact_match`) or one `name: config` pair, "
        "optionally with `weight: 2` and `name: tone`",
    )


def _refuse_shared_dimensions(specs: tuple[ScorerSpec, ...], path: str) -> None:
    """Each scorer is one dimension of the results, so two may not share a name."""
    seen: dict[str, ScorerSpec] = {}
    for spec in specs:
        first = seen.setdefault(spec.dimension, spec)
        if first is not spec and first.label is None and spec.label is None:
            _refuse_repeated(first, spec, path)
        if first is not spec:
            raise PromptgitError(
                f"two scorers are both named {spec.dimension!r}"
                + (f" (the other is on line {first.line})" if first.line is not None else ""),
                file=path,
                line=spec.line,
                hint="give each a `name:` of its own, e.g. `- regex: '^a'` with `name: starts_with_a` under it",
            )


def _refuse_repeated(first: ScorerSpec, spec: ScorerSpec, path: str) -> None:
    # Unnamed scorers share a default name only when kind and configuration are equal: a copy, which would
    # score every case twice under one name; `weight:` is how a suite counts a scorer more.
    raise PromptgitError(
        f"the {spec.name} scorer repeats the one"
        + (f" on line {first.line}" if first.line is not None else " before it")
        + " (same kind and configuration)",
        file=path,
        line=spec.line,
        hint="delete one (give the other `weight: 2` to count it twice), or give one a `name:` to keep both",
    )
