"""`promptgit comment`: create or update the one promptgit comment on a pull request (inside GitHub Actions)."""

from __future__ import annotations

from pathlib import Path

from promptgit.github import CommentResult, post_report, read_report


def comment(report_path: Path, pr_number: int | None = None, head_sha: str | None = None) -> CommentResult:
    """Post the Markdown report `ci` wrote as the pull request's promptgit comment, editing ours when it exists."""
    return post_report(read_report(str(report_path)), pr_number=pr_number, head_sha=head_sha)
