"""Results shared through git: the `refs/promptgit/results` ref, its files, and moving it to and from a remote.

Each file holds one fingerprint's stored results as gzipped JSON lines, named by its content, so a
file never changes and two people's pushes merge as a plain union of trees. Written with git.py's
plumbing (`Repo`); nothing here touches the working tree, the index or HEAD.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.git import TREE_MODE, ZERO_SHA, Entry, Repo, last_line, open_repo, remote_error
from promptgit.store import Store
from promptgit.tree import normalize

RESULTS_REF = "refs/promptgit/results"
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}


def pack(records: list[dict[str, Any]]) -> bytes:
    """Stored result rows as one file's bytes: gzipped JSON lines, byte-identical for identical rows."""
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    return gzip.compress(text.encode("utf-8"), mtime=0)  # mtime 0: same results, same bytes, same file name


def unpack(data: bytes) -> list[dict[str, Any]]:
    """The rows of one file written by `pack`."""
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines() if line]


def file_name(fingerprint: str, data: bytes) -> str:
    """Where a fingerprint's packed results live in the ref: named by content, so a file never changes."""
    return f"{fingerprint.replace(':', '-')}/{hashlib.sha256(data).hexdigest()[:24]}.jsonl.gz"


@dataclass(frozen=True)
class SyncResult:
    """What a push or pull moved."""

    files: int  # result files written to (push) or read from (pull) the ref
    rows: int  # rows new to the receiving side


def push_results(project_root: Path, store: Store, remote: str = "origin") -> SyncResult:
    """Publish every result in `store` to `remote`'s results ref, merged with what is there."""
    fetch_ref(project_root, remote)
    existing = read_ref(project_root)
    new_files: dict[str, bytes] = {}
    rows = 0
    for fingerprint in store.fingerprints():
        records = list(store.export_results([fingerprint]))
        data = pack(records)
        name = file_name(fingerprint, data)
        if name not in existing:
            new_files[name] = data
            rows += len(records)
    if new_files:
        write_ref(project_root, new_files, f"promptgit: {len(new_files)} result file(s)")
    push_ref(project_root, remote)
    return SyncResult(len(new_files), rows)


def pull_results(project_root: Path, store: Store, remote: str = "origin") -> SyncResult:
    """Fetch `remote`'s results ref and import every result in it into `store`."""
    fetch_ref(project_root, remote)
    files = read_ref(project_root)
    rows = sum(store.import_results(unpack(data)) for data in files.values())
    return SyncResult(len(files), rows)


# Who signs results commits when the user has no git identity configured (typical in CI).
_FALLBACK_IDENT = {
    "GIT_AUTHOR_NAME": "promptgit",
    "GIT_AUTHOR_EMAIL": "promptgit@localhost",
    "GIT_COMMITTER_NAME": "promptgit",
    "GIT_COMMITTER_EMAIL": "promptgit@localhost",
}


def read_ref(project_root: Path, ref: str = RESULTS_REF) -> dict[str, bytes]:
    """Every file (path -> content) in the tree at `ref`; {} when the ref does not exist."""
    repo = open_repo(project_root)
    tip = _ref_tip(repo, _check_ref(ref))
    if tip is None:
        return {}
    return {path: repo.blob(entry.sha) for path, entry in _flatten(repo, repo.commit_tree(tip)).items()}


def write_ref(project_root: Path, files: Mapping[str, bytes], message: str, ref: str = RESULTS_REF) -> str:
    """Commit `files` on top of `ref` (a union with its tree, new content winning by name); returns the tip."""
    repo = open_repo(project_root)
    _check_ref(ref)
    added = {normalize(name): Entry(0o100644, repo.store("blob", data)) for name, data in files.items()}
    for _ in range(5):  # another writer may move the ref between our read and our update
        tip = _ref_tip(repo, ref)
        old = _flatten(repo, repo.commit_tree(tip)) if tip else {}
        merged = {**old, **added}
        if tip is not None and merged == old:
            return tip
        commit = _commit(repo, _write_tree(repo, merged), [tip] if tip else [], message)
        if _update_ref(repo, ref, commit, tip):
            return commit
    raise PromptgitError(f"{ref} kept changing while writing results", hint="run the command again")


def fetch_ref(project_root: Path, remote: str, ref: str = RESULTS_REF) -> None:
    """Fetch `ref` from `remote` into a tracking ref, then union-merge it into the local `ref`."""
    repo = open_repo(project_root)
    _check_ref(ref)
    tracking = _tracking_ref(remote, ref)
    result = repo.run("fetch", "--no-tags", "--quiet", remote, f"+{ref}:{tracking}", env=_NO_PROMPT, check=False)
    if result.status != 0:
        if "couldn't find remote ref" in result.err:
            return  # nobody has pushed results yet
        raise remote_error("fetch", remote, result.err)
    theirs = _ref_tip(repo, tracking)
    if theirs is not None:
        _merge_into(repo, ref, theirs)


