"""The PR comment client against a local HTTP server on 127.0.0.1 that speaks the few GitHub endpoints it uses."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from promptgit import github
from promptgit.errors import PromptgitError
from promptgit.github import MARKER, MAX_BODY_CHARS, CommentResult, main, post_report
from tests.conftest import Result
from tests.openai_server import Server

TOKEN = "ghs_s3cretTOKENvalue0123456789"
REPO = "octo/prompts"
PR = 7


@dataclass
class FakeGitHub:
    """The state behind the fake API: one PR's comments, the requests seen, and an optional forced failure."""

    comments: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path+query, auth header
    fail: tuple[int, dict[str, str], dict] | None = None
    link_host: str | None = None  # serve rel="next" links on this host instead of our own
    head_sha: str = "a" * 40
    next_id: int = 1000
    port: int = 0
    # The token's user for GET /user; None: an app installation's token (GITHUB_TOKEN), which gets 403.
    user: str | None = None
    locked: set[int] = field(default_factory=set)  # comment ids a PATCH gets 403 for
    patch_fail: tuple[int, dict[str, str], dict] | None = None  # a forced failure for PATCH only

    @property
    def poster(self) -> tuple[str, str]:
        """(login, type) of the comments this token creates."""
        return (self.user, "User") if self.user else ("github-actions[bot]", "Bot")

    def add(self, body: str, *, login: str = "someone", kind: str = "User") -> dict:
        """Append an existing comment and return it."""
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "body": body,
            "user": {"login": login, "type": kind},
            "html_url": f"https://github.com/{REPO}/pull/{PR}#issuecomment-{self.next_id}",
        }
        self.comments.append(comment)
        return comment


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    comments_path = f"/repos/{REPO}/issues/{PR}/comments"
    one_comment = re.compile(rf"^/repos/{REPO}/issues/comments/(\d+)$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> dict:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def _seen(self) -> bool:
            state.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
            if state.fail is not None:
                self._send(state.fail[0], state.fail[2], state.fail[1])
                return False
            return True

        def do_GET(self) -> None:
            if not self._seen():
                return
            url = urlsplit(self.path)
            if url.path == f"/repos/{REPO}/pulls/{PR}":
                self._send(200, {"number": PR, "head": {"sha": state.head_sha}})
            elif url.path == "/user" and state.user is None:
                self._send(403, {"message": "Resource not accessible by integration"})
            elif url.path == "/user":
                self._send(200, {"login": state.user, "type": "User"})
            elif url.path == comments_path:
                self._list(parse_qs(url.query))
            else:
                self._send(404, {"message": "Not Found"})

        def _list(self, query: dict[str, list[str]]) -> None:
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            chunk = state.comments[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(state.comments):
                host = state.link_host or "127.0.0.1"
                nxt = f"http://{host}:{state.port}{comments_path}?per_page={per_page}&page={page + 1}"
                headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
            self._send(200, chunk, headers)

        def do_POST(self) -> None:
            if self._seen() and urlsplit(self.path).path == comments_path:
                login, kind = state.poster
                made = state.add(self._body()["body"], login=login, kind=kind)
                self._send(201, made)

        def do_PATCH(self) -> None:
            if not self._seen():
                return
            found = one_comment.match(urlsplit(self.path).path)
            target = [c for c in state.comments if found and c["id"] == int(found.group(1))]
            if not target:
                self._send(404, {"message": "Not Found"})
                return
            if state.patch_fail is not None:
                self._send(state.patch_fail[0], state.patch_fail[2], state.patch_fail[1])
                return
            if target[0]["id"] in state.locked:
                self._send(403, {"message": "Resource not accessible by integration"})
                return
            target[0]["body"] = self._body()["body"]
            self._send(200, target[0])

    return Handler


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def _env(server: FakeGitHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": PR}}))
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": f"http://127.0.0.1:{server.port}",
    }
    env.update(extra)
    return env


def _marked(server: FakeGitHub) -> list[dict]:
    return [c for c in server.comments if MARKER in c["body"]]


def test_updates_the_marked_comment_on_page_three_and_leaves_the_rest_byte_identical(
    server: FakeGitHub, tmp_path: Path
) -> None:
    for i in range(249):
        server.add(f"comment {i} with `code` and ünïcode", login=f"user{i % 7}")
    ours = server.add(f"{MARKER}\nold report", login="github-actions[bot]", kind="Bot")
    server.comments.insert(230, server.comments.pop())  # on page 3 of 100-per-page
    before = {c["id"]: json.dumps(c, sort_keys=True) for c in server.comments if c is not ours}

    first = post_report(f"{MARKER}\n## first", env=_env(server, tmp_path))
    second = post_report(f"{MARKER}\n## second", env=_env(server, tmp_path))

    assert first == CommentResult("updated", ours["id"], ours["html_url"])
    assert second == first
    assert len(server.comments) == 250
    assert [c["body"] for c in _marked(server)] == [f"{MARKER}\n## second"]
    after = {c["id"]: json.dumps(c, sort_keys=True) for c in server.comments if c is not ours}
    assert after == before
    listed = [path for method, path, _ in server.requests if method == "GET"]
    assert listed[:3] == [
        f"/repos/{REPO}/issues/{PR}/comments?per_page=100",
        f"/repos/{REPO}/issues/{PR}/comments?per_page=100&page=2",
        f"/repos/{REPO}/issues/{PR}/comments?per_page=100&page=3",
    ]
    assert [m for m, _, _ in server.requests] == ["GET", "GET", "GET", "GET", "PATCH"] * 2  # 4th: GET /user


def test_posting_twice_creates_once_then_updates_that_comment(server: FakeGitHub, tmp_path: Path) -> None:
    server.add("LGTM")
    created = post_report(f"{MARKER}\nfirst", env=_env(server, tmp_path))
    updated = post_report(f"{MARKER}\nsecond", env=_env(server, tmp_path))

    assert created.action == "created"
    assert updated == CommentResult("updated", created.comment_id, created.url)
    assert [c["body"] for c in server.comments] == ["LGTM", f"{MARKER}\nsecond"]
    assert {auth for _, _, auth in server.requests} == {f"Bearer {TOKEN}"}


def test_adds_the_marker_when_the_report_lacks_it(server: FakeGitHub, tmp_path: Path) -> None:
    post_report("## report", env=_env(server, tmp_path))
    post_report("## report 2", env=_env(server, tmp_path, GITHUB_TOKEN="", GH_TOKEN=TOKEN))

    assert [c["body"] for c in server.comments] == [f"{MARKER}\n## report 2"]


def test_prefers_the_bot_comment_over_a_human_quoting_the_marker(server: FakeGitHub, tmp_path: Path) -> None:
    human = server.add(f"> {MARKER}\n> copied report", login="alice")
    bot = server.add(f"{MARKER}\nreal report", login="github-actions[bot]", kind="Bot")

    result = post_report(f"{MARKER}\nnew", env=_env(server, tmp_path))

    assert result.comment_id == bot["id"]
    assert human["body"] == f"> {MARKER}\n> copied report"


def test_workflow_run_passes_the_pr_number_and_head_commit(server: FakeGitHub, tmp_path: Path) -> None:
    event = tmp_path / "run.json"
    event.write_text(json.dumps({"workflow_run": {"id": 5, "pull_requests": []}}))
    env = _env(server, tmp_path, GITHUB_EVENT_NAME="workflow_run", GITHUB_EVENT_PATH=str(event))

    result = post_report("## fork report", env=env, pr_number=PR, head_sha=server.head_sha)

    assert result.action == "created"
    assert [c["body"] for c in server.comments] == [f"{MARKER}\n## fork report"]


def test_refuses_a_pr_whose_head_is_not_the_evaluated_commit(server: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=_env(server, tmp_path), pr_number=PR, head_sha="b" * 40)

    assert "not at the evaluated commit bbbbbbbbbbbb" in caught.value.message
    assert server.comments == []


def test_missing_token_is_a_clear_error_before_any_request(server: FakeGitHub, tmp_path: Path) -> None:
    env = _env(server, tmp_path, GITHUB_TOKEN="")

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=env)

    assert caught.value.message == "no GitHub token: GITHUB_TOKEN (or GH_TOKEN) is not set"
    assert "github-token" in (caught.value.hint or "")
    assert server.requests == []


def test_not_a_pull_request_event_without_a_number(server: FakeGitHub, tmp_path: Path) -> None:
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    env = _env(server, tmp_path, GITHUB_EVENT_NAME="push", GITHUB_EVENT_PATH=str(event))

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=env)

    assert caught.value.message == "not a pull request event (push) and no PR number given"
    assert "--pr" in (caught.value.hint or "")


