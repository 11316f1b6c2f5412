"""The one promptgit comment on a pull request, created or updated in place through the GitHub REST API."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from promptgit import __version__
from promptgit.errors import PromptgitError

MARKER = "<!-- promptgit-report -->"
MAX_BODY_CHARS = 65_536  # GitHub rejects a longer comment body with 422
TIMEOUT_SECONDS = 30.0
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments: a bound, so a server that always says rel="next" cannot loop us
API_VERSION = "2022-11-28"
FORK_DOCS = "docs/github-action.md#pull-requests-from-forks"

_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class CommentResult:
    """What `post_report` did: `created` or `updated` the comment `comment_id` at `url`."""

    action: str
    comment_id: int
    url: str


@dataclass(frozen=True)
class _Target:
    api: str
    repo: str
    pr: int
    token: str = field(repr=False)


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    data: object


def post_report(
    report: str,
    *,
    env: Mapping[str, str] = os.environ,
    pr_number: int | None = None,
    head_sha: str | None = None,
) -> CommentResult:
    """Create or update the one comment holding MARKER on the pull request; leave every other comment alone."""
    target = _target(env, pr_number)
    body = prepare_body(report)
    # A workflow_run follow-up reads the PR number from an untrusted artifact: requiring the PR's
    # head to be the evaluated commit stops a forged number from redirecting the comment.
    if head_sha is not None:
        _check_head(target, head_sha)
    existing = _find_comment(target)
    if existing is None:
        url = f"{target.api}/repos/{target.repo}/issues/{target.pr}/comments"
        made = _request(target, "POST", url, {"body": body}, what="create the comment")
        return _result("created", made.data)
    url = f"{target.api}/repos/{target.repo}/issues/comments/{existing['id']}"
    made = _request(target, "PATCH", url, {"body": body}, what="update the comment")
    return _result("updated", made.data)


def prepare_body(report: str) -> str:
    """The comment body: the report with MARKER first, trimmed to GitHub's size limit without breaking its markup."""
    body = report if MARKER in report else f"{MARKER}\n{report}"
    if len(body) <= MAX_BODY_CHARS:
        return body
    return _trim(body)


def _trim(body: str) -> str:
    """Cut an oversized body, then close what the cut left open so the rest of the page still renders."""
    note = (
        f"\n\n> **Report trimmed**: it was {len(body):,} characters and a comment holds at most "
        f"{MAX_BODY_CHARS:,}. The full report is in the workflow run's job summary.\n"
    )
    # Room for the note and for what is added below (a fence, a few </details>, the marker).
    kept = body[: MAX_BODY_CHARS - len(note) - 200]
    kept = kept[: kept.rfind("\n")] if "\n" in kept else kept
    closers = ""
    if kept.count("```") % 2:
        closers += "\n```"
    open_details = kept.count("<details") - kept.count("</details>")
    closers += "\n</details>" * min(max(open_details, 0), 10)
    kept = kept if MARKER in kept else f"{MARKER}\n{kept}"
    return kept + closers + note


def _target(env: Mapping[str, str], pr_number: int | None) -> _Target:
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
    if not token.strip():
        raise PromptgitError(
            "no GitHub token: GITHUB_TOKEN (or GH_TOKEN) is not set",
            hint="in a workflow, pass `github-token: ${{ github.token }}` to the action or set "
            "`env: GITHUB_TOKEN: ${{ github.token }}` on the step",
        )
    repo = env.get("GITHUB_REPOSITORY", "")
    if not _REPO_RE.match(repo):
        raise PromptgitError(
            f"GITHUB_REPOSITORY is {repo!r}, not `owner/name`",
            hint="run inside GitHub Actions, or set GITHUB_REPOSITORY=owner/name",
        )
    pr = _pr_number(env) if pr_number is None else _valid_pr(pr_number)
    return _Target(api=_api_url(env), repo=repo, pr=pr, token=token.strip())


