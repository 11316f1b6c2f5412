"""Scorers (SPEC section 4): one registry, where the built-ins are registered exactly like user scorers."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import posixpath
import re
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.tree import Tree, normalize, read_text
from promptgit.yamlio import load_data_file


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one output: a value in [0, 1] and, where useful, why."""

    value: float
    reason: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise ValueError(f"a score must be a number, not {self.value!r}")
        if not 0.0 <= self.value <= 1.0:  # also refuses NaN
            raise ValueError(f"a score must lie in [0, 1], not {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


class JudgeFn(Protocol):
    """The engine's cached model call for judges; `model=None` means the engine's default judge model."""

    async def __call__(self, model: str | None, messages: list[dict[str, str]], settings: dict[str, Any]) -> str:
        """The model's reply text to `messages`."""
        ...


class Scorer(Protocol):
    """A configured scorer: scores one output of one case."""

    label: str  # e.g. "exact_match", "regex", "python:tone"

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Score `output` against the case's `expected` value."""
        ...


@dataclass(frozen=True)
class ScorerSite:
    """Where a scorer is configured: for error messages, and for reading files beside the suite."""

    suite_path: str
    line: int | None
    tree: Tree

    def error(self, message: str, hint: str | None = None) -> PromptgitError:
        """An error pinned to the scorer's line in the suite file."""
        return PromptgitError(message, file=self.suite_path, line=self.line, hint=hint)

    def resolve(self, relative: str) -> str:
        """A path relative to the suite file's folder, as a project-relative path."""
        return resolve(self.suite_path, relative)


ScorerFactory = Callable[[Any, ScorerSite], Scorer]
FilesRead = Callable[[Any], list[str]]


class JudgeReplyError(Exception):
    """A judge's reply that holds no PASS/FAIL verdict: the case is an error, not a failure."""


@dataclass(frozen=True)
class _Entry:
    factory: ScorerFactory
    reads: FilesRead | None


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, *, reads: FilesRead | None = None) -> Callable[[ScorerFactory], ScorerFactory]:
    """Register a scorer factory under `name`; `reads(config)` lists files it reads, relative to the suite."""

    def decorate(factory: ScorerFactory) -> ScorerFactory:
        known = _REGISTRY.get(name)
        if known is not None and known.factory is not factory:
            raise ValueError(f"a scorer named {name!r} is registered already")
        _REGISTRY[name] = _Entry(factory, reads)
        return factory

    return decorate


def names() -> list[str]:
    """Every registered scorer name, sorted."""
    return sorted(_REGISTRY)