@pytest.mark.parametrize("bad", ["12; rm -rf /", "-3", "0", "", "1e3", "７"])
def test_a_pr_number_must_be_a_positive_integer(server: FakeGitHub, tmp_path: Path, bad: str) -> None:
    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=_env(server, tmp_path), pr_number=bad)  # type: ignore[arg-type]

    assert caught.value.message.endswith("is not a pull request number")
    assert server.requests == []


def test_fork_token_403_points_to_the_workflow_run_pattern(server: FakeGitHub, tmp_path: Path) -> None:
    server.fail = (403, {"x-ratelimit-remaining": "4999"}, {"message": "Resource not accessible by integration"})

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=_env(server, tmp_path))

    assert caught.value.message == (
        f"GitHub answered 403 when trying to list the comments of #{PR} on {REPO}#{PR}: "
        "Resource not accessible by integration"
    )
    assert "workflow_run" in caught.value.hint
    assert "docs/github-action.md#pull-requests-from-forks" in caught.value.hint
    assert "pull-requests: write" in caught.value.hint


def test_primary_rate_limit_says_when_it_resets(server: FakeGitHub, tmp_path: Path) -> None:
    reset = int(time.time()) + 600
    server.fail = (
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        {"message": "API rate limit exceeded for installation ID 1."},
    )

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=_env(server, tmp_path))

    assert caught.value.message.endswith("(rate limited)")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(reset))
    assert caught.value.hint == f"the rate limit resets at {when} (in about 10 min); re-run the job after that"


