"""Results shared through git: the `refs/promptgit/results` ref, its files, and moving it to and from a remote.

Each file holds stored results of one fingerprint as gzipped JSON lines, under a folder named after
the fingerprint and a file name taken from its content, so a file never changes. A push writes one
file per fingerprint holding the union of what the ref had and what the store has, and drops the
files it supersedes, so the ref does not grow with every push. Fetching merges the remote's ref
three-way (a file one side dropped stays dropped), so concurrent pushes lose no row. Written with
git.py's plumbing (`Repo`); nothing here touches the working tree, the index or HEAD.

Anyone who can push a ref to the remote can write this one: a file that cannot be read (not gzip,
larger than MAX_FILE_BYTES once decompressed, not JSON lines, a record of the wrong shape) is
skipped with a reason, never fatal, and what is imported is stored as `shared`, which `ci` does not
reuse for the head side (docs/github-action.md, "Shared results and trust").
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import time
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.git import TREE_MODE, ZERO_SHA, Entry, Repo, last_line, open_repo, remote_error
from promptgit.store import Store
from promptgit.tree import normalize

RESULTS_REF = "refs/promptgit/results"
# The most one shared file may hold, compressed or decompressed: a file is read whole into memory,
# and a gzip "bomb" of a few kilobytes would otherwise expand to gigabytes. 64 MiB is about 100,000
# cases with outputs of 300 characters and their responses: far more than one fingerprint holds.
MAX_FILE_BYTES = 64 * 1024 * 1024
_SUFFIX = ".jsonl.gz"
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
# A push rejected because another push moved the ref first: fetch, merge and push again. Besides git's
# "fetch first" and "non-fast-forward", a push racing another one to the same ref (a CI matrix's shard
# jobs pushing at once) is refused while the remote holds the ref's lock ("failed to update ref", with
# "cannot lock ref" on stderr; hosts may say "failed to lock" or "incorrect old value provided").
# Attempts, and the jittered wait before each retry (seconds: up to FIRST * 2^attempt, at most CAP; about
# 15 s at most in all). Five attempts without a wait let some of six pushers starting together fail;
# with these, all six land (tests/test_shards.py, run 20 times).
PUSH_ATTEMPTS, PUSH_BACKOFF_FIRST, PUSH_BACKOFF_CAP = 12, 0.05, 2.0
_LOST_RACE = ("fetch first", "non-fast-forward", "failed to update ref", "failed to lock", "incorrect old value")


class BadSharedFile(ValueError):
    """A file in the results ref that cannot be read as results; the message says why."""


def pack(records: Iterable[dict[str, Any]]) -> bytes:
    """Stored result rows as one file's bytes: gzipped JSON lines, byte-identical for identical rows."""
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    return gzip.compress(text.encode("utf-8"), mtime=0)  # mtime 0: same results, same bytes, same file name


def unpack(data: bytes, limit: int = MAX_FILE_BYTES) -> list[dict[str, Any]]:
    """The records of one file written by `pack`; BadSharedFile when it is not one, or over `limit` bytes."""
    if len(data) > limit:
        raise BadSharedFile(f"{len(data):,} bytes, over the limit of {limit:,}")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: gzip framing only
    try:
        text = inflater.decompress(data, limit + 1)  # max_length: never more than limit + 1 bytes out
    except zlib.error as err:
        raise BadSharedFile(f"not a gzip file ({err})") from None
    if len(text) > limit or inflater.unconsumed_tail:
        raise BadSharedFile(f"decompresses to more than {limit:,} bytes")
    if not inflater.eof or inflater.unused_data:
        raise BadSharedFile("not one complete gzip stream (truncated, or data after its end)")
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise BadSharedFile("not UTF-8 text") from None
    return [_record(line, number) for number, line in enumerate(lines, 1) if line]


