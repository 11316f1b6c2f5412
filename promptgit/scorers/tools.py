"""The tool_call scorer: did the reply call the expected functions, with the expected arguments?

docs/spec.md, Tools. The expected calls come from a dataset field (the case's expected value unless
`field:` names another): a function name, one call `{name, arguments}`, or a list of calls (`[]`:
no call expected). `match:` compares arguments `exact`ly (the default), as a `subset` (every expected
key with its value; nested mappings likewise), or against a JSON `schema` given as `arguments`.
A call without `arguments` matches any arguments. Expected and made calls pair up by a maximum
matching (each expected call with at most one made call of its name whose arguments match), so the
order of the made calls never changes the score; the score is the paired share of the larger of the
two lists, so a missing call and an extra call each cost as much as a wrong one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.scorers import Score, Scorer, ScorerSite, register
from promptgit.scorers.common import Checker, case_id, options_of, same_value
from promptgit.toolcalls import ToolCall, call_text

_MATCHES = ("exact", "subset", "schema")
_ANY = object()  # an expected call without `arguments`


@dataclass(frozen=True)
class _Expected:
    name: str
    arguments: Any  # a value, a schema (match: schema), or _ANY


@register("tool_call")
def _tool_call(config: Any, site: ScorerSite) -> Scorer:
    """The share of expected tool calls the reply made (see the module docstring)."""
    options = options_of("tool_call", config if config is not None else {}, {"field", "match"})
    field = options.get("field")
    match = options.get("match", "exact")
    if match not in _MATCHES:
        raise site.error(f"tool_call's match must be one of {', '.join(_MATCHES)}, not {match!r}")
    if field is not None and not isinstance(field, str):
        raise site.error(f"tool_call's field must name a dataset field, not {field!r}")

    def check(output: str, expected: Any, case: Any) -> Score:
        wanted = _expected_calls(_source(case, expected, field, site), case, site, match)
        calls: tuple[ToolCall, ...] = getattr(output, "tool_calls", ())
        return _score(wanted, calls, match)

    return Checker("tool_call", check)


def _source(case: Any, expected: Any, field: str | None, site: ScorerSite) -> Any:
    if field is None:
        if expected is None:
            raise site.error(
                f"case {case_id(case)} has no expected value, which tool_call compares with",
                hint="give the case its expected calls, or name their dataset field with `field:`",
            )
        return expected
    row = getattr(case, "row", {}) or {}
    if field not in row:
        raise site.error(f"case {case_id(case)} has no field {field!r}, which tool_call reads its expected calls from")
    return row[field]


def _expected_calls(value: Any, case: Any, site: ScorerSite, match: str) -> list[_Expected]:
    """Expected calls from a name, a call, a list of calls, or any of them as JSON text (a CSV cell)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise site.error(f"case {case_id(case)}: the expected calls are not JSON: {err.msg}") from None
    items = value if isinstance(value, list) else [value]
    return [_one(item, case, site, match) for item in items]


def _one(item: Any, case: Any, site: ScorerSite, match: str) -> _Expected:
    if isinstance(item, str) and item:
        return _Expected(item, _ANY)
    if isinstance(item, Mapping) and isinstance(item.get("name"), str) and set(item) <= {"name", "arguments"}:
        arguments = item.get("arguments", _ANY)
        if match == "schema" and arguments is not _ANY and not isinstance(arguments, Mapping):
            raise site.error(f"case {case_id(case)}: with match: schema, the arguments of {item['name']} are a schema")
        return _Expected(item["name"], arguments)
    raise site.error(
        f"case {case_id(case)}: an expected call is a function name or {{name, arguments}}, not {_shown(item)}",
        hint='e.g. {"name": "search", "arguments": {"query": "weather"}}, or a list of them',
    )