def _api_url(env: Mapping[str, str]) -> str:
    api = (env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
    parts = urllib.parse.urlsplit(api)
    # The token travels in a header, so it only goes over TLS (plain HTTP only to this machine).
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return api
    raise PromptgitError(
        f"GITHUB_API_URL {api!r} is not an https URL",
        hint="leave GITHUB_API_URL unset for github.com; GitHub Enterprise sets it to https://HOST/api/v3",
    )


def _pr_number(env: Mapping[str, str]) -> int:
    event_name = env.get("GITHUB_EVENT_NAME", "")
    event = _read_event(env.get("GITHUB_EVENT_PATH", ""))
    pull = event.get("pull_request")
    if isinstance(pull, dict) and "number" in pull:
        return _valid_pr(pull["number"])
    issue = event.get("issue")
    if isinstance(issue, dict) and "pull_request" in issue and "number" in issue:
        return _valid_pr(issue["number"])
    raise PromptgitError(
        f"not a pull request event ({event_name or 'no GITHUB_EVENT_NAME'}) and no PR number given",
        hint="run on `pull_request`, or pass the number with `--pr N` (a workflow_run follow-up "
        f"reads it from the report artifact: see {FORK_DOCS})",
    )


def _read_event(path: str) -> dict:
    if not path:
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromptgitError(
            f"cannot read the event file GITHUB_EVENT_PATH={path}: {exc}",
            hint="GitHub Actions sets GITHUB_EVENT_PATH; outside Actions pass the PR number with --pr",
        ) from None
    return event if isinstance(event, dict) else {}


def _valid_pr(value: object) -> int:
    # bool is an int subclass; a PR number from an artifact may be any string at all.
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) < 1:
        raise PromptgitError(
            f"{str(value)[:40]!r} is not a pull request number",
            hint="a pull request number is a positive integer",
        )
    return int(text)


def _check_head(target: _Target, head_sha: str) -> None:
    url = f"{target.api}/repos/{target.repo}/pulls/{target.pr}"
    pull = _request(target, "GET", url, None, what=f"read pull request #{target.pr}").data
    actual = pull.get("head", {}).get("sha") if isinstance(pull, dict) else None
    if actual != head_sha.strip():
        raise PromptgitError(
            f"pull request #{target.pr} is at {str(actual)[:12]}, not at the evaluated commit {head_sha[:12]}",
            hint="the PR number does not belong to this run (or the PR moved on since); no comment was posted",
        )


def _find_comment(target: _Target) -> dict | None:
    """The promptgit comment: among those holding MARKER, the first by a bot, else the first."""
    marked = [c for c in _comments(target) if MARKER in str(c.get("body") or "")]
    bots = [c for c in marked if (c.get("user") or {}).get("type") == "Bot"]
    return next(iter(bots or marked), None)


def _comments(target: _Target) -> list[dict]:
    query = urllib.parse.urlencode({"per_page": PER_PAGE})
    url: str | None = f"{target.api}/repos/{target.repo}/issues/{target.pr}/comments?{query}"
    found: list[dict] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return found
        page = _request(target, "GET", url, None, what=f"list the comments of #{target.pr}")
        items = page.data if isinstance(page.data, list) else []
        found.extend(c for c in items if isinstance(c, dict))
        url = _next_link(page.headers.get("Link", ""), target.api)
    return found


def _next_link(header: str, api: str) -> str | None:
    """The rel="next" URL of a Link header, only if it stays on the API host (it will carry the token)."""
    for url, rels in _LINK_RE.findall(header):
        if "next" in rels.split():
            same = urllib.parse.urlsplit(url)[:2] == urllib.parse.urlsplit(api)[:2]
            return url if same else None
    return None


def _result(action: str, data: object) -> CommentResult:
    data = data if isinstance(data, dict) else {}
    return CommentResult(action=action, comment_id=int(data.get("id", 0)), url=str(data.get("html_url", "")))


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within one host: urllib would otherwise forward the Authorization header."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Refuse a redirect that leaves the host of the original request."""
        if urllib.parse.urlsplit(newurl)[:2] != urllib.parse.urlsplit(req.full_url)[:2]:
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameHostRedirects)


