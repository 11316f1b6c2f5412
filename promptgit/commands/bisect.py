"""`promptgit bisect`: find the first commit where a suite's score dropped, or a case began to fail; and the
culprit inside a pull request whose gate failed (`ci`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from promptgit import git, stats
from promptgit.compare import DiffReport, plans_case_sets
from promptgit.errors import Inconclusive, PromptgitError
from promptgit.evaluate import CaseResult, Plan, Progress, SuiteResult, evaluate, options_for
from promptgit.gates import FAIL, Gate
from promptgit.history import suite_at, suite_versions
from promptgit.project import Project
from promptgit.prompts import merged_settings
from promptgit.selection import Knobs, stored_whole
from promptgit.store import Store
from promptgit.suites import normal_id

GOOD, BAD, UNDECIDED, NOT_EVALUABLE = "good", "bad", "undecided", "not evaluable"
# Why `--case N` can name two different rows at two revisions (compare.CaseSets.numbered).
RENUMBERED = "cases without an `id` are named by row number, and a row added, removed or moved before it renumbers it"


@dataclass(frozen=True)
class Step:
    """One evaluated revision and what it was judged."""

    commit: str
    score: float | None
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class BisectReport:
    """The culprit (or why there is none) and every revision evaluated on the way."""

    suite: str
    case: str | None
    good: str
    bad: str
    first_bad: git.Commit | None
    steps: tuple[Step, ...]
    message: str
    prompt_diff: str = ""
    before: float | None = None
    after: float | None = None
    skipped: tuple[Step, ...] = ()  # versions between good and bad that could not be evaluated, stepped over
    change: stats.BisectCall | None = None  # good vs bad: the exact test (the gate's view) and bisect's call


@dataclass(frozen=True)
class Point:
    """An evaluable version of the suite: the commit and its plan."""

    commit: git.Commit
    plan: Plan


@dataclass(frozen=True)
class RunLimits:
    """What bounds the evaluations a command makes after its own: a time.monotonic() deadline and -j."""

    deadline: float | None = None
    concurrency: int | None = None


@dataclass
class _Search:
    """The evaluator of one bisect: each fingerprint evaluated once, every step recorded."""

    project: Project
    store: Store
    suite: str
    case: str | None
    progress: Progress | None
    results: dict[str, SuiteResult] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    skipped: list[Step] = field(default_factory=list)
    moved: frozenset[str] | None = None  # the cases that changed between good and bad, once known
    change: stats.BisectCall | None = None
    span: str = ""  # good..bad, as a range to name
    trusted_after: str | None = None  # a fingerprint (good's): every other version only from our own results
    limits: RunLimits = RunLimits()  # ci's --time-limit (as a deadline) and -j

    def result(self, plan: Plan) -> SuiteResult:
        if plan.fingerprint not in self.results:
            deadline = self.limits.deadline
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Inconclusive(f"bisect of suite {self.suite!r} stopped: the run's time limit was reached")
            options = options_for(self.project, left, knobs=Knobs(concurrency=self.limits.concurrency))
            if self.trusted_after is not None and plan.fingerprint != self.trusted_after:
                # Inside a pull request, pulled results may stand in for the base only (the trust rule).
                plan = dataclasses.replace(plan, trusted_only=True)
            result = evaluate([plan], self.store, options, self.progress)[0]
            if result.stopped is not None:
                # A version evaluated in part (a time or cost limit) is no version's score: judging it on
                # the cases that happened to finish could name the wrong commit. The limit named is the
                # command's own, not the part of it this evaluation had left.
                out_of_time = deadline is not None and time.monotonic() >= deadline
                why = "the run's time limit was reached" if out_of_time else result.stopped
                raise Inconclusive(
                    f"bisect of suite {self.suite!r} stopped: {why}",
                    hint="raise the limit (--time-limit, `max_cost`), or bisect again: what was evaluated is stored",
                )
            self.results[plan.fingerprint] = result
            self.plans[plan.fingerprint] = plan
        return self.results[plan.fingerprint]

    def judge(self, commit: str, plan: Plan, good: SuiteResult, bad: SuiteResult) -> str:
        result = self.result(plan)
        verdict, note = _case_verdict(result, self.case) if self.case else self.suite_verdict(result, good, bad)
        if self.other_row(plan, bad):
            verdict, note = UNDECIDED, f"case {self.case!r} is another row here than at bad ({RENUMBERED})"
        self.steps.append(Step(commit, _score(result, self.case), verdict, note))
        return verdict

    def suite_verdict(self, result: SuiteResult, good: SuiteResult, bad: SuiteResult) -> tuple[str, str]:
        # Judged on the cases that changed between good and bad (stats.bisect_call): bad once it has
        # dropped from good, good while it is still above bad; at temperature 0 with agreeing repeats any
        # change is real, otherwise the exact test decides, and within noise of both we refuse to guess.
        from_good = self.call(good, result, self.moved)
        if from_good.verdict == stats.CHANGED and from_good.test.delta < 0:
            return BAD, f"below good: {from_good.reason}"
        to_bad = self.call(result, bad, self.moved)
        if to_bad.verdict == stats.CHANGED and to_bad.test.delta < 0:
            return GOOD, f"above bad: {to_bad.reason}"
        if from_good.verdict == stats.SAME:
            return GOOD, "as good on the cases that changed"
        if to_bad.verdict == stats.SAME:
            return BAD, "as bad on the cases that changed"
        return UNDECIDED, f"within noise of both good ({from_good.reason}) and bad ({to_bad.reason})"

    def other_row(self, plan: Plan | None, bad: SuiteResult) -> bool:
        """Whether `--case` names another case in `plan` than at bad: a dataset named by row number, and the
        case's input or expected differ there, so following its id would follow another row's history."""
        sets = plans_case_sets(plan, self.plans.get(bad.fingerprint))
        return self.case is not None and sets.numbered and self.case in sets.changed

    def moved_cases(self, good: SuiteResult, bad: SuiteResult) -> frozenset[str]:
        """The ids of the compared cases whose score changed between good and bad: what bisect follows."""
        left_out = set(plans_case_sets(self.plans.get(good.fingerprint), self.plans.get(bad.fingerprint)).changed)
        pairs = _scored_pairs(good, bad, left_out, None)
        return frozenset(a.id for b, a in pairs if round((a.score or 0.0) - (b.score or 0.0), 9) != 0)

    def call(self, before: SuiteResult, after: SuiteResult, only: frozenset[str] | None = None) -> stats.BisectCall:
        """stats.bisect_call on the cases both hold unchanged and scored (as `diff` pairs them), or on `only`."""
        before_plan, after_plan = self.plans.get(before.fingerprint), self.plans.get(after.fingerprint)
        left_out = set(plans_case_sets(before_plan, after_plan).changed)
        pairs = _scored_pairs(before, after, left_out, only)
        temperature = _temperature(before_plan, after_plan)
        return stats.bisect_call(
            [_repeats(b) for b, _ in pairs], [_repeats(a) for _, a in pairs], temperature=temperature
        )


def _scored_pairs(
    before: SuiteResult, after: SuiteResult, left_out: set[str], only: frozenset[str] | None
) -> list[tuple[CaseResult, CaseResult]]:
    earlier = before.by_id()
    pairs = []
    for case in after.cases:
        was = earlier.get(case.id)
        if was is None or was.score is None or case.score is None or case.id in left_out:
            continue
        if only is None or case.id in only:
            pairs.append((was, case))
    return pairs


def _repeats(case: CaseResult) -> tuple[float, ...]:
    return case.repeat_scores or ((case.score,) if case.score is not None else ())


def _temperature(*plans: Plan | None) -> float | None:
    """The sampling temperature both plans run at (their layered settings), when they agree; else None.

    Only a temperature both sides share can make outputs reproducible: a commit that raises it is not."""
    found = {merged_settings(p.project.settings, p.prompt, p.suite.override).get("temperature") for p in plans if p}
    if len(found) != 1:
        return None
    value = found.pop()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _score(result: SuiteResult, case: str | None) -> float | None:
    if case is None:
        return result.score
    found = result.by_id().get(case)
    return found.score if found else None


def _case_verdict(result: SuiteResult, case: str | None) -> tuple[str, str]:
    found = result.by_id().get(case or "")
    if found is None:
        return UNDECIDED, "the case does not exist here"
    if found.error:
        return UNDECIDED, f"the model call failed: {found.error}"
    return (GOOD, "the case passes") if found.passed else (BAD, "the case fails")


def bisect(
    project: Project,
    store: Store,
    suite: str,
    case: str | None = None,
    good: str | None = None,
    bad: str = "HEAD",
    progress: Progress | None = None,
    base_only_shared: bool = False,
    limits: RunLimits = RunLimits(),
    ancestor_only: bool = True,
) -> BisectReport:
    """Binary search over the commits that change the suite's fingerprint, between good and bad.

    `base_only_shared`: pulled (shared) results may stand in for good's version only; every later
    version is evaluated from this machine's own results (the trust rule of `ci`). `limits`
    bound every evaluation (a time.monotonic() deadline, -j). A version that a time or cost
    limit leaves evaluated in part ends the search: errors.Inconclusive (exit 3), never a verdict.
    `ancestor_only`: a `good` that is not an ancestor of `bad` is a PromptgitError (as `git bisect`
    refuses it); `ci` turns it off, searching a pull request's own commits (`git log base..head`)
    when its base branch has moved on since the fork.
    """
    root = project.root
    case = normal_id(case) if case is not None else None
    bad_sha = git.resolve(root, bad)
    versions = suite_versions(root, suite, until=bad_sha)
    if not versions:
        raise PromptgitError(f"no commit up to {bad} has suite {suite!r}")
    search = _Search(project, store, suite, case, progress, limits=limits)
    points = [Point(v.commit, v.plan) for v in versions if v.evaluable and v.plan is not None]
    good_version = _good_version(search, points, good, bad_sha, ancestor_only)
    if base_only_shared:
        search.trusted_after = good_version.plan.fingerprint
    inside = {c.sha for c in git.history(root, until=bad_sha, since=good_version.commit.sha)}
    between = [p for p in points if p.commit.sha in inside]
    search.skipped = [
        Step(v.commit.sha, None, NOT_EVALUABLE, v.problem or "")
        for v in versions
        if v.commit.sha in inside and not v.evaluable
    ]
    good_result = search.result(good_version.plan)
    bad_plan = between[-1].plan if between else good_version.plan
    bad_result = search.result(bad_plan)
    search.steps += [
        Step(good_version.commit.sha, _score(good_result, case), GOOD, "given good" if good else "starting point"),
        Step(bad_sha, _score(bad_result, case), BAD, "given bad"),
    ]
    search.span = f"{good_version.commit.sha[:10]}..{bad_sha[:10]}"
    problem = _endpoints_problem(search, good_result, bad_result, bool(between))
    if problem:
        return _report(search, good_version.commit.sha, bad_sha, None, problem)
    lo, hi = -1, len(between) - 1  # between[hi] is bad; lo indexes the last known good (-1: good itself)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        verdict = search.judge(between[mid].commit.sha, between[mid].plan, good_result, bad_result)
        if verdict == UNDECIDED:
            start = between[lo].commit.sha if lo >= 0 else good_version.commit.sha
            span = f"{start[:10]}..{between[hi].commit.sha[:10]}"
            return _report(
                search,
                good_version.commit.sha,
                bad_sha,
                None,
                f"cannot decide at {between[mid].commit.sha[:10]}: {search.steps[-1].note}. "
                f"The culprit lies in {span}; add `repeat:` to the suite to reduce noise, then bisect again.",
            )
        lo, hi = (mid, hi) if verdict == GOOD else (lo, mid)
    culprit = between[hi]
    before = between[lo] if lo >= 0 else good_version
    return _culprit_report(search, good_version.commit.sha, bad_sha, culprit, before)


def _good_version(
    search: _Search, points: list[Point], good: str | None, bad_sha: str, ancestor_only: bool = True
) -> Point:
    """--good's version; else the best stored score before bad; else the oldest version that can be evaluated."""
    if good is not None:
        good_sha = git.resolve(search.project.root, good)
        if ancestor_only and not git.is_ancestor(search.project.root, good_sha, bad_sha):
            # Nothing lies between them: the search used to report bad with good's score and "no commit
            # between good and bad changes anything the suite reads", exit 1, however they differed.
            raise PromptgitError(
                f"--good {good} ({good_sha[:10]}) is not an ancestor of the bad revision {bad_sha[:10]}",
                hint="bisect searches the commits from good to bad: pass an older --good "
                "(e.g. `git merge-base GOOD BAD`), or swap them if the score went up",
            )
        return _version_at(search, good_sha)
    earlier = points[:-1]  # the last evaluable version is bad's own
    if not earlier:
        raise PromptgitError(
            f"suite {search.suite!r} has no version before {bad_sha[:10]} that can be evaluated",
            hint="`promptgit log` lists its versions and why any cannot be evaluated",
        )
    # Stored whole only: a selection's or a shard's rows are not a version's score (and would cost calls).
    stored = {p.plan.fingerprint for p in earlier if stored_whole(search.store, p.plan)}
    scored = [(p, _stored_score(search, p)) for p in earlier if p.plan.fingerprint in stored]
    scored = [(p, s) for p, s in scored if s is not None]
    if not scored:
        return earlier[0]  # nothing stored to prefer: the oldest evaluable version is the natural good
    return max(scored, key=lambda ps: (ps[1], ps[0].commit.timestamp))[0]