def test_secondary_rate_limit_honours_retry_after(server: FakeGitHub, tmp_path: Path) -> None:
    server.fail = (429, {"retry-after": "42"}, {"message": "You have exceeded a secondary rate limit."})

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=_env(server, tmp_path))

    assert caught.value.hint == "GitHub asks to wait 42 seconds before retrying; re-run the job after that"


def test_not_found_names_the_repository_and_pr(server: FakeGitHub, tmp_path: Path) -> None:
    server.fail = (404, {}, {"message": "Not Found"})

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=_env(server, tmp_path))

    assert f"check that {REPO} and pull request #{PR} exist" in caught.value.hint


def test_the_token_never_appears_in_errors_or_output(
    server: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A hostile or buggy server that echoes the credential back in its error message.
    server.fail = (403, {}, {"message": f"bad header Authorization: Bearer {TOKEN}"})
    report = tmp_path / "report.md"
    report.write_text("## report")
    env = _env(server, tmp_path)

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=env)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        code = main(["--report", str(report)])

    out = capsys.readouterr()
    assert code == 2
    assert "Bearer ***" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), repr(caught.value.args), out.out, out.err):
        assert TOKEN not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_next_link_to_another_host_is_not_followed(server: FakeGitHub, tmp_path: Path) -> None:
    for i in range(150):
        server.add(f"comment {i}")
    server.link_host = "localhost"  # a different origin: the token must not be sent there

    post_report("## report", env=_env(server, tmp_path))

    assert [m for m, _, _ in server.requests] == ["GET", "POST"]