def _score(wanted: list[_Expected], calls: tuple[ToolCall, ...], match: str) -> Score:
    if not wanted and not calls:
        return Score(1.0)
    fits = [
        [j for j, call in enumerate(calls) if call.name == e.name and _mismatch(e, call, match) is None] for e in wanted
    ]
    pair = _best_pairing(fits, len(calls))
    paired = set(pair.values())
    problems: list[str] = []
    explained: set[int] = set()  # calls a problem of an expected call names already
    for i, expected in enumerate(wanted):
        if i in pair:
            continue
        problems.append(_unmatched(expected, calls, match, paired, explained))
    unpaired = [j for j in range(len(calls)) if j not in paired and j not in explained]
    problems += [f"unexpected call {call_text(calls[j])}" for j in unpaired]
    value = len(pair) / max(len(wanted), len(calls))
    return Score(value, "; ".join(problems) if problems else None)


def _unmatched(
    expected: _Expected, calls: tuple[ToolCall, ...], match: str, paired: set[int], explained: set[int]
) -> str:
    """Why `expected` went unmatched: how the first free call of its name differs (that call is then
    explained, not also reported as unexpected), else how a paired one differs, else that none was made."""
    named = [j for j, c in enumerate(calls) if c.name == expected.name]
    free = [j for j in named if j not in paired and j not in explained]
    if free:
        explained.add(free[0])
        return _mismatch(expected, calls[free[0]], match) or _missing(expected, calls)
    differences = (_mismatch(expected, calls[j], match) for j in named)
    return next((d for d in differences if d), None) or _missing(expected, calls)


def _best_pairing(fits: list[list[int]], calls: int) -> dict[int, int]:
    """A maximum matching of expected calls to made calls: {expected index: call index}.

    `fits[i]` lists the calls expected call i accepts. Kuhn's augmenting paths (Kuhn 1955, "The
    Hungarian method for the assignment problem"): O(expected x edges), and both lists are short.
    Greedy pairing in order under-scores: an any-arguments call can take the one call a stricter
    expected call needed. Expected calls are tried in order, calls in order, so when several best
    pairings exist the in-order one wins and reasons read as before.
    """
    owner: list[int | None] = [None] * calls  # call index -> expected index

    def augment(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            holder = owner[j]
            if holder is None or augment(holder, seen):
                owner[j] = i
                return True
        return False

    for i in range(len(fits)):
        augment(i, set())
    return {i: j for j, i in enumerate(owner) if i is not None}


def _missing(expected: _Expected, calls: tuple[ToolCall, ...]) -> str:
    made = ", ".join(c.name for c in calls) or "no tool"
    return f"expected a call to {expected.name}, the reply called {made}"


def _mismatch(expected: _Expected, call: ToolCall, match: str) -> str | None:
    """Why `call`'s arguments do not match, or None."""
    if call.error is not None:
        return call.error
    if expected.arguments is _ANY:
        return None
    if match == "schema":
        return _schema_problem(expected.arguments, call)
    problem = _difference(expected.arguments, call.arguments, "", subset=match == "subset")
    return f"{call.name}: {problem}" if problem else None


def _difference(expected: Any, actual: Any, path: str, *, subset: bool) -> str | None:
    """Where `actual` departs from `expected` (a subset of mappings when `subset`), or None."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for key, value in expected.items():
            if key not in actual:
                return f"missing argument {path}{key}"
            problem = _difference(value, actual[key], f"{path}{key}.", subset=subset)
            if problem:
                return problem
        extra = [k for k in actual if k not in expected]
        return f"unexpected argument {path}{extra[0]}" if extra and not subset else None
    if same_value(expected, actual):
        return None
    where = path.rstrip(".") or "arguments"
    return f"{where}: expected {_shown(expected)}, got {_shown(actual)}"


def _shown(value: Any, limit: int = 80) -> str:
    """A JSON value as the model would write it, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _schema_problem(schema: Mapping[str, Any], call: ToolCall) -> str | None:
    import jsonschema  # imported on first use: ~0.1 s

    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as err:
        raise PromptgitError(f"the expected arguments schema of {call.name} is invalid: {err.message}") from None
    problem = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(call.arguments))
    return None if problem is None else f"{call.name}: {problem.json_path}: {problem.message}"