def _version_at(search: _Search, sha: str) -> Point:
    found = suite_at(search.project.root, sha, search.suite)
    plan, problem = found if found is not None else (None, "the suite does not exist there")
    if plan is None or problem is not None:
        raise PromptgitError(
            f"suite {search.suite!r} cannot be evaluated at the good revision {sha[:10]}: {problem}",
            hint="pass a later --good revision (`promptgit log` marks the versions that cannot be evaluated)",
        )
    return Point(git.history(search.project.root, until=sha, max_count=1)[0], plan)


def _stored_score(search: _Search, version: Point) -> float | None:
    return _score(search.result(version.plan), search.case)


def _endpoints_problem(search: _Search, good: SuiteResult, bad: SuiteResult, has_between: bool) -> str | None:
    if not has_between:
        return "no commit between good and bad changes anything the suite reads"
    if search.case:
        found = good.by_id().get(search.case)
        if found is None:
            raise PromptgitError(f"suite {search.suite!r} has no case {search.case!r} at the good revision")
        if search.other_row(search.plans.get(good.fingerprint), bad):
            return (
                f"case {search.case!r} is another row at the good revision than at the bad one ({RENUMBERED}): "
                "nothing to follow; give each case an `id`, or pass a --good revision where the row is the same"
            )
        if not found.passed:
            return f"case {search.case!r} already fails at the good revision"
        bad_case = bad.by_id().get(search.case)
        if bad_case is not None and bad_case.passed:
            return f"case {search.case!r} passes at the bad revision: nothing to find"
        return None
    change = search.change = search.call(good, bad)
    search.moved = search.moved_cases(good, bad)
    if change.verdict == stats.SAME:
        return "no case changed between the good and the bad revision: nothing to find"
    if change.test.delta >= 0:
        return f"the bad revision's score is not below the good one's ({change.reason}): nothing to find"
    if change.verdict == stats.UNDECIDED:
        return (
            f"undecided: the change from good to bad is within noise ({change.reason}); the culprit, if any, "
            f"lies in {search.span}; add cases or `repeat:` to the suite, then bisect again"
        )
    return None


