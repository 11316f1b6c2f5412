"""Shards meeting through `promptgit sync`, as the GitHub Actions matrix in docs/github-action.md runs them:
N processes, each in its own clone, evaluate their shard of both revisions and push; one more clone pulls
and has every result, so its `eval` and `ci` make no model call. Requests are counted at the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import promptgit
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server
from tests.test_eval import labelled_project

SHARDS = 3
CASES, REPEAT = 15, 2


def promptgit_process(clone: Path, *args: str) -> subprocess.Popen[str]:
    """`python -m promptgit ARGS` in `clone`, with this checkout of promptgit first on the path."""
    env = {**os.environ, "PYTHONPATH": str(Path(promptgit.__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, "-m", "promptgit", *args],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def test_shard_jobs_push_and_one_pull_has_the_whole_suite_with_no_call(
    openai_server: Server, git_env: None, tmp_path: Path, write: Callable[..., Path]
) -> None:
    origin = new_repo(tmp_path / "origin")
    labelled_project(lambda files: write(files, origin.path), CASES, wrong={4, 9}, repeat=REPEAT)
    base = origin.commit("route tickets")
    prompt = origin.path / "prompts/route.jinja"
    head = origin.commit(
        "say it plainly", {"prompts/route.jinja": prompt.read_text().replace("Route", "Plainly route")}
    )
    bare = tmp_path / "bare.git"
    origin.git("clone", "-q", "--bare", str(origin.path), str(bare))
    clones = []
    for name in [f"shard{i}" for i in range(1, SHARDS + 1)] + ["gate"]:
        origin.git("clone", "-q", str(bare), str(tmp_path / name), cwd=tmp_path)
        clones.append(Repo(tmp_path / name))

    # The matrix: every shard job at once, each on both sides of the pull request, then each pushes.
    jobs = [
        promptgit_process(
            c.path, "eval", "-q", "--json", "--rev", rev, "--changed-since", since, "--shard", f"{i}/{SHARDS}"
        )
        for i, c in enumerate(clones[:SHARDS], 1)
        for rev, since in ((base, head), (head, base))
    ]
    documents = [json.loads(finish(job)) for job in jobs]
    calls = sum(d["suites"][0]["calls"] for d in documents)
    assert calls == 2 * CASES * REPEAT
    assert len(openai_server.requests) == 2 * CASES * REPEAT
    assert {d["suites"][0]["selection"]["shard"] for d in documents} == {f"{i}/{SHARDS}" for i in range(1, SHARDS + 1)}
    for push in [promptgit_process(c.path, "sync", "push") for c in clones[:SHARDS]]:
        finish(push)

    # The final job: pull, then the whole suite with zero model calls.
    gate = clones[SHARDS].path
    assert finish(promptgit_process(gate, "sync", "pull")) == "pulled 2 result file(s), 122 new row(s)\n"
    whole = json.loads(finish(promptgit_process(gate, "eval", "--json", "-q")))["suites"][0]
    assert (whole["calls"], whole["cached"], whole["cases"], whole["selection"]) == (0, CASES * REPEAT, CASES, None)
    assert whole["score"] == round(13 / 15, 6)
    gated = promptgit_process(gate, "ci", "--json", "-q", "--base", base, "--head", head, "--trust-shared-head")
    verdict = json.loads(finish(gated))
    assert (verdict["verdict"], verdict["suites"][0]["head_score"], verdict["suites"][0]["base_score"]) == (
        "pass",
        round(13 / 15, 6),
        round(13 / 15, 6),
    )
    assert len(openai_server.requests) == 2 * CASES * REPEAT  # neither eval nor ci made a call


@pytest.mark.parametrize("shards", [2, 5])
def test_every_call_lands_in_exactly_one_shard(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., object], shards: int
) -> None:
    root = labelled_project(write, 9, wrong=set(), repeat=3)
    calls = 0
    for index in range(1, shards + 1):
        result = run_cli(["eval", "--json", "--shard", f"{index}/{shards}"], root)
        calls += json.loads(result.out)["suites"][0]["calls"]  # type: ignore[attr-defined]
    assert calls == 27 == len(openai_server.requests)


@pytest.mark.parametrize("pushers", [2, 4, 6])
def test_pushes_racing_to_one_remote_all_land(
    git_env: None, make_repo: Callable[[str], Repo], tmp_path: Path, pushers: int
) -> None:
    """A matrix's jobs push at once: a push that loses the remote's ref lock fetches, merges and pushes again."""
    from concurrent.futures import ThreadPoolExecutor

    from promptgit import sharing
    from promptgit.store import Store
    from tests.test_sharing import _clones, _stored

    names = [f"job{i}" for i in range(pushers)] + ["gate"]
    paths = _clones(make_repo, tmp_path, *names)
    for index, path in enumerate(paths[:pushers]):
        with Store(path / ".promptgit") as store:
            _stored(store, f"v1:shard{index}", f"c{index}a", f"c{index}b")

    def push(path: Path) -> int:
        with Store(path / ".promptgit") as store:
            return sharing.push_results(path, store, "origin").files

    with ThreadPoolExecutor(pushers) as pool:  # git runs in subprocesses: the pushes really race
        assert list(pool.map(push, paths[:pushers])) == [1] * pushers
    with Store(tmp_path / "pulled") as store:
        pulled = sharing.pull_results(paths[-1], store, "origin")
        assert (pulled.files, pulled.rows) == (pushers, pushers * 5)  # per job: a run, two cases, two responses
        assert sorted(store.fingerprints()) == sorted(f"v1:shard{i}" for i in range(pushers))