def test_an_oversized_report_is_trimmed_with_its_markup_closed(server: FakeGitHub, tmp_path: Path) -> None:
    rows = "\n".join(f"| case-{i} | {'x' * 60} |" for i in range(2000))
    report = f"{MARKER}\n## promptgit\n<details><summary>regressions</summary>\n\n```text\n{rows}\n```\n</details>\n"

    post_report(report, env=_env(server, tmp_path))

    body = server.comments[0]["body"]
    assert len(report) > MAX_BODY_CHARS >= len(body)
    assert body.startswith(f"{MARKER}\n## promptgit\n<details>")
    assert body.count("```") % 2 == 0
    assert body.count("<details>") == body.count("</details>") == 1
    assert f"**Report trimmed**: it was {len(report):,} characters" in body


def test_an_unreachable_server_times_out_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    monkeypatch.setattr(github, "TIMEOUT_SECONDS", 0.5)
    env = _env(FakeGitHub(port=silent.getsockname()[1]), tmp_path)
    try:
        with pytest.raises(PromptgitError) as caught:
            post_report("## report", env=env)
    finally:
        silent.close()

    assert caught.value.message.startswith(f"could not list the comments of #{PR}: no answer from http://127.0.0.1:")
    assert "time out after 0s" in caught.value.hint or "time out after 1s" in caught.value.hint


def test_the_token_only_travels_over_https(server: FakeGitHub, tmp_path: Path) -> None:
    env = _env(server, tmp_path, GITHUB_API_URL="http://api.example.test")

    with pytest.raises(PromptgitError) as caught:
        post_report("## report", env=env)

    assert caught.value.message == "GITHUB_API_URL 'http://api.example.test' is not an https URL"


def test_main_posts_a_report_file_for_a_validated_pr(
    server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.md"
    report.write_text(f"{MARKER}\n## from the artifact\n")
    for name, value in _env(server, tmp_path, GITHUB_EVENT_NAME="workflow_run").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_EVENT_PATH", "")

    assert main(["--report", str(report), "--pr", "not-a-number"]) == 2
    assert main(["--report", str(report), "--pr", str(PR), "--head-sha", server.head_sha]) == 0

    out = capsys.readouterr()
    assert "'not-a-number' is not a pull request number" in out.err
    assert out.out == f"created comment {server.comments[0]['id']}: {server.comments[0]['html_url']}\n"


def test_a_marker_past_the_cut_is_kept_when_trimming() -> None:
    body = github.prepare_body("x" * 70_000 + f"\n{MARKER}\n")

    assert body.startswith(f"{MARKER}\nxxx")
    assert len(body) <= MAX_BODY_CHARS
    assert body.endswith("The full report is in the workflow run's job summary.\n")


# --- the comment is ours alone ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "stranger"),
    [
        (None, ("mallory", "User")),  # GITHUB_TOKEN: a person quoting the marker
        (None, ("renovate[bot]", "Bot")),  # another bot
        ("maintainer", ("github-actions[bot]", "Bot")),  # a PAT: the workflow bot's comment is not the PAT's
        ("maintainer", ("Maintainer-not", "User")),
    ],
)
def test_a_marked_comment_by_anyone_else_is_never_edited(
    server: FakeGitHub, tmp_path: Path, user: str | None, stranger: tuple[str, str]
) -> None:
    server.user = user
    theirs = server.add(f"{MARKER}\nnot yours", login=stranger[0], kind=stranger[1])

    first = post_report(f"{MARKER}\nours", env=_env(server, tmp_path))
    second = post_report(f"{MARKER}\nours again", env=_env(server, tmp_path))

    assert theirs["body"] == f"{MARKER}\nnot yours"
    assert (first.action, second) == ("created", CommentResult("updated", first.comment_id, first.url))
    assert [(c["user"]["login"], c["body"]) for c in server.comments] == [
        (stranger[0], f"{MARKER}\nnot yours"),
        (server.poster[0], f"{MARKER}\nours again"),
    ]


