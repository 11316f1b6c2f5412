"""Run suites: render each case, call the model (cached), score, and store every result as it completes."""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptgit import stats
from promptgit.dimensions import CaseDimension, DimensionScore, dimension_scores
from promptgit.errors import Inconclusive, MissingCredentials, PromptgitError
from promptgit.fingerprint import SuiteSources, fingerprint, suite_sources
from promptgit.hashing import call_key
from promptgit.limiter import AdaptiveLimit
from promptgit.project import Project, no_cases
from promptgit.prompts import Prompt, load_prompt, merged_settings, render
from promptgit.scorer_names import described
from promptgit.scorers import Scorer, ScorerError, ScorerSite, build, judge_settings
from promptgit.selection import Knobs, Selected, stored_whole
from promptgit.store import Store, StoredCase, StoredResponse
from promptgit.suites import Case, Suite, load_suite, suite_names
from promptgit.toolcalls import decode as decode_output
from promptgit.toolcalls import display as display_output

if TYPE_CHECKING:
    from promptgit.workers import Pool

# A call's claim on its key (Store.claim) lasts one attempt's bound, and its owner renews it every
# third of that while it works, so a live run never loses a claim and a dead one's lapses within a lease.
# The environment variable, in seconds, is for tests that kill a claimer.
LEASE_ENV = "PROMPTGIT_CLAIM_LEASE"
# Seconds between a waiter's looks at the store, doubling from the first to the cap (then jittered):
# an answer from another process is seen at most this late.
POLL_FIRST = 0.02
POLL_CAP = 0.5


@dataclass(frozen=True)
class ProgressUpdate:
    """Where a run stands: case-repeats done of `total` (those stored before the run are not counted), how
    many of the done ones ended in an error or came from the cache, and seconds since the run began."""

    done: int
    total: int
    errors: int
    cached: int
    seconds: float


Progress = Callable[[ProgressUpdate], None]


@dataclass(frozen=True)
class Plan:
    """One suite at one revision, ready to run: what it reads and its fingerprint."""

    project: Project
    suite: Suite
    prompt: Prompt
    sources: SuiteSources
    fingerprint: str
    # Reuse only results and responses computed on this machine, never ones pulled from a remote's
    # shared ref (anyone who can push a ref can write those): `ci` sets it for the head side.
    trusted_only: bool = False
    selected: Selected | None = None  # the part of the suite to run and show (selection.py); None: all of it

    def takes(self, case: Case, repeat: int) -> bool:
        """Whether a run of this plan evaluates repeat `repeat` of `case`."""
        return self.selected is None or self.selected.takes(self.suite.name, case.id, repeat)

    # Model settings this run lays over the files' (`eval --model/--set/--sweep`; experiments.py); only
    # those that differ from the files' own, so an override that changes nothing keeps the fingerprint.
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's result over its repeats; an error is never a score."""

    id: str
    score: float | None  # mean over repeats; None when a repeat errored
    passed: bool | None
    expected: Any
    outputs: tuple[str, ...]
    repeat_scores: tuple[float, ...]
    pass_at: float = 1.0
    reasons: tuple[str, ...] = ()  # why scorers marked the first repeat down
    error: str | None = None
    dimensions: tuple[CaseDimension, ...] = ()  # each scorer's values over the repeats (dimensions.py)

    @property
    def output(self) -> str | None:
        """The first repeat's output."""
        return self.outputs[0] if self.outputs else None

    @property
    def flakiness(self) -> float:
        """How often two of the case's repeats disagree on pass/fail (0 when steady or not repeated)."""
        return stats.flakiness(self.repeat_scores, pass_at=self.pass_at)