def _culprit_report(search: _Search, good_sha: str, bad_sha: str, culprit: Point, before: Point) -> BisectReport:
    before_result, after_result = search.result(before.plan), search.result(culprit.plan)
    parent = culprit.commit.parents[0] if culprit.commit.parents else good_sha
    prompt_diff = git.diff_text(search.project.root, parent, culprit.commit.sha, list(culprit.plan.sources.all))
    before_score, after_score = _score(before_result, search.case), _score(after_result, search.case)
    message = f"first bad commit: {culprit.commit.sha[:10]} {culprit.commit.subject}"
    hidden = _skipped_between(search, before.commit.sha, culprit.commit.sha)
    if hidden:
        message += (
            f" (or one of {', '.join(s.commit[:10] for s in hidden)} just before it, where the suite "
            "could not be evaluated)"
        )
    return _report(
        search,
        good_sha,
        bad_sha,
        culprit.commit,
        message,
        prompt_diff,
        before_score,
        after_score,
    )


def _skipped_between(search: _Search, after_sha: str, until_sha: str) -> list[Step]:
    inside = {c.sha for c in git.history(search.project.root, until=until_sha, since=after_sha)}
    return [s for s in search.skipped if s.commit in inside]


def _report(
    search: _Search,
    good: str,
    bad: str,
    first_bad: git.Commit | None,
    message: str,
    prompt_diff: str = "",
    before: float | None = None,
    after: float | None = None,
) -> BisectReport:
    return BisectReport(
        search.suite,
        search.case,
        good,
        bad,
        first_bad,
        tuple(search.steps),
        message,
        prompt_diff,
        before,
        after,
        tuple(search.skipped),
        search.change,
    )


