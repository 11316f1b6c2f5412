"""Everything promptgit reads from git (files at a revision, history, changes, blame), and the plumbing to write.

The only module that imports gitpython. Nothing here checks out or touches the index, and only
`apply_patch` writes to the working tree (`suggest --apply` and `--try`, when asked); `Repo` gives
sharing.py the object and ref plumbing it writes the results ref with.
Paths in and out are POSIX and relative to the project root (which may be a subfolder of the git
top level); git itself sees them with the project's prefix.

Decisions:
- History (`history`, `commits_touching`) follows the first parent by default: promptgit's log and
  bisect compare each commit with the one before it on the branch, and on the first-parent chain
  that predecessor is the commit's real parent, so a merge counts as one step that brings a change.
- `git log --follow` works on one path only, so `commits_touching` follows renames itself: it reads
  one `git log -M --name-status` over the project folder and, walking back in time, starts tracking a
  file's old name at the commit that renamed it into a tracked path or folder.
- Objects are read through one persistent `git cat-file --batch` process (gitpython's object
  database); parsed trees, blobs and commit->tree lookups are cached by object id, which never goes
  stale. Commands that walk history (log, diff, blame) are one git process per call.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Without this, gitpython raises ImportError when git is missing; we want a PromptgitError instead.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import git
from gitdb.base import IStream
from gitdb.db.loose import LooseObjectDB

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.tree import WORKTREE, normalize, outside_link

ZERO_SHA = "0" * 40

TREE_MODE = 0o040000
_LINK = 0o120000
_MAX_LINKS = 16
_BLOB_CACHE_BYTES = 128 * 1024 * 1024
_OPEN_REPOS = 8
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_FETCH_HINT = (
    "fetch the history: `git fetch --unshallow` (or `git fetch origin <rev>`); in GitHub Actions "
    "set `fetch-depth: 0` on actions/checkout"
)


@dataclass(frozen=True)
class Commit:
    """One commit as history lists it; `date` is the author date in ISO 8601."""

    sha: str
    date: str
    timestamp: int
    subject: str
    author: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """One changed file: status A (added), M (modified), D (deleted) or R (renamed)."""

    status: str
    old_path: str | None
    new_path: str | None


@dataclass(frozen=True)
class BlameLine:
    """One line of a file and the commit that last changed it (WORKTREE when uncommitted)."""

    line: int
    text: str
    commit: str
    original_path: str


@dataclass(frozen=True)
class Entry:
    mode: int
    sha: str

    @property
    def is_file(self) -> bool:
        return self.mode >> 12 == 0o10

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


@dataclass(frozen=True)
class _Output:
    status: int
    out: bytes
    err: str


# --- the repository and its object caches ---------------------------------------------------


class Repo:
    """One opened repository, its project prefix and object caches shared by every GitTree."""

    def __init__(self, top: Path, prefix: str) -> None:
        self.top = top
        self.prefix = prefix
        self.repo = git.Repo(top)
        # gitpython's cat-file pipes answer one request at a time.
        self.lock = threading.RLock()
        self.blobs: OrderedDict[str, bytes] = OrderedDict()
        self.blob_bytes = 0
        self.trees: dict[str, dict[str, Entry]] = {}
        self.commit_trees: dict[str, str] = {}
        self.full_shas: dict[str, str] = {}

    def close(self) -> None:
        """Stop the persistent git processes."""
        self.repo.close()

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True, literal: bool = True
    ) -> _Output:
        """Run one git command in the top level; a failure becomes a PromptgitError."""
        # Literal pathspecs: a prompt file named `a*.jinja` must not match as a glob.
        flags = ["--literal-pathspecs"] if literal else []
        cmd = [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", *flags, *args]
        try:
            status, out, err = self.repo.git.execute(
                cmd,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
                env=dict(env or {}),
            )
        except git.GitCommandNotFound:
            raise _git_missing() from None
        err_text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
        result = _Output(status, out if isinstance(out, bytes) else str(out).encode(), err_text)
        if check and status != 0:
            raise PromptgitError(f"git {args[0]} failed: {last_line(redact(err_text, None))}")
        return result

    def header(self, name: str) -> tuple[str, str]:
        """(object id, type) of any revision expression; ValueError when git cannot find it."""
        with self.lock:
            try:
                sha, kind, _ = self.repo.git.get_object_header(name)
            except git.GitCommandNotFound:
                raise _git_missing() from None
        return _text(sha), _text(kind)

    def data(self, sha: str) -> bytes:
        """The raw content of one object."""
        with self.lock:
            try:
                _, _, _, content = self.repo.git.get_object_data(sha)
            except git.GitCommandNotFound:
                raise _git_missing() from None
        return content

    def blob(self, sha: str) -> bytes:
        """A blob's content, cached by id so identical files across commits are read once."""
        with self.lock:
            if sha in self.blobs:
                self.blobs.move_to_end(sha)
                return self.blobs[sha]
            content = self.data(sha)
            self.blobs[sha] = content
            self.blob_bytes += len(content)
            while self.blob_bytes > _BLOB_CACHE_BYTES and len(self.blobs) > 1:
                _, dropped = self.blobs.popitem(last=False)
                self.blob_bytes -= len(dropped)
            return content

    def tree(self, sha: str) -> dict[str, Entry]:
        """A tree's entries by name, cached by id."""
        with self.lock:
            if sha not in self.trees:
                self.trees[sha] = _parse_tree(self.data(sha))
            return self.trees[sha]

    def commit_tree(self, commit: str) -> str:
        """The root tree id of a commit."""
        with self.lock:
            if commit not in self.commit_trees:
                first_line = self.data(commit).split(b"\n", 1)[0]
                self.commit_trees[commit] = first_line.split()[1].decode()
            return self.commit_trees[commit]

    def store(self, kind: str, data: bytes) -> str:
        """Write one object into the object database (like `git hash-object -w`); returns its id."""
        # gitpython's GitCmdObjectDB.store spawns `git hash-object` per object; its loose-object parent
        # writes the same object in-process.
        stored = LooseObjectDB.store(self.repo.odb, IStream(kind, len(data), io.BytesIO(data)))
        return _text(stored.hexsha)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether commit `ancestor` is `descendant` or one of its ancestors."""
        return _is_ancestor(self, ancestor, descendant)

    def lookup(self, root: str, path: str, inside: str | None = None) -> Entry | None:
        """The entry at a top-level-relative `path` under tree `root`, following symlinks in the tree.

        With `inside` (a top-level-relative folder, "" for the whole repository), a link whose target
        leaves that folder raises _LinkOutside; without it such a link reads as a missing entry.
        """
        parts = path.split("/") if path else []
        tree, i, hops = root, 0, 0
        while i < len(parts):
            entry = self.tree(tree).get(parts[i])
            if entry is None:
                return None
            if entry.mode == _LINK:
                hops += 1
                written = self.blob(entry.sha).decode("utf-8", "replace")
                target = _link_target("/".join(parts[:i]), written)
                if inside is not None and (target is None or not _within(target, inside)):
                    raise _LinkOutside(written)
                if hops > _MAX_LINKS or target is None:
                    return None
                parts, tree, i = (target.split("/") if target else []) + parts[i + 1 :], root, 0
                continue
            if i == len(parts) - 1:
                return entry
            if not entry.is_tree:
                return None
            tree, i = entry.sha, i + 1
        return Entry(TREE_MODE, tree)

    def repo_path(self, path: str) -> str:
        """A project-relative path as git sees it from the top level."""
        path = normalize(path)
        if not self.prefix:
            return path
        return f"{self.prefix}/{path}" if path else self.prefix

    def project_path(self, repo_path: str) -> str:
        """A top-level-relative path back to project-relative (`../x` when outside the project)."""
        return posixpath.relpath(repo_path, self.prefix) if self.prefix else repo_path

    def pathspec(self, paths: Sequence[str] = ()) -> list[str]:
        """Top-level-relative pathspecs for project paths; the whole project when none are given."""
        return [self.repo_path(p) or "." for p in paths] or [self.prefix or "."]


_REPOS: OrderedDict[Path, Repo] = OrderedDict()
_REPOS_LOCK = threading.Lock()


def open_repo(project_root: Path) -> Repo:
    """The cached repository holding `project_root`; the least recently used ones are closed."""
    root = Path(project_root).resolve()
    with _REPOS_LOCK:
        if root in _REPOS:
            _REPOS.move_to_end(root)
            return _REPOS[root]
    top = _top_level(root)
    prefix = root.relative_to(top).as_posix()
    repo = Repo(top, "" if prefix == "." else prefix)
    with _REPOS_LOCK:
        _REPOS[root] = repo
        while len(_REPOS) > _OPEN_REPOS:
            _REPOS.popitem(last=False)[1].close()
    return repo


def _top_level(root: Path) -> Path:
    """The git top level above `root`, with a clear error when there is none."""
    if not root.is_dir():
        raise PromptgitError(f"project folder {root} does not exist")
    try:
        status, out, err = git.Git(root).execute(
            [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "rev-parse", "--show-toplevel"],
            with_extended_output=True,
            with_exceptions=False,
        )
    except git.GitCommandNotFound:
        raise _git_missing() from None
    if status != 0 or not out.strip():
        raise _not_a_repo(root, str(err))
    return Path(out.strip()).resolve()


def tracked(project_root: Path, path: str) -> bool:
    """Whether git tracks any file at or under the project-relative `path` (False outside a repository)."""
    try:
        repo = open_repo(project_root)
    except PromptgitError:
        return False
    return bool(repo.run("ls-files", "-z", "--", repo.repo_path(path) or ".").out)


def clear_cache() -> None:
    """Close every opened repository (stops git's persistent processes, drops object caches)."""
    with _REPOS_LOCK:
        while _REPOS:
            _REPOS.popitem()[1].close()


# --- reading the project at a revision --------------------------------------------------------


class GitTree:
    """The project's files at one commit, read from git objects without a checkout (a tree.Tree)."""

    def __init__(self, project_root: Path, rev: str) -> None:
        self._repo = open_repo(project_root)
        self.revision: str = _resolve(self._repo, rev)
        self._root = self._repo.commit_tree(self.revision)

    def _file(self, path: str) -> Entry | None:
        entry = self._repo.lookup(self._root, self._repo.repo_path(path), inside=self._repo.prefix)
        return entry if entry is not None and entry.is_file else None

    def read_bytes(self, path: str) -> bytes:
        """The file's content at this commit; FileNotFoundError when it is not a file there.

        A symbolic link whose target leaves the project is refused (tree.outside_link), as in the working tree.
        """
        try:
            entry = self._file(path)
        except _LinkOutside as link:
            raise outside_link(normalize(path), link.target) from None
        if entry is None:
            raise FileNotFoundError(path)
        return self._repo.blob(entry.sha)

    def exists(self, path: str) -> bool:
        """Whether `path` is a file at this commit (a link leaving the project counts: reading it is refused)."""
        try:
            return self._file(path) is not None
        except _LinkOutside:
            return True

    def files(self, folder: str) -> list[str]:
        """Every file under `folder` at this commit, sorted; hidden folders and __pycache__ skipped like WorkTree."""
        folder = normalize(folder)
        start = self._repo.repo_path(folder)
        entry = self._repo.lookup(self._root, start)
        if entry is None or not entry.is_tree:
            return []
        found = [f"{folder}/{rel}" if folder else rel for rel in self._walk(entry.sha, start, "")]
        return sorted(found)

    def _walk(self, tree: str, repo_dir: str, rel_dir: str) -> Iterator[str]:
        for name, entry in self._repo.tree(tree).items():
            rel = f"{rel_dir}/{name}" if rel_dir else name
            repo_path = f"{repo_dir}/{name}" if repo_dir else name
            if entry.is_tree:
                if not name.startswith(".") and name != "__pycache__":
                    yield from self._walk(entry.sha, repo_path, rel)
            elif entry.is_file:
                yield rel
            elif entry.mode == _LINK:
                try:
                    target = self._repo.lookup(self._root, repo_path, inside=self._repo.prefix)
                except _LinkOutside:
                    yield rel  # listed as the working tree lists it; reading it is refused
                    continue
                if target is not None and target.is_file:
                    yield rel


def resolve(project_root: Path, rev: str) -> str:
    """The full commit id `rev` names (short id, branch, tag, HEAD~1, ...)."""
    return _resolve(open_repo(project_root), rev)


def head(project_root: Path) -> str | None:
    """HEAD's commit id, or None in a repository without commits."""
    return _head(open_repo(project_root))


def file_at(project_root: Path, rev: str, path: str) -> bytes | None:
    """A file's content at `rev`, or None when it does not exist there."""
    try:
        return GitTree(project_root, rev).read_bytes(path)
    except FileNotFoundError:
        return None


def is_ancestor(project_root: Path, ancestor: str, descendant: str) -> bool:
    """Whether `ancestor` is `descendant` or one of its ancestors."""
    repo = open_repo(project_root)
    return _is_ancestor(repo, _resolve(repo, ancestor), _resolve(repo, descendant))


def _resolve(repo: Repo, rev: str) -> str:
    if rev in repo.full_shas:
        return repo.full_shas[rev]
    if not rev or rev.startswith("-") or "\n" in rev or rev == WORKTREE:
        raise PromptgitError(f"{rev!r} is not a git revision", hint="name a commit, branch or tag")
    try:
        sha, _ = repo.header(f"{rev}^{{commit}}")
    except ValueError:
        raise _unknown_revision(repo, rev) from None
    # Only full ids are cached: a branch or HEAD moves, a commit id never does.
    if _FULL_SHA.fullmatch(rev):
        repo.full_shas[rev] = sha
    return sha


def _head(repo: Repo) -> str | None:
    try:
        return repo.header("HEAD^{commit}")[0]
    except ValueError:
        return None


def _is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    result = repo.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
    if result.status not in (0, 1):
        raise PromptgitError(f"git merge-base failed: {last_line(result.err)}")
    return result.status == 0


def _unknown_revision(repo: Repo, rev: str) -> PromptgitError:
    """Explain why `rev` does not resolve, and say how to fix it."""
    if _head(repo) is None:
        return PromptgitError(
            f"unknown revision {rev!r}: the repository has no commits yet",
            hint="commit your files first, or leave out the revision to use the working tree",
        )
    try:
        _, kind = repo.header(rev)
        return PromptgitError(f"revision {rev!r} names a {kind}, not a commit")
    except ValueError:
        pass
    if Path(repo.repo.common_dir, "shallow").is_file():
        return PromptgitError(
            f"unknown revision {rev!r}: this is a shallow clone and the commit may be outside its history",
            hint=_FETCH_HINT,
        )
    if re.fullmatch(r"[0-9a-fA-F]{7,40}", rev):
        return PromptgitError(f"unknown revision {rev!r}: no such commit in this clone", hint=_FETCH_HINT)
    names = [ref.name for ref in repo.repo.refs]
    return PromptgitError(
        f"unknown revision {rev!r}", hint=did_you_mean(rev, names) or "name a commit id, branch or tag (see `git log`)"
    )


# --- history ---------------------------------------------------------------------------------


def history(
    project_root: Path,
    *,
    until: str = "HEAD",
    since: str | None = None,
    max_count: int | None = None,
    first_parent: bool = True,
) -> list[Commit]:
    """Commits reachable from `until` but not from `since`, oldest first (the `max_count` newest)."""
    repo = open_repo(project_root)
    revs = _range(repo, until, since)
    if revs is None:
        return []
    limit = [f"--max-count={max_count}"] if max_count is not None else []
    # A project in a subfolder only cares about commits that touch it; at the top level, every commit.
    paths = repo.pathspec() if repo.prefix else []
    entries = _log(repo, [*limit, *revs], paths, first_parent=first_parent, name_status=False)
    return [commit for commit, _ in reversed(entries)]


def commits_touching(
    project_root: Path,
    paths: Sequence[str],
    *,
    until: str = "HEAD",
    since: str | None = None,
    first_parent: bool = True,
) -> list[Commit]:
    """Commits that changed any of `paths` (files or folders, project-relative), oldest first, renames followed."""
    repo = open_repo(project_root)
    revs = _range(repo, until, since)
    if revs is None:
        return []
    tracked = {repo.repo_path(p) for p in paths}
    found: list[Commit] = []
    for commit, changes in _log(repo, revs, repo.pathspec(), first_parent=first_parent, name_status=True):
        if any(_covered(tracked, c.old_path) or _covered(tracked, c.new_path) for c in changes):
            found.append(commit)
        # Older commits knew a renamed file by its old name.
        tracked |= {c.old_path for c in changes if c.status == "R" and c.old_path and _covered(tracked, c.new_path)}
    return found[::-1]


def _covered(tracked: set[str], path: str | None) -> bool:
    """Whether `path` is one of the tracked paths or lies under one of them."""
    if path is None:
        return False
    return any(spec in ("", ".") or path == spec or path.startswith(spec + "/") for spec in tracked)


def _range(repo: Repo, until: str, since: str | None) -> list[str] | None:
    """Revision arguments for `since..until`; None when `until` is HEAD of a repo without commits."""
    if until == "HEAD" and _head(repo) is None:
        return None
    revs = [_resolve(repo, until)]
    if since is not None:
        revs.append(f"^{_resolve(repo, since)}")
    return revs


def _log(
    repo: Repo, revs: list[str], paths: list[str], *, first_parent: bool, name_status: bool
) -> list[tuple[Commit, list[Change]]]:
    """`git log` newest first, each commit with its changed files (top-level-relative)."""
    # -m with --first-parent shows a merge's diff against its first parent, on any git version.
    walk = ["--first-parent", "-m"] if first_parent else ["--date-order"]
    diff = ["-M", "--name-status"] if name_status else []
    out = repo.run(
        "log", "-z", "--format=%x1e%H%x00%aI%x00%at%x00%an%x00%P%x00%s", *walk, *diff, *revs, "--", *paths
    ).out.decode("utf-8", "replace")
    entries = []
    for record in out.split("\x1e")[1:]:
        fields = record.split("\0", 6)
        sha, date, stamp, author, parents, subject, rest = fields + [""] * (7 - len(fields))
        commit = Commit(sha, date, int(stamp), subject, author, tuple(parents.split()))
        entries.append((commit, _parse_name_status(rest.lstrip("\0\n"))))
    return entries


def _parse_name_status(text: str) -> list[Change]:
    """Parse `--name-status -z` output; paths stay top-level-relative."""
    tokens = [t for t in text.split("\0") if t != "" and t != "\n"]
    changes: list[Change] = []
    i = 0
    while i < len(tokens):
        status = tokens[i].strip()[:1]
        if status in ("R", "C"):
            old, new = tokens[i + 1], tokens[i + 2]
            changes.append(Change("R", old, new) if status == "R" else Change("A", None, new))
            i += 3
            continue
        path = tokens[i + 1]
        if status == "A":
            changes.append(Change("A", None, path))
        elif status == "D":
            changes.append(Change("D", path, None))
        else:  # M, T (type change), U (unmerged): the file is there on both sides and differs
            changes.append(Change("M", path, path))
        i += 2
    return changes


# --- changes, diffs, blame -------------------------------------------------------------------


def changed_files(project_root: Path, base: str, head: str | None) -> list[Change]:
    """Files changed from `base` to `head` (None: the working tree, untracked files included), renames as R."""
    repo = open_repo(project_root)
    base_sha = _resolve(repo, base)
    args = ["diff", "-M", "--name-status", "-z", "--no-ext-diff", "--no-textconv"]
    if head is None:
        with _worktree_index(repo) as env:
            out = repo.run(*args, "--cached", base_sha, "--", *repo.pathspec(), env=env).out
    else:
        out = repo.run(*args, base_sha, _resolve(repo, head), "--", *repo.pathspec()).out
    return [_to_project(repo, c) for c in _parse_name_status(out.decode("utf-8", "surrogateescape"))]


def _to_project(repo: Repo, change: Change) -> Change:
    """A change with top-level-relative paths made project-relative."""

    def rel(path: str | None) -> str | None:
        return None if path is None else repo.project_path(path)

    return Change(change.status, rel(change.old_path), rel(change.new_path))


def diff_text(project_root: Path, base: str, head: str | None, paths: Sequence[str]) -> str:
    """A unified diff of `paths` (all of the project when empty) from `base` to `head` (None: working tree)."""
    repo = open_repo(project_root)
    base_sha = _resolve(repo, base)
    relative = [f"--relative={repo.prefix}"] if repo.prefix else []
    args = ["-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", *relative]
    spec = repo.pathspec(paths)
    if head is None:
        with _worktree_index(repo) as env:
            out = repo.run(*args, "--cached", base_sha, "--", *spec, env=env).out
    else:
        out = repo.run(*args, base_sha, _resolve(repo, head), "--", *spec).out
    return out.decode("utf-8", "replace")


@contextmanager
def _worktree_index(repo: Repo) -> Iterator[dict[str, str]]:
    """A throwaway index holding the working tree, so git can diff it with untracked files and renames."""
    with tempfile.TemporaryDirectory(prefix="promptgit-index-") as tmp:
        index = Path(tmp, "index")
        real = Path(repo.repo.git_dir, "index")
        if real.is_file():
            # Starting from the real index keeps its stat data, so unchanged files are not re-hashed.
            shutil.copyfile(real, index)
        env = {"GIT_INDEX_FILE": str(index)}
        repo.run("add", "-A", "--", *_worktree_specs(repo), env=env, literal=False)
        yield env


def _worktree_specs(repo: Repo) -> list[str]:
    """The project folder, minus a local store that is not git-ignored (it would be hashed on every call)."""
    specs = [f":(literal){repo.prefix or '.'}"]
    store = f"{repo.prefix}/.promptgit" if repo.prefix else ".promptgit"
    # Naming an ignored path, even to exclude it, makes `git add` fail; so only exclude it when needed.
    if (repo.top / store).is_dir() and repo.run("check-ignore", "-q", store, check=False, literal=False).status == 1:
        specs.append(f":(exclude,literal){store}")
    return specs


def apply_patch(project_root: Path, patch: str, check_only: bool = False) -> str | None:
    """`git apply` `patch` (paths relative to the project) to the working tree, never the index; with
    `check_only`, `git apply --check`, which writes nothing. Returns git's complaint when the patch does
    not apply (nothing is then written: git applies all of a patch or none of it), else None.
    Hunk line counts are recounted (`--recount`): a patch's lines are what it changes; a hunk with little or
    no context applies where its header says (`--unidiff-zero`; proposals.patch_of places each header)."""
    repo = open_repo(project_root)
    args = ["apply", *_APPLY_FLAGS, *([f"--directory={repo.prefix}"] if repo.prefix else [])]
    with tempfile.TemporaryDirectory(prefix="promptgit-patch-") as tmp:
        file = Path(tmp, "proposal.patch")
        file.write_text(patch, encoding="utf-8")
        done = repo.run(*args, *(["--check"] if check_only else []), str(file), check=False)
    return None if done.status == 0 else _complaint(done.err)


def patched_files(patch: str, files: Mapping[str, bytes]) -> dict[str, bytes] | str:
    """`files` (project path -> content) with `patch` applied, computed by `git apply` in a scratch folder
    outside any repository, so the working tree is not touched; git's complaint when it does not apply."""
    with tempfile.TemporaryDirectory(prefix="promptgit-patched-") as tmp:
        root = Path(tmp, "tree")
        for path, data in files.items():
            target = root / normalize(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        file = Path(tmp, "proposal.patch")
        file.write_text(patch, encoding="utf-8")
        try:
            status, _, err = git.Git(root).execute(
                [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "apply", *_APPLY_FLAGS, str(file)],
                with_extended_output=True,
                with_exceptions=False,
                env={"GIT_CEILING_DIRECTORIES": tmp},  # never the repository of a folder above the scratch one
            )
        except git.GitCommandNotFound:
            raise _git_missing() from None
        if status != 0:
            return _complaint(str(err))
        return {path: (root / normalize(path)).read_bytes() for path in files}


_APPLY_FLAGS = ("--recount", "--unidiff-zero", "--whitespace=nowarn")


def _complaint(err: str) -> str:
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    return "; ".join(lines[:3]) or "git apply refused the patch"


def blame(project_root: Path, path: str, rev: str | None = None) -> list[BlameLine]:
    """Who last changed each line of `path` at `rev` (None: the working tree), following renames."""
    repo = open_repo(project_root)
    repo_path = repo.repo_path(path)
    if rev is not None:
        sha = _resolve(repo, rev)
        if not GitTree(project_root, sha).exists(path):
            raise PromptgitError(f"not a file at {sha[:12]}", file=path)
        return _blame(repo, [sha], repo_path)
    disk = repo.top / repo_path
    if not disk.is_file():
        raise PromptgitError("file not found", file=path)
    current = _head(repo)
    if current is None or not GitTree(project_root, current).exists(path):
        # git blame needs the file in HEAD; a new file is all uncommitted lines.
        lines = disk.read_bytes().decode("utf-8", "replace").splitlines()
        return [BlameLine(n, text, WORKTREE, normalize(path)) for n, text in enumerate(lines, 1)]
    return _blame(repo, [], repo_path)


def _blame(repo: Repo, revs: list[str], repo_path: str) -> list[BlameLine]:
    """Parse `git blame --line-porcelain`: a header per line, then the line after a tab."""
    out = repo.run("blame", "--line-porcelain", "-M", *revs, "--", repo_path).out
    lines: list[BlameLine] = []
    commit, number, filename = "", 0, repo_path
    for raw in out.split(b"\n"):
        if raw.startswith(b"\t"):
            lines.append(
                BlameLine(
                    number,
                    raw[1:].decode("utf-8", "replace"),
                    WORKTREE if commit == ZERO_SHA else commit,
                    repo.project_path(filename),
                )
            )
            commit = ""
        elif not commit and raw:
            fields = raw.split()
            commit, number = fields[0].decode(), int(fields[2])
        elif raw.startswith(b"filename "):
            filename = raw[len(b"filename ") :].decode("utf-8", "surrogateescape")
    return lines


# --- small helpers ---------------------------------------------------------------------------


def _text(value: str | bytes) -> str:
    """gitpython answers some calls in bytes, some in str."""
    return value.decode() if isinstance(value, bytes) else value


def _parse_tree(data: bytes) -> dict[str, Entry]:
    """A raw tree object's entries by name."""
    entries: dict[str, Entry] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries[name] = Entry(int(data[pos:space], 8), data[nul + 1 : nul + 21].hex())
        pos = nul + 21
    return entries


class _LinkOutside(Exception):
    """A symbolic link whose target leaves the project; `target` as the link spells it."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def _within(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")


def _link_target(folder: str, target: str) -> str | None:
    """Where a symlink in `folder` points, top-level-relative; None when it leaves the repository."""
    if target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(folder, target))
    if joined == ".." or joined.startswith("../"):
        return None
    return "" if joined == "." else joined


def redact(text: str, remote: str | None) -> str:
    """Hide credentials: the remote as given (it may be a URL with a token) and any user:pass@ in URLs."""
    if remote and ("://" in remote or "@" in remote):
        text = text.replace(remote, "<remote>")
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@", r"\1***@", text)


def last_line(text: str) -> str:
    """The line of git's stderr that says what went wrong (its first fatal/error line, else the last)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal: ", "error: "))]
    line = errors[0] if errors else (lines[-1] if lines else "unknown error")
    return line.removeprefix("fatal: ").removeprefix("error: ")


def remote_error(action: str, remote: str, err: str) -> PromptgitError:
    """A failed push or fetch, named without the remote's URL."""
    shown = remote if not ("://" in remote or "@" in remote) else "the remote"
    return PromptgitError(
        f"git {action} ({shown}) failed: {last_line(redact(err, remote))}",
        hint="check the remote name and your access to it (`git remote -v`)",
    )


def _git_missing() -> PromptgitError:
    return PromptgitError(
        "git is not installed or not on PATH", hint="install git, or point GIT_PYTHON_GIT_EXECUTABLE at it"
    )


def _not_a_repo(root: Path, err: str) -> PromptgitError:
    if "dubious ownership" in err:
        return PromptgitError(
            f"git refuses to read {root}: it is owned by another user",
            hint=f"git config --global --add safe.directory {root}",
        )
    return PromptgitError(
        f"{root} is not inside a git repository",
        hint="run `git init` and commit, or leave out the revision to read the working tree",
    )


# --- changed lines, for annotations ------------------------------------------------------------

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def changed_lines(project_root: Path, base: str, head: str | None, path: str) -> list[tuple[int, int]]:
    """The line ranges (first, last; 1-based, in `head`'s version of `path`) that differ from `base`.

    From `git diff -U0` (no context lines, so each hunk is exactly the changed lines); a hunk that only
    deletes lines is given as the line after the deletion, where a reviewer sees it. `head` None is the
    working tree. A path that does not exist at `head` gives no ranges.
    """
    repo = open_repo(project_root)
    base_sha = _resolve(repo, base)
    relative = [f"--relative={repo.prefix}"] if repo.prefix else []
    args = ["diff", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", *relative]
    spec = repo.pathspec([path])
    if head is None:
        with _worktree_index(repo) as env:
            out = repo.run(*args, "--cached", base_sha, "--", *spec, env=env).out
    else:
        out = repo.run(*args, base_sha, _resolve(repo, head), "--", *spec).out
    ranges = []
    for match in _HUNK.finditer(out.decode("utf-8", "replace")):
        start, count = int(match.group(1)), 1 if match.group(2) is None else int(match.group(2))
        ranges.append((start, start + count - 1) if count else (max(start + 1, 1), max(start + 1, 1)))
    return ranges