@dataclass(frozen=True)
class SuiteResult:
    """A suite's scored result at one fingerprint, with what the run cost."""

    name: str
    prompt: str
    path: str
    fingerprint: str
    revision: str
    score: float | None
    ci: stats.Interval
    cases: tuple[CaseResult, ...]
    threshold: float | None
    max_drop: float | None
    repeat: int
    calls: int = 0  # model calls made in this run (judge calls included)
    cached: int = 0  # case-repeats answered from the cache or stored results
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    model: str | None = None
    stopped: str | None = None  # why the run ended before every case was evaluated (a time limit), if it did
    threshold_rule: str = "score"  # the suite's `threshold_rule:`, which gates.py applies
    selection: Selected | None = None  # set when the result covers part of the suite (selection.py)
    cost_known: bool = True  # False when this run paid calls to a model litellm has no price for
    scorers: tuple[DimensionScore, ...] = ()  # each scorer's own score and interval (dimensions.py)
    unpriced_models: tuple[str, ...] = ()  # the models behind cost_known=False (a judge's too), sorted

    @property
    def passed(self) -> int:
        """Cases that passed."""
        return sum(1 for c in self.cases if c.passed)

    @property
    def errors(self) -> int:
        """Cases with a model error (counted apart from failures)."""
        return sum(1 for c in self.cases if c.error is not None)

    @property
    def failed(self) -> int:
        """Cases that were scored and did not pass."""
        return len(self.cases) - self.passed - self.errors

    @property
    def flaky(self) -> int:
        """Cases whose repeats disagree on pass/fail."""
        return sum(1 for c in self.cases if c.flakiness > 0)

    @property
    def error_rate(self) -> float:
        """The share of cases that ended in an error."""
        return self.errors / len(self.cases) if self.cases else 0.0

    @property
    def below_threshold(self) -> bool:
        """Whether the suite misses its `threshold` gate."""
        return self.threshold is not None and self.score is not None and self.score < self.threshold

    def by_id(self) -> dict[str, CaseResult]:
        """Cases by id."""
        return {c.id: c for c in self.cases}


@dataclass(frozen=True)
class Options:
    """How to run: the scheduler's width and each call's patience (defaults: config.Settings, the one home)."""

    concurrency: int
    timeout: float  # seconds for one model call
    retries: int  # extra attempts after a failed call
    time_limit: float | None = None  # seconds for the whole run; then calls in flight are cancelled
    # --no-cache: every call is made afresh and stored in place of what was stored (results and the cached
    # response), so later runs reuse the model's answer as it is now (docs/spec.md, "Selections, shards and drift").
    fresh: bool = False
    max_cost: float | None = None  # USD this run may spend; then no new call starts (config.Settings.max_cost)


def plan_suite(project: Project, name: str) -> Plan:
    """Load a suite and its prompt at the project's revision and compute its fingerprint."""
    suite = load_suite(project.tree, project.settings, name)
    empty = no_cases(suite)
    if empty:
        raise empty
    try:
        prompt = load_prompt(project.tree, project.settings, suite.prompt)
    except PromptgitError as err:
        raise err.located(suite.path) from None
    sources = suite_sources(project.tree, project.settings, suite, prompt)
    return Plan(project, suite, prompt, sources, fingerprint(project.tree, project.settings, sources))


def plan_suites(project: Project, names: Sequence[str] | None = None) -> list[Plan]:
    """Plans for the named suites, or every suite in the project."""
    chosen = list(names) if names else suite_names(project.tree, project.settings)
    return [plan_suite(project, name) for name in chosen]


def evaluate(
    plans: Sequence[Plan], store: Store, options: Options, progress: Progress | None = None
) -> list[SuiteResult]:
    """Run `plans` on one event loop, sharing one pool of `concurrency` model calls; same order out.

    KeyboardInterrupt (Ctrl-C) cancels the calls in flight and propagates; every case scored before it
    is stored already.
    """
    with warnings.catch_warnings():
        # A call cancelled by Ctrl-C, or by a sibling's error, leaves coroutines inside litellm that were
        # created but never awaited; Python's warning about them says nothing the user can act on.
        warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
        run = _Run(store, options, progress)
        asyncio.run(run.run(plans))
        # Not the task's return value: Python 3.11's asyncio.Runner formats repr() of its main task, result
        # included, when it restores the SIGINT handler (23 MB of text for 100,000 cases, twice; memray).
        return run.results


