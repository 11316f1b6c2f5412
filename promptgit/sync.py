"""`promptgit sync push|pull`: stored results travel through git on a dedicated ref (SPEC section 6)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from promptgit import git
from promptgit.project import open_project
from promptgit.store import Store

RESULTS_REF = "refs/promptgit/results"


@dataclass(frozen=True)
class SyncResult:
    """What a push or pull moved."""

    files: int  # result files written to (push) or read from (pull) the ref
    rows: int  # rows new to the receiving side


def _pack(records: list[dict]) -> bytes:
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    return gzip.compress(text.encode("utf-8"), mtime=0)  # mtime 0: same results, same bytes, same file name


def _unpack(data: bytes) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines() if line]


def _file_name(fingerprint: str, data: bytes) -> str:
    # Named by content: a file never changes, so two people's pushes merge as a plain union.
    return f"{fingerprint.replace(':', '-')}/{hashlib.sha256(data).hexdigest()[:24]}.jsonl.gz"


def push(root: Path, remote: str = "origin") -> SyncResult:
    """Publish every locally stored result to `remote`'s results ref, merged with what is there."""
    project = open_project(None, root)
    git.fetch_ref(root, remote, RESULTS_REF)
    existing = git.read_results_ref(root, RESULTS_REF)
    new_files: dict[str, bytes] = {}
    rows = 0
    with Store(project.store_path) as store:
        for fingerprint in store.fingerprints():
            records = list(store.export_results([fingerprint]))
            data = _pack(records)
            name = _file_name(fingerprint, data)
            if name not in existing:
                new_files[name] = data
                rows += len(records)
    if new_files:
        git.write_results_ref(root, new_files, f"promptgit: {len(new_files)} result file(s)", RESULTS_REF)
    git.push_ref(root, remote, RESULTS_REF)
    return SyncResult(len(new_files), rows)


def pull(root: Path, remote: str = "origin") -> SyncResult:
    """Fetch `remote`'s results ref and import every result into the local store."""
    project = open_project(None, root)
    git.fetch_ref(root, remote, RESULTS_REF)
    files = git.read_results_ref(root, RESULTS_REF)
    rows = 0
    with Store(project.store_path) as store:
        for data in files.values():
            rows += store.import_results(_unpack(data))
    return SyncResult(len(files), rows)
