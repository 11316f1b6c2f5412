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
# The report's headline when a change affects no suite (report.py writes it): such a report only
# updates an existing promptgit comment, it never opens a new one.
NOTHING_AFFECTED = "No suite is affected by this change: nothing to evaluate."
# Who a comment posted with GITHUB_TOKEN is written by: the token is an app installation's, for
# which GET /user answers 403 "Resource not accessible by integration". A GitHub App's own token
# posts as `<app-slug>[bot]`: name it in PROMPTGIT_COMMENT_AUTHOR.
ACTIONS_BOT = "github-actions[bot]"
STEP_SUMMARY_BYTES = 1024 * 1024  # GitHub's limit for one step's job summary
STEP_SUMMARY_CHARS = STEP_SUMMARY_BYTES // 4  # UTF-8 takes at most 4 bytes a character
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
    only_update: bool | None = None,
) -> CommentResult:
    """Create or update our one comment holding MARKER on the pull request; leave every other comment alone.

    `only_update` (default: whether the report says no suite is affected) updates an existing comment
    but creates none: the result's action is then `skipped`.
    """
    only_update = affects_no_suite(report) if only_update is None else only_update
    target = _target(env, pr_number)
    body = prepare_body(report)
    # A workflow_run follow-up reads the PR number from an untrusted artifact: requiring the PR's
    # head to be the evaluated commit stops a forged number from redirecting the comment.
    if head_sha is not None:
        _check_head(target, head_sha)
    existing = _find_comment(target, env)
    if existing is None:
        if only_update:
            return CommentResult("skipped", 0, "")  # nothing to say that is worth a new comment
        return _create(target, body)
    url = f"{target.api}/repos/{target.repo}/issues/comments/{existing['id']}"
    try:
        made = _request(target, "PATCH", url, {"body": body}, what="update the comment")
    except _HttpError as err:
        if err.status != 403 or err.rate_limited:
            raise
        return _create(target, body)  # not ours to edit after all (a transferred or locked comment): post ours
    return _result("updated", made.data)


def _create(target: _Target, body: str) -> CommentResult:
    url = f"{target.api}/repos/{target.repo}/issues/{target.pr}/comments"
    return _result("created", _request(target, "POST", url, {"body": body}, what="create the comment").data)


_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
# The verdict a fork follow-up shows comes from the workflow_run event: the artifact is written by a
# job that ran the pull request's code, so its own verdict line is only a claim.
_CONCLUSIONS = {"success": ("✅", "passed"), "failure": ("❌", "failed")}


def neutralise_mentions(text: str) -> str:
    """`text` with a zero-width space after every `@` that would start a mention, so nobody is notified."""
    return _MENTION.sub("@\u200b", text)


def follow_up_body(report: str, conclusion: str) -> str:
    """What the fork follow-up posts: the triggering run's conclusion as the verdict, then the artifact's
    report without its own verdict heading or markers, its @mentions neutralised."""
    icon, said = _CONCLUSIONS.get(conclusion, ("⚠️", "ended without a verdict"))
    lines = report.replace(MARKER, "").splitlines()
    while lines and (not lines[0].strip() or re.match(r"^##\s.*promptgit", lines[0])):
        lines.pop(0)  # the artifact's verdict heading: replaced by the one GitHub reports
    note = (
        f"The promptgit check on this pull request {said} (the run's conclusion, as GitHub reports it). "
        "The details below were produced by that run, which ran the pull request's code."
    )
    return f"{MARKER}\n## {icon} promptgit: check {said}\n\n{note}\n\n" + neutralise_mentions("\n".join(lines)) + "\n"


def affects_no_suite(report: str) -> bool:
    """Whether a report says its change affects no suite (in its headline, not anywhere a model output may be)."""
    return NOTHING_AFFECTED in report.splitlines()[:6]


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


def _find_comment(target: _Target, env: Mapping[str, str]) -> dict | None:
    """Our promptgit comment: the first holding MARKER among those written by the identity that posts.

    Anyone can write a comment containing MARKER; editing a stranger's comment (which a maintainer's
    token may do) would put our report under their name, or let them steer which comment we edit.
    """
    marked = [c for c in _comments(target) if MARKER in str(c.get("body") or "")]
    if not marked:
        return None
    login = _poster(target, env).lower()
    return next((c for c in marked if str((c.get("user") or {}).get("login") or "").lower() == login), None)