def build(name: str, config: Any, site: ScorerSite) -> Scorer:
    """Configure the scorer `name` with `config`; bad names and configs name the suite file and line."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise site.error(
            f"unknown scorer {name!r}",
            hint=did_you_mean(name, _REGISTRY) or f"known scorers: {', '.join(names())}",
        )
    try:
        return entry.factory(config, site)
    except PromptgitError as err:
        raise err.located(site.suite_path, site.line) from None


def files_read(name: str, config: Any, suite_path: str) -> list[str]:
    """Project-relative paths of the files a configured scorer reads (for the suite's fingerprint)."""
    entry = _REGISTRY.get(name)
    if entry is None or entry.reads is None:
        return []
    try:
        relatives = entry.reads(config)
    except (PromptgitError, ValueError, TypeError):
        return []  # a bad config has no files; build() reports it
    found = []
    for relative in relatives:
        try:
            found.append(resolve(suite_path, relative))
        except PromptgitError:
            continue
    return found


def resolve(suite_path: str, relative: str) -> str:
    """`relative` (to the suite file's folder) as a project-relative path."""
    return normalize(posixpath.join(posixpath.dirname(suite_path), relative))


def coerce(value: float | bool | dict | int) -> Score:
    """A python scorer's return value as a Score; ValueError says what is wrong with it."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"score", "reason"})
        if "score" not in value or unknown:
            raise ValueError(
                "a dict result needs a 'score' key and at most a 'reason' key"
                + (f" (unknown: {', '.join(map(repr, unknown))})" if unknown else "")
            )
        reason = value.get("reason")
        return Score(_number(value["score"]), None if reason is None else str(reason))
    return Score(_number(value))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if not isinstance(value, (int, float)):
        raise ValueError(f"a score must be a number or a bool, not {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a score must lie in [0, 1], not {value!r}")
    return float(value)


# -- shared helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checker:
    """A scorer that needs no model: a plain function of output, expected and case."""

    label: str
    check: Callable[[str, Any, Any], Score]

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Score the output without calling a model."""
        return self.check(output, expected, case)


def _short(text: str, limit: int = 80) -> str:
    """A value quoted for a reason, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _expected_text(expected: Any) -> str:
    """The expected value as the text a model would write: JSON spelling for non-strings."""
    if isinstance(expected, str):
        return expected
    return json.dumps(expected, ensure_ascii=False)


def _require_expected(expected: Any, case: Any, site: ScorerSite, label: str) -> Any:
    if expected is None:
        raise site.error(
            f"case {_case_id(case)} has no expected value, which {label} compares with",
            hint="give the case an expected value (the suite's `expected:` field), or use a scorer that needs none",
        )
    return expected


def _case_id(case: Any) -> str:
    return repr(getattr(case, "id", "?"))


def _no_config(name: str, config: Any) -> None:
    if config is not None:
        raise PromptgitError(f"{name} takes no configuration, got {config!r}", hint=f"write it bare: `- {name}`")


def _mapping(name: str, config: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise PromptgitError(f"{name} needs a mapping, got {config!r}", hint=f"keys: {', '.join(sorted(allowed))}")
    for key in config:
        if key not in allowed:
            raise PromptgitError(
                f"{name} has no option {key!r}",
                hint=did_you_mean(str(key), allowed) or f"options: {', '.join(sorted(allowed))}",
            )
    return config


_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)


def strip_fence(output: str) -> str:
    """The text inside a Markdown code fence that wraps the whole output (```json … ```), else the output."""
    text = output.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def _parse_json(output: str) -> tuple[bool, Any, str | None]:
    """(ok, value, error) for an output that should be JSON, fence allowed."""
    try:
        return True, json.loads(strip_fence(output)), None
    except json.JSONDecodeError as err:
        return False, None, f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"


def _same_value(a: Any, b: Any) -> bool:
    """Equality of parsed JSON values that keeps true apart from 1 and 1 apart from "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _json_matches(output: str, expected: Any) -> bool:
    ok, value, _ = _parse_json(output)
    return ok and _same_value(value, expected)


def _mismatch(expected: Any, output: str) -> str:
    return f"expected {_short(_expected_text(expected))}, got {_short(output)}"


# -- exact_match, equals -------------------------------------------------------------------------


@register("exact_match")
def _exact_match(config: Any, site: ScorerSite) -> Scorer:
    """Whitespace-trimmed, case-insensitive equality with the expected value."""
    _no_config("exact_match", config)

    def check(output: str, expected: Any, case: Any) -> Score:
        _require_expected(expected, case, site, "exact_match")
        same = output.strip().casefold() == _expected_text(expected).strip().casefold()
        if not same and not isinstance(expected, str):
            same = _json_matches(output, expected)  # 42.0 for 42, {"a": 1} however spaced
        return Score(1.0) if same else Score(0.0, _mismatch(expected, output))

    return _Checker("exact_match", check)


@register("equals")
def _equals(config: Any, site: ScorerSite) -> Scorer:
    """Exact equality with the expected value (parsed JSON equality for non-string expected values)."""
    _no_config("equals", config)

    def check(output: str, expected: Any, case: Any) -> Score:
        _require_expected(expected, case, site, "equals")
        same = output == expected if isinstance(expected, str) else _json_matches(output, expected)
        return Score(1.0) if same else Score(0.0, _mismatch(expected, output))

    return _Checker("equals", check)


# -- contains, icontains -------------------------------------------------------------------------


def _needles(name: str, config: Any) -> list[str] | None:
    """The configured substrings, or None for bare (the expected value is the substring)."""
    if config is None:
        return None
    items = [config] if isinstance(config, str) else config
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise PromptgitError(
            f"{name} needs a non-empty string or a list of them, got {config!r}",
            hint=f'e.g. `{name}: "refund"` or `{name}: [refund, "order number"]`',
        )
    return items


def _containment(name: str, config: Any, site: ScorerSite, fold: bool) -> Scorer:
    configured = _needles(name, config)

    def check(output: str, expected: Any, case: Any) -> Score:
        needles = configured if configured is not None else _expected_needles(expected, case, site, name)
        haystack = output.casefold() if fold else output
        missing = [n for n in needles if (n.casefold() if fold else n) not in haystack]
        if not missing:
            return Score(1.0)
        return Score((len(needles) - len(missing)) / len(needles), f"missing {', '.join(map(_short, missing))}")

    return _Checker(name, check)


def _expected_needles(expected: Any, case: Any, site: ScorerSite, name: str) -> list[str]:
    _require_expected(expected, case, site, name)
    items = expected if isinstance(expected, list) else [expected]
    needles = [_expected_text(item).strip() for item in items]
    if not all(needles):
        raise site.error(f"case {_case_id(case)} has an empty expected value, which {name} looks for")
    return needles


@register("contains")
def _contains(config: Any, site: ScorerSite) -> Scorer:
    """The share of the configured substrings (bare: the expected value) found in the output."""
    return _containment("contains", config, site, fold=False)


@register("icontains")
def _icontains(config: Any, site: ScorerSite) -> Scorer:
    """Like contains, ignoring case."""
    return _containment("icontains", config, site, fold=True)


# -- regex ---------------------------------------------------------------------------------------


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return _compiled(pattern)
    except re.error as err:
        where = f" at position {err.pos}" if err.pos is not None else ""
        raise PromptgitError(f"invalid regular expression {pattern!r}: {err.msg}{where}") from None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@register("regex")
def _regex(config: Any, site: ScorerSite) -> Scorer:
    """Whether the pattern (bare: the expected value) is found in the output, with re.search."""
    if config is not None and (not isinstance(config, str) or not config):
        raise PromptgitError(
            f"regex needs a pattern string, got {config!r}",
            hint="quote the pattern in single quotes: `regex: '^(yes|no)$'`",
        )
    configured = _compile(config) if config is not None else None

    def check(output: str, expected: Any, case: Any) -> Score:
        pattern = configured
        if pattern is None:
            try:
                pattern = _compile(_expected_text(_require_expected(expected, case, site, "regex")))
            except PromptgitError as err:
                raise site.error(f"case {_case_id(case)}: {err.message}") from None
        if pattern.search(output):
            return Score(1.0)
        return Score(0.0, f"{_short(output)} does not match {_short(pattern.pattern)}")

    return _Checker("regex", check)


# -- json_valid, json_schema ---------------------------------------------------------------------


@register("json_valid")
def _json_valid(config: Any, site: ScorerSite) -> Scorer:
    """Whether the output (optionally in a ```json fence) parses as JSON."""
    _no_config("json_valid", config)

    def check(output: str, expected: Any, case: Any) -> Score:
        ok, _, error = _parse_json(output)
        return Score(1.0) if ok else Score(0.0, error)

    return _Checker("json_valid", check)


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
        ok, value, error = _parse_json(output)
        if not ok:
            return Score(0.0, error)
        problem = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if problem is None:
            return Score(1.0)
        return Score(0.0, f"{problem.json_path}: {problem.message}")

    return _Checker("json_schema", check)


# -- numeric -------------------------------------------------------------------------------------

# The first number in the text: 42, -3.5, .5, 1e-3, 1,234.5 (thousands separators), not the 4 in "gpt4".
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")


def first_number(text: str) -> float | None:
    """The first number written in `text`, or None."""
    match = _NUMBER.search(text)
    return float(match.group(0).replace(",", "")) if match else None


def _tolerance(config: Any) -> tuple[float, bool]:
    if config is None:
        return 0.0, False
    if isinstance(config, dict):
        options = _mapping("numeric", config, {"tolerance", "relative"})
        tolerance, relative = options.get("tolerance", 0.0), options.get("relative", False)
        if not isinstance(relative, bool):
            raise PromptgitError(f"numeric's relative must be true or false, got {relative!r}")
    else:
        tolerance, relative = config, False
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise PromptgitError(
            f"numeric's tolerance must be a number of at least 0, got {tolerance!r}",
            hint="e.g. `numeric: 0.5`, or `numeric: {tolerance: 0.05, relative: true}`",
        )
    return float(tolerance), relative


def _expected_number(expected: Any, case: Any, site: ScorerSite) -> float:
    _require_expected(expected, case, site, "numeric")
    number = None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        number = float(expected)
    elif isinstance(expected, str):
        number = first_number(expected)
    if number is None or not math.isfinite(number):
        raise site.error(f"case {_case_id(case)}: expected value {expected!r} is not a number, which numeric needs")
    return number


@register("numeric")
def _numeric(config: Any, site: ScorerSite) -> Scorer:
    """1 when the output's first number is within the tolerance (absolute, or relative) of the expected one."""
    tolerance, relative = _tolerance(config)

    def check(output: str, expected: Any, case: Any) -> Score:
        target = _expected_number(expected, case, site)
        got = first_number(output)
        if got is None:
            return Score(0.0, f"no number in {_short(output)}")
        allowed = tolerance * abs(target) if relative else tolerance
        # The slack absorbs float rounding such as 0.1 + 0.2 against 0.3.
        if abs(got - target) <= allowed + 1e-9 * max(1.0, abs(target)):
            return Score(1.0)
        spread = f" ± {allowed:g}" if allowed else ""
        return Score(0.0, f"expected {target:g}{spread}, got {got:g}")

    return _Checker("numeric", check)


# -- levenshtein ---------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings.

    Myers' bit-parallel algorithm (Hyyrö's form for edit distance): one column of the DP table is
    two bit vectors, held in Python ints of any length, so each character of the shorter string
    costs a few integer operations instead of a Python loop over the longer one. Two 1,000-character
    strings: 1.3 ms (the plain DP table took 370 ms).
    """
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    if len(a) < len(b):
        a, b = b, a  # the longer string is the bit vector; the shorter one is walked
    if not b:
        return len(a)
    full, top = (1 << len(a)) - 1, 1 << (len(a) - 1)
    positions: dict[str, int] = {}  # for each character, the bits where it occurs in `a`
    for i, char in enumerate(a):
        positions[char] = positions.get(char, 0) | (1 << i)
    plus, minus, distance = full, 0, len(a)  # vertical deltas +1 / -1 of the current column
    for char in b:
        match = positions.get(char, 0)
        diagonal = match | minus
        horizontal = (((match & plus) + plus) ^ plus) | match
        h_plus = minus | (~(horizontal | plus) & full)
        h_minus = plus & horizontal
        if h_plus & top:
            distance += 1
        elif h_minus & top:
            distance -= 1
        h_plus = ((h_plus << 1) | 1) & full  # row 0 of the table grows by one per character
        h_minus = (h_minus << 1) & full
        plus = h_minus | (~(diagonal | h_plus) & full)
        minus = h_plus & diagonal
    return distance


def similarity(a: str, b: str) -> float:
    """1 − distance / length of the longer string: 1 for equal strings (two empty ones included)."""
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - edit_distance(a, b) / longest


def _threshold(config: Any) -> float | None:
    if config is None:
        return None
    value = _mapping("levenshtein", config, {"threshold"}).get("threshold") if isinstance(config, dict) else config
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PromptgitError(
            f"levenshtein's threshold must be a number in [0, 1], got {value!r}",
            hint="e.g. `levenshtein: {threshold: 0.9}`, or bare for the similarity itself",
        )
    return float(value)


@register("levenshtein")
def _levenshtein(config: Any, site: ScorerSite) -> Scorer:
    """Normalised edit similarity of the trimmed output to the expected value; pass/fail with a threshold."""
    threshold = _threshold(config)

    def check(output: str, expected: Any, case: Any) -> Score:
        target = _expected_text(_require_expected(expected, case, site, "levenshtein")).strip()
        value = similarity(output.strip(), target)
        if threshold is not None:
            if value >= threshold:
                return Score(1.0)
            return Score(0.0, f"similarity {value:.2f} < {threshold:g} to {_short(target)}")
        return Score(value) if value == 1.0 else Score(value, f"similarity {value:.2f} to {_short(target)}")

    return _Checker("levenshtein", check)


# -- llm_judge -----------------------------------------------------------------------------------

_JUDGE_SYSTEM = (
    "You are a strict evaluator. You grade one output of an AI assistant against a rubric. "
    "Reply with PASS or FAIL alone on the first line, then explain your verdict in a few sentences."
)
_VERDICT_LINE = re.compile(
    r"(?:(?:final\s+)?(?:verdict|answer|result|grade|decision)\s*[:=-]?)?\s*(PASS|FAIL)(?:ED|ES)?\b(.*)", re.IGNORECASE
)
_MARKUP = re.compile(r"[*_`#>\"']")
_VERDICT_WORD = re.compile(r"\b(PASS|FAIL)(?:ED|ES)?\b")


@dataclass(frozen=True)
class JudgeVerdict:
    """A parsed judge reply."""

    passed: bool
    reasoning: str | None


def parse_verdict(reply: str) -> JudgeVerdict:
    """Read PASS/FAIL from a judge's reply: a line that starts with it, else one unambiguous capitalised word."""
    lines = reply.strip().splitlines()
    for index, line in enumerate(lines):
        match = _VERDICT_LINE.fullmatch(_MARKUP.sub("", line).strip())
        if match:
            # Reasoning may come before the verdict line as well as after it.
            rest = [*lines[:index], match.group(2).lstrip(" :.,;-—–").strip(), *lines[index + 1 :]]
            reasoning = "\n".join(rest).strip() or None
            return JudgeVerdict(match.group(1).upper() == "PASS", reasoning)
    words = {w.upper() for w in _VERDICT_WORD.findall(reply)}
    if len(words) == 1:
        return JudgeVerdict(words == {"PASS"}, reply.strip())
    raise JudgeReplyError(f"the judge's reply has no PASS/FAIL verdict: {_short(reply.strip(), 120)}")


