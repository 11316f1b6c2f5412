"""`promptgit sync push|pull`: stored results travel through git on a dedicated ref (docs/spec.md, "Sharing")."""

from __future__ import annotations

from promptgit.project import Project
from promptgit.sharing import SyncResult, pull_results, push_results
from promptgit.store import Store


def sync(project: Project, store: Store, direction: str, remote: str = "origin") -> SyncResult:
    """`push` publishes every stored result to `remote`; `pull` imports what `remote` has into the store."""
    move = push_results if direction == "push" else pull_results
    return move(project.root, store, remote)