def test_a_pat_finds_its_own_comment_by_login_in_any_case(server: FakeGitHub, tmp_path: Path) -> None:
    server.user = "Octo-Dev"
    ours = server.add(f"{MARKER}\nold", login="octo-dev")

    assert post_report(f"{MARKER}\nnew", env=_env(server, tmp_path)).comment_id == ours["id"]
    assert ("GET", "/user") in [(m, p) for m, p, _ in server.requests]


def test_an_app_token_names_its_bot(server: FakeGitHub, tmp_path: Path) -> None:
    ours = server.add(f"{MARKER}\nold", login="my-app[bot]", kind="Bot")
    server.add(f"{MARKER}\nthe workflow bot's", login="github-actions[bot]", kind="Bot")

    result = post_report(f"{MARKER}\nnew", env=_env(server, tmp_path, PROMPTGIT_COMMENT_AUTHOR="my-app[bot]"))

    assert result == CommentResult("updated", ours["id"], ours["html_url"])


def test_a_403_on_editing_posts_our_own_comment(server: FakeGitHub, tmp_path: Path) -> None:
    old = server.add(f"{MARKER}\nold", login="github-actions[bot]", kind="Bot")
    server.locked.add(old["id"])

    result = post_report(f"{MARKER}\nnew", env=_env(server, tmp_path))

    assert result.action == "created" and result.comment_id != old["id"]
    assert [c["body"] for c in server.comments] == [f"{MARKER}\nold", f"{MARKER}\nnew"]


def test_a_rate_limited_edit_is_an_error_not_a_second_comment(server: FakeGitHub, tmp_path: Path) -> None:
    server.add(f"{MARKER}\nold", login="github-actions[bot]", kind="Bot")
    server.patch_fail = (403, {"x-ratelimit-remaining": "0"}, {"message": "API rate limit exceeded"})

    with pytest.raises(PromptgitError) as caught:
        post_report(f"{MARKER}\nnew", env=_env(server, tmp_path))

    assert caught.value.message == (
        f"GitHub answered 403 when trying to update the comment on {REPO}#{PR}: API rate limit exceeded (rate limited)"
    )
    assert [c["body"] for c in server.comments] == [f"{MARKER}\nold"]


NOTHING = f"{MARKER}\n## ✅ promptgit: pass\n\n{github.NOTHING_AFFECTED}\n"


def test_a_change_that_affects_no_suite_opens_no_comment(server: FakeGitHub, tmp_path: Path) -> None:
    server.add("LGTM")

    result = post_report(NOTHING, env=_env(server, tmp_path))

    assert result == CommentResult("skipped", 0, "")
    assert [c["body"] for c in server.comments] == ["LGTM"]
    assert [m for m, _, _ in server.requests] == ["GET"]
    assert github.describe(result) == (
        "no comment: no suite is affected and this pull request has no promptgit comment to update"
    )


def test_a_change_that_affects_no_suite_updates_our_comment_to_say_so(server: FakeGitHub, tmp_path: Path) -> None:
    ours = server.add(f"{MARKER}\n## ❌ promptgit: fail\nold numbers", login="github-actions[bot]", kind="Bot")

    assert post_report(NOTHING, env=_env(server, tmp_path)).action == "updated"
    assert ours["body"] == NOTHING


def test_the_no_suite_headline_counts_only_in_the_headline() -> None:
    report = f"{MARKER}\n## ❌ promptgit: fail\n\n1 suite affected by this change.\n\n"
    in_output = report + "| c1 | " + "row |\n" * 5 + github.NOTHING_AFFECTED + "\n"
    in_diff = report + "```diff\n" + "+line\n" * 5 + f"+{github.NOTHING_AFFECTED}\n```\n"
    assert [github.affects_no_suite(r) for r in (report, in_output, in_diff, NOTHING)] == [False, False, False, True]


# --- the fork follow-up -------------------------------------------------------------------------

HOSTILE = (
    f"{MARKER}\n## ✅ promptgit: pass\n\nAll good, @octocat and @org/team please merge.\n"
    f"```\nemail me: a@b.example\n```\n{MARKER}\n"
)


