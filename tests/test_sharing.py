"""The shared results ref (sharing.py): written, merged, pushed and fetched through real bare remotes."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit import git, sharing
from promptgit.errors import PromptgitError
from promptgit.store import Store, StoredCase, StoredResponse
from tests.gitrepo import Repo
from tests.openai_server import Server
from tests.test_ci import prompt, run_ci, two_versions
from tests.test_git_native import dataset

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config


def test_a_repository_without_commits_has_no_shared_results(repo: Repo) -> None:
    assert sharing.read_ref(repo.path) == {}


def test_results_ref_is_shared_through_a_bare_remote(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    origin = make_repo("origin")
    origin.commit("one", {"a": "1"})
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(origin.path), str(tmp_path / "bare.git")], check=True, capture_output=True
    )
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for clone in (alice, bob):
        subprocess.run(["git", "clone", "-q", str(tmp_path / "bare.git"), str(clone)], check=True, capture_output=True)
    status_before = Repo(alice).git("status", "--porcelain")

    first = sharing.write_ref(alice, {"results/aa.json": b"alice 1"}, "alice results")
    second = sharing.write_ref(alice, {"results/ab.json": b"alice 2", "top.json": b"t"}, "more")
    assert sharing.write_ref(alice, {"top.json": b"t"}, "nothing new") == second
    assert Repo(alice).git("rev-parse", f"{second}^") == first
    sharing.write_ref(bob, {"results/bb.json": b"bob 1"}, "bob results")

    sharing.push_ref(alice, "origin", sharing.RESULTS_REF)
    sharing.push_ref(bob, "origin", sharing.RESULTS_REF)  # rejected first: fetches alice's, merges, pushes again
    sharing.fetch_ref(alice, "origin", sharing.RESULTS_REF)

    everything = {
        "results/aa.json": b"alice 1",
        "results/ab.json": b"alice 2",
        "top.json": b"t",
        "results/bb.json": b"bob 1",
    }
    assert sharing.read_ref(alice) == everything
    assert sharing.read_ref(bob) == everything
    assert git.resolve(alice, sharing.RESULTS_REF) == git.resolve(bob, sharing.RESULTS_REF)
    assert Repo(alice).git("status", "--porcelain") == status_before
    assert Repo(alice).git("ls-files") == "a"


def test_fetch_of_a_ref_nobody_pushed_is_a_no_op(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    origin = make_repo("origin")
    origin.commit("one", {"a": "1"})
    subprocess.run(["git", "clone", "-q", str(origin.path), str(tmp_path / "clone")], check=True, capture_output=True)

    sharing.fetch_ref(tmp_path / "clone", "origin", sharing.RESULTS_REF)

    assert sharing.read_ref(tmp_path / "clone") == {}


def test_remote_errors_never_show_credentials(repo: Repo) -> None:
    repo.commit("one", {"a": "1"})
    sharing.write_ref(repo.path, {"r.json": b"{}"}, "results")
    url = "https://user:s3cret-token@127.0.0.1:9/nothing.git"

    for action in (sharing.push_ref, sharing.fetch_ref):
        with pytest.raises(PromptgitError) as err:
            action(repo.path, url, sharing.RESULTS_REF)
        assert "s3cret" not in str(err.value)


# --- results files: unreadable ones are skipped, the ref stays one file per fingerprint ----------


def _clones(make_repo: Callable[[str], Repo], tmp_path: Path, *names: str) -> list[Path]:
    """A bare remote with one commit on main (a promptgit project), and a clone of it per name."""
    origin = make_repo("origin")
    origin.commit("one", {"a": "1", "promptgit.yaml": "concurrency: 2\n"})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin.path), str(bare)], check=True, capture_output=True)
    paths = [tmp_path / name for name in names]
    for path in paths:
        subprocess.run(["git", "clone", "-q", str(bare), str(path)], check=True, capture_output=True)
    return paths


def _case(case_id: str, score: float = 1.0) -> StoredCase:
    return StoredCase(
        case_id, 0, f"out {case_id}", score, score >= 1, (("exact_match", score, None),), f"k-{case_id}", 1, 2, 0.0, 0.5
    )


def _stored(store: Store, fingerprint: str, *case_ids: str) -> None:
    for case_id in case_ids:
        store.put_response(f"k-{case_id}", StoredResponse(f"out {case_id}", "m", 1, 2, 0.0, 0.5))
        store.put_case(fingerprint, "suite", "prompt", "rev", _case(case_id))


def _bomb(size: int) -> bytes:
    """A valid gzip stream of `size` zero bytes (a few kilobytes compressed)."""
    return gzip.compress(b"\0" * size, mtime=0)


BAD_FILES = {
    "v1-bad/not-gzip.jsonl.gz": (b"just text", "not a gzip file"),
    "v1-bad/bad-json.jsonl.gz": (gzip.compress(b'{"kind": "run",\n'), "line 1 is not JSON"),
    "v1-bad/list.jsonl.gz": (gzip.compress(b"[1, 2]\n"), "line 1 is not a JSON object"),
    "v1-bad/deep.jsonl.gz": (gzip.compress(b"[" * 100_000 + b"]" * 100_000 + b"\n"), "line 1 is not JSON"),
    "v1-bad/truncated.jsonl.gz": (gzip.compress(b'{"kind": "x"}\n' * 100)[:-12], "not one complete gzip stream"),
    "v1-bad/trailing.jsonl.gz": (gzip.compress(b'{"kind": "x"}\n') + b"junk", "not one complete gzip stream"),
    "v1-bad/latin1.jsonl.gz": (gzip.compress('{"kind": "é"}'.encode("latin-1")), "not UTF-8 text"),
    "v1-bad/bomb.jsonl.gz": (_bomb(sharing.MAX_FILE_BYTES + 1), "decompresses to more than 67,108,864 bytes"),
    "v1-bad/shape.jsonl.gz": (
        sharing.pack([{"kind": "case", "fingerprint": "v1:bad", "case_id": 7}]),
        "cannot import synced results: a case record has a bad 'case_id': 7",
    ),
    "v1-bad/score.jsonl.gz": (
        sharing.pack([{"kind": "run", "fingerprint": "v1:bad", "suite": "s", "prompt": "p", "created": "now"}]),
        "cannot import synced results: a run record has a bad 'revision': None",
    ),
}


def test_unreadable_shared_files_are_skipped_by_name_and_the_rest_imported(
    make_repo: Callable[[str], Repo], tmp_path: Path
) -> None:
    alice, bob = _clones(make_repo, tmp_path, "alice", "bob")
    with Store(tmp_path / "alice-store") as store:
        _stored(store, "v1:good", "c1", "c2")
        assert sharing.push_results(alice, store) == sharing.SyncResult(1, 5)
    sharing.write_ref(alice, {path: data for path, (data, _) in BAD_FILES.items()}, "hostile files")
    sharing.push_ref(alice, "origin")

    with Store(tmp_path / "bob-store") as store:
        pulled = sharing.pull_results(bob, store)
        assert (pulled.files, pulled.rows) == (1, 5)
        reasons = dict(line.split(": ", 1) for line in pulled.skipped)
        assert set(reasons) == set(BAD_FILES)
        for path, (_, why) in BAD_FILES.items():
            assert reasons[path].startswith(why), (path, reasons[path])
        assert [c.case_id for c in store.cases("v1:good")] == ["c1", "c2"]
        assert store.cases("v1:bad") == []  # a file with one bad record imports nothing


def test_sync_pull_prints_a_warning_per_skipped_file(
    make_repo: Callable[[str], Repo], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    alice, bob = _clones(make_repo, tmp_path, "alice", "bob")
    sharing.write_ref(alice, {"v1-x/a.jsonl.gz": b"\x1f\x8b garbage", "v1-x/b.jsonl.gz": _bomb(70 * 2**20)}, "bad")
    sharing.push_ref(alice, "origin")

    pulled = run_cli(["sync", "pull"], bob)

    assert (pulled.code, pulled.out) == (0, "pulled 0 result file(s), 0 new row(s)\n")
    assert pulled.err.splitlines() == [
        "promptgit: warning: skipped a shared results file: v1-x/a.jsonl.gz: not a gzip file "
        "(Error -3 while decompressing data: unknown compression method)",
        "promptgit: warning: skipped a shared results file: v1-x/b.jsonl.gz: decompresses to more than "
        "67,108,864 bytes",
    ]


def test_unpack_bounds_what_one_file_may_hold() -> None:
    data = sharing.pack([{"kind": "x", "n": i} for i in range(100)])
    assert len(sharing.unpack(data)) == 100
    with pytest.raises(sharing.BadSharedFile, match=r"^decompresses to more than 1,000 bytes$"):
        sharing.unpack(data, limit=1000)
    with pytest.raises(sharing.BadSharedFile, match=f"^{len(data):,} bytes, over the limit of 100$"):
        sharing.unpack(data, limit=100)


def test_pushing_keeps_one_file_per_fingerprint(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    (alice,) = _clones(make_repo, tmp_path, "alice")
    with Store(tmp_path / "store") as store:
        _stored(store, "v1:one", "c1")
        assert sharing.push_results(alice, store) == sharing.SyncResult(1, 3)
        _stored(store, "v1:one", "c2")
        _stored(store, "v1:two", "c1")
        assert sharing.push_results(alice, store) == sharing.SyncResult(2, 5)  # c2's case and response; two's 3
        assert sharing.push_results(alice, store) == sharing.SyncResult(0, 0)
    files = sharing.read_ref(alice)
    assert sorted(p.split("/")[0] for p in files) == ["v1-one", "v1-two"]
    one = next(data for path, data in files.items() if path.startswith("v1-one/"))
    assert [(r["kind"], r.get("case_id")) for r in sharing.unpack(one)] == [
        ("run", None), ("case", "c1"), ("case", "c2"), ("response", None), ("response", None)
    ]  # fmt: skip


def test_concurrent_pushes_of_one_fingerprint_merge_into_one_file(
    make_repo: Callable[[str], Repo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, carol = _clones(make_repo, tmp_path, "alice", "bob", "carol")
    with Store(tmp_path / "a") as a, Store(tmp_path / "b") as b:
        _stored(a, "v1:one", "c1")
        _stored(b, "v1:one", "c2", "c3")
        _stored(b, "v1:two", "c9")
        assert sharing.push_results(alice, a) == sharing.SyncResult(1, 3)
        _stored(a, "v1:one", "c4")
        real_push = sharing._push
        pushes: list[object] = []

        def alice_first(repo: git.Repo, remote: str, ref: str) -> bool:
            # Alice pushes a file superseding the one bob fetched, between bob's fetch and bob's push.
            if not pushes:
                pushes.append("alice")
                monkeypatch.setattr(sharing, "_push", real_push)
                assert sharing.push_results(alice, a) == sharing.SyncResult(1, 2)
                monkeypatch.setattr(sharing, "_push", alice_first)
            pushes.append(real_push(repo, remote, ref))
            return bool(pushes[-1])

        monkeypatch.setattr(sharing, "_push", alice_first)
        bob_pushed = sharing.push_results(bob, b)  # rejected once: fetches, merges three-way, consolidates
        monkeypatch.undo()
    assert pushes[1:] == [False, True]
    assert (bob_pushed.files, bob_pushed.rows) == (2, 7)  # c2, c3 and their responses; v1:two's run, case, response
    with Store(tmp_path / "c") as c:
        assert sharing.pull_results(carol, c) == sharing.SyncResult(2, (1 + 4 + 4) + (1 + 1 + 1))
        assert [x.case_id for x in c.cases("v1:one")] == ["c1", "c2", "c3", "c4"]
        assert [x.case_id for x in c.cases("v1:two")] == ["c9"]
    assert sorted(p.split("/")[0] for p in sharing.read_ref(carol)) == ["v1-one", "v1-two"]


# --- trust: shared rows never stand in for a head side -----------------------------------------


def test_pulled_rows_are_shared_and_a_local_run_replaces_them(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    alice, bob = _clones(make_repo, tmp_path, "alice", "bob")
    with Store(tmp_path / "a") as a:
        _stored(a, "v1:one", "c1", "c2")
        sharing.push_results(alice, a)
    with Store(tmp_path / "b") as b:
        sharing.pull_results(bob, b)
        assert (b.case_keys("v1:one"), b.case_keys("v1:one", trusted_only=True)) == ({("c1", 0), ("c2", 0)}, set())
        assert b.get_response("k-c1") is not None and b.get_response("k-c1", trusted_only=True) is None
        assert list(b.iter_cases("v1:one", trusted_only=True)) == []
        _stored(b, "v1:one", "c2")  # evaluated here: now trusted
        assert b.case_keys("v1:one", trusted_only=True) == {("c2", 0)}
        assert b.get_response("k-c2", trusted_only=True) == StoredResponse("out c2", "m", 1, 2, 0.0, 0.5)


def test_has_remote(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    (alice,) = _clones(make_repo, tmp_path, "alice")
    lonely = make_repo("lonely")
    lonely.commit("one", {"a": "1"})
    assert [sharing.has_remote(alice, r) for r in ("origin", "upstream", str(tmp_path / "bare.git"))] == [
        True, False, True
    ]  # fmt: skip
    assert [sharing.has_remote(lonely.path, r) for r in ("origin", "git@host:x/y.git")] == [False, True]


def _forge_passing_results(attacker: Repo, rev: str, run_cli: Callable[..., Any]) -> None:
    """What anyone who can push a ref can do: evaluate `rev`, mark every case passed, push the results."""
    assert run_cli(["eval", "--rev", rev, "--json"], attacker.path).code == 1
    with Store(attacker.path / ".promptgit") as store:
        records = list(store.export_results())
    forged = [
        {**r, "score": 1.0, "passed": True, "scores": [["exact_match", 1.0, None]]} if r["kind"] == "case" else r
        for r in records
    ]
    fingerprint = records[0]["fingerprint"]
    data = sharing.pack(forged)
    sharing.write_ref(attacker.path, {sharing.file_name(fingerprint, data): data}, "results, honest")
    sharing.push_ref(attacker.path, "origin")


def test_forged_shared_results_cannot_pass_the_head_of_a_ci_gate(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    repo, _, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.7\n")
    worse = repo.commit("a worse prompt", {"prompts/route.jinja": prompt("naive", "Route it.")})  # 30%
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "main")
    _forge_passing_results(repo, worse, run_cli)

    for name, extra, code, head_score in [("victim", (), 1, 0.3), ("trusting", ("--trust-shared-head",), 0, 1.0)]:
        clone = Repo(tmp_path / name)
        repo.git("clone", "-q", str(remote), str(clone.path), cwd=tmp_path)
        document, _ = run_ci(run_cli, clone, c2, worse, code, *extra)
        assert (document["verdict"], document["suites"][0]["head_score"]) == (
            "fail" if code else "pass",
            head_score,
        )


def test_ci_in_a_repository_without_the_remote_says_nothing_about_pulling(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.7\n")
    ran = run_cli(["ci", "--base", c1, "--head", c2], repo.path)
    assert ran.code == 0
    assert "pull" not in ran.err and "promptgit:" not in ran.err
    repo.git("remote", "add", "origin", str(tmp_path / "nowhere.git"))  # configured, but unreachable: said once
    ran = run_cli(["ci", "--base", c1, "--head", c2], repo.path)
    assert ran.code == 0
    assert [line for line in ran.err.splitlines() if "promptgit:" in line] == [
        f"promptgit: no shared results pulled (git fetch (origin) failed: '{tmp_path / 'nowhere.git'}' "
        "does not appear to be a git repository)"
    ]


def test_rows_stored_before_origins_were_recorded_are_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptgit import store as store_module

    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])  # a promptgit before m002
    Store(tmp_path / "s").close()
    monkeypatch.undo()
    with sqlite3.connect(tmp_path / "s" / store_module.STORE_FILE) as db:  # rows as that promptgit wrote them
        db.execute("INSERT INTO responses VALUES ('k-c1', 'out c1', 'm', 1, 2, 0.0, 0.5, 0.0)")
        db.execute("INSERT INTO runs VALUES ('v1:one', 'suite', 'prompt', 'rev', 0.0)")
        db.execute("INSERT INTO cases VALUES ('v1:one', 'c1', 0, 'out c1', 1.0, 1, '[]', 'k-c1', 1, 2, 0.0, 0.5)")
    db.close()
    with Store(tmp_path / "s") as store:
        assert store.applied_migrations() == ["m001_initial", "m002_origin", "m003_claims"]
        assert (store.case_keys("v1:one"), store.case_keys("v1:one", trusted_only=True)) == ({("c1", 0)}, set())
        assert store.get_response("k-c1", trusted_only=True) is None


def test_ci_warns_about_an_unreadable_shared_file_and_goes_on(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset(), gates="threshold: 0.7\n")
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "main")
    sharing.write_ref(repo.path, {"v1-x/bomb.jsonl.gz": _bomb(65 * 2**20), "v1-x/t.jsonl.gz": b"text"}, "bad")
    sharing.push_ref(repo.path, "origin")

    ran = run_cli(["ci", "--base", c1, "--head", c2], repo.path)

    assert ran.code == 0, ran.err
    assert [line for line in ran.err.splitlines() if line.startswith("promptgit:")] == [
        "promptgit: skipped a shared results file: v1-x/bomb.jsonl.gz: decompresses to more than 67,108,864 bytes",
        "promptgit: skipped a shared results file: v1-x/t.jsonl.gz: not a gzip file "
        "(Error -3 while decompressing data: incorrect header check)",
    ]
