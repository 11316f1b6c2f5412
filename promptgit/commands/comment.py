"""`promptgit comment`: create or update the one promptgit comment on a pull request (inside GitHub Actions)."""

from __future__ import annotations

from pathlib import Path

from promptgit.github import CommentResult, link_html_report, post_report, read_report


def comment(
    report_path: Path, pr_number: int | None = None, head_sha: str | None = None, html_url: str | None = None
) -> CommentResult:
    """Post the Markdown report `ci` wrote as the pull request's promptgit comment, editing ours when it exists;
    with `html_url`, the comment links the HTML report there (github.link_html_report)."""
    report = read_report(str(report_path))
    if html_url:
        report = link_html_report(report, html_url)
    return post_report(report, pr_number=pr_number, head_sha=head_sha)
