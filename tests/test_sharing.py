"""The shared results ref (sharing.py): written, merged, pushed and fetched through real bare remotes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import git, sharing
from promptgit.errors import PromptgitError
from tests.gitrepo import Repo, new_repo

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Repo]:
    """Create an empty repository (branch main) in tmp_path/NAME."""

    def _make(name: str = "repo") -> Repo:
        return new_repo(tmp_path / name, ignore_store=False)

    return _make


@pytest.fixture
def repo(make_repo: Callable[[str], Repo]) -> Repo:
    """An empty repository."""
    return make_repo("repo")


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
