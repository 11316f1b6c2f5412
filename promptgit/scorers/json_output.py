"""JSON scorers: json_valid and json_schema (inline, or a schema file beside the suite)."""

from __future__ import annotations

from typing import Any

from promptgit.errors import PromptgitError
from promptgit.scorers import Score, Scorer, ScorerSite, register
from promptgit.scorers.common import Checker, no_config, parse_json
from promptgit.tree import read_text
from promptgit.yamlio import load_data_file


@register("json_valid")
def _json_valid(config: Any, site: ScorerSite) -> Scorer:
    """Whether the output (optionally in a ```json fence) parses as JSON."""
    no_config("json_valid", config)

    def check(output: str, expected: Any, case: Any) -> Score:
        ok, _, error = parse_json(output)
        return Score(1.0) if ok else Score(0.0, error)

    return Checker("json_valid", check)


def _schema_source(config: Any) -> dict[str, Any] | str:
    """The inline schema or the schema file's path from `json_schema: …` or `json_schema: {schema: …}`."""
    if isinstance(config, dict) and "schema" in config:
        extra = sorted(set(config) - {"schema"})
        if extra:
            raise PromptgitError(
                f"json_schema has no option {extra[0]!r}",
                hint="give `schema:` alone, or the schema itself as the mapping",
            )
        config = config["schema"]
    if isinstance(config, dict) or (isinstance(config, str) and config.strip()):
        return config
    raise PromptgitError(
        f"json_schema needs a schema mapping or a schema file, got {config!r}",
        hint="e.g. `json_schema: {type: object, required: [answer]}` or `json_schema: schema.json`",
    )


def _schema_files(config: Any) -> list[str]:
    source = _schema_source(config)
    return [source] if isinstance(source, str) else []


def _load_schema(source: dict[str, Any] | str, site: ScorerSite) -> tuple[dict[str, Any], str | None]:
    """The schema mapping and, when it comes from a file, that file's path."""
    if isinstance(source, dict):
        return source, None
    path = site.resolve(source)
    if not site.tree.exists(path):
        raise site.error(
            f"json_schema file {path!r} not found", hint="give the schema file's path relative to the suite file"
        )
    text = read_text(site.tree, path)
    if not path.endswith((".json", ".yaml", ".yml")):
        raise site.error(f"json_schema file {path!r} is neither .json nor .yaml")
    schema = load_data_file(text, path)
    if not isinstance(schema, dict):
        raise PromptgitError("a JSON schema must be a mapping", file=path)
    return schema, path


@register("json_schema", reads=_schema_files)
def _json_schema(config: Any, site: ScorerSite) -> Scorer:
    """Whether the output parses as JSON that validates against the schema (inline or a file)."""
    import jsonschema  # imported on first use: it costs ~0.1 s and most suites never need it

    schema, schema_file = _load_schema(_schema_source(config), site)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as err:
        message = f"invalid JSON schema: {err.message}"
        raise (PromptgitError(message, file=schema_file) if schema_file else site.error(message)) from None
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    def check(output: str, expected: Any, case: Any) -> Score:
        ok, value, error = parse_json(output)
        if not ok:
            return Score(0.0, error)
        problem = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if problem is None:
            return Score(1.0)
        return Score(0.0, f"{problem.json_path}: {problem.message}")

    return Checker("json_schema", check)
