"""A project opened at a revision: its root folder, its files (a Tree) and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from promptgit.config import Settings, load_settings
from promptgit.errors import PromptgitError
from promptgit.tree import WORKTREE, Tree, WorkTree, find_project_root

if TYPE_CHECKING:  # suites imports this module's neighbours; only the type is needed here
    from promptgit.suites import Suite


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
        """The local store's folder; always the working tree's settings, whatever the revision.

        Raises PromptgitError when `cache:` names the project's own folder (or one above it), the
        prompts or evals folder, or a folder git tracks: the store writes and replaces files there.
        """
        settings = load_settings(WorkTree(self.root))
        return _cache_folder(self.root, settings)


def _cache_folder(root: Path, settings: Settings) -> Path:
    folder = (root / settings.cache).resolve()
    base = root.resolve()
    sources = [(base / settings.prompts).resolve(), (base / settings.evals).resolve()]
    clash = None
    if folder == base or folder in base.parents:
        clash = "the project's own folder" if folder == base else "a folder above the project"
    elif any(folder == s or folder in s.parents or s in folder.parents for s in sources):
        clash = "the prompts or evals folder"
    elif settings.cache != Settings.cache and folder.is_relative_to(base):
        from promptgit.git import tracked  # gitpython is imported only for a cache moved from its default

        if tracked(root, folder.relative_to(base).as_posix()):
            clash = "a folder git tracks"
    if clash:
        raise PromptgitError(
            f"cache: {settings.cache!r} is {clash}; the store writes and replaces files in it",
            file="promptgit.yaml",
            hint="point cache: at a folder of its own that git ignores, e.g. `cache: .promptgit`",
        )
    return folder


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


def no_suites(project: Project) -> PromptgitError:
    """The error for a project with no suite at all: a run over zero suites must never read as a pass."""
    evals = project.settings.evals
    where = "" if project.revision == WORKTREE else f" at {project.revision[:12]}"
    return PromptgitError(
        f"no suite to run: {evals}/ holds no suite file (*.yaml, *.yml){where}",
        file=f"{project.root / evals}",
        hint=f"add a suite such as {evals}/example.yaml (`promptgit init` writes one), or set `evals:` in "
        "promptgit.yaml to the folder that holds them",
    )


def no_cases(suite: Suite) -> PromptgitError | None:
    """The error for a suite with no case, None otherwise: a score over zero cases would pass any threshold."""
    if suite.cases:
        return None
    source = f"its dataset {suite.dataset}" if suite.dataset else "its `cases:`"
    return PromptgitError(
        f"suite {suite.name!r} has no cases: {source} holds no row",
        file=suite.dataset or suite.path,
        hint="add at least one case; a suite scored over zero cases would pass any gate",
    )
