"""`promptgit eval` end to end: real HTTP through litellm to the local server, real SQLite, known truths."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import evaluate, models
from tests.conftest import Result
from tests.openai_fixtures import DUMMY_KEY
from tests.openai_server import Server, spawn_server

LABELS = ["billing", "refunds", "technical_support", "account_access"]
PROMPT = "---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket.\nuser:\nTicket {{ text }}\nANSWER: {{ reply }}\n"


def labelled_project(
    write: Callable[..., Path], n: int, wrong: set[int], *, repeat: int = 1, settings: str = "", threshold: float = 0.5
) -> Path:
    """A suite of `n` cases whose fake-model replies are right except at the indexes in `wrong`."""
    rows = []
    for i in range(n):
        label = LABELS[i % 4]
        reply = LABELS[(i + 1) % 4] if i in wrong else label.upper()  # exact_match ignores case
        rows.append(json.dumps({"id": f"c{i:03d}", "text": f"ticket {i}", "label": label, "reply": reply}))
    return write(
        {
            # `settings` may set its own concurrency: a key twice in one file is refused (yamlio).
            "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\n"
            + ("" if "concurrency:" in settings else "concurrency: 8\n")
            + settings,
            "prompts/route.jinja": PROMPT,
            "evals/route.yaml": f"prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"
            f"threshold: {threshold}\nrepeat: {repeat}\n",
            "evals/cases.jsonl": "\n".join(rows) + "\n",
        }
    )


def eval_json(run_cli: Callable[..., Result], root: Path, *args: str) -> tuple[int, dict]:
    result = run_cli(["eval", "--json", *args], root)
    return result.code, json.loads(result.out)


def test_scores_equal_the_truth_and_a_rerun_pays_nothing(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 40, wrong={3, 7, 11, 20, 33})
    code, first = eval_json(run_cli, root)
    suite = first["suites"][0]
    assert code == 0
    assert (suite["score"], suite["cases"], suite["passed"], suite["failed"], suite["errors"]) == (
        35 / 40,
        40,
        35,
        5,
        0,
    )
    assert (suite["calls"], suite["cached"]) == (40, 0)
    assert sorted(r["id"] for r in suite["results"] if not r["passed"]) == ["c003", "c007", "c011", "c020", "c033"]
    assert suite["ci"][0] < 35 / 40 < suite["ci"][1]
    assert len(openai_server.requests) == 40
    code, second = eval_json(run_cli, root)
    assert (second["suites"][0]["calls"], second["suites"][0]["cached"], second["suites"][0]["score"]) == (
        0,
        40,
        35 / 40,
    )
    assert len(openai_server.requests) == 40  # nothing new reached the server


def test_same_inputs_never_pay_twice_even_under_a_new_fingerprint(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 12, wrong=set())
    eval_json(run_cli, root)
    # A new scorer changes the fingerprint, not the calls: everything is rescored from the cache.
    (root / "evals/route.yaml").write_text(
        (root / "evals/route.yaml")
        .read_text()
        .replace("scorers: [exact_match]", "scorers: [exact_match, {regex: '^[a-z_]+$'}]")
    )
    _, again = eval_json(run_cli, root)
    suite = again["suites"][0]
    assert (suite["calls"], suite["cached"], suite["score"]) == (0, 12, 0.5)  # replies are upper case: regex fails
    assert len(openai_server.requests) == 12


def test_below_threshold_exits_1(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 8, wrong={0, 1, 2, 3, 4}, threshold=0.5)
    code, report = eval_json(run_cli, root)
    assert (code, report["suites"][0]["score"]) == (1, 3 / 8)


def test_repeats_are_distinct_calls_averaged_per_case(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 6, wrong={2}, repeat=3)
    _, report = eval_json(run_cli, root)
    suite = report["suites"][0]
    assert (suite["calls"], suite["score"]) == (18, pytest.approx(5 / 6, abs=1e-6))
    assert next(r for r in suite["results"] if r["id"] == "c002")["repeat_scores"] == [0.0, 0.0, 0.0]
    assert len(openai_server.requests) == 18


def test_concurrency_is_respected_and_kept_full(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    openai_server.configure(latency=0.15, max_concurrency=8)
    root = labelled_project(write, 32, wrong=set())
    code, report = eval_json(run_cli, root)
    stats = openai_server.stats()
    assert (code, report["suites"][0]["errors"]) == (0, 0)
    assert stats.max_in_flight == 8
    assert all(r.status == 200 for r in openai_server.requests)  # never beyond the limit: no 429
    assert stats.span < 4 * 0.15 * 2.5  # 4 waves of 8 at 0.15 s, with room for a loaded machine


def test_faulty_server_ends_with_every_case_scored(openai_server: Server, write, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(models, "BACKOFF_CAP", 0.05)
    openai_server.configure(rates={"500": 0.05, "bad_json": 0.02, "hang": 0.01, "drop": 0.02}, hang_seconds=30, seed=7)
    root = labelled_project(
        write, 200, wrong=set(range(0, 200, 10)), settings="timeout: 1\nretries: 6\nconcurrency: 32\n"
    )
    code, report = eval_json(run_cli, root)
    suite = report["suites"][0]
    assert (code, suite["errors"], suite["score"]) == (0, 0, 0.9)
    statuses = [r.status for r in openai_server.requests]
    assert statuses.count(500) >= 3  # faults really happened and were retried
    assert suite["calls"] == 200


def test_calls_failing_after_retries_are_errors_not_scores(openai_server: Server, write, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.0)
    openai_server.configure(rates={"500": 1.0})
    root = labelled_project(write, 10, wrong=set(), settings="retries: 1\n")
    code, report = eval_json(run_cli, root)
    suite = report["suites"][0]
    assert code == 3  # inconclusive: every call failed
    assert (suite["errors"], suite["failed"], suite["passed"], suite["score"]) == (10, 0, 0, None)
    assert len(openai_server.requests) == 20  # one retry each
    openai_server.configure()
    code, report = eval_json(run_cli, root)  # errors were not cached: the next run calls again
    assert (code, report["suites"][0]["errors"], report["suites"][0]["score"], report["suites"][0]["calls"]) == (
        0,
        0,
        1.0,
        10,
    )


def _cli(root: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "promptgit", *args],
        cwd=root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_sigkilled_run_resumes_without_paying_again(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(latency=0.2)
    try:
        root = labelled_project(write, 60, wrong={5}, settings="concurrency: 4\n")
        # The killed run's claims on its calls in flight lapse after this lease; the second run then takes them.
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "OPENAI_API_BASE": server.api_base, evaluate.LEASE_ENV: "1"}
        first = _cli(root, "eval", "--json", env=env)
        deadline = time.monotonic() + 30
        while server.stats().count < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        paid_before = server.stats().count
        assert 20 <= paid_before < 60
        second = _cli(root, "eval", "--json", env=env)
        out, err = second.communicate(timeout=60)
        suite = json.loads(out)["suites"][0]
        assert (second.returncode, suite["score"], suite["errors"]) == (0, pytest.approx(59 / 60, abs=1e-6), 0), err
        # Only calls in flight at the kill (at most `concurrency`) are paid twice.
        assert server.stats().count - paid_before <= 60 - paid_before + 4
        assert suite["cached"] >= paid_before - 4
    finally:
        server.close()


def test_two_evaluations_at_once_on_one_store_both_score_the_truth(write) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(latency=0.02)
    try:
        root = labelled_project(write, 120, wrong={1, 50, 99}, settings="concurrency: 8\n")
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "OPENAI_API_BASE": server.api_base}
        both = [_cli(root, "eval", "--json", env=env) for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in both]
        for process, (out, err) in zip(both, outputs):
            assert process.returncode == 0, err  # before reading stdout: a failure says why, not "not JSON"
            suite = json.loads(out)["suites"][0]
            assert (process.returncode, suite["score"], suite["errors"]) == (0, 117 / 120, 0), err
        paid = server.stats().count
        assert paid == 120  # a call one run had in flight, the other waited for (its claim in the store)
        assert sum(json.loads(out)["suites"][0]["calls"] for out, _ in outputs) == 120
        third = _cli(root, "eval", "--json", env=env)
        out, err = third.communicate(timeout=60)
        assert third.returncode == 0, err
        assert (json.loads(out)["suites"][0]["calls"], server.stats().count) == (0, paid)
    finally:
        server.close()


def test_a_fully_cached_run_never_imports_litellm(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 5, wrong=set())
    eval_json(run_cli, root)
    probe = (
        "import sys\nfrom promptgit.cli import main\ntry:\n    main(['eval', '--json'])\nexcept SystemExit as e:\n"
        "    code = e.code\nprint('LITELLM' if 'litellm' in sys.modules else 'NO-LITELLM', code, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().endswith("NO-LITELLM 0"), done.stderr
    assert json.loads(done.stdout)["suites"][0]["calls"] == 0


def test_a_process_that_called_a_model_exits_with_its_code_and_all_its_output(openai_server: Server, write) -> None:  # type: ignore[no-untyped-def]
    # Once litellm is loaded the process skips the interpreter's teardown: nothing may be lost by that.
    root = labelled_project(write, 200, wrong=set(range(0, 200, 4)), threshold=0.9)
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as most shells run it
    done = subprocess.run(
        [sys.executable, "-m", "promptgit", "eval", "--json"],
        cwd=root,
        env=buffered,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # 0.75 is below the threshold
    report = json.loads(done.stdout)  # every byte of a long document reached the pipe
    assert (report["suites"][0]["score"], report["suites"][0]["calls"], len(report["suites"][0]["results"])) == (
        0.75,
        200,
        200,
    )


def test_an_unexpected_error_keeps_its_traceback_and_has_its_own_exit_code(tmp_path: Path) -> None:
    crash = "import promptgit.cli as cli\ncli.run = lambda argv: 1 / 0\ncli.main()\n"
    done = subprocess.run([sys.executable, "-c", crash], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 70  # never 1, which means "a gate failed"
    assert "Traceback" in done.stderr and "ZeroDivisionError" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1] == (
        "promptgit: internal error (exit 70): this is a bug; please report it with the traceback above"
    )


def test_ctrl_c_keeps_what_is_stored_and_exits_130_with_one_line(write) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(latency=0.3)
    try:
        root = labelled_project(write, 60, wrong={5}, settings="concurrency: 4\n")
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "OPENAI_API_BASE": server.api_base}
        first = _cli(root, "eval", "--json", "--quiet", env=env)
        deadline = time.monotonic() + 30
        while server.stats().count < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=30)
        paid_before = server.stats().count
        assert (first.returncode, out, err) == (130, "", "promptgit: interrupted\n")
        assert 12 <= paid_before < 60
        second = _cli(root, "eval", "--json", env=env)
        out, err = second.communicate(timeout=60)
        suite = json.loads(out)["suites"][0]
        assert (second.returncode, suite["score"], suite["errors"]) == (0, pytest.approx(59 / 60, abs=1e-6), 0), err
        # Every answer that arrived before the interrupt was stored: only calls cut off in flight are paid again.
        assert suite["cached"] >= paid_before - 4
    finally:
        server.close()


@pytest.mark.parametrize("how", ["cancelled", "time limit", "a case fails"])
def test_a_worker_that_misses_its_cancellation_takes_no_further_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # Python < 3.12's asyncio.wait_for drops a cancellation that arrives as the awaited call ends (CPython
    # gh-86296): a worker then went on through every job left, and Ctrl-C at 12 of 60 calls paid all 60.
    # Three ways a run ends early: Ctrl-C, its time limit, a case that stops the run (bad input).
    from promptgit.errors import PromptgitError
    from promptgit.store import Store

    started: list[int] = []

    async def one_that_drops_its_cancellation(self: evaluate._Run, job: int) -> None:
        started.append(job)
        if how == "a case fails" and job == 0:
            await asyncio.sleep(0.1)
            raise PromptgitError("case 0 does not render")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.5)

    monkeypatch.setattr(evaluate._Run, "_one", one_that_drops_its_cancellation)
    limit = 0.1 if how == "time limit" else None
    with Store(tmp_path / "store.sqlite3") as store:
        run = evaluate._Run(store, evaluate.Options(concurrency=4, timeout=5, retries=0, time_limit=limit), None)
        run.total = 100

        async def drain_then_stop() -> None:
            draining = asyncio.ensure_future(run._drain(iter(range(100))))  # type: ignore[arg-type]
            if how == "cancelled":
                await asyncio.sleep(0.1)
                draining.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await draining
            elif how == "a case fails":
                with pytest.raises(PromptgitError, match="case 0 does not render"):
                    await draining
            else:
                await draining

        asyncio.run(drain_then_stop())
    assert started == [0, 1, 2, 3]
    assert (run.stopped is not None) == (how == "time limit")


def test_a_setting_the_provider_rejects_names_the_prompt_file(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 2, wrong=set())
    (root / "prompts/route.jinja").write_text(PROMPT.replace("max_tokens: 8", "max_tokens: 8\nlogit_bias: {'1': 1}"))
    (root / "promptgit.yaml").write_text("defaults: {model: anthropic/claude-3-5-haiku-20241022}\n")
    result = run_cli(["eval"], root)
    assert result.code == 2
    assert (
        "prompts/route.jinja: model anthropic/claude-3-5-haiku-20241022 does not accept setting logit_bias"
        in result.err
    )
    assert "Traceback" not in result.err
    assert len(openai_server.requests) == 0


def test_repeats_that_disagree_show_as_flaky() -> None:
    from promptgit.commands.eval import EvalReport
    from promptgit.display import eval_json, eval_text
    from promptgit.evaluate import CaseResult, SuiteResult
    from promptgit.stats import Interval

    steady = CaseResult("a", 1.0, True, "x", ("x",) * 3, (1.0, 1.0, 1.0))
    flaky = CaseResult("b", 2 / 3, False, "x", ("x", "y", "x"), (1.0, 0.0, 1.0))
    result = SuiteResult(
        "s", "p", "evals/s.yaml", "v1:f", "WORKTREE", 5 / 6, Interval(0.5, 1.0), (steady, flaky), None, None, repeat=3
    )
    document = eval_json(EvalReport("WORKTREE", (result,), ()))["suites"][0]
    assert document["flaky"] == 1
    assert [r["flakiness"] for r in document["results"]] == [0.0, pytest.approx(2 / 3, abs=1e-6)]
    header, _, row = eval_text(EvalReport("WORKTREE", (result,), ())).splitlines()[:3]
    assert row.split()[header.split().index("flaky")] == "1"


def test_a_misspelt_local_model_is_one_clear_error_not_an_inconclusive_run(write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = labelled_project(write, 3, wrong=set())
    (root / "promptgit.yaml").write_text("defaults: {model: local/qwen-nope, temperature: 0}\n")
    result = run_cli(["eval"], root)
    assert result.code == 2
    assert (
        "prompts/route.jinja: unknown local model 'local/qwen-nope'; the local models are: local/qwen2.5-coder-0.5b"
        in result.err
    )
    assert "Traceback" not in result.err


def test_a_time_limit_ends_the_run_inconclusive_and_keeps_what_finished(write, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(latency=1.0)
    try:
        root = labelled_project(write, 40, wrong=set(), settings="concurrency: 4\n")
        monkeypatch.setenv("OPENAI_API_BASE", server.api_base)
        monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
        models._litellm()  # imported before the clock starts: the limit is about calls, not this machine's import
        started = time.monotonic()
        result = run_cli(["eval", "--json", "--time-limit", "2.5"], root)
        took = time.monotonic() - started
        suite = json.loads(result.out)["suites"][0]
        done = suite["cases"] - sum(1 for r in suite["results"] if r["error"] == "not evaluated")
        assert result.code == 3
        assert 4 <= done <= 12  # 4 in flight at a time, 1 s each, cut at 2.5 s: 8 on a quiet machine
        assert took < 10
        assert (
            f"inconclusive: route: the run's time limit of 2.5 s was reached: {40 - done} of 40 cases not evaluated"
            in result.err
        )
        again = run_cli(["eval", "--json"], root)
        suite = json.loads(again.out)["suites"][0]
        assert (again.code, suite["cached"], suite["calls"], suite["score"]) == (0, done, 40 - done, 1.0)
    finally:
        server.close()


def test_identical_calls_in_flight_are_paid_once(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    # Two suites on one prompt and one dataset need the same 20 answers, with 8 calls in flight at once.
    root = labelled_project(write, 20, wrong={4})
    suite = (root / "evals/route.yaml").read_text()
    (root / "evals/route_again.yaml").write_text(suite.replace("threshold: 0.5", "threshold: 0.4"))
    openai_server.configure(latency=0.2)

    code, document = eval_json(run_cli, root)

    assert code == 0
    assert len(openai_server.requests) == 20
    assert [(s["name"], s["score"]) for s in document["suites"]] == [("route", 0.95), ("route_again", 0.95)]
    assert sum(s["calls"] for s in document["suites"]) == 20
    assert sum(s["cached"] for s in document["suites"]) == 20


def claims_in(root: Path) -> list[tuple[str, str, float]]:
    """The claims table of a project's store, read as another process would."""
    with sqlite3.connect(root / ".promptgit" / "store.sqlite3", timeout=30) as db:
        return db.execute("SELECT key, owner, expires FROM claims ORDER BY key").fetchall()


