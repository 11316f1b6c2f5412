"""`promptgit bisect`: find the first commit where a suite's score dropped, or a case began to fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptgit import git
from promptgit.compare import compare_results, plans_case_sets
from promptgit.errors import PromptgitError
from promptgit.evaluate import Plan, Progress, SuiteResult, evaluate, options_for
from promptgit.history import suite_at, suite_versions
from promptgit.project import Project
from promptgit.store import Store

GOOD, BAD, UNDECIDED, NOT_EVALUABLE = "good", "bad", "undecided", "not evaluable"


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


@dataclass(frozen=True)
class Point:
    """An evaluable version of the suite: the commit and its plan."""

    commit: git.Commit
    plan: Plan


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

    def result(self, plan: Plan) -> SuiteResult:
        if plan.fingerprint not in self.results:
            options = options_for(self.project)
            self.results[plan.fingerprint] = evaluate([plan], self.store, options, self.progress)[0]
            self.plans[plan.fingerprint] = plan
        return self.results[plan.fingerprint]

    def judge(self, commit: str, plan: Plan, good: SuiteResult, bad: SuiteResult) -> str:
        result = self.result(plan)
        verdict, note = _case_verdict(result, self.case) if self.case else self.suite_verdict(result, good, bad)
        self.steps.append(Step(commit, _score(result, self.case), verdict, note))
        return verdict

    def suite_verdict(self, result: SuiteResult, good: SuiteResult, bad: SuiteResult) -> tuple[str, str]:
        # Same significance test as `diff`: bad only when significantly below good; good only when
        # significantly above bad; anything else is noise we refuse to guess through.
        if self.dropped(good, result):
            return BAD, "significantly below good"
        if self.dropped(result, bad):
            return GOOD, "significantly above bad"
        return UNDECIDED, "within noise of both good and bad"

    def dropped(self, before: SuiteResult, after: SuiteResult) -> bool:
        """Whether `after` is significantly below `before` on the cases both hold unchanged (as `diff` compares)."""
        sets = plans_case_sets(self.plans.get(before.fingerprint), self.plans.get(after.fingerprint))
        delta = compare_results("", before, after, sets).delta
        return bool(delta and delta.significant and delta.delta < 0)


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
) -> BisectReport:
    """Binary search over the commits that change the suite's fingerprint, between good and bad."""
    root = project.root
    bad_sha = git.resolve(root, bad)
    versions = suite_versions(root, suite, until=bad_sha)
    if not versions:
        raise PromptgitError(f"no commit up to {bad} has suite {suite!r}")
    search = _Search(project, store, suite, case, progress)
    points = [Point(v.commit, v.plan) for v in versions if v.evaluable and v.plan is not None]
    good_version = _good_version(search, points, good, bad_sha)
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


def _good_version(search: _Search, points: list[Point], good: str | None, bad_sha: str) -> Point:
    """--good's version; else the best stored score before bad; else the oldest version that can be evaluated."""
    if good is not None:
        return _version_at(search, git.resolve(search.project.root, good))
    earlier = points[:-1]  # the last evaluable version is bad's own
    if not earlier:
        raise PromptgitError(
            f"suite {search.suite!r} has no version before {bad_sha[:10]} that can be evaluated",
            hint="`promptgit log` lists its versions and why any cannot be evaluated",
        )
    stored = search.store.runs([p.plan.fingerprint for p in earlier])
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
        if not found.passed:
            return f"case {search.case!r} already fails at the good revision"
        bad_case = bad.by_id().get(search.case)
        if bad_case is not None and bad_case.passed:
            return f"case {search.case!r} passes at the bad revision: nothing to find"
        return None
    if not search.dropped(good, bad):
        return "the bad revision's score is not significantly below the good one's: nothing to find"
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
    )
