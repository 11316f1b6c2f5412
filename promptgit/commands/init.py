"""`promptgit init`: scaffold settings, an example prompt and suite, and the pull-request workflow."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from promptgit.errors import PromptgitError

GITIGNORE_ENTRY = ".promptgit/"
WORKFLOW = ".github/workflows/promptgit.yml"
COMMENT_WORKFLOW = ".github/workflows/promptgit-comment.yml"  # the fork follow-up (docs/github-action.md)
# The Action release the written workflows pin: a commit id, because whoever controls a repository
# can move a tag (zizmor's unpinned-uses rule), with its tag as a comment for people and Dependabot.
# Each release sets both: ACTION_TAG must be v<__version__> (tests/test_init.py checks it).
ACTION_COMMIT = "6637d96f768ecdc5343fc2206202da152989204b"
ACTION_TAG = "v0.1.0"


def scaffold_files() -> dict[str, str]:
    """The files `init` writes, by project-relative path."""
    root = resources.files("promptgit") / "scaffold"
    files = {}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            if entry.name == "__pycache__":
                continue
            rel = f"{prefix}{entry.name}"
            if entry.is_dir():
                stack.append((entry, rel + "/"))
            else:
                files[rel] = entry.read_text(encoding="utf-8")
    files[WORKFLOW] = workflow_text()
    files[COMMENT_WORKFLOW] = workflow_text("promptgit-comment-workflow.yml")
    return dict(sorted(files.items()))


def workflow_text(template: str = "promptgit-workflow.yml") -> str:
    """A workflow `init` writes, as users get it: the Action referenced by name, pinned to ACTION_COMMIT."""
    text = (resources.files("promptgit") / "templates" / template).read_text(encoding="utf-8")
    return text.replace("<ACTION_COMMIT>", ACTION_COMMIT).replace("<ACTION_TAG>", ACTION_TAG)


@dataclass(frozen=True)
class InitReport:
    """The files `init` wrote, project-relative, in the order written."""

    written: tuple[str, ...]


def init(root: Path) -> InitReport:
    """Write the scaffold into `root` (created if missing); refuse, writing nothing, to overwrite any file."""
    root.mkdir(parents=True, exist_ok=True)
    files = scaffold_files()
    existing = [path for path in files if (root / path).exists()]
    if existing:
        raise PromptgitError(
            f"refusing to overwrite {', '.join(existing)}",
            file=str(root),
            hint="run init in a new folder, or move these files away first",
        )
    written = []
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(path)
    if _ensure_gitignored(root / ".gitignore"):
        written.append(".gitignore")
    return InitReport(tuple(written))


def _ensure_gitignored(gitignore: Path) -> bool:
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if GITIGNORE_ENTRY in lines or GITIGNORE_ENTRY.rstrip("/") in lines:
        return False
    prefix = "" if not lines or lines[-1] == "" else "\n"
    with gitignore.open("a", encoding="utf-8") as handle:
        handle.write(f"{prefix}# promptgit's local store of model responses and results\n{GITIGNORE_ENTRY}\n")
    return True