def test_a_killed_claimers_calls_are_taken_over_once_its_lease_lapses(write) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(latency=60.0)  # the first run's calls never come back before it is killed
    try:
        root = labelled_project(write, 8, wrong={6}, settings="concurrency: 4\n")
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "OPENAI_API_BASE": server.api_base, evaluate.LEASE_ENV: "2"}
        first = _cli(root, "eval", "--json", env=env)
        deadline = time.monotonic() + 60
        while server.stats().max_in_flight < 4 and time.monotonic() < deadline:  # its four calls were sent
            time.sleep(0.05)
        claims = claims_in(root)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        assert len(claims) == 4 and len({owner for _, owner, _ in claims}) == 1
        lapses = max(expires for *_, expires in claims) - time.time() + time.monotonic()  # on the server's clock
        server.configure(latency=0.05)

        second = _cli(root, "eval", "--json", env=env)
        out, err = second.communicate(timeout=60)

        suite = json.loads(out)["suites"][0]
        assert (second.returncode, suite["score"], suite["errors"], suite["calls"]) == (0, 7 / 8, 0, 8), err
        # The four killed calls (answered nothing) and the second run's eight: no call paid while a claim was live.
        assert server.stats().count == 12
        later = [arrival for arrival, _ in server.timeline() if arrival > killed]
        assert len(later) == 8 and min(later) >= lapses - 0.1  # it waited the lease out before taking them over
        assert claims_in(root) == []  # every claim released
    finally:
        server.close()