def _request(target: _Target, method: str, url: str, payload: dict | None, *, what: str) -> _Response:
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers=_headers(target.token))
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return _Response(response.status, response.headers, _json(response.read()))
    except urllib.error.HTTPError as exc:
        raise _http_error(target, exc.code, exc.headers, _json(exc.read()), what) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PromptgitError(
            _scrub(f"could not {what}: no answer from {target.api} ({reason})", target.token),
            hint=f"check GITHUB_API_URL and the runner's network; requests time out after {TIMEOUT_SECONDS:.0f}s",
        ) from None


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": f"promptgit/{__version__}",
        "Content-Type": "application/json",
    }


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None


def _http_error(target: _Target, status: int, headers: Message, data: object, what: str) -> PromptgitError:
    """A PromptgitError that says what went wrong and what to do, for an HTTP error answer."""
    said = data.get("message", "") if isinstance(data, dict) else ""
    said = _scrub(str(said)[:300], target.token)
    head = f"GitHub answered {status} when trying to {what} on {target.repo}#{target.pr}"
    head += f": {said}" if said else ""
    if _is_rate_limited(status, headers, said):
        return PromptgitError(f"{head} (rate limited)", hint=_rate_limit_hint(headers))
    if status == 401:
        return PromptgitError(head, hint="the token is invalid or expired; pass a valid `github-token`")
    if status == 403:
        return PromptgitError(head, hint=_forbidden_hint())
    if status == 404:
        return PromptgitError(
            head,
            hint=f"check that {target.repo} and pull request #{target.pr} exist; a token without "
            "access to a private repository also gets 404",
        )
    if status == 422:
        return PromptgitError(head, hint="GitHub rejected the comment body; check the report file")
    return PromptgitError(head, hint="GitHub may be having trouble; re-run the job later")


def _is_rate_limited(status: int, headers: Message, said: str) -> bool:
    if status not in (403, 429):
        return False
    if headers.get("x-ratelimit-remaining") == "0" or headers.get("retry-after"):
        return True
    return status == 429 or "rate limit" in said.lower()


def _rate_limit_hint(headers: Message) -> str:
    retry_after = (headers.get("retry-after") or "").strip()
    if retry_after.isdigit():
        return f"GitHub asks to wait {int(retry_after)} seconds before retrying; re-run the job after that"
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if reset.isdigit():
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(reset)))
        minutes = max(0, round((int(reset) - time.time()) / 60))
        return f"the rate limit resets at {when} (in about {minutes} min); re-run the job after that"
    return "a secondary rate limit: wait at least a minute, then re-run the job"


def _forbidden_hint() -> str:
    return (
        "the token may not write to this repository. On a pull request from a fork, GITHUB_TOKEN is "
        "read-only and secrets are withheld: upload the report as an artifact and comment from a "
        f"`workflow_run` workflow ({FORK_DOCS}). Otherwise give the job `permissions: pull-requests: write`."
    )


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def main(argv: list[str] | None = None) -> int:
    """Post a report file as the promptgit comment: `python -m promptgit.github --report FILE [--pr N]`."""
    # Stdlib only, so the write-token workflow_run job runs it from a trusted checkout and installs nothing.
    parser = argparse.ArgumentParser(prog="python -m promptgit.github", description="Post the promptgit comment.")
    parser.add_argument("--report", required=True, help="the Markdown report file")
    parser.add_argument("--pr", help="the pull request number (default: from the event)")
    parser.add_argument("--head-sha", help="refuse unless the pull request's head is this commit")
    args = parser.parse_args(argv)
    try:
        report = read_report(args.report)
        pr = None if args.pr is None else _valid_pr(args.pr)
        result = post_report(report, pr_number=pr, head_sha=args.head_sha)
    except PromptgitError as exc:
        print(f"promptgit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"{result.action} comment {result.comment_id}: {result.url}")
    return 0


def append_step_summary(markdown: str) -> bool:
    """Append the report to the job summary ($GITHUB_STEP_SUMMARY) when it is set; whether it was."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")
    return True


def read_report(path: str) -> str:
    """The report file's text; an unreadable or non-UTF-8 file is a PromptgitError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptgitError(f"cannot read the report: {exc}", file=path) from None


if __name__ == "__main__":
    sys.exit(main())