def _record(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as err:  # RecursionError: JSON nested thousands deep
        raise BadSharedFile(f"line {number} is not JSON ({str(err)[:80]})") from None
    if not isinstance(record, dict):
        raise BadSharedFile(f"line {number} is not a JSON object")
    return record


def file_name(fingerprint: str, data: bytes) -> str:
    """Where a fingerprint's packed results live in the ref: named by content, so a file never changes."""
    return f"{_folder(fingerprint)}/{hashlib.sha256(data).hexdigest()[:24]}{_SUFFIX}"


def _folder(fingerprint: str) -> str:
    return fingerprint.replace(":", "-")


@dataclass(frozen=True)
class SyncResult:
    """What a push or pull moved, and the files of the ref it could not read."""

    files: int  # result files written to (push) or read from (pull) the ref
    rows: int  # rows new to the receiving side
    skipped: tuple[str, ...] = ()  # "PATH: reason" for each file left out (kept in the ref as it is)


def push_results(project_root: Path, store: Store, remote: str = "origin") -> SyncResult:
    """Publish every result in `store` to `remote`'s results ref: one union file per fingerprint, merged."""
    repo = open_repo(project_root)
    written: set[str] = set()  # fingerprint folders given a new file, over every attempt
    rows: int | None = None  # counted against the remote as first fetched: later attempts see our own file
    for attempt in range(PUSH_ATTEMPTS):  # someone may push between our fetch and our push: merge, try again
        if attempt:
            # Jittered and growing, so pushers racing in lockstep (a matrix's jobs) spread out.
            time.sleep(random.uniform(0, min(PUSH_BACKOFF_CAP, PUSH_BACKOFF_FIRST * 2**attempt)))
        fetch_ref(project_root, remote)
        files, drop, new_rows, skipped = _consolidate(project_root, store)
        rows = new_rows if rows is None else rows
        written.update(path.rpartition("/")[0] for path in files)
        if files or drop:
            write_ref(project_root, files, f"promptgit: {len(files)} result file(s)", drop=drop)
        if _ref_tip(repo, RESULTS_REF) is None or _push(repo, remote, RESULTS_REF):
            return SyncResult(len(written), rows, tuple(skipped))
    raise PromptgitError(f"the remote's {RESULTS_REF} kept changing while pushing", hint="run the push again")


def pull_results(project_root: Path, store: Store, remote: str = "origin") -> SyncResult:
    """Fetch `remote`'s results ref and import every readable file in it into `store` (as shared rows)."""
    fetch_ref(project_root, remote)
    files, skipped = _read_results(project_root)
    rows, read = 0, 0
    for path, records in files.items():
        try:
            rows += store.import_results(records)
        except PromptgitError as err:  # a record of the wrong shape: the whole file is left out
            skipped.append(f"{path}: {err.message}")
            continue
        read += 1
    return SyncResult(read, rows, tuple(skipped))


def has_remote(project_root: Path, remote: str) -> bool:
    """Whether `remote` is a configured remote's name, or a URL or path (which git fetches from directly)."""
    if "/" in remote or ":" in remote or "\\" in remote:
        return True
    names = open_repo(project_root).run("remote").out.decode("utf-8", "replace").split()
    return remote in names


def _read_results(project_root: Path) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Every result file in the local ref, unpacked; and `PATH: reason` for those that cannot be."""
    repo = open_repo(project_root)
    tip = _ref_tip(repo, RESULTS_REF)
    files: dict[str, list[dict[str, Any]]] = {}
    skipped: list[str] = []
    for path, (sha, size) in (_blobs(repo, tip) if tip else {}).items():
        try:
            if size > MAX_FILE_BYTES:  # checked before reading: the blob itself is never loaded
                raise BadSharedFile(f"{size:,} bytes, over the limit of {MAX_FILE_BYTES:,}")
            files[path] = unpack(repo.blob(sha))
        except BadSharedFile as err:
            skipped.append(f"{path}: {err}")
    return files, skipped


def _blobs(repo: Repo, commit: str) -> dict[str, tuple[str, int]]:
    """Every file under a commit's tree: path -> (blob id, size in bytes), from one `git ls-tree`."""
    out = repo.run("ls-tree", "-r", "-l", "-z", "--full-tree", commit).out.decode("utf-8", "surrogateescape")
    found = {}
    for line in filter(None, out.split("\0")):
        meta, _, path = line.partition("\t")
        _mode, kind, sha, size = meta.split()
        if kind == "blob":
            found[path] = (sha, int(size))
    return found


def _key(record: dict[str, Any]) -> tuple[str, ...]:
    """A record's identity: two records with one key are two versions of one row."""
    kind = record.get("kind")
    if kind == "run":
        return ("run", str(record.get("fingerprint")))
    if kind == "case":
        return ("case", str(record.get("fingerprint")), str(record.get("case_id")), str(record.get("repeat")))
    if kind == "response":
        return ("response", str(record.get("key")))
    return ("other", json.dumps(record, sort_keys=True))  # a newer promptgit's kind: kept as it is


_KIND_ORDER = {"run": 0, "case": 1, "response": 2, "other": 3}


def _consolidate(project_root: Path, store: Store) -> tuple[dict[str, bytes], set[str], int, list[str]]:
    """The files to write and to drop so each fingerprint has one file holding the ref's rows and the store's.

    Returns (new files by path, paths to drop, rows new to the ref, `PATH: reason` of unreadable files).
    A folder whose files are already one up-to-date file is left alone; unreadable files stay as they are.
    """
    files, skipped = _read_results(project_root)
    folders: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path, records in files.items():
        folder, _, name = path.rpartition("/")
        if folder and name.endswith(_SUFFIX):
            folders.setdefault(folder, {})[path] = records
    ours = {_folder(fp): fp for fp in store.fingerprints()}
    new: dict[str, bytes] = {}
    drop: set[str] = set()
    rows = 0
    for folder in sorted(set(folders) | set(ours)):
        present = folders.get(folder, {})
        theirs = {_key(r): r for records in present.values() for r in records}
        mine = {_key(r): r for r in store.export_results([ours[folder]])} if folder in ours else {}
        merged = {**theirs, **mine}  # the store's version of a row wins: it may be this machine's own
        data = pack(merged[k] for k in sorted(merged, key=lambda k: (_KIND_ORDER.get(k[0], 3), k)))
        name = f"{folder}/{hashlib.sha256(data).hexdigest()[:24]}{_SUFFIX}"
        if set(present) == {name}:
            continue
        rows += len(merged.keys() - theirs.keys())
        new[name] = data
        drop.update(p for p in present if p != name)
    return new, drop, rows, skipped


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


def write_ref(
    project_root: Path,
    files: Mapping[str, bytes],
    message: str,
    ref: str = RESULTS_REF,
    drop: Collection[str] = (),
) -> str:
    """Commit `files` on top of `ref` (a union with its tree, new content winning by name), without the
    paths in `drop`; returns the tip."""
    repo = open_repo(project_root)
    _check_ref(ref)
    added = {normalize(name): Entry(0o100644, repo.store("blob", data)) for name, data in files.items()}
    for _ in range(5):  # another writer may move the ref between our read and our update
        tip = _ref_tip(repo, ref)
        old = _flatten(repo, repo.commit_tree(tip)) if tip else {}
        merged = {**{p: e for p, e in old.items() if p not in drop}, **added}
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
    if any(reason in line for line in rejected for reason in _LOST_RACE):
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
            union = _three_way(repo, ours, theirs)
            new = _commit(repo, _write_tree(repo, union), [ours, theirs], "promptgit: merge fetched results")
        if _update_ref(repo, ref, new, ours):
            return
    raise PromptgitError(f"{ref} kept changing while merging fetched results", hint="run the command again")


def _three_way(repo: Repo, ours: str, theirs: str) -> dict[str, Entry]:
    """Both sides' files, except one that a side dropped since their common ancestor (a superseded file)."""
    mine, yours = _flatten(repo, repo.commit_tree(ours)), _flatten(repo, repo.commit_tree(theirs))
    found = repo.run("merge-base", ours, theirs, check=False)
    base_commit = found.out.decode().strip() if found.status == 0 else ""
    base = _flatten(repo, repo.commit_tree(base_commit)) if base_commit else {}
    union = {**yours, **mine}
    # A path in the base that one side no longer has, while the other left it untouched, was dropped.
    return {
        path: entry
        for path, entry in union.items()
        if not (path in base and (path not in mine or path not in yours) and base[path] == entry)
    }


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
