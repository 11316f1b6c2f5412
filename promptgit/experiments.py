"""Experiments from the command line: models and settings laid over the files' for one run, side by side.

docs/spec.md, "Models side by side, settings and sweeps". A variant is a set of model settings
(`--model`, `--set`, one value of `--sweep`) laid over every suite's layered settings. Each suite
runs once per variant on the same cases; every variant after the first is compared with the first,
case by case, by compare.compare_results, the machinery `diff` uses for two revisions.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptgit.compare import SuiteDiff, compare_results
from promptgit.config import MODEL_SETTINGS, check_model_settings
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.evaluate import Plan, SuiteResult
from promptgit.fingerprint import fingerprint
from promptgit.prompts import merged_settings
from promptgit.store import Store
from promptgit.yamlio import load_yaml


@dataclass(frozen=True)
class Variant:
    """One column of an experiment: its label (`gpt-4o-mini`, `temperature=0.7`) and the settings it lays over."""

    label: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class VariantRow:
    """One suite on one variant, with what its stored answers cost and how long they took.

    `tokens`, `cost` and the latencies are over the suite's stored answers (this run's and earlier
    ones'), so a re-run shows the same; `result.calls` are this run's calls. `cost` is None when the
    model has no known price. Latencies are the nearest-rank 50th and 95th percentiles of the answers'
    call seconds. `against_first` is the paired comparison with the first variant (None for the first).
    """

    variant: Variant
    result: SuiteResult
    tokens: int
    cost: float | None
    latency_p50: float | None
    latency_p95: float | None
    against_first: SuiteDiff | None


@dataclass(frozen=True)
class SideBySide:
    """Every suite on every variant, suite by suite in the variants' order."""

    variants: tuple[Variant, ...]
    rows: tuple[VariantRow, ...]


