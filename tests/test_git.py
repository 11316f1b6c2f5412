"""promptgit.git against throwaway repositories built with the git CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import git as pg
from promptgit.errors import PromptgitError
from promptgit.tree import WORKTREE
from tests.gitrepo import Repo

pytestmark = pytest.mark.usefixtures("git_env")  # a fixed identity, no user or system git config


def test_git_tree_reads_the_commit_not_the_working_tree(repo: Repo) -> None:
    first = repo.commit("v1", {"prompts/a.jinja": "committed\n"})
    repo.write({"prompts/a.jinja": "edited, not committed\n", "prompts/new.jinja": "untracked\n"})

    tree = pg.GitTree(repo.path, "HEAD")

    assert tree.revision == first
    assert tree.read_bytes("prompts/a.jinja") == b"committed\n"
    assert tree.exists("prompts/a.jinja") is True
    assert tree.exists("prompts/new.jinja") is False
    assert tree.exists("prompts") is False
    with pytest.raises(FileNotFoundError):
        tree.read_bytes("prompts/new.jinja")
    assert (repo.path / "prompts/a.jinja").read_text() == "edited, not committed\n"
    assert repo.git("status", "--porcelain") == "M prompts/a.jinja\n?? prompts/new.jinja".strip()


def test_files_lists_a_folder_at_the_revision(repo: Repo) -> None:
    old = repo.commit(
        "one",
        {
            "evals/a.yaml": "a",
            "evals/sub/b.jsonl": "b",
            "evals/.hidden/x": "x",
            "evals/__pycache__/c.pyc": "c",
            "prompts/p.jinja": "p",
        },
    )
    repo.commit("two", {"evals/sub/later.yaml": "l", "evals/a.yaml": None})

    assert pg.GitTree(repo.path, old).files("evals") == ["evals/a.yaml", "evals/sub/b.jsonl"]
    assert pg.GitTree(repo.path, "HEAD").files("evals") == ["evals/sub/b.jsonl", "evals/sub/later.yaml"]
    assert pg.GitTree(repo.path, "HEAD").files("evals/sub/") == ["evals/sub/b.jsonl", "evals/sub/later.yaml"]
    assert pg.GitTree(repo.path, "HEAD").files("") == ["evals/sub/b.jsonl", "evals/sub/later.yaml", "prompts/p.jinja"]
    assert pg.GitTree(repo.path, "HEAD").files("missing") == []
    assert pg.GitTree(repo.path, "HEAD").files("prompts/p.jinja") == []


def test_git_tree_follows_symlinks_inside_the_tree(repo: Repo) -> None:
    repo.write({"prompts/real.jinja": "real\n"})
    (repo.path / "prompts/link.jinja").symlink_to("real.jinja")
    (repo.path / "prompts/outside.jinja").symlink_to("../../elsewhere")
    repo.commit("links")

    tree = pg.GitTree(repo.path, "HEAD")

    assert tree.read_bytes("prompts/link.jinja") == b"real\n"
    # A link leaving the project is listed and exists, as in the working tree, and reading it is refused.
    assert tree.exists("prompts/outside.jinja") is True
    assert tree.files("prompts") == ["prompts/link.jinja", "prompts/outside.jinja", "prompts/real.jinja"]
    with pytest.raises(PromptgitError, match=r"a symbolic link to \.\./\.\./elsewhere, outside the project"):
        tree.read_bytes("prompts/outside.jinja")


def test_project_in_a_subfolder_uses_project_relative_paths(repo: Repo) -> None:
    first = repo.commit(
        "one", {"README.md": "top\n", "apps/pg/promptgit.yaml": "{}\n", "apps/pg/prompts/a.jinja": "line one\n"}
    )
    second = repo.commit("two", {"apps/pg/prompts/a.jinja": "line one\nline two\n", "README.md": "top 2\n"})
    third = repo.commit("outside only", {"README.md": "top 3\n"})
    project = repo.path / "apps" / "pg"
    repo.write({"apps/pg/prompts/b.jinja": "new\n", "other.txt": "outside\n"})

    tree = pg.GitTree(project, "HEAD")
    assert tree.files("") == ["promptgit.yaml", "prompts/a.jinja"]
    assert tree.read_bytes("prompts/a.jinja") == b"line one\nline two\n"
    assert tree.exists("README.md") is False
    assert [c.sha for c in pg.commits_touching(project, ["prompts"])] == [first, second]
    assert [c.sha for c in pg.history(project)] == [first, second]
    assert [c.sha for c in pg.history(repo.path)] == [first, second, third]
    assert pg.changed_files(project, first, None) == [
        pg.Change("M", "prompts/a.jinja", "prompts/a.jinja"),
        pg.Change("A", None, "prompts/b.jinja"),
    ]
    assert [(b.commit, b.original_path) for b in pg.blame(project, "prompts/a.jinja", "HEAD")] == [
        (first, "prompts/a.jinja"),
        (second, "prompts/a.jinja"),
    ]
    assert "+line two" in pg.diff_text(project, first, second, [])
    assert "a/prompts/a.jinja" in pg.diff_text(project, first, second, [])


def test_resolve_accepts_the_usual_revision_forms(repo: Repo) -> None:
    first = repo.commit("one", {"a": "1"})
    repo.git("tag", "-a", "v1", "-m", "release one")
    repo.git("branch", "old")
    second = repo.commit("two", {"a": "2"})

    assert pg.resolve(repo.path, "HEAD") == second
    assert pg.resolve(repo.path, "HEAD~1") == first
    assert pg.resolve(repo.path, first[:7]) == first
    assert pg.resolve(repo.path, first) == first
    assert pg.resolve(repo.path, "v1") == first
    assert pg.resolve(repo.path, "old") == first
    assert pg.resolve(repo.path, "main") == second
    assert pg.head(repo.path) == second


def test_resolve_sees_a_branch_move(repo: Repo) -> None:
    repo.commit("one", {"a": "1"})
    assert pg.resolve(repo.path, "main") == repo.git("rev-parse", "HEAD")
    second = repo.commit("two", {"a": "2"})
    assert pg.resolve(repo.path, "main") == second


def test_unknown_revision_is_a_promptgit_error_with_a_hint(repo: Repo) -> None:
    repo.commit("one", {"a": "1"})
    repo.git("branch", "feature")

    with pytest.raises(PromptgitError) as err:
        pg.resolve(repo.path, "featrue")
    assert err.value.message == "unknown revision 'featrue'"
    assert err.value.hint == "did you mean 'feature'?"

    with pytest.raises(PromptgitError) as err:
        pg.GitTree(repo.path, "--output=x")
    assert "is not a git revision" in err.value.message

    with pytest.raises(PromptgitError) as err:
        pg.resolve(repo.path, "HEAD:a")
    assert err.value.message == "revision 'HEAD:a' names a blob, not a commit"


def test_not_a_repository(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(PromptgitError) as err:
        pg.GitTree(folder, "HEAD")
    assert "is not inside a git repository" in err.value.message
    assert "git init" in (err.value.hint or "")


def test_a_repository_without_commits(repo: Repo) -> None:
    repo.write({"prompts/a.jinja": "x\ny\n"})

    assert pg.head(repo.path) is None
    assert pg.history(repo.path) == []
    assert pg.commits_touching(repo.path, ["prompts"]) == []
    assert pg.blame(repo.path, "prompts/a.jinja") == [
        pg.BlameLine(1, "x", WORKTREE, "prompts/a.jinja"),
        pg.BlameLine(2, "y", WORKTREE, "prompts/a.jinja"),
    ]
    with pytest.raises(PromptgitError) as err:
        pg.resolve(repo.path, "HEAD")
    assert "no commits yet" in err.value.message


def test_shallow_clone_says_how_to_fetch_history(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    origin = make_repo("origin")
    old = origin.commit("one", {"a": "1"})
    origin.commit("two", {"a": "2"})
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{origin.path}", str(tmp_path / "shallow")],
        check=True,
        capture_output=True,
    )
    shallow = tmp_path / "shallow"

    for rev in (old, "HEAD~1"):
        with pytest.raises(PromptgitError) as err:
            pg.resolve(shallow, rev)
        assert "shallow clone" in err.value.message
        assert "git fetch --unshallow" in (err.value.hint or "")
        assert "fetch-depth: 0" in (err.value.hint or "")

    missing = "1234567" * 5 + "12345"
    with pytest.raises(PromptgitError) as err:
        pg.resolve(origin.path, missing)
    assert err.value.message == f"unknown revision {missing!r}: no such commit in this clone"
    assert "fetch-depth: 0" in (err.value.hint or "")


def test_commits_touching_lists_exactly_the_commits_that_changed_the_paths(repo: Repo) -> None:
    c1 = repo.commit("add prompt", {"prompts/old_name.jinja": "v1\n", "evals/s.yaml": "s1", "other.txt": "o"})
    repo.commit("unrelated", {"other.txt": "o2"})
    c3 = repo.commit("edit suite", {"evals/s.yaml": "s2"})
    repo.git("mv", "prompts/old_name.jinja", "prompts/new_name.jinja")
    c4 = repo.commit("rename prompt")
    c5 = repo.commit("edit prompt", {"prompts/new_name.jinja": "v2\n"})
    c6 = repo.commit("add partial", {"prompts/_partials/p.jinja": "p"})

    def shas(paths: list[str], **kw: str) -> list[str]:
        return [c.sha for c in pg.commits_touching(repo.path, paths, **kw)]

    assert shas(["prompts/new_name.jinja"]) == [c1, c4, c5]
    assert shas(["evals/s.yaml"]) == [c1, c3]
    assert shas(["prompts/new_name.jinja", "evals/s.yaml"]) == [c1, c3, c4, c5]
    assert shas(["prompts"]) == [c1, c4, c5, c6]
    assert shas(["prompts/new_name.jinja"], since=c3) == [c4, c5]
    assert shas(["prompts/new_name.jinja"], until=c4) == [c1, c4]
    commit = pg.commits_touching(repo.path, ["evals/s.yaml"])[-1]
    assert commit == pg.Commit(
        c3, "2023-11-14T22:16:20+00:00", 1_700_000_180, "edit suite", "Tess Ter", (repo.git("rev-parse", f"{c3}~1"),)
    )


def test_history_follows_the_first_parent(repo: Repo) -> None:
    c1 = repo.commit("one", {"a": "1"})
    repo.git("checkout", "-q", "-b", "side")
    side = repo.commit("side work", {"b": "1"})
    repo.git("checkout", "-q", "main")
    c2 = repo.commit("main work", {"a": "2"})
    repo.clock += 60
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = repo.git("rev-parse", "HEAD")

    assert [c.sha for c in pg.history(repo.path)] == [c1, c2, merge]
    assert [c.sha for c in pg.history(repo.path, first_parent=False)] == [c1, side, c2, merge]
    assert [c.sha for c in pg.history(repo.path, max_count=2)] == [c2, merge]
    assert [c.sha for c in pg.history(repo.path, since=c1)] == [c2, merge]
    assert pg.history(repo.path)[-1].parents == (c2, side)
    # On the first-parent chain the merge is the commit that brought `b` in.
    assert [c.sha for c in pg.commits_touching(repo.path, ["b"])] == [merge]
    assert [c.sha for c in pg.commits_touching(repo.path, ["b"], first_parent=False)] == [side]


def test_changed_files_between_commits(repo: Repo) -> None:
    base = repo.commit(
        "base",
        {
            "keep.txt": "k",
            "edit.txt": "e1",
            "gone.txt": "g",
            "move/me.txt": "a file long enough to be recognised as renamed\n" * 3,
        },
    )
    (repo.path / "moved").mkdir()
    repo.git("mv", "move/me.txt", "moved/me.txt")
    head = repo.commit("head", {"edit.txt": "e2", "gone.txt": None, "added.txt": "n"})

    assert sorted(pg.changed_files(repo.path, base, head), key=str) == sorted(
        [
            pg.Change("A", None, "added.txt"),
            pg.Change("M", "edit.txt", "edit.txt"),
            pg.Change("D", "gone.txt", None),
            pg.Change("R", "move/me.txt", "moved/me.txt"),
        ],
        key=str,
    )
    assert pg.changed_files(repo.path, head, head) == []


def test_changed_files_against_the_working_tree(repo: Repo) -> None:
    repo.write({".gitignore": ".promptgit/\n"})
    base = repo.commit(
        "base",
        {"edit.txt": "e1", "staged.txt": "s1", "old.txt": "a file long enough to be recognised as renamed\n" * 3},
    )
    repo.write(
        {"edit.txt": "e2 (unstaged)", "staged.txt": "s2", "untracked.txt": "u", ".promptgit/cache.db": "ignored"}
    )
    repo.git("add", "staged.txt")
    (repo.path / "old.txt").rename(repo.path / "new.txt")  # a rename the index knows nothing about
    status_before = repo.git("status", "--porcelain")

    changes = pg.changed_files(repo.path, base, None)

    assert sorted(changes, key=str) == sorted(
        [
            pg.Change("M", "edit.txt", "edit.txt"),
            pg.Change("M", "staged.txt", "staged.txt"),
            pg.Change("A", None, "untracked.txt"),
            pg.Change("R", "old.txt", "new.txt"),
        ],
        key=str,
    )
    assert repo.git("status", "--porcelain") == status_before  # the real index is untouched


def test_blame_attributes_lines_after_a_rewrite_and_a_rename(repo: Repo) -> None:
    c1 = repo.commit("one", {"prompts/a.jinja": "system:\nYou classify.\nuser:\n{{ ticket }}\n"})
    c2 = repo.commit("rewrite", {"prompts/a.jinja": "system:\nYou classify tickets carefully.\nuser:\n{{ ticket }}\n"})
    repo.git("mv", "prompts/a.jinja", "prompts/b.jinja")
    repo.commit("rename")
    c4 = repo.commit(
        "add a line",
        {"prompts/b.jinja": "system:\nYou classify tickets carefully.\nuser:\n{{ ticket }}\nAnswer with one word.\n"},
    )

    lines = pg.blame(repo.path, "prompts/b.jinja")

    assert [(b.line, b.text, b.commit, b.original_path) for b in lines] == [
        (1, "system:", c1, "prompts/a.jinja"),
        (2, "You classify tickets carefully.", c2, "prompts/a.jinja"),
        (3, "user:", c1, "prompts/a.jinja"),
        (4, "{{ ticket }}", c1, "prompts/a.jinja"),
        (5, "Answer with one word.", c4, "prompts/b.jinja"),
    ]
    assert [b.commit for b in pg.blame(repo.path, "prompts/a.jinja", c2)] == [c1, c2, c1, c1]

    repo.write({"prompts/b.jinja": "system:\nChanged here.\nuser:\n{{ ticket }}\nAnswer with one word.\n"})
    assert [b.commit for b in pg.blame(repo.path, "prompts/b.jinja")] == [c1, WORKTREE, c1, c1, c4]
    with pytest.raises(PromptgitError):
        pg.blame(repo.path, "prompts/b.jinja", c1)


def test_is_ancestor_and_file_at(repo: Repo) -> None:
    c1 = repo.commit("one", {"a": "1"})
    c2 = repo.commit("two", {"a": "2", "b": "b"})

    assert pg.is_ancestor(repo.path, c1, c2) is True
    assert pg.is_ancestor(repo.path, c2, c1) is False
    assert pg.is_ancestor(repo.path, c2, c2) is True
    assert pg.file_at(repo.path, c1, "a") == b"1"
    assert pg.file_at(repo.path, c1, "b") is None
    assert pg.file_at(repo.path, "HEAD", "b") == b"b"


def test_diff_text_is_a_unified_diff_of_the_paths(repo: Repo) -> None:
    base = repo.commit("base", {"prompts/a.jinja": "one\ntwo\n", "evals/s.yaml": "x\n"})
    head = repo.commit("head", {"prompts/a.jinja": "one\nTWO\n", "evals/s.yaml": "y\n"})
    repo.write({"prompts/a.jinja": "one\nthree\n", "prompts/new.jinja": "brand new\n"})

    text = pg.diff_text(repo.path, base, head, ["prompts/a.jinja"])
    assert text.splitlines()[-3:] == [" one", "-two", "+TWO"]
    assert "evals/s.yaml" not in text

    worktree = pg.diff_text(repo.path, head, None, ["prompts"])
    assert "-TWO\n+three" in worktree
    assert "+brand new" in worktree
    assert "evals" not in worktree


def test_an_unignored_local_store_is_not_reported_as_changed(repo: Repo) -> None:
    base = repo.commit("base", {"a.txt": "a"})
    repo.write({".promptgit/store.db": "binary-ish", "b.txt": "b"})

    assert pg.changed_files(repo.path, base, None) == [pg.Change("A", None, "b.txt")]


def test_a_missing_git_binary_is_a_promptgit_error(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.commit("one", {"a": "1"})
    monkeypatch.setattr(pg.git.Git, "GIT_PYTHON_GIT_EXECUTABLE", "/nonexistent/git")

    with pytest.raises(PromptgitError) as err:
        pg.GitTree(repo.path, "HEAD")

    assert err.value.message == "git is not installed or not on PATH"
