"""Model calls in worker processes (promptgit/workers.py): the same store, the same requests, the same errors."""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit import models, workers
from promptgit.errors import PromptgitError
from tests.conftest import Result
from tests.openai_fixtures import DUMMY_KEY
from tests.openai_server import Server, spawn_server
from tests.test_eval import labelled_project


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(models, "BACKOFF_CAP", 0.02)


def stored(root: Path) -> list[tuple[Any, ...]]:
    """Every stored case and response, without the times and the order they were written in."""
    with sqlite3.connect(root / ".promptgit" / "store.sqlite3") as db:
        cases = db.execute(
            "SELECT fingerprint, case_id, repeat, output, score, passed, scores, call_key, input_tokens, "
            "output_tokens, cost FROM cases ORDER BY fingerprint, case_id, repeat"
        ).fetchall()
        responses = db.execute(
            "SELECT key, text, model, input_tokens, output_tokens, cost FROM responses ORDER BY key"
        ).fetchall()
        claims = db.execute("SELECT count(*) FROM claims").fetchone()
    return [*cases, *responses, claims]


def two_suites(write: Callable[..., Path], n: int) -> Path:
    """Two suites on one prompt and one dataset (so every answer is needed twice), repeat 2."""
    root = labelled_project(write, n, wrong={1, 6}, repeat=2)
    suite = (root / "evals/route.yaml").read_text()
    (root / "evals/route_again.yaml").write_text(suite.replace("threshold: 0.5", "threshold: 0.4"))
    return root


def run_with(
    run_cli: Callable[..., Result], root: Path, monkeypatch: pytest.MonkeyPatch, count: int, *args: str
) -> tuple[int, dict[str, Any]]:
    monkeypatch.setenv(workers.WORKERS_ENV, str(count))
    done = run_cli(["eval", "--json", *args], root)
    return done.code, json.loads(done.out)


def comparable(document: dict[str, Any]) -> list[Any]:
    """What a report says, less the seconds it took."""
    return [
        (
            s["name"],
            s["score"],
            s["calls"],
            s["cached"],
            s["errors"],
            [(r["id"], r["output"], r["error"]) for r in s["results"]],
        )
        for s in document["suites"]
    ]


@pytest.mark.parametrize(
    ("rates", "requests"),
    [
        ({}, 40),  # 20 cases x 2 repeats, each key paid once for the two suites
        ({"500": 0.3}, None),  # retried server errors: the same attempts per key, whichever process sends them
        ({"bad_json": 0.2, "503": 0.1}, None),
    ],
)
def test_workers_store_exactly_what_one_process_stores_with_the_same_requests(
    openai_server: Server,
    write: Callable[..., Path],
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    rates: dict[str, float],
    requests: int | None,
) -> None:
    counts, stores, reports = [], [], []
    for count in (0, 2):
        root = two_suites(functools.partial(write, root=tmp_path / f"w{count}"), 20)
        openai_server.configure(latency=0.05, rates=rates, seed=5)
        openai_server.reset()
        code, document = run_with(run_cli, root, monkeypatch, count)
        assert code == 0
        counts.append(openai_server.stats().outcomes)
        stores.append(stored(root))
        reports.append(comparable(document))
    assert counts[0] == counts[1]
    assert stores[0] == stores[1]
    assert reports[0] == reports[1]
    assert len(stores[0]) == 2 * 40 + 40 + 1 and stores[0][-1] == (0,)  # cases, responses, no claim left
    if requests is not None:
        assert sum(counts[1].values()) == requests
    else:
        assert counts[1]["ok"] == 40 and sum(counts[1].values()) > 40
    assert reports[1][0][1:5] == (0.9, 40, 0, 0) and reports[1][1][1:5] == (0.9, 0, 40, 0)