@dataclass(frozen=True)
class Culprit:
    """The commit inside a pull request that caused a suite's drop (`ci`, issue 13 item 7).

    prompt_diff: the culprit's change to the files the suite reads (unified diff text); before / after:
    the suite's score (0..1) at the version just before it and at it; evaluated: how many revisions
    bisect evaluated (stored results make the base and head free).
    """

    suite: str
    commit: git.Commit
    prompt_diff: str
    before: float | None
    after: float | None
    evaluated: int


def culprit_in_range(
    project: Project,
    store: Store,
    suite: str,
    base: str,
    head: str,
    progress: Progress | None = None,
    limits: RunLimits = RunLimits(),
) -> Culprit | str | None:
    """Bisect `suite` inside base..head: the commit that caused its drop, or None when none can be named.

    Only the commits that change the suite's fingerprint are candidates, at most about log2 of them are
    evaluated, and each result is stored (`bisect`). Pulled results may stand in for base only: the
    pull request's own commits are evaluated from this machine's results (the trust rule). None when
    bisect finds nothing (no drop, within noise, or the suite cannot be evaluated at base): the gate's
    verdict stands on its own then. A sentence (str) when `limits` stopped the search: why, for the report.
    """
    try:
        found = bisect(
            project,
            store,
            suite,
            good=base,
            bad=head,
            progress=progress,
            base_only_shared=True,
            limits=limits,
            ancestor_only=False,
        )
    except Inconclusive as err:
        return err.message
    except PromptgitError:
        return None
    if found.first_bad is None:
        return None
    evaluated = len({s.commit for s in found.steps})
    return Culprit(suite, found.first_bad, found.prompt_diff, found.before, found.after, evaluated)


def pull_request_culprits(
    project: Project,
    store: Store,
    diff: DiffReport,
    gates: Sequence[Gate],
    head: str | None,
    progress: Progress | None = None,
    limits: RunLimits = RunLimits(),
) -> tuple[tuple[Culprit, ...], dict[str, str]]:
    """For each suite whose gate failed with its score below base's, its culprit inside base..head; and, by
    suite, why a search `limits` stopped (its culprit unnamed, the gate's verdict unchanged).

    Nothing for the working tree (no commits to search) or when no suite failed that way.
    """
    if head is None:
        return (), {}
    failed = {g.suite for g in gates if g.verdict == FAIL}
    dropped = [d for d in diff.suites if d.name in failed and d.base and d.delta and d.delta.delta < 0]
    found = {d.name: culprit_in_range(project, store, d.name, diff.base, diff.head, progress, limits) for d in dropped}
    culprits = tuple(c for c in found.values() if isinstance(c, Culprit))
    return culprits, {name: why for name, why in found.items() if isinstance(why, str)}
