"""A per-call `timeout` model setting (front matter, `defaults:`, a suite's override) bounds each attempt of
eval's calls, its claims last as long, and it is not part of the response-cache key."""

from __future__ import annotations

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
from promptgit.hashing import call_key
from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_fixtures import DUMMY_KEY
from tests.openai_server import Server, spawn_server

PROMPT = "---\n{front}max_tokens: 8\n---\nuser:\nTicket {{{{ text }}}}\nANSWER: billing\n"


def project(write: Callable[..., Path], front: str = "", settings: str = "") -> Path:
    return write(
        {
            # `settings` may give its own defaults: a key twice in one file is refused (yamlio).
            "promptgit.yaml": (
                "" if "defaults:" in settings else "defaults: {model: openai/test-model, temperature: 0}\n"
            )
            + f"retries: 1\n{settings}",
            "prompts/route.jinja": PROMPT.format(front=front),
            "evals/route.yaml": "prompt: route\nscorers: [exact_match]\n"
            "cases:\n  - {id: a, text: one, expected: billing}\n  - {id: b, text: two, expected: billing}\n",
        }
    )


def eval_json(run_cli: Callable[..., Result], root: Path, *args: str) -> tuple[int, dict]:
    result = run_cli(["eval", "--json", *args], root)
    assert result.out, result.err
    return result.code, json.loads(result.out)


def settled(server: Server, count: int) -> list[tuple[int, int]]:
    """The statuses of the server's requests once `count` have finished (a timed-out one finishes after its
    latency, when the client is gone): what the server saw, not how long it took."""
    deadline = time.monotonic() + 30
    while len(server.requests) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted((r.status, r.attempt) for r in server.requests)


@pytest.mark.parametrize(
    ("front", "settings", "args"),
    [
        ("timeout: 0.3\n", "", ()),  # the prompt's front matter
        ("", "defaults: {model: openai/test-model, temperature: 0, timeout: 0.3}\n", ()),  # promptgit.yaml defaults
        ("timeout: 5\n", "", ("--set", "timeout=0.3")),  # the run's --set, over the prompt's
        ("timeout: 0.3\n", "timeout: 600\n", ()),  # the prompt's, over promptgit.yaml's own timeout
    ],
)
def test_a_call_timeout_shorter_than_the_reply_times_every_attempt_out(  # type: ignore[no-untyped-def]
    openai_server: Server, write, run_cli, monkeypatch, front: str, settings: str, args: tuple[str, ...]
) -> None:
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.0)
    openai_server.configure(latency=1.0)
    code, report = eval_json(run_cli, project(write, front, settings), *args)
    result = report["suites"][0]
    assert (code, result["errors"], result["score"]) == (3, 2, None)
    assert {c["id"]: c["error"] for c in result["results"]} == {
        "a": "openai/test-model: timed out after 0.3 s after 2 attempts",
        "b": "openai/test-model: timed out after 0.3 s after 2 attempts",
    }
    # Two attempts a case, the first and its one retry, each given up on before the server answered (status 0).
    assert settled(openai_server, 4) == [(0, 0), (0, 0), (0, 1), (0, 1)]


def test_the_same_prompt_with_a_longer_timeout_succeeds_and_its_timeout_is_not_in_the_cache_key(  # type: ignore[no-untyped-def]
    openai_server: Server, write, run_cli
) -> None:
    openai_server.configure(latency=1.0)
    root = project(write, "timeout: 5\n")
    code, report = eval_json(run_cli, root)
    assert (code, report["suites"][0]["score"], report["suites"][0]["calls"]) == (0, 1.0, 2)
    assert len(openai_server.requests) == 2
    # Another timeout waits differently for the same answer: the cached responses serve it, no call is made.
    (root / "prompts/route.jinja").write_text(PROMPT.format(front="timeout: 30\n"), encoding="utf-8")
    with sqlite3.connect(root / ".promptgit" / "store.sqlite3") as db:
        db.execute("DELETE FROM cases")  # the results go; the response cache stays
    code, report = eval_json(run_cli, root)
    assert (code, report["suites"][0]["score"], report["suites"][0]["calls"]) == (0, 1.0, 0)
    assert len(openai_server.requests) == 2


@pytest.mark.parametrize("timeout", [0.3, 5, 3600])
def test_the_timeout_is_not_part_of_the_cache_key(timeout: float) -> None:
    messages = [{"role": "user", "content": "hi"}]
    assert call_key(messages, {"model": "m", "timeout": timeout}, 0) == call_key(messages, {"model": "m"}, 0)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({"timeout": 0.3}, 0.3), ({"timeout": 3600}, 3600.0), ({}, 120.0), ({"timeout": True}, 120.0)],
)
def test_the_call_timeout_is_the_setting_else_the_projects(settings: dict, expected: float) -> None:
    options = evaluate.Options(concurrency=1, timeout=120.0, retries=0)
    assert evaluate.call_timeout(settings, options) == expected


def test_a_claim_lasts_the_prompts_timeout_not_the_projects(write) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(latency=60.0)  # the call is still in flight when its claim is read
    try:
        root = project(write, "timeout: 3600\n", "timeout: 10\n")
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "OPENAI_API_BASE": server.api_base}
        env.pop(evaluate.LEASE_ENV, None)
        run = subprocess.Popen(
            [sys.executable, "-m", "promptgit", "eval"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while server.stats().max_in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with sqlite3.connect(root / ".promptgit" / "store.sqlite3", timeout=30) as db:
            expires = [e for (e,) in db.execute("SELECT expires FROM claims")]
        run.send_signal(signal.SIGKILL)
        run.wait()
        # 3600 s plus models.TIMEOUT_GRACE from the claim; the project's 10 s would have given 15.
        left = sorted(round(e - time.time(), -2) for e in expires)
        assert left == [3600.0, 3600.0]
    finally:
        server.close()


@pytest.mark.usefixtures("git_env")
def test_diff_honours_each_revisions_own_timeout(openai_server: Server, tmp_path: Path, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.0)
    openai_server.configure(latency=1.0)
    repo = new_repo(tmp_path / "repo")
    files = {
        "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\nretries: 0\n",
        "prompts/route.jinja": PROMPT.format(front="timeout: 5\n"),
        "evals/route.yaml": "prompt: route\nscorers: [exact_match]\n"
        "cases:\n  - {id: a, text: one, expected: billing}\n  - {id: b, text: two, expected: billing}\n",
    }
    base = repo.commit("patient", files)
    head = repo.commit("impatient", {"prompts/route.jinja": PROMPT.format(front="timeout: 0.3\n") + "Be quick.\n"})
    result = run_cli(["diff", base, head, "--json"], repo.path)
    suite = json.loads(result.out)["suites"][0]
    # The base's 5 s outlasts the 1 s reply; the head's 0.3 s does not: its two calls failed, one attempt each.
    # No case scored at head: diff's gate is inconclusive (exit 3).
    assert (result.code, suite["base_score"], suite["head_score"], suite["compared"]["cases"]) == (3, 1.0, None, 0)
    assert settled(openai_server, 4) == [(0, 0), (0, 0), (200, 0), (200, 0)]
