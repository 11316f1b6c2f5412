"""What a run would cost before it runs: the exact number of uncached model calls and an estimate in USD.

docs/spec.md, "Cost before and during". Counting needs only the store (each case-repeat's stored
result, then its rendered call's cache key); litellm is imported only to price calls that are not
cached, for a model other than the embedded one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, layered_override
from promptgit.hashing import call_key
from promptgit.prompts import merged_settings, render
from promptgit.store import Store


@dataclass(frozen=True)
class Estimate:
    """One suite on one model: the calls a run would make and what they would cost at most.

    `calls` are model calls not answered by the store (judge calls are not counted: what a judge is
    asked depends on answers not yet given). `input_tokens` are those calls' rendered prompt tokens by
    litellm's token counter, `output_tokens` the bound on their answers (`max_tokens`, else
    `max_completion_tokens`, else the model's listed maximum output); both are None when not counted.
    `cost` in USD is input and bound priced by litellm's price list; None when the price is unknown.
    """

    suite: str
    label: str  # the variant (models side by side), "" for a plain run
    model: str | None
    cases: int
    calls: int
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None


@dataclass(frozen=True)
class _Pending:
    messages: list[dict[str, str]]
    settings: dict[str, Any]


def estimate(plans: Sequence[tuple[str, Plan]], store: Store, fresh: bool = False) -> list[Estimate]:
    """An Estimate per (label, plan), in order; a call two plans share is counted once, for the first.

    Only the case-repeats a plan's selection takes count (--case, --limit, --shard, ...); `fresh`
    (--no-cache) counts every one of them, stored or not, as that run calls them all afresh."""
    seen: set[str] = set()
    return [_estimate(label, plan, store, seen, fresh) for label, plan in plans]


def _estimate(label: str, plan: Plan, store: Store, seen: set[str], fresh: bool = False) -> Estimate:
    model = _model(plan)
    pending = list(_uncached(plan, store, seen, fresh))
    cases = sum(1 for c in plan.suite.cases if plan.selected is None or plan.selected.takes_case(c.id))
    base = Estimate(plan.suite.name, label, model, cases, len(pending), None, None, None)
    if not pending or model.startswith("local/"):  # nothing to pay, or the embedded model: free, no litellm
        return dataclasses.replace(base, cost=0.0)
    from promptgit import models  # only now: a call that is not cached needs a price

    price = models.price(model)
    input_tokens = sum(models.count_tokens(model, p.messages) for p in pending)
    bounds = [_output_bound(p.settings, price.max_output_tokens if price else None) for p in pending]
    output_tokens = None if any(b is None for b in bounds) else sum(b for b in bounds if b is not None)
    cost = None
    if price is not None and output_tokens is not None:
        cost = math.fsum([input_tokens * price.input_per_token, output_tokens * price.output_per_token])
    return dataclasses.replace(base, input_tokens=input_tokens, output_tokens=output_tokens, cost=cost)


def _uncached(plan: Plan, store: Store, seen: set[str], fresh: bool = False) -> list[_Pending]:
    """The calls `plan` would make: the case-repeats it takes with no stored result whose call key has no
    stored answer (with `fresh`, every case-repeat it takes)."""
    stored = set() if fresh else store.case_keys(plan.fingerprint, plan.trusted_only)
    project = plan.project
    pending = []
    for case in plan.suite.cases:
        missing = [r for r in range(plan.suite.repeat) if (case.id, r) not in stored and plan.takes(case, r)]
        if not missing:
            continue
        try:
            rendered = render(project.tree, project.settings, plan.prompt, case.vars, layered_override(plan))
        except PromptgitError as err:
            err.message = f"case {case.id!r} of suite {plan.suite.name!r} does not render: {err.message}"
            raise
        messages = [m.as_dict() for m in rendered.messages]
        for repeat in missing:
            key = call_key(messages, rendered.settings, repeat)
            if key in seen or (not fresh and store.get_response(key, plan.trusted_only) is not None):
                continue
            seen.add(key)
            pending.append(_Pending(messages, dict(rendered.settings)))
    return pending


def _output_bound(settings: dict[str, Any], listed: int | None) -> int | None:
    for key in ("max_tokens", "max_completion_tokens"):
        if isinstance(settings.get(key), int):
            return int(settings[key])
    return listed


def _model(plan: Plan) -> str:
    model = merged_settings(plan.project.settings, plan.prompt, layered_override(plan)).get("model")
    if not model:
        raise PromptgitError(
            "no model configured",
            file=plan.prompt.path,
            hint="set `model:` in the prompt's front matter, the suite, or `defaults:` in promptgit.yaml",
        )
    return str(model)