@dataclass
class _Tally:
    calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    started: float | None = None  # when the suite's first job began, on the run's clock
    unpriced: bool = False  # a call was paid to a model with no known price: `cost` is not the whole cost
    finished: float = 0.0
    unpriced_models: set[str] = field(default_factory=set)  # those models (a judge's among them)
    errors: dict[tuple[str, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    plan: Plan
    case: Case
    repeat: int


class _Run:
    """One evaluation: a fixed pool of workers pulling case-repeats, so a slot frees the moment a call ends."""

    def __init__(self, store: Store, options: Options, progress: Progress | None) -> None:
        self.store = store
        self.options = options
        self.progress = progress
        self.tallies: dict[str, _Tally] = defaultdict(_Tally)
        self.done = 0
        self.total = 0
        self.errors = 0  # case-repeats of this run that ended in an error
        self.cached = 0  # case-repeats of this run answered without a call (cache, or a call shared in flight)
        self.started = time.monotonic()
        self.scorers: dict[str, list[tuple[float, Scorer, str]]] = {}
        self.stopped: str | None = None
        self.results: list[SuiteResult] = []  # what run() found, in the order of its plans
        self.halted = False  # the workers were told to stop (_halt)
        # Calls in flight by cache key: a second job needing the same answer waits for the first's call.
        self.in_flight: dict[str, asyncio.Future[StoredResponse]] = {}
        self.refreshed: set[str] = set()  # keys called afresh by this run (Options.fresh): reused within it
        # This run's name on its claims in the store, so other processes wait for its calls, not repeat them.
        self.owner = uuid.uuid4().hex
        self.lease = _lease(options)
        self.limit = AdaptiveLimit(options.concurrency)  # requests in flight, halved on 429s
        self.spent = 0.0  # USD this run paid, over every suite (judge calls included)
        self.pool: Pool | None = None  # a workers.Pool when the run spreads its calls over processes
        self.wants_litellm = False  # a call this run may make goes through litellm (models.needs_litellm)
        self.pool_decided = False
        self.pool_lock = asyncio.Lock()
        self.called: set[str | None] = set()  # the models the run may call

    async def run(self, plans: Sequence[Plan]) -> None:
        unique = _unique(plans)
        self.scorers = {p.fingerprint: _build_scorers(p) for p in unique}
        stored = {
            p.fingerprint: set() if self.options.fresh else self.store.case_keys(p.fingerprint, p.trusted_only)
            for p in unique
        }
        # A generator, not a list: a suite of 100,000 cases should not hold 100,000 jobs at once.
        jobs = (
            _Job(p, case, r)
            for p in unique
            for case in p.suite.cases
            for r in range(p.suite.repeat)
            if p.takes(case, r) and (case.id, r) not in stored[p.fingerprint]
        )
        for plan in unique:
            # Counted over the jobs the plan asks for: a stored row outside them (a larger --repeat) is no job.
            wanted = sum(1 for case in plan.suite.cases for r in range(plan.suite.repeat) if plan.takes(case, r))
            held = sum(1 for case_id, r in stored[plan.fingerprint] if _asks(plan, case_id, r))
            self.total += wanted - held
            self.tallies[plan.fingerprint].cached += held
        self._report()
        if self.total:
            from promptgit import models

            called = _models_called(unique, self.scorers)
            self.wants_litellm = models.needs_litellm(called)
            self.called = called
            try:
                await self._drain(jobs)
            finally:
                self.store.release_all(self.owner)  # whatever a cancelled call still held
                if self.pool is not None:
                    await self.pool.close()
        # 100,000 stored keys are ~17 MB (memray): gone before the results, the run's peak, are built.
        stored.clear()
        results = {p.fingerprint: self._result(p) for p in unique}
        self.results = [results[p.fingerprint] for p in plans]

    async def _workers(self) -> Pool | None:
        """The run's worker processes (workers.py), started at its first call when enough work is left.

        Decided at the first call, not before: a run whose answers are all stored never forks, and no
        litellm client exists yet in this process for the workers to inherit.
        """
        async with self.pool_lock:
            if not self.pool_decided:
                self.pool_decided = True
                from promptgit import workers

                count = workers.planned_workers(self.total - self.done, sorted(self.called, key=str))
                if count:
                    self.pool = await workers.Pool.start(count, self.options.concurrency)
        return self.pool

    async def _drain(self, jobs: Iterator[_Job]) -> None:
        width = max(1, min(self.options.concurrency, self.total))
        if not self.total:
            return
        limit = self.options.time_limit
        renewing = asyncio.ensure_future(self._renew_claims())
        workers = [asyncio.create_task(self._worker(jobs)) for _ in range(width)]
        try:
            done, pending = await asyncio.wait(workers, timeout=limit, return_when=asyncio.FIRST_EXCEPTION)
            for worker in done:
                failure = None if worker.cancelled() else worker.exception()
                if failure is not None:
                    raise failure
            if pending:
                # What finished is stored; the cases cut off are left unevaluated, so the run is inconclusive.
                self.stopped = f"the run's time limit of {limit:g} s was reached"
        finally:
            await self._halt(workers)
            renewing.cancel()

    async def _halt(self, workers: Sequence[asyncio.Task[None]]) -> None:
        """Stop every worker still running (a time limit, a failed case, Ctrl-C) and wait until they have.

        A cancellation alone is not enough: Python < 3.12's asyncio.wait_for drops one that arrives as the
        awaited call finishes (CPython gh-86296), and a worker that missed it went on through every job left,
        one at a time (seen: Ctrl-C at 12 of 60 calls, all 60 paid). `halted` stops it at its next job.
        """
        self.halted = True
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def _renew_claims(self) -> None:
        """Keep this run's claims alive while it runs (a call may outlast a lease: retries, 429s)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            self.store.renew(self.owner, self.lease)

    async def _worker(self, jobs: Iterator[_Job]) -> None:
        for job in jobs:  # a shared iterator: each worker takes the next job when it is free
            if self.stopped or self.halted:
                return
            try:
                await self._one(job)
            except _CallFailed as failed:
                self.tallies[job.plan.fingerprint].errors[(job.case.id, job.repeat)] = str(failed)
                self.errors += 1
            except _OverBudget:
                # The job is left unevaluated; later jobs may still be answered from the cache.
                self.stopped = self.stopped or f"the run's cost limit of ${self.options.max_cost:g} was reached"
                continue
            except MissingCredentials as err:
                # No call can succeed (a fork's pull request has no secrets): stop as a time limit does,
                # keeping what is stored; the cases left are unevaluated and the run is inconclusive.
                self.stopped = self.stopped or _missing_key_reason(err)
                return
            self.done += 1
            self._report()

    def _report(self) -> None:
        if self.progress:
            seconds = time.monotonic() - self.started
            self.progress(ProgressUpdate(self.done, self.total, self.errors, self.cached, seconds))

    async def _one(self, job: _Job) -> None:
        plan, tally = job.plan, self.tallies[job.plan.fingerprint]
        if tally.started is None:
            tally.started = time.monotonic() - self.started
        try:
            rendered = render(
                plan.project.tree, plan.project.settings, plan.prompt, job.case.vars, layered_override(plan)
            )
        except PromptgitError as err:  # bad input for the whole run, named down to the case that showed it
            where = f" ({plan.suite.dataset or plan.suite.path}:{job.case.line})" if job.case.line else ""
            err.message = f"case {job.case.id!r}{where} of suite {plan.suite.name!r} does not render: {err.message}"
            raise
        messages = [m.as_dict() for m in rendered.messages]
        settings = dict(rendered.settings)
        key = call_key(messages, settings, job.repeat)
        try:
            response, paid = await self._answer(settings, messages, key, tally, plan.prompt.path, plan.trusted_only)
            if not paid:
                tally.cached += 1
                self.cached += 1
            case = await self._score(plan, job, response, key, settings)
            self.store.put_case(plan.fingerprint, plan.suite.name, plan.prompt.name, plan.project.revision, case)
        finally:  # a job that ended in an error or over budget also ran: the suite's time is never negative
            tally.finished = time.monotonic() - self.started

    async def _answer(
        self,
        settings: dict[str, Any],
        messages: list[dict[str, str]],
        key: str,
        tally: _Tally,
        file: str,
        trusted_only: bool = False,
    ) -> tuple[StoredResponse, bool]:
        """The response for `key` and whether this job paid a call for it: stored (`trusted_only`: computed
        here), shared with an identical call already in flight (its answer or its failure), or called now.
        One call per key in a run, and across runs sharing the store (_claimed)."""
        stored = self._cached(key, trusted_only)
        if stored is not None:
            return stored, False
        pending = self.in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), False
        if self.wants_litellm:
            # The first response not in the cache: import litellm on a thread while the key is claimed.
            # Not sooner: a run answered from the response cache must not pay for litellm's import.
            from promptgit import models

            models.preload()
        future: asyncio.Future[StoredResponse] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self.in_flight[key] = future
        try:
            if self.options.fresh:  # no claim: a claim stands back for a stored response, which is what to replace
                response, paid = await self._call(settings, messages, key, tally, file), True
                self.refreshed.add(key)
            else:
                response, paid = await self._claimed(settings, messages, key, tally, file, trusted_only)
        except Exception as err:  # the call's failure is every waiter's failure
            future.set_exception(err)
            raise
        except BaseException:  # cancelled (a time limit, Ctrl-C): the waiters are being cancelled too
            future.cancel()
            raise
        finally:
            del self.in_flight[key]
        future.set_result(response)
        return response, paid

    def _cached(self, key: str, trusted_only: bool) -> StoredResponse | None:
        """The stored response for `key`; with Options.fresh, only one this run stored."""
        if self.options.fresh and key not in self.refreshed:
            return None
        return self.store.get_response(key, trusted_only)

    async def _claimed(
        self,
        settings: dict[str, Any],
        messages: list[dict[str, str]],
        key: str,
        tally: _Tally,
        file: str,
        trusted_only: bool,
    ) -> tuple[StoredResponse, bool]:
        """Call for `key` under this run's claim on it in the store, or wait for the run that holds the
        claim to store its answer; whether this run paid. When the holder gives up without an answer
        (its call failed) or its lease lapses (it died), this run claims the key and calls itself."""
        delay = POLL_FIRST
        lease = _lease(self.options, call_timeout(settings, self.options))
        self.lease = max(self.lease, lease)  # renewals keep every claim this run holds at its longest lease
        while not self.store.claim(key, self.owner, lease, trusted_only):
            stored = self.store.get_response(key, trusted_only)
            while stored is None and self.store.claimed(key):
                await asyncio.sleep(random.uniform(delay / 2, delay))  # jittered: waiters do not poll in step
                delay = min(POLL_CAP, delay * 2)
                stored = self.store.get_response(key, trusted_only)
            if stored is not None:
                return stored, False
        try:
            return await self._call(settings, messages, key, tally, file), True  # its put releases the claim
        except BaseException:  # failed or cancelled: a waiter claims the key and calls itself
            self.store.release(key, self.owner)
            raise

    async def _call(
        self, settings: dict[str, Any], messages: list[dict[str, str]], key: str, tally: _Tally, file: str
    ) -> StoredResponse:
        from promptgit import models  # litellm is imported only when a call is not cached

        if self.options.max_cost is not None:
            if self.spent >= self.options.max_cost:
                raise _OverBudget
            if not models.price_known(settings["model"]):
                raise PromptgitError(
                    f"max_cost cannot bound model {settings['model']}: litellm has no price for it",
                    hint="drop --max-cost (or `max_cost:` in promptgit.yaml) for this model, or register its price",
                )
        options = {k: v for k, v in settings.items() if k != "model"}
        try:
            done = await self._complete(settings["model"], messages, options)
        except PromptgitError as err:
            raise err.located(file) from None  # a rejected setting or key: name the file that set the model
        except models.ModelCallError as err:
            tally.calls += 1
            raise _CallFailed(str(err)) from None
        tally.calls += 1
        tally.input_tokens += done.input_tokens
        tally.output_tokens += done.output_tokens
        tally.cost += done.cost
        if done.cost == 0 and not models.price_known(settings["model"]):
            tally.unpriced = True
            tally.unpriced_models.add(str(settings["model"]))
        self.spent += done.cost
        response = StoredResponse(
            done.text, settings["model"], done.input_tokens, done.output_tokens, done.cost, done.seconds
        )
        self.store.put_response(key, response, releasing=self.owner)
        return response

    async def _complete(self, model: str, messages: list[dict[str, str]], options: dict[str, Any]) -> Any:
        """models.complete, in a worker process when the run has them (the embedded model stays here)."""
        from promptgit import models

        timeout, retries = call_timeout(options, self.options), self.options.retries
        pool = None if model.startswith("local/") else await self._workers()
        if pool is not None:
            return await pool.complete(model, messages, options, timeout=timeout, retries=retries)
        return await models.complete(model, messages, options, timeout=timeout, retries=retries, limit=self.limit)

    async def _score(
        self, plan: Plan, job: _Job, response: StoredResponse, key: str, settings: Mapping[str, Any]
    ) -> StoredCase:
        tally = self.tallies[plan.fingerprint]
        if plan.overrides:  # a judge grades with the files' settings: --model, --set and --sweep are not its
            settings = merged_settings(plan.project.settings, plan.prompt, plan.suite.override)

        async def judge(judge_model: str | None, messages: list[dict[str, str]], own: dict[str, Any], /) -> str:
            # The suite's layered settings (or the project's defaults) say where the graded output may go.
            chosen = judge_settings(judge_model, own, plan.project.settings.defaults, settings)
            judge_key = call_key(messages, chosen, 0)
            stored = self._cached(judge_key, plan.trusted_only)
            if stored is not None:  # looked up first so that a cached judge never imports litellm
                return stored.text
            answered, _ = await self._answer(
                _sendable(chosen), messages, judge_key, tally, plan.suite.path, plan.trusted_only
            )
            return answered.text

        parts = []
        for weight, scorer, dimension in self.scorers[plan.fingerprint]:
            try:
                result = await scorer.score(decode_output(response.text), job.case.expected, job.case, judge)
            except ScorerError as err:  # a judge without one verdict, user code that crashed or hung
                raise _CallFailed(f"{scorer.label}: {err}") from None
            parts.append((dimension, weight, result))
        total_weight = sum(w for _, w, _ in parts)
        score = sum(w * r.value for _, w, r in parts) / total_weight
        return StoredCase(
            case_id=job.case.id,
            repeat=job.repeat,
            output=response.text,
            score=score,
            passed=plan.suite.passes(score),
            scores=tuple((label, r.value, r.reason) for label, _, r in parts),
            call_key=key,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            cost=response.cost,
            seconds=response.seconds,
        )

    def _result(self, plan: Plan) -> SuiteResult:
        tally = self.tallies[plan.fingerprint]
        rows: dict[str, dict[int, _Kept]] = defaultdict(dict)
        for row in self.store.iter_cases(plan.fingerprint, plan.trusted_only):
            # Only what a result shows: a stored row also carries keys and token counts.
            reasons = _reasons(row) if row.repeat == 0 else ()
            # Tool calls are shown as `search(query="…")`; the store keeps them structured (toolcalls.py).
            rows[row.case_id][row.repeat] = _Kept(
                display_output(row.output), row.score, reasons, tuple((n, v) for n, v, _ in row.scores)
            )
        cases = tuple(_case_results(plan, rows, tally.errors))
        scored = [c.score for c in cases if c.score is not None]
        return SuiteResult(
            name=plan.suite.name,
            prompt=plan.prompt.name,
            path=plan.suite.path,
            fingerprint=plan.fingerprint,
            revision=plan.project.revision,
            score=stats.mean(scored) if scored else None,
            ci=stats.score_interval([c.repeat_scores for c in cases if c.score is not None]),
            cases=cases,
            threshold=plan.suite.threshold,
            max_drop=plan.suite.max_drop,
            repeat=plan.suite.repeat,
            calls=tally.calls,
            cached=tally.cached,
            input_tokens=tally.input_tokens,
            output_tokens=tally.output_tokens,
            cost=tally.cost,
            seconds=tally.finished - tally.started if tally.started is not None else 0.0,
            model=_model_of(plan),
            stopped=self.stopped if any(c.score is None for c in cases) else None,
            threshold_rule=plan.suite.threshold_rule,
            selection=plan.selected,
            cost_known=not tally.unpriced,
            scorers=described(dimension_scores(cases), plan.suite.scorers),
            unpriced_models=tuple(sorted(tally.unpriced_models)),
        )


def _case_results(
    plan: Plan, rows: dict[str, dict[int, _Kept]], errors: Mapping[tuple[str, int], str]
) -> Iterator[CaseResult]:
    """Each shown case's result, in the suite's order. A case's stored rows are dropped as its result is made,
    so the rows and the results of a 100,000-case suite are never all in memory at once."""
    # Most cases score the same few ways (all 1.0, all 0.0): equal scores and dimensions are made once and
    # shared, which kept a 100,000-case result under its memory target (docs/benchmarks.md).
    shared: dict[Any, Any] = {}
    for case in plan.suite.cases:
        kept = rows.pop(case.id, {})
        if _shows(plan, case, kept, errors):
            yield _case_result(plan.suite, case, kept, errors, shared)


def _asks(plan: Plan, case_id: str, repeat: int) -> bool:
    """Whether a stored (case id, repeat) is one of the plan's jobs."""
    if repeat >= plan.suite.repeat:
        return False
    return plan.selected is None or plan.selected.takes(plan.suite.name, case_id, repeat)


def _shows(plan: Plan, case: Case, rows: Mapping[int, _Kept], errors: Mapping[tuple[str, int], str]) -> bool:
    """Whether a plan's result shows `case`: every case of a whole run; a chosen one of a selection; in a shard,
    a case it ran a repeat of, unless the case only waits for its repeats in other shards (shown by none yet)."""
    if plan.selected is None:
        return True
    if not plan.selected.takes_case(case.id):
        return False
    if plan.selected.shard is None:
        return True
    mine = [r for r in range(plan.suite.repeat) if plan.takes(case, r)]
    if not mine:
        return False
    finished = all(r in rows for r in range(plan.suite.repeat))
    failed = any((case.id, r) in errors for r in mine)
    unevaluated = any(r not in rows for r in mine)  # cut off by a time limit: shown, as not evaluated
    return finished or failed or unevaluated


def _missing_key_reason(err: MissingCredentials) -> str:
    """`no API key for model X: set OPENAI_API_KEY …`, the reason an inconclusive report gives."""
    return f"{err.message}: {err.hint}" if err.hint else err.message


def _unique(plans: Sequence[Plan]) -> list[Plan]:
    """Each fingerprint once, in first-seen order; trusted_only when any plan of that fingerprint asks for it."""
    unique: dict[str, Plan] = {}
    for plan in plans:
        seen = unique.setdefault(plan.fingerprint, plan)
        if plan.trusted_only and not seen.trusted_only:
            unique[plan.fingerprint] = plan
    return list(unique.values())


def _models_called(plans: Sequence[Plan], scorers: Mapping[str, list[tuple[float, Scorer, str]]]) -> set[str | None]:
    """The models a run may call: each plan's, and each judge's own (a judge without one uses the plan's)."""
    judges = {getattr(s, "model", None) for built in scorers.values() for _, s, _ in built}
    return {_model_of(p) for p in plans} | {m for m in judges if isinstance(m, str)}


def _sendable(settings: dict[str, Any]) -> dict[str, Any]:
    """A judge call's settings without JSON mode for a provider that has none (the cache key keeps the request)."""
    from promptgit import models  # litellm is imported only when a call is not cached

    if "response_format" in settings and not models.supports_json_mode(settings["model"]):
        return {k: v for k, v in settings.items() if k != "response_format"}
    return settings


def call_timeout(settings: Mapping[str, Any], options: Options) -> float:
    """Seconds one attempt of a call may take: the `timeout` model setting when the call's layered settings
    have one (a prompt's front matter over `defaults:`, under a suite's override and --set), else
    promptgit.yaml's `timeout` (Options.timeout). config.check_model_settings has checked it is above 0.

    Not part of the response-cache key (hashing.TRANSPORT_SETTINGS): it bounds how long we wait for an
    answer, never which answer comes, so a prompt whose timeout changes reuses its cached responses.
    """
    value = settings.get("timeout")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return options.timeout


def _lease(options: Options, timeout: float | None = None) -> float:
    """Seconds a claim lasts unless renewed: one attempt's bound (the call's timeout, `options.timeout`
    unless given, plus its grace), or the PROMPTGIT_CLAIM_LEASE environment variable (a finite number
    of seconds above 0)."""
    from promptgit.models import TIMEOUT_GRACE  # models imports litellm only when a call is made

    override = os.environ.get(LEASE_ENV)
    if not override:  # unset, or set empty
        return (options.timeout if timeout is None else timeout) + TIMEOUT_GRACE
    try:
        seconds = float(override)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise PromptgitError(
            f"{LEASE_ENV} must be a number of seconds above 0, not {override!r}",
            hint=f"unset it to use the call timeout plus {TIMEOUT_GRACE:g} s",
        )
    return seconds


def _consume(future: asyncio.Future[StoredResponse]) -> None:
    """Mark a shared call's failure as seen, so asyncio does not warn about it when no job was waiting."""
    if not future.cancelled():
        future.exception()


class _CallFailed(Exception):
    """A model call that failed after its retries: the case is an error, not a score."""


class _OverBudget(Exception):
    """A call not started because the run spent its max_cost: the case is left unevaluated."""


def _build_scorers(plan: Plan) -> list[tuple[float, Scorer, str]]:
    """Configure a plan's scorers once (they read files, compile patterns), refusing a plan with no model."""
    if _model_of(plan) is None:
        raise PromptgitError(
            "no model configured",
            file=plan.prompt.path,
            hint="set `model:` in the prompt's front matter, the suite, or `defaults:` in promptgit.yaml",
        )
    built = []
    for spec in plan.suite.scorers:
        site = ScorerSite(plan.suite.path, spec.line, plan.project.tree, plan.project.settings.scorer_timeout)
        scorer = build(spec.name, spec.config, site)
        # The store keeps each scorer's values under its dimension name (equal to scorer.label unless named).
        built.append((spec.weight, scorer, spec.dimension))
    return built


@dataclass(frozen=True, slots=True)
class _Kept:
    output: str
    score: float
    reasons: tuple[str, ...]
    dimensions: tuple[tuple[str, float], ...] = ()


def _reasons(row: StoredCase) -> tuple[str, ...]:
    """Why scorers marked a repeat down, as `scorer: reason`."""
    return tuple(f"{label}: {reason}" for label, value, reason in row.scores if reason and value < 1)


def _case_result(
    suite: Suite,
    case: Case,
    rows: Mapping[int, _Kept],
    errors: Mapping[tuple[str, int], str],
    shared: dict[Any, Any],
) -> CaseResult:
    """A case's result from its stored repeats; `shared` interns equal score and dimension tuples."""
    error = next((errors[(case.id, r)] for r in range(suite.repeat) if (case.id, r) in errors), None)
    repeats = [rows[r] for r in range(suite.repeat) if r in rows]
    outputs = tuple(r.output for r in repeats)
    scores = tuple(r.score for r in repeats)
    if error is not None or len(repeats) < suite.repeat:
        return CaseResult(
            case.id, None, None, case.expected, outputs, scores, suite.pass_at, (), error or "not evaluated"
        )
    score = math.fsum(scores) / len(scores)
    reasons = repeats[0].reasons
    dimensions = _case_dimensions(repeats)
    return CaseResult(
        case.id,
        score,
        suite.passes(score),
        case.expected,
        outputs,
        shared.setdefault(scores, scores),
        suite.pass_at,
        reasons,
        None,
        shared.setdefault(dimensions, dimensions),
    )


def _case_dimensions(repeats: Sequence[_Kept]) -> tuple[CaseDimension, ...]:
    """Each scorer's values over the repeats, in the suite's scorer order; a scorer some repeat lacks is left out."""
    names = [name for name, _ in repeats[0].dimensions]
    found = []
    for name in names:
        values = [dict(r.dimensions).get(name) for r in repeats]
        if all(v is not None for v in values):
            found.append(CaseDimension(name, tuple(float(v) for v in values if v is not None)))
    return tuple(found)


def _model_of(plan: Plan) -> str | None:
    return merged_settings(plan.project.settings, plan.prompt, layered_override(plan)).get("model")


def complete_cached(
    store: Store, options: Options, settings: Mapping[str, Any], messages: list[dict[str, str]], file: str
) -> tuple[StoredResponse, bool]:
    """One model call outside a suite (suggest's meta-prompt), through the machinery every case's call takes:
    the response cache under hashing.call_key(messages, settings, 0), claims shared with other processes,
    retries and the adaptive limit. Returns the response and whether a call was paid (False: cached).
    A call that fails after its retries raises errors.Inconclusive; a bad setting, a PromptgitError at `file`.
    A `timeout` in `settings` (seconds) bounds each attempt instead of `options.timeout` (call_timeout), as
    it does every case's call: one long answer (suggest's diff) takes longer than a case's label."""

    async def one() -> tuple[StoredResponse, bool]:
        run = _Run(store, options, None)
        try:
            return await run._answer(dict(settings), messages, call_key(messages, settings, 0), _Tally(), file)
        finally:
            store.release_all(run.owner)

    try:
        return asyncio.run(one())
    except _CallFailed as err:
        raise Inconclusive(f"the model call failed: {err}", file=file) from None


def layered_override(plan: Plan) -> dict[str, Any]:
    """The settings laid over the prompt's: the suite's override, then this run's (Plan.overrides)."""
    return {**plan.suite.override, **plan.overrides}


def options_for(
    project: Project, time_limit: float | None = None, max_cost: float | None = None, knobs: Knobs | None = None
) -> Options:
    """Scheduler options from the project's settings, with the run's wall-clock limit in seconds (None: none),
    its spending limit in USD (None: the project's `max_cost`) and the command line's `-j` and `--no-cache`
    (`knobs`)."""
    s = project.settings
    knobs = knobs or Knobs()
    return Options(
        concurrency=knobs.concurrency or s.concurrency,
        timeout=s.timeout,
        retries=s.retries,
        time_limit=time_limit,
        max_cost=max_cost if max_cost is not None else s.max_cost,
        fresh=knobs.fresh,
    )


def results_for(
    project: Project, store: Store, plans: Sequence[Plan], progress: Progress | None = None, stored_only: bool = False
) -> dict[str, SuiteResult]:
    """Results by fingerprint, each fingerprint once: stored ones found, the rest evaluated unless `stored_only`."""
    unique = list({p.fingerprint: p for p in plans}.values())
    if stored_only:
        # Only fingerprints stored whole: a selection's or a shard's rows are never read as a suite's score.
        unique = [p for p in unique if stored_whole(store, p)]
    found = evaluate(unique, store, options_for(project), progress) if unique else []
    return {r.fingerprint: r for r in found}


def stored_result(plan: Plan, store: Store) -> SuiteResult:
    """The plan's result from stored rows alone, making no call: a case whose repeats are not all stored is
    "not evaluated". What `drift` compares a fresh run with."""
    options = Options(concurrency=1, timeout=0.0, retries=0)
    return _Run(store, options, None)._result(plan)