def judge_messages(rubric: str, output: str, expected: Any, case: Any) -> list[dict[str, str]]:
    """The messages that ask a judge model whether `output` meets `rubric`."""
    parts = [f"## Rubric\n{rubric.strip()}"]
    variables = getattr(case, "vars", None) or {}
    if variables:
        parts.append("## Input\n" + "\n".join(f"{name}: {_as_text(value)}" for name, value in variables.items()))
    if expected is not None:
        parts.append(f"## Expected answer\n{_expected_text(expected)}")
    parts.append(f"## Output to grade\n{output}")
    parts.append("Does the output meet the rubric? First line: PASS or FAIL. Then your reasoning.")
    return [{"role": "system", "content": _JUDGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class _Judge:
    """A rubric graded PASS/FAIL by a model through the engine's cached judge call."""

    label: str
    rubric: str
    model: str | None
    settings: Mapping[str, Any]

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Ask the judge model and turn its verdict into 1 or 0, with its reasoning."""
        reply = await judge(self.model, judge_messages(self.rubric, output, expected, case), dict(self.settings))
        verdict = parse_verdict(reply)
        return Score(1.0 if verdict.passed else 0.0, verdict.reasoning)


@register("llm_judge")
def _llm_judge(config: Any, site: ScorerSite) -> Scorer:
    """A model grades the output against a rubric: `{rubric: …, model: …, settings: {…}}`."""
    options = _mapping("llm_judge", config, {"rubric", "model", "settings"})
    rubric, model, settings = options.get("rubric"), options.get("model"), options.get("settings", {})
    if not isinstance(rubric, str) or not rubric.strip():
        raise PromptgitError("llm_judge needs a rubric", hint='e.g. `llm_judge: {rubric: "Names one queue only"}`')
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise PromptgitError(f"llm_judge's model must be a model name, got {model!r}")
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise PromptgitError(f"llm_judge's settings must be a mapping of model settings, got {settings!r}")
    # A judge should be as repeatable as the model allows.
    return _Judge("llm_judge", rubric, model, {"temperature": 0, **settings})


# -- python --------------------------------------------------------------------------------------

_PYTHON_HINT = "write `python: scorers.py:function_name`, the file relative to the suite file"


def _python_target(config: Any) -> tuple[str, str]:
    """(file, function) from `file.py:function`."""
    if not isinstance(config, str) or ":" not in config:
        raise PromptgitError(f"python needs `file.py:function`, got {config!r}", hint=_PYTHON_HINT)
    file, function = (part.strip() for part in config.rsplit(":", 1))
    if not file.endswith(".py") or not function.isidentifier():
        raise PromptgitError(f"python needs `file.py:function`, got {config!r}", hint=_PYTHON_HINT)
    return file, function


def _python_files(config: Any) -> list[str]:
    return [_python_target(config)[0]]


_MODULES: dict[tuple[str, str], types.ModuleType] = {}


def load_module(tree: Tree, path: str) -> types.ModuleType:
    """Run a Python file read from `tree` as a fresh module (so any revision works); reused per content."""
    source = read_text(tree, path)
    digest = hashlib.sha256(f"{path}\n{source}".encode()).hexdigest()[:16]
    module = _MODULES.get((path, digest))
    if module is not None:
        return module
    try:
        code = compile(source, path, "exec")
    except SyntaxError as err:
        raise PromptgitError(f"syntax error in scorer file: {err.msg}", file=path, line=err.lineno) from None
    module = types.ModuleType(f"promptgit_scorer_{digest}")
    module.__file__ = path
    # Registered so that dataclasses and pickling in the user's file find their module.
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)
    except Exception as err:
        del sys.modules[module.__name__]
        raise PromptgitError(
            f"scorer file failed to load: {type(err).__name__}: {err}", file=path, line=_line_in(err, path)
        ) from err
    _MODULES[(path, digest)] = module
    return module


def _line_in(err: BaseException, path: str) -> int | None:
    """The deepest line of `path` in the exception's traceback."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else None


@dataclass(frozen=True)
class _PythonScorer:
    """A user function `(output, expected, case) -> float | bool | dict` from a file beside the suite."""

    label: str
    path: str
    function: Callable[[str, Any, Any], Any]

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Call the user's function (awaiting it when async) and coerce its result."""
        name = f"{self.path}:{self.function.__name__}"
        try:
            result = self.function(output, expected, case)
            if inspect.isawaitable(result):
                result = await result
        except Exception as err:
            # A crash is a bug in the scorer, not a verdict on the output: scoring it 0 would hide it.
            raise PromptgitError(
                f"python scorer {name} raised {type(err).__name__}: {err} (case {_case_id(case)})",
                file=self.path,
                line=_line_in(err, self.path),
                hint="fix the scorer function",
            ) from err
        try:
            return coerce(result)
        except ValueError as err:
            raise PromptgitError(
                f"python scorer {name} returned {result!r} for case {_case_id(case)}: {err}",
                file=self.path,
                line=self.function.__code__.co_firstlineno,
                hint="return a float in [0, 1], a bool, or {'score': 0.5, 'reason': '…'}",
            ) from None


@register("python", reads=_python_files)
def _python(config: Any, site: ScorerSite) -> Scorer:
    """A function in a Python file beside the suite: `python: scorers.py:tone`."""
    file, function_name = _python_target(config)
    path = site.resolve(file)
    if not site.tree.exists(path):
        raise site.error(f"python scorer file {path!r} not found", hint=_PYTHON_HINT)
    module = load_module(site.tree, path)
    function = getattr(module, function_name, None)
    if not callable(function):
        defined = [n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")]
        listed = f"functions there: {', '.join(defined) or 'none'}"
        raise site.error(
            f"{path} has no function {function_name!r}", hint=did_you_mean(function_name, defined) or listed
        )
    if not _takes_three(function):
        raise site.error(f"{path}:{function_name} must take (output, expected, case)")
    return _PythonScorer(f"python:{function_name}", path, function)


def _takes_three(function: Callable[..., Any]) -> bool:
    try:
        inspect.signature(function).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:
        return True  # no signature to inspect (a builtin): let the call decide
    return True