@pytest.mark.parametrize(("concurrency", "provider_limit", "retries"), [(32, 8, 4), (32, 8, 0), (16, 3, 1)])
def test_rate_limits_lower_the_concurrency_and_never_end_a_case(  # type: ignore[no-untyped-def]
    write, concurrency: int, provider_limit: int, retries: int
) -> None:
    server = spawn_server(latency=0.05, max_concurrency=provider_limit, retry_after=0.2)
    try:
        root = labelled_project(
            write, 400, wrong=set(range(0, 400, 8)), settings=f"concurrency: {concurrency}\nretries: {retries}\n"
        )
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "OPENAI_API_BASE": server.api_base}
        done = subprocess.run(
            [sys.executable, "-m", "promptgit", "eval", "--json"], cwd=root, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        suite = json.loads(done.stdout)["suites"][0]
        stats = server.stats()
        assert (done.returncode, suite["errors"], suite["score"], suite["calls"]) == (0, 0, 0.875, 400), done.stderr
        assert stats.outcomes["ok"] == 400  # each case answered once: a 429 is never followed by a second answer
        assert stats.count == 400 + stats.outcomes.get("busy", 0)
        assert stats.max_in_flight == provider_limit
    finally:
        server.close()


@pytest.mark.parametrize("lease", ["soon", "0", "-3", "inf", "nan"])
def test_a_bad_claim_lease_in_the_environment_is_one_clear_error(  # type: ignore[no-untyped-def]
    openai_server: Server, write, run_cli, monkeypatch, lease: str
) -> None:
    root = labelled_project(write, 2, wrong=set())
    monkeypatch.setenv(evaluate.LEASE_ENV, lease)
    result = run_cli(["eval"], root)
    assert (result.code, result.err.splitlines()[0]) == (
        2,
        f"promptgit: error: PROMPTGIT_CLAIM_LEASE must be a number of seconds above 0, not {lease!r}",
    )
    assert len(openai_server.requests) == 0