@pytest.mark.parametrize(
    ("conclusion", "heading"),
    [
        ("failure", "## ❌ promptgit: check failed"),
        ("success", "## ✅ promptgit: check passed"),
        ("cancelled", "## ⚠️ promptgit: check ended without a verdict"),
        ("", "## ⚠️ promptgit: check ended without a verdict"),
    ],
)
def test_the_follow_up_shows_the_runs_conclusion_and_pings_nobody(
    server: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    conclusion: str,
    heading: str,
) -> None:
    report = tmp_path / "report.md"
    report.write_text(HOSTILE, encoding="utf-8")
    for name, value in _env(server, tmp_path, GITHUB_EVENT_NAME="workflow_run").items():
        monkeypatch.setenv(name, value)
    args = ["--report", str(report), "--pr", str(PR), "--head-sha", server.head_sha, "--conclusion", conclusion]

    assert main(args) == 0

    body = server.comments[0]["body"]
    assert body.splitlines()[:2] == [MARKER, heading]
    assert body.count(MARKER) == 1
    assert "promptgit: pass" not in body
    assert "@\u200boctocat and @\u200borg/team" in body and "a@\u200bb.example" in body
    assert re.findall(r"@(?!\u200b)", body) == []
    assert capsys.readouterr().out.startswith("created comment ")


# --- the job summary holds the full report ------------------------------------------------------


def test_the_job_summary_holds_what_the_comment_had_to_leave_out(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.gitrepo import new_repo
    from tests.test_ci import prompt, run_ci, suite_yaml
    from tests.test_git_native import SETTINGS, dataset

    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    # Every case regresses, each with a long output: eight suites' tables overflow one comment.
    data = dataset(
        60, naive_right=set(range(60)), good_right=set(), outputs={i: f"{i} " + "x" * 400 for i in range(60)}
    )
    repo = new_repo(tmp_path / "repo")
    suites = {f"evals/route{i}.yaml": suite_yaml() for i in range(8)}
    files = {"promptgit.yaml": SETTINGS, "prompts/route.jinja": prompt("naive"), "evals/cases.jsonl": data, **suites}
    c1 = repo.commit("first prompt", files)
    c2 = repo.commit("edit the prompt", {"prompts/route.jinja": prompt("good", "Route the ticket to one queue.")})

    _, comment = run_ci(run_cli, repo, c1, c2, 0)  # no gates: a drop is reported, not failed

    full = summary.read_text(encoding="utf-8")
    assert len(comment) <= github.MAX_BODY_CHARS < len(full) <= github.STEP_SUMMARY_CHARS
    assert comment.count("60 regressed cases (first 25 shown)") == 8  # shrunk to fit a comment
    assert full.count("60 regressed cases (first 50 shown)") == 8  # the report at its usual limits


# --- the link to the HTML report ------------------------------------------------------------------

ARTIFACT_URL = "https://github.com/octo/prompts/actions/runs/123/artifacts/456"


def test_the_html_report_link_follows_the_headline() -> None:
    linked = github.link_html_report(NOTHING, ARTIFACT_URL)
    assert linked.splitlines() == [
        MARKER,
        "## ✅ promptgit: pass",
        "",
        github.NOTHING_AFFECTED,
        "",
        f"📊 [The HTML report]({ARTIFACT_URL}): each suite's trend over commits, every case with both outputs "
        "side by side.",
    ]
    assert github.affects_no_suite(linked)  # still no new comment for a change that affects nothing


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "http://github.com/octo/prompts/actions/runs/1/artifacts/2",
        f"{ARTIFACT_URL}) [click me](https://evil.example",
        f"{ARTIFACT_URL} @octocat",
        f"{ARTIFACT_URL}\n<script>",
        f"{ARTIFACT_URL}<img src=x>",
        "",
    ],
)
def test_anything_but_a_plain_https_url_is_refused(url: str) -> None:
    with pytest.raises(PromptgitError, match="is not a plain https URL"):
        github.link_html_report(NOTHING, url)
