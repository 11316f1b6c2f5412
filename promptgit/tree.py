"""Read a project's files from the working tree; `git.GitTree` reads them at a revision."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from promptgit.errors import PromptgitError

WORKTREE = "WORKTREE"
SETTINGS_FILE = "promptgit.yaml"


class Tree(Protocol):
    """A snapshot of the project's files; paths are POSIX and relative to the project root."""

    revision: str  # a full commit id, or WORKTREE

    def read_bytes(self, path: str) -> bytes:
        """The file's content; raises FileNotFoundError when it does not exist."""
        ...

    def exists(self, path: str) -> bool:
        """Whether `path` is a file in this snapshot."""
        ...

    def files(self, folder: str) -> list[str]:
        """Every file under `folder`, recursively, sorted."""
        ...

    def __hash__(self) -> int:
        """Snapshots are hashed by identity: per-snapshot caches (Jinja environments, graphs) key on them."""
        ...


def read_text(tree: Tree, path: str) -> str:
    """A file as UTF-8 text, with a clear error when it is missing or not text (see `decode`)."""
    try:
        data = tree.read_bytes(path)
    except FileNotFoundError:
        raise PromptgitError("file not found", file=path) from None
    return decode(data, path)


def decode(data: bytes, path: str) -> str:
    """Every file promptgit reads is decoded here: UTF-8, a leading byte-order mark read as nothing.

    Windows editors and Excel's "CSV UTF-8" start files with U+FEFF; kept, it would hide a prompt's
    `---` or rename a CSV's first column. Bytes that are not UTF-8 raise a PromptgitError naming the
    file, the line and the byte offset (0-based, counted in the file's bytes).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise PromptgitError(
            f"not UTF-8 text: byte 0x{data[err.start]:02x} at byte offset {err.start} ({err.reason})",
            file=path,
            line=line,
            hint="save the file as UTF-8 (most editors offer it under 'Save with encoding')",
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def normalize(path: str) -> str:
    """Collapse `a/./b/../c` to `a/c`; refuse paths that climb out of the project."""
    parts: list[str] = []
    for part in PurePosixPath(path.replace("\\", "/")).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PromptgitError(f"path {path!r} leaves the project folder")
            parts.pop()
        elif part == "/":
            raise PromptgitError(f"path {path!r} is absolute; use a path inside the project")
        else:
            parts.append(part)
    return "/".join(parts)


def outside_link(path: str, target: str) -> PromptgitError:
    """The one refusal for a file that is a symbolic link resolving outside the project (WorkTree and GitTree).

    Reading through it would put any file the process can read (`/proc/self/environ`, `~/.ssh/…`) into
    a rendered prompt, a model call and a report.
    """
    return PromptgitError(
        f"a symbolic link to {target}, outside the project: promptgit reads only the project's own files",
        file=path,
        hint="copy the file into the project instead of linking to it",
    )


class WorkTree:
    """The working tree, uncommitted changes included."""

    revision = WORKTREE

    def __init__(self, root: Path) -> None:
        self.root = root

    def read_bytes(self, path: str) -> bytes:
        """The file's content from disk; a symbolic link that resolves outside the project is refused."""
        full = self.root / normalize(path)
        if not full.is_file():
            raise FileNotFoundError(path)
        resolved = full.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise outside_link(normalize(path), str(resolved))
        return resolved.read_bytes()

    def exists(self, path: str) -> bool:
        """Whether the file exists on disk."""
        return (self.root / normalize(path)).is_file()

    def files(self, folder: str) -> list[str]:
        """Every file under `folder`, skipping hidden folders such as .git and .promptgit."""
        base = self.root / normalize(folder) if folder else self.root
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
            for name in filenames:
                found.append(Path(dirpath, name).relative_to(self.root).as_posix())
        return sorted(found)


def find_project_root(start: Path | None = None) -> Path:
    """The project's folder, looked for upward from `start` (default: the current folder) as git looks for `.git`.

    The nearest folder holding promptgit.yaml wins; without one anywhere, the nearest holding a `prompts/`
    or `evals/` folder (a project on the default layout needs no settings file). The walk stops at the git
    top level (the first folder holding `.git`) or the filesystem root: a repository's parent is never
    taken for its project. Raises PromptgitError naming every folder looked at when none qualifies.
    """
    here = (start or Path.cwd()).resolve()
    looked: list[Path] = []
    for folder in (here, *here.parents):
        looked.append(folder)
        if (folder / ".git").exists():
            break
    for marker in (_has_settings, _has_project_folders):
        found = next((folder for folder in looked if marker(folder)), None)
        if found is not None:
            return found
    stop = "the git top level" if (looked[-1] / ".git").exists() else "the filesystem root"
    raise PromptgitError(
        f"no promptgit project found: no {SETTINGS_FILE}, prompts/ or evals/ in "
        f"{', '.join(str(folder) for folder in looked)} (stopped at {stop})",
        hint="run promptgit from the project's folder (e.g. `cd ai` in a monorepo, or `working-directory:` "
        "in the workflow), or create one with `promptgit init`",
    )


def _has_settings(folder: Path) -> bool:
    return (folder / SETTINGS_FILE).is_file()


def _has_project_folders(folder: Path) -> bool:
    return (folder / "prompts").is_dir() or (folder / "evals").is_dir()