def _poster(target: _Target, env: Mapping[str, str]) -> str:
    """The login our comments are written by: the token's user, else (an app installation's token) its bot."""
    try:
        user = _request(target, "GET", f"{target.api}/user", None, what="read the token's user").data
    except _HttpError as err:
        if err.rate_limited or err.status not in (403, 404):
            raise
        return (env.get("PROMPTGIT_COMMENT_AUTHOR") or "").strip() or ACTIONS_BOT
    login = user.get("login") if isinstance(user, dict) else None
    if not isinstance(login, str) or not login:
        raise PromptgitError(f"GitHub's answer to GET {target.api}/user names no login", hint="check GITHUB_API_URL")
    return login


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


class _HttpError(PromptgitError):
    """An HTTP error answer from the API, with its status (callers may treat some as an answer)."""

    def __init__(self, message: str, *, hint: str, status: int, rate_limited: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.rate_limited = rate_limited


def _http_error(target: _Target, status: int, headers: Message, data: object, what: str) -> _HttpError:
    """An error that says what went wrong and what to do, for an HTTP error answer."""
    said = data.get("message", "") if isinstance(data, dict) else ""
    said = _scrub(str(said)[:300], target.token)
    head = f"GitHub answered {status} when trying to {what} on {target.repo}#{target.pr}"
    head += f": {said}" if said else ""
    if _is_rate_limited(status, headers, said):
        return _HttpError(f"{head} (rate limited)", hint=_rate_limit_hint(headers), status=status, rate_limited=True)
    hints = {
        401: "the token is invalid or expired; pass a valid `github-token`",
        403: _forbidden_hint(),
        404: f"check that {target.repo} and pull request #{target.pr} exist; a token without "
        "access to a private repository also gets 404",
        422: "GitHub rejected the comment body; check the report file",
    }
    return _HttpError(head, hint=hints.get(status, "GitHub may be having trouble; re-run the job later"), status=status)


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
    parser.add_argument(
        "--conclusion", help="the triggering run's conclusion (workflow_run): shown as the verdict, not the report's"
    )
    args = parser.parse_args(argv)
    try:
        report = read_report(args.report)
        pr = None if args.pr is None else _valid_pr(args.pr)
        body = report if args.conclusion is None else follow_up_body(report, args.conclusion.strip())
        result = post_report(body, pr_number=pr, head_sha=args.head_sha, only_update=affects_no_suite(report))
    except PromptgitError as exc:
        print(f"promptgit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(describe(result))
    return 0


def describe(result: CommentResult) -> str:
    """One line saying what `post_report` did."""
    if result.action == "skipped":
        return "no comment: no suite is affected and this pull request has no promptgit comment to update"
    return f"{result.action} comment {result.comment_id}: {result.url}"


def append_step_summary(markdown: str) -> bool:
    """Append the report to the job summary ($GITHUB_STEP_SUMMARY) when it is set; whether it was.

    Callers pass the report rendered for the summary's limit (STEP_SUMMARY_BYTES), not the comment's:
    a trimmed comment says the full report is here.
    """
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")
    return True


_ARTIFACT_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9._~/%?=&+-]*")


def link_html_report(report: str, url: str) -> str:
    """`report` with a line linking the HTML report at `url` after its headline (the first four lines:
    marker, verdict heading, blank, headline), where affects_no_suite still finds the headline.

    `url` is the artifact's https URL (actions/upload-artifact's `artifact-url`); anything else, or a
    character Markdown would read as the link's end, is a PromptgitError: the link is never built from
    text that could change the comment around it.
    """
    if not _ARTIFACT_URL.fullmatch(url):
        raise PromptgitError(
            f"--html-url {url!r} is not a plain https URL", hint="pass actions/upload-artifact's artifact-url output"
        )
    lines = report.split("\n")
    where = min(4, len(lines))
    line = f"📊 [The HTML report]({url}): each suite's trend over commits, every case with both outputs side by side."
    return "\n".join([*lines[:where], "", line, *lines[where:]])


def read_report(path: str) -> str:
    """The report file's text; an unreadable or non-UTF-8 file is a PromptgitError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptgitError(f"cannot read the report: {exc}", file=path) from None


if __name__ == "__main__":
    sys.exit(main())
