"""A project opened at a revision: its root folder, its files (a Tree) and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptgit.config import Settings, load_settings
from promptgit.tree import WORKTREE, Tree, WorkTree, find_project_root


@dataclass(frozen=True)
class Project:
    """What every command works on: files at one revision plus the settings found there."""

    root: Path
    tree: Tree
    settings: Settings

    @property
    def revision(self) -> str:
        """A full commit id, or WORKTREE."""
        return self.tree.revision

    @property
    def store_path(self) -> Path:
        """The local store's folder; always the working tree's settings, whatever the revision."""
        return self.root / load_settings(WorkTree(self.root)).cache


def open_project(rev: str | None = None, start: Path | None = None) -> Project:
    """Open the project around `start` (default: the current folder) at `rev` (default: working tree)."""
    root = find_project_root(start)
    tree: Tree
    if rev is None or rev == WORKTREE:
        tree = WorkTree(root)
    else:
        from promptgit.git import GitTree  # gitpython is imported only when a revision is read

        tree = GitTree(root, rev)
    return Project(root=root, tree=tree, settings=load_settings(tree))