def push_ref(project_root: Path, remote: str, ref: str = RESULTS_REF) -> None:
    """Push `ref` to `remote`; when someone pushed first, fetch, union-merge and push once more."""
    repo = open_repo(project_root)
    _check_ref(ref)
    if _ref_tip(repo, ref) is None:
        raise PromptgitError(f"nothing to push: {ref} does not exist yet", hint="store some results first")
    if _push(repo, remote, ref):
        return
    fetch_ref(project_root, remote, ref)
    if not _push(repo, remote, ref):
        raise PromptgitError(f"the remote's {ref} changed while pushing", hint="run the push again")


def _push(repo: Repo, remote: str, ref: str) -> bool:
    """Push; False when the remote rejected it because it holds commits we lack."""
    result = repo.run("push", "--porcelain", "--quiet", remote, f"{ref}:{ref}", env=_NO_PROMPT, check=False)
    if result.status == 0:
        return True
    report = result.out.decode("utf-8", "replace")
    rejected = [line for line in report.splitlines() if line.startswith("!")]
    if any("fetch first" in line or "non-fast-forward" in line for line in rejected):
        return False
    raise remote_error("push", remote, result.err or report)


def _merge_into(repo: Repo, ref: str, theirs: str) -> None:
    """Make `ref` hold everything in `theirs` too: fast-forward, or a merge commit whose tree is the union."""
    for _ in range(5):
        ours = _ref_tip(repo, ref)
        if ours == theirs or (ours is not None and repo.is_ancestor(theirs, ours)):
            return
        if ours is None or repo.is_ancestor(ours, theirs):
            new = theirs
        else:
            union = {**_flatten(repo, repo.commit_tree(theirs)), **_flatten(repo, repo.commit_tree(ours))}
            new = _commit(repo, _write_tree(repo, union), [ours, theirs], "promptgit: merge fetched results")
        if _update_ref(repo, ref, new, ours):
            return
    raise PromptgitError(f"{ref} kept changing while merging fetched results", hint="run the command again")


def _check_ref(ref: str) -> str:
    """`ref` itself, when it is a full ref name safe to pass to git."""
    if not ref.startswith("refs/") or not re.fullmatch(r"[A-Za-z0-9._/-]+", ref) or ".." in ref:
        raise PromptgitError(f"{ref!r} is not a valid ref name", hint=f"use a full ref such as {RESULTS_REF}")
    return ref


def _tracking_ref(remote: str, ref: str) -> str:
    """Where a remote's copy of `ref` is fetched to; a URL is hashed so no credential ends up in a ref name."""
    key = (
        remote
        if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", remote)
        else "url-" + hashlib.sha256(remote.encode()).hexdigest()[:12]
    )
    return f"refs/promptgit-remotes/{key}/{ref[len('refs/') :]}"


def _ref_tip(repo: Repo, ref: str) -> str | None:
    """The commit `ref` points at, or None when it does not exist."""
    try:
        return repo.header(f"{ref}^{{commit}}")[0]
    except ValueError:
        return None


def _flatten(repo: Repo, tree: str, base: str = "") -> dict[str, Entry]:
    """Every file under a tree by path."""
    found: dict[str, Entry] = {}
    for name, entry in repo.tree(tree).items():
        path = f"{base}/{name}" if base else name
        if entry.is_tree:
            found.update(_flatten(repo, entry.sha, path))
        elif entry.is_file:
            found[path] = entry
    return found


def _write_tree(repo: Repo, files: Mapping[str, Entry]) -> str:
    """Write the (possibly nested) tree holding `files`; returns its id."""
    here: dict[str, Entry] = {}
    below: dict[str, dict[str, Entry]] = {}
    for path, entry in files.items():
        first, _, rest = path.partition("/")
        if rest:
            below.setdefault(first, {})[rest] = entry
        else:
            here[first] = entry
    for name, subtree in below.items():
        here[name] = Entry(TREE_MODE, _write_tree(repo, subtree))
    # git orders tree entries as if folder names ended with "/".
    names = sorted(here, key=lambda n: n + "/" if here[n].is_tree else n)
    data = b"".join(
        b"%o %s\0%s" % (here[n].mode, n.encode("utf-8", "surrogateescape"), bytes.fromhex(here[n].sha)) for n in names
    )
    return repo.store("tree", data)


def _commit(repo: Repo, tree: str, parents: list[str], message: str) -> str:
    """`git commit-tree`, with a fallback identity when the user has none configured."""
    args = ["commit-tree", "--no-gpg-sign", tree, *[a for p in parents for a in ("-p", p)], "-m", message]
    result = repo.run(*args, check=False)
    if result.status != 0 and ("ident" in result.err or "tell me who you are" in result.err):
        result = repo.run(*args, env=_FALLBACK_IDENT, check=False)
    if result.status != 0:
        raise PromptgitError(f"git commit-tree failed: {last_line(result.err)}")
    return result.out.decode().strip()


def _update_ref(repo: Repo, ref: str, new: str, old: str | None) -> bool:
    """Move `ref` to `new` only if it still points at `old` (None: must not exist yet)."""
    result = repo.run("update-ref", "-m", "promptgit results", ref, new, old or ZERO_SHA, check=False)
    return result.status == 0
