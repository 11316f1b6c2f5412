"""The one throwaway git repository helper every test uses: driven through the git CLI, with fixed dates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class Repo:
    """A throwaway git repository; every commit is a minute after the one before, from a fixed clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_700_000_000

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """Run git (here, or in `cwd`) and return its stdout, stripped."""
        env = {**os.environ, "GIT_AUTHOR_DATE": f"{self.clock} +0000", "GIT_COMMITTER_DATE": f"{self.clock} +0000"}
        done = subprocess.run(["git", *args], cwd=cwd or self.path, env=env, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or delete, for None) files in the working tree."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | None] | None = None) -> str:
        """Write `files`, commit everything (an empty commit when nothing changed), return the full commit id."""
        self.write(files or {})
        self.clock += 60
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def status(self) -> str:
        """`git status --porcelain` (empty when clean)."""
        return self.git("status", "--porcelain", "--untracked-files=all")


def new_repo(path: Path, ignore_store: bool = True) -> Repo:
    """An empty repository on branch main, with promptgit's local store git-ignored unless told otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    repo = Repo(path)
    repo.git("init", "-q", "-b", "main")
    if ignore_store:
        repo.write({".gitignore": ".promptgit/\n"})
    return repo
