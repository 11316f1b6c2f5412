"""Which part of a suite a run covers: cases chosen by `--case`, `--filter`, `--failing`, `--sample`, `--limit`,
and calls split by `--shard I/N` (docs/spec.md, "Selections and shards").

A selection narrows what a run evaluates and shows; it never changes what is stored. The store keeps one
row per (fingerprint, case, repeat), the same whichever run computed it, so a later run over the whole
suite reuses a selection's rows and evaluates the rest. Nothing takes a fingerprint's stored rows for the
suite's result unless they cover every case and repeat (`stored_whole`): a partial run is partial by
what it lacks, not by a mark that a later run or a `sync` would have to clear.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.store import Store
from promptgit.suites import Case, normal_id

if TYPE_CHECKING:
    from promptgit.evaluate import Plan


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`: the (suite, case, repeat) calls whose hash lands on it."""

    index: int
    count: int

    def takes(self, suite: str, case_id: str, repeat: int) -> bool:
        """Whether this shard runs repeat `repeat` of case `case_id` of suite `suite` (`shard_of`)."""
        return shard_of(suite, case_id, repeat, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(suite: str, case_id: str, repeat: int, count: int) -> int:
    """The shard (1..count) of one call: sha256 of the suite name, case id and repeat, as an integer, mod count.

    A hash of these ids alone, so a call's shard does not move when cases are added or removed (nor when
    the suite's files change: its fingerprint is not part of it), and every machine computes the same one.
    """
    digest = hashlib.sha256(f"{suite}\0{case_id}\0{repeat}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str) -> Shard:
    """`I/N` (1 <= I <= N) as a Shard; PromptgitError otherwise."""
    index, sep, count = text.partition("/")
    if sep and index.strip().isdigit() and count.strip().isdigit():
        shard = Shard(int(index), int(count))
        if 1 <= shard.index <= shard.count:
            return shard
    raise PromptgitError(
        f"--shard {text!r} is not I/N with 1 <= I <= N",
        hint="e.g. --shard 2/4 runs the second of four shards (GitHub Actions: a matrix over 1..4)",
    )


@dataclass(frozen=True)
class Request:
    """What the command line asked to run of each suite; the default asks for all of it."""

    case_ids: tuple[str, ...] = ()  # --case (repeatable): only these cases
    pattern: str | None = None  # --filter: RE2, searched in the case id and in each `name=value` of its vars
    limit: int | None = None  # --limit: the first N chosen cases, in the suite's order
    sample: int | None = None  # --sample: N chosen cases picked by `seed` (sample_order)
    seed: int = 0  # --seed
    failing: bool = False  # --failing: the cases that failed in the fingerprint's stored result
    shard: Shard | None = None  # --shard I/N: this shard's calls of the chosen cases

    def __post_init__(self) -> None:
        # Ids are NFC (suites.normal_id): a --case typed in the other form still names its case.
        object.__setattr__(self, "case_ids", tuple(normal_id(i) for i in self.case_ids))

    @property
    def narrows(self) -> bool:
        """Whether the request leaves anything out."""
        return bool(self.case_ids or self.pattern is not None or self.limit or self.sample or self.failing)

    def how(self) -> tuple[str, ...]:
        """The request as the flags that made it, for the output: ("--filter 'refund'", "--limit 5")."""
        said = [f"--case {i}" for i in self.case_ids]
        said += [f"--filter {self.pattern!r}"] if self.pattern is not None else []
        said += ["--failing"] if self.failing else []
        said += [f"--sample {self.sample} --seed {self.seed}"] if self.sample else []
        said += [f"--limit {self.limit}"] if self.limit else []
        said += [f"--shard {self.shard}"] if self.shard else []
        return tuple(said)


@dataclass(frozen=True)
class Knobs:
    """How the command line shapes one run (defaults: the suite's and promptgit.yaml's own)."""

    repeat: int | None = None  # --repeat K, in place of each suite's `repeat:`
    concurrency: int | None = None  # -j N, in place of the `concurrency` setting
    fresh: bool = False  # --no-cache (evaluate.Options.fresh)
    request: Request = Request()  # case selection and --shard


@dataclass(frozen=True)
class Selected:
    """The part of one suite a plan runs and shows."""

    case_ids: frozenset[str] | None  # None: every case
    shard: Shard | None
    of: int  # the suite's cases
    how: tuple[str, ...]  # the flags that chose it (Request.how)

    def takes_case(self, case_id: str) -> bool:
        """Whether the case is among the chosen ones."""
        return self.case_ids is None or case_id in self.case_ids

    def takes(self, suite: str, case_id: str, repeat: int) -> bool:
        """Whether this run evaluates repeat `repeat` of the case."""
        return self.takes_case(case_id) and (self.shard is None or self.shard.takes(suite, case_id, repeat))


def select(plans: Sequence[Plan], store: Store, request: Request) -> tuple[list[Plan], list[str]]:
    """The plans with their selection set (a suite with no chosen case left out), and notes for the user.

    PromptgitError for a `--case` id that no suite has (with the nearest id), a `--filter` that is not
    RE2 or matches no case, and `--failing` when no suite has a stored result to go on.
    """
    if not request.narrows and request.shard is None:
        return list(plans), []
    _check_ids(plans, request.case_ids)
    matches = _matcher(request.pattern)
    chosen: list[Plan] = []
    notes: list[str] = []
    for plan in plans:
        cases = [c for c in plan.suite.cases if (not request.case_ids or c.id in request.case_ids) and matches(c)]
        if request.failing:
            failed = failing_ids(store, plan)
            if failed is None:
                notes.append(f"{plan.suite.name}: no stored result at this fingerprint, so no case is known to fail")
                continue
            cases = [c for c in cases if c.id in failed]
        if request.sample:
            picked = {c.id for c in sample_order(cases, request.seed)[: request.sample]}
            cases = [c for c in cases if c.id in picked]
        cases = cases[: request.limit] if request.limit else cases
        if not cases:
            if request.failing:
                notes.append(f"{plan.suite.name}: no case failed in its stored result")
            continue
        ids = frozenset(c.id for c in cases) if request.narrows else None
        chosen.append(
            dataclasses.replace(plan, selected=Selected(ids, request.shard, len(plan.suite.cases), request.how()))
        )
    if not chosen and request.pattern is not None and not request.failing:
        raise PromptgitError(
            f"--filter {request.pattern!r} matches no case", hint="it is searched in each case id and `name=value` var"
        )
    return chosen, notes


def sample_order(cases: Sequence[Case], seed: int) -> list[Case]:
    """Cases ordered by sha256 of (seed, case id): the same order on every machine and Python version
    (random.sample's is not promised across versions), and a case keeps its place when others are added."""
    return sorted(cases, key=lambda c: hashlib.sha256(f"{seed}\0{c.id}".encode()).digest())


def failing_ids(store: Store, plan: Plan) -> set[str] | None:
    """Ids of the cases that failed in the fingerprint's stored result (every repeat stored, mean score not
    passing); None when nothing is stored for it. Errors are never stored, so they are not among them."""
    rows: dict[str, list[float]] = defaultdict(list)
    for row in store.iter_cases(plan.fingerprint, plan.trusted_only):
        if row.repeat < plan.suite.repeat:
            rows[row.case_id].append(row.score)
    if not rows:
        return None
    whole = {i: s for i, s in rows.items() if len(s) == plan.suite.repeat}
    return {i for i, s in whole.items() if not plan.suite.passes(math.fsum(s) / len(s))}


def stored_whole(store: Store, plan: Plan) -> bool:
    """Whether the store holds every (case, repeat) of the plan's suite (`trusted_only`: local rows), so its
    result can be read without a call; a selection's or a shard's rows alone are not."""
    keys = store.case_keys(plan.fingerprint, plan.trusted_only)
    return all((c.id, r) in keys for c in plan.suite.cases for r in range(plan.suite.repeat))


def with_repeat(plans: Sequence[Plan], repeat: int | None) -> list[Plan]:
    """The plans with `--repeat K` in place of each suite's `repeat:` (the fingerprint stays: a repeat's
    rows are the same rows whatever the count asked, so K runs reuse and extend the suite's)."""
    if repeat is None:
        return list(plans)
    return [dataclasses.replace(p, suite=dataclasses.replace(p.suite, repeat=repeat)) for p in plans]


def _check_ids(plans: Sequence[Plan], wanted: Sequence[str]) -> None:
    known = {c.id for p in plans for c in p.suite.cases}
    for case_id in wanted:
        if case_id not in known:
            suites = ", ".join(repr(p.suite.name) for p in plans)
            raise PromptgitError(
                f"no case {case_id!r} in suite {suites}"
                if len(plans) == 1
                else f"no case {case_id!r} in suites {suites}",
                hint=did_you_mean(case_id, known) or "`promptgit eval --json` lists the case ids",
            )


def _matcher(pattern: str | None) -> Callable[[Case], bool]:
    """A case test for `--filter`: RE2 (as the regex scorer: linear time, one syntax for every pattern the
    project reads), searched in the id and in each `name=value` of the case's vars (values as JSON unless text)."""
    if pattern is None:
        return lambda case: True
    from promptgit.scorers.text import searcher  # the RE2 boundary

    try:
        found = searcher(pattern)
    except PromptgitError as err:
        err.message = f"--filter: {err.message}"
        raise
    return lambda case: found(case.id) or any(found(f"{k}={_text(v)}") for k, v in case.vars.items())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