def test_a_call_that_fails_in_a_worker_is_the_same_error(
    openai_server: Server,
    write: Callable[..., Path],
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    reports = []
    for count in (0, 2):
        root = labelled_project(functools.partial(write, root=tmp_path / f"w{count}"), 12, wrong=set())
        openai_server.configure(rates={"400": 0.25, "500": 0.25}, seed=11)
        openai_server.reset()
        code, document = run_with(run_cli, root, monkeypatch, count)
        reports.append((code, comparable(document), openai_server.stats().outcomes))
    assert reports[0] == reports[1]
    errors = [r for r in reports[1][1][0][5] if r[2] is not None]
    assert len(errors) == reports[1][1][0][4] > 0
    assert all("injected bad request" in r[2] for r in errors)


def test_a_missing_key_in_a_worker_stops_the_run_inconclusive_as_it_does_in_one_process(
    openai_server: Server,
    write: Callable[..., Path],
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    results = []
    for count in (0, 2):
        root = labelled_project(functools.partial(write, root=tmp_path / f"w{count}"), 6, wrong=set())
        monkeypatch.setenv(workers.WORKERS_ENV, str(count))
        done = run_cli(["eval"], root)
        results.append((done.code, done.err))
    assert results[0] == results[1]
    assert results[1][0] == 3 and "no API key for model openai/test-model" in results[1][1]
    assert len(openai_server.requests) == 0


def test_ctrl_c_with_workers_exits_130_keeps_what_is_stored_and_leaves_no_worker(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    server = spawn_server(latency=0.3)
    try:
        root = labelled_project(write, 60, wrong={5}, settings="concurrency: 4\n")
        env = {
            **os.environ,
            "OPENAI_API_KEY": DUMMY_KEY,
            "OPENAI_API_BASE": server.api_base,
            workers.WORKERS_ENV: "2",
        }
        # Its own process group, as a shell runs a command: Ctrl-C reaches the workers too.
        first = subprocess.Popen(
            [sys.executable, "-m", "promptgit", "eval", "--json", "--quiet"],
            cwd=root,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while server.stats().count < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGINT)
        out, err = first.communicate(timeout=30)
        assert (first.returncode, out, err) == (130, "", "promptgit: interrupted\n")
        left = subprocess.run(["pgrep", "-g", str(first.pid)], capture_output=True, text=True)
        assert left.stdout == ""  # no worker outlived the run
        paid = server.stats().count
        second = subprocess.run(
            [sys.executable, "-m", "promptgit", "eval", "--json"], cwd=root, env=env, capture_output=True, text=True
        )
        suite = json.loads(second.stdout)["suites"][0]
        assert (second.returncode, suite["score"], suite["errors"]) == (0, pytest.approx(59 / 60, abs=1e-6), 0)
        assert suite["cached"] >= paid - 4 and suite["calls"] + suite["cached"] == 60
    finally:
        server.close()


@pytest.mark.parametrize(
    ("env", "calls", "names", "expected"),
    [
        ("3", 1, ["openai/x"], 3),  # forced on, however small the run
        ("0", 100_000, ["openai/x"], 0),  # forced off
        ("", workers.AUTO_MIN_CALLS - 1, ["openai/x"], 0),  # too small to pay for the fork
        ("", workers.AUTO_MIN_CALLS, ["local/qwen2.5-coder-0.5b"], 0),  # the embedded model stays in process
    ],
)
def test_how_many_workers_a_run_plans(
    monkeypatch: pytest.MonkeyPatch, env: str, calls: int, names: list[str], expected: int
) -> None:
    monkeypatch.setenv(workers.WORKERS_ENV, env)
    assert workers.planned_workers(calls, names) == expected


def test_a_big_run_on_two_cores_uses_one_worker_a_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(workers.WORKERS_ENV, raising=False)
    monkeypatch.setattr(workers, "_cores", lambda: 2)
    assert workers.planned_workers(workers.AUTO_MIN_CALLS, ["local/a", "openai/x"]) == 2
    monkeypatch.setattr(workers, "_cores", lambda: 1)
    assert workers.planned_workers(10 * workers.AUTO_MIN_CALLS, ["openai/x"]) == 0


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_bad_worker_count_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(workers.WORKERS_ENV, value)
    with pytest.raises(
        PromptgitError, match=f"PROMPTGIT_WORKERS must be a whole number of worker processes, not '{value}'"
    ):
        workers.planned_workers(10, ["openai/x"])


def test_a_run_whose_answers_are_all_stored_starts_no_worker(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 6, wrong=set())
    assert run_cli(["eval", "--json"], root).code == 0
    # A new scorer: a new fingerprint, so every case is scored again, from stored responses only.
    suite = (root / "evals/route.yaml").read_text()
    (root / "evals/route.yaml").write_text(suite.replace("[exact_match]", "[exact_match, contains]"))
    probe = (
        "import sys\nfrom promptgit import workers\nfrom promptgit.cli import main\nstarted = []\n"
        "original = workers.Pool.start\n"
        "async def start(count, concurrency):\n    started.append(count)\n"
        "    return await original(count, concurrency)\n"
        "workers.Pool.start = start\n"
        "try:\n    main(['eval', '--json'])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('STARTED', started, code, file=sys.stderr)\n"
    )
    env = {**os.environ, workers.WORKERS_ENV: "2"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "STARTED [] 0", done.stderr
    suite_report = json.loads(done.stdout)["suites"][0]
    assert (suite_report["calls"], suite_report["cached"]) == (0, 6)
    assert len(openai_server.requests) == 6
    # The same probe on a fresh copy of the project, nothing stored: the run starts its two workers.
    (root / ".promptgit").rename(root / "old-store")
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "STARTED [2] 0", done.stderr
    assert len(openai_server.requests) == 12