def parse_settings(pairs: Sequence[str], flag: str = "--set") -> dict[str, Any]:
    """`KEY=VALUE` pairs as model settings, each value a YAML scalar (`0.7`, `true`, `[a, b]`), validated as a
    prompt's front matter is (config.MODEL_SETTINGS, config.check_model_settings). Raises PromptgitError."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, value = _split(pair, flag)
        if key in values:  # the last one silently won: a run measured a setting other than the one meant
            raise PromptgitError(f"{flag} {key} is given twice", hint=f"give each setting once in {flag}")
        values[key] = _value(pair, value, flag)
    _check(values, flag)
    return values


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """`KEY=V1,V2,...` as the setting and its values (YAML scalars, at least two, no repeats). Raises PromptgitError."""
    key, listed = _split(text, "--sweep")
    values = [_value(text, part, "--sweep") for part in listed.split(",")]
    if len(values) < 2:
        raise PromptgitError(f"--sweep {text!r} names one value", hint="give two or more: --sweep temperature=0,0.7")
    # Distinct as values, not as spelled: `0,0.0` is one temperature (the same fingerprint and calls twice).
    if any(
        a == b and type(a) is not bool and type(b) is not bool for i, a in enumerate(values) for b in values[:i]
    ) or len({repr(v) for v in values}) < len(values):
        raise PromptgitError(f"--sweep {text!r} names a value twice", hint="give each value once")
    for value in values:
        _check({key: value}, "--sweep")
    return key, values


def variants(models: Sequence[str], settings: Mapping[str, Any], sweep: tuple[str, list[Any]] | None) -> list[Variant]:
    """The variants of a run: each model (or the files' model) crossed with each sweep value, `settings` in all.

    One variant with no label when nothing varies. Raises PromptgitError for a setting given twice
    (`--model` and `--set model=`, or the swept setting in `--set`) and for a model given twice.
    """
    if len(set(models)) < len(models):
        raise PromptgitError("a model is given twice", hint="give each --model once")
    for model in models:
        _check({"model": model}, "--model")
    key = sweep[0] if sweep else None
    taken = [*(["model"] if models else []), *([key] if key else [])]
    twice = next((name for name in taken if name in settings or taken.count(name) > 1), None)
    if twice:
        raise PromptgitError(f"setting {twice} is given twice", hint="give it once: --model, --set or --sweep")
    model_layer: list[dict[str, Any]] = [{"model": m} for m in models] or [{}]
    sweep_layer: list[dict[str, Any]] = [{key: v} for v in sweep[1]] if sweep and key else [{}]
    out = []
    for chosen, swept in itertools.product(model_layer, sweep_layer):
        label = " ".join([*(str(v) for v in chosen.values()), *(f"{k}={_show(v)}" for k, v in swept.items())])
        out.append(Variant(label, {**settings, **chosen, **swept}))
    return out


def apply(plan: Plan, variant: Variant) -> Plan:
    """`plan` with `variant`'s settings laid over its own and the fingerprint they make.

    Only settings that differ from the files' layered value are kept, so `--model X` for a suite
    already on X keeps its fingerprint and stored results.
    """
    project = plan.project
    current = merged_settings(project.settings, plan.prompt, plan.suite.override)
    changed = {k: v for k, v in variant.settings.items() if k not in current or current[k] != v}
    return dataclasses.replace(
        plan,
        overrides=changed,
        fingerprint=fingerprint(project.tree, project.settings, plan.sources, changed),
    )


def side_by_side(variants: Sequence[Variant], results: Sequence[SuiteResult], store: Store) -> SideBySide:
    """Rows from `results` laid out suite-major (suite 1 on every variant, then suite 2, ...), each compared with
    the same suite on the first variant."""
    count = len(variants)
    suites = len(results) // count
    rows = []
    for s in range(suites):
        first = results[s]
        for v, variant in enumerate(variants):
            result = results[v * suites + s]
            against = compare_results(result.name, first, result) if v else None
            rows.append(_row(variant, result, against, store))
    return SideBySide(tuple(variants), tuple(rows))


def _row(variant: Variant, result: SuiteResult, against: SuiteDiff | None, store: Store) -> VariantRow:
    # The answers behind this result: its cases (a selection's only) at its repeat count, not every row the
    # fingerprint holds (a wider or more repeated earlier run would inflate one variant's cost beside another's).
    shown = {c.id for c in result.cases}
    stored = [r for r in store.iter_cases(result.fingerprint) if r.case_id in shown and r.repeat < result.repeat]
    tokens = sum(r.input_tokens + r.output_tokens for r in stored)
    cost = math.fsum(r.cost for r in stored)
    seconds = sorted(r.seconds for r in stored)
    return VariantRow(
        variant,
        result,
        tokens,
        _known_cost(result.model, cost, tokens),
        nearest_rank(seconds, 50),
        nearest_rank(seconds, 95),
        against,
    )


def _known_cost(model: str | None, cost: float, tokens: int) -> float | None:
    """`cost`, or None when it is $0 for tokens spent on a model litellm has no price for.

    litellm is imported only then: a priced model's answers cost more than $0, the embedded one is free.
    """
    if cost > 0 or tokens == 0 or model is None or model.startswith("local/"):
        return cost
    from promptgit import models

    return cost if models.price_known(model) else None


def nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile of ascending `ordered` values: the ceil(p/100 * n)-th value (None when empty)."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def _split(pair: str, flag: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    key = key.strip()
    if not sep or not key:
        raise PromptgitError(f"{flag} {pair!r} is not KEY=VALUE", hint=f"e.g. {flag} temperature=0.7")
    if key not in MODEL_SETTINGS:
        raise PromptgitError(
            f"{flag} {pair!r}: unknown model setting {key!r}",
            hint=did_you_mean(key, MODEL_SETTINGS) or f"model settings: {', '.join(sorted(MODEL_SETTINGS))}",
        )
    return key, value


def _value(pair: str, text: str, flag: str) -> Any:
    if not text.strip():
        raise PromptgitError(f"{flag} {pair!r} has an empty value", hint=f"e.g. {flag} temperature=0.7")
    try:
        return load_yaml(text, flag)
    except PromptgitError as err:
        raise PromptgitError(
            f"{flag} {pair!r}: {err.message}", hint="a value is read as YAML: 0.7, true, [a, b]"
        ) from None


def _check(values: Mapping[str, Any], flag: str) -> None:
    try:
        check_model_settings(values, flag)
        if "tools" in values or "tool_choice" in values:  # as front matter's are (tools.py), before any call
            from promptgit import tools

            if "tools" in values:
                tools.check_tools(values["tools"], flag, None)
            if "tool_choice" in values and "tools" in values:
                tools.check_tool_choice(values["tool_choice"], values["tools"], flag, None)
    except PromptgitError as err:
        raise PromptgitError(f"{flag}: {err.message}", hint=err.hint) from None  # a flag, not a file


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
