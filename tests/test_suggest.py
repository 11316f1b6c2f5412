"""`promptgit suggest` (issue 14, part 3) against the local test server, whose replies to the meta-prompt are scripted.

The project's prompt answers each case with a dataset field through the server's `ANSWER:` marker: the
`naive` field (right on c0-c2 of 8) or, once the scripted diff is applied, the `good` field (right on all 8).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptgit import proposals
from tests.conftest import Result
from tests.gitrepo import Repo, new_repo
from tests.openai_server import Server

pytestmark = pytest.mark.usefixtures("git_env")

SETTINGS = "defaults: {model: openai/test-model, temperature: 0}\nconcurrency: 4\n"
PROMPT = (
    "---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket.\n{% include '_queues.jinja' %}\n"
    "user:\nTicket {{ text }}\nANSWER: {{ naive }}\n"
)
QUEUES = "Queues: billing, refunds.\n"
SUITE = "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\nthreshold: 0.5\n"
LABELS = ("billing", "refunds")
# The meta-prompt's last user message starts with this; the cases' messages never hold it.
META = "Template prompts/route.jinja:"

FIX = """\
ROOT CAUSE: instruction
REASONING: The template answers with the naive field. The good one is right.
```diff
--- a/prompts/route.jinja
+++ b/prompts/route.jinja
@@ -8,1 +8,1 @@
-ANSWER: {{ naive }}
+ANSWER: {{ good }}
```
"""
FIXED = PROMPT.replace("{{ naive }}", "{{ good }}")


def rows() -> str:
    lines = []
    for i in range(8):
        label = LABELS[i % 2]
        wrong = LABELS[(i + 1) % 2]
        row = {"id": f"c{i}", "text": f"ticket {i}", "label": label, "naive": label if i < 3 else wrong, "good": label}
        lines.append(json.dumps(row) + "\n")
    return "".join(lines)


def project(path: Path) -> Repo:
    repo = new_repo(path)
    repo.commit(
        "route tickets",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": PROMPT,
            "prompts/_queues.jinja": QUEUES,
            "evals/route.yaml": SUITE,
            "evals/cases.jsonl": rows(),
        },
    )
    return repo


def suggest(run_cli: Callable[..., Result], repo: Repo, *args: str, code: int = 0) -> dict[str, Any]:
    result = run_cli(["suggest", "route", "--json", "-q", *args], repo.path)
    assert result.code == code, result.err + result.out
    return dict(json.loads(result.out))


def template(repo: Repo) -> bytes:
    return (repo.path / "prompts/route.jinja").read_bytes()


def meta_requests(server: Server) -> list[Any]:
    return [r for r in server.requests if META in r.body["messages"][-1]["content"]]


def test_try_applies_measures_against_head_and_restores_the_file_byte_for_byte(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    openai_server.configure(replies={META: FIX})
    before = template(repo)
    document = suggest(run_cli, repo, "--try")
    assert template(repo) == before and repo.status() == ""
    assert (document["outcome"], document["verdict"], document["root_cause"]) == ("proposed", "pass", "instruction")
    assert document["reasoning"] == "The template answers with the naive field. The good one is right."
    assert document["score"] == 3 / 8
    assert [c["id"] for c in document["cases"]] == ["c3", "c4", "c5", "c6", "c7"]  # the default 5, lowest first
    assert document["diff"] == (
        "--- a/prompts/route.jinja\n+++ b/prompts/route.jinja\n"
        "@@ -9,1 +9,1 @@\n-ANSWER: {{ naive }}\n+ANSWER: {{ good }}\n"
    )
    comparison = document["comparison"]
    assert (comparison["base_score"], comparison["head_score"], comparison["up"], comparison["down"]) == (
        0.375,
        1.0,
        5,
        0,
    )
    assert comparison["improved"] == ["c3", "c4", "c5", "c6", "c7"]
    assert document["applied"] is False
    assert document["commit_message"].startswith("route: The template answers with the naive field\n\nRoot cause: ")
    assert "+62.5 pts" in document["commit_message"]
    [meta] = meta_requests(openai_server)
    shown = meta.body["messages"][-1]["content"]
    assert "Included file prompts/_queues.jinja" in shown and QUEUES.strip() in shown
    assert (
        'input: {"text": "ticket 3", "naive": "billing"} expected: "refunds" output: "billing"' in shown
        and "exact_match: " in shown
    )
    assert shown[shown.index("Failure patterns:") : shown.index("Lowest-scoring")] == (
        "Failure patterns:\n- expected refunds, answered billing: 3 cases\n"
        "- expected billing, answered refunds: 2 cases\n- exact_match: expected <text>, got <text> (5 cases)\n"
    )
    assert meta.body["max_tokens"] == 400 and meta.body["temperature"] == 0
    again = suggest(run_cli, repo, "--try")
    assert (again["calls"], again["diff"], again["verdict"]) == (0, document["diff"], "pass")
    assert len(meta_requests(openai_server)) == 1  # the repeated suggest was answered from the cache
    assert template(repo) == before


def test_the_text_output_shows_the_cause_the_diff_the_measurement_and_a_commit_command(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    openai_server.configure(replies={META: FIX})
    result = run_cli(["suggest", "route", "--try", "-q"], repo.path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "route: score 37.5%; 5 lowest-scoring case(s) shown to openai/test-model"
    assert lines[1:3] == ["root cause: instruction", f"reasoning: {FIX.splitlines()[1][len('REASONING: ') :]}"]
    assert lines[3:8] == [
        "--- a/prompts/route.jinja",
        "+++ b/prompts/route.jinja",
        "@@ -9,1 +9,1 @@",
        "-ANSWER: {{ naive }}",
        "+ANSWER: {{ good }}",
    ]
    assert "route  37.5%  100.0%  +62.5 [+0.0, +100.0] p = 0.0625, 5 up / 0 down within noise" in result.out
    assert lines[-3:-1] == ["pass: within the gates", "the file is restored"]
    assert lines[-1] == (
        "once applied, commit it with: git commit -am 'route: The template answers with the naive field' -m "
        "'Root cause: instruction. Proposed by `promptgit suggest` (openai/test-model). "
        "Measured against HEAD: +62.5 pts (p=0.0625), pass.'"
    )


def test_apply_writes_the_change_and_commits_nothing(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    head = repo.git("rev-parse", "HEAD")
    openai_server.configure(replies={META: FIX})
    document = suggest(run_cli, repo, "--apply")
    assert template(repo) == FIXED.encode()
    assert (document["applied"], document["comparison"], repo.git("rev-parse", "HEAD")) == (True, None, head)
    assert repo.status() == "M prompts/route.jinja"


def test_try_keep_leaves_the_measured_change_in_place(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    openai_server.configure(replies={META: FIX})
    document = suggest(run_cli, repo, "--try", "--keep")
    assert (document["applied"], document["comparison"]["head_score"]) == (True, 1.0)
    assert template(repo) == FIXED.encode()


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        # Lines the template does not hold, with a header git places nowhere.
        (
            "ROOT CAUSE: context\n```diff\n--- a/prompts/route.jinja\n+++ b/prompts/route.jinja\n"
            "@@ -3,1 +3,2 @@\n-Route the invoice.\n+Route the invoice to a queue.\n```\n",
            "error: patch failed: prompts/route.jinja:3; error: prompts/route.jinja: patch does not apply",
        ),
        # A file the template does not read.
        (
            "ROOT CAUSE: context\n```diff\n--- a/prompts/other.jinja\n+++ b/prompts/other.jinja\n"
            "@@ -1,1 +1,1 @@\n-a\n+b\n```\n",
            "the diff changes prompts/other.jinja, which is not the template or a file it includes",
        ),
        # Hunk lines that are nowhere in the file and a header with no numbers.
        (
            "ROOT CAUSE: format\n```diff\n@@ @@\n-Answer in French.\n+Answer in English.\n```\n",
            "a hunk's lines are not in the file and its header gives no line numbers",
        ),
        # A diff whose old and new sides are the same.
        (
            "ROOT CAUSE: format\n```diff\n@@ -5,1 +5,1 @@\n-Route the ticket.\n+Route the ticket.\n```\n",
            "the diff changes nothing",
        ),
    ],
)
def test_a_diff_that_does_not_apply_is_inconclusive_with_the_reply_saved_and_the_file_untouched(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], reply: str, problem: str
) -> None:
    repo = project(tmp_path / "repo")
    openai_server.configure(replies={META: reply})
    document = suggest(run_cli, repo, "--try", code=3)
    assert (document["outcome"], document["verdict"], document["problem"]) == (
        "does not apply",
        "inconclusive",
        problem,
    )
    assert template(repo) == PROMPT.encode() and repo.status() == ""
    saved = Path(document["reply_file"])
    assert saved.parent == repo.path / ".promptgit" / "suggest"
    assert saved.read_text(encoding="utf-8") == reply


@pytest.mark.parametrize(
    ("new_line", "problem"),
    [
        ("ANSWER: {{ nowhere }}", "uses 'nowhere', which the suite's cases never provide"),
        ("ANSWER: {{ good", "template syntax error"),
        ("ANSWER: {% include '_gone.jinja' %}", "_gone.jinja"),
    ],
)
def test_a_diff_that_applies_but_breaks_check_is_inconclusive_and_untouched(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], new_line: str, problem: str
) -> None:
    repo = project(tmp_path / "repo")
    reply = "ROOT CAUSE: instruction\nREASONING: x.\n```diff\n@@ -8,1 +8,1 @@\n-ANSWER: {{ naive }}\n"
    reply += f"+{new_line}\n```\n"
    openai_server.configure(replies={META: reply})
    result = run_cli(["suggest", "route", "--try", "-q"], repo.path)
    assert result.code == 3, result.err
    assert "inconclusive: the proposal breaks check: " in result.out
    assert problem in result.out
    assert template(repo) == PROMPT.encode() and repo.status() == ""
    assert len([r for r in openai_server.requests if META not in r.body["messages"][-1]["content"]]) == 8  # no re-eval


@pytest.mark.parametrize(
    "reply",
    [
        "ROOT CAUSE: instruction\nREASONING: The answers are wrong.\n",
        "I would change the wording of the instruction to be clearer.",
        "ROOT CAUSE: format\nREASONING: x.\n```\nsome text that is not a diff\n```\n",
    ],
)
def test_a_reply_with_no_diff_is_inconclusive_and_saved(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], reply: str
) -> None:
    repo = project(tmp_path / "repo")
    openai_server.configure(replies={META: reply})
    document = suggest(run_cli, repo, "--apply", code=3)
    assert (document["outcome"], document["problem"], document["diff"]) == (
        "no diff",
        "the reply holds no unified diff",
        None,
    )
    assert Path(document["reply_file"]).read_text(encoding="utf-8") == reply
    assert template(repo) == PROMPT.encode()


def test_a_capability_answer_proposes_no_patch_and_says_what_would_help(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    # Even with a diff in it, a capability answer is not a wording patch.
    reply = (
        "ROOT CAUSE: capability\nREASONING: It cannot count.\nHELP: split the task in two prompts.\n"
        + FIX[FIX.index("```diff") :]
    )
    openai_server.configure(replies={META: reply})
    document = suggest(run_cli, repo, "--try", "--keep")
    assert (document["outcome"], document["verdict"], document["diff"], document["applied"]) == (
        "capability",
        "pass",
        None,
        False,
    )
    assert (document["root_cause"], document["help"]) == ("capability", "split the task in two prompts.")
    assert template(repo) == PROMPT.encode()
    text = run_cli(["suggest", "route", "-q"], repo.path)
    assert text.code == 0
    assert text.out.splitlines()[-1] == (
        "no patch: rewording will not fix a capability problem. Instead: split the task in two prompts."
    )


def test_a_suite_with_every_case_right_asks_no_model(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    repo.commit("good", {"prompts/route.jinja": FIXED})
    document = suggest(run_cli, repo)
    assert (document["outcome"], document["cases"], document["calls"]) == ("nothing to fix", [], 0)
    assert meta_requests(openai_server) == []


def test_cases_and_model_options_reach_the_meta_call(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = project(tmp_path / "repo")
    openai_server.configure(replies={META: FIX})
    document = suggest(run_cli, repo, "--cases", "2", "--model", "openai/other-model")
    assert ([c["id"] for c in document["cases"]], document["model"]) == (["c3", "c4"], "openai/other-model")
    [meta] = meta_requests(openai_server)
    assert meta.body["model"] == "other-model"
    assert "ticket 4" in meta.body["messages"][-1]["content"] and "ticket 5" not in meta.body["messages"][-1]["content"]


def test_keep_without_try_is_a_usage_error(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    repo = project(tmp_path / "repo")
    result = run_cli(["suggest", "route", "--keep"], repo.path)
    assert (result.code, result.err.strip()) == (
        2,
        "promptgit: error: --keep goes with --try\n  hint: --apply alone writes the change and keeps it",
    )


# --- reading replies (proposals.py) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cause", "reasoning"),
    [
        ("ROOT CAUSE: format\nREASONING: Bare labels wanted.\n", "format", "Bare labels wanted."),
        ("**Root cause:** Context\n**Reasoning:** It lacks the queue list.\n", "context", "It lacks the queue list."),
        (
            "root_cause - instruction\nreasoning: says too little\n  about refunds\n",
            "instruction",
            "says too little about refunds",
        ),
        ("Root Cause: CAPABILITY\nHELP: a bigger model\n", "capability", ""),
        ("The root cause is unclear.\n", None, ""),
    ],
)
def test_a_reply_is_read_for_its_root_cause_and_reasoning(reply: str, cause: str | None, reasoning: str) -> None:
    proposal = proposals.parse_reply(reply)
    assert (proposal.root_cause, proposal.reasoning) == (cause, reasoning)


FILES = {"prompts/a.jinja": "one\ntwo\nthree\nfour\n", "prompts/_p.jinja": "alpha\nbeta\n"}


@pytest.mark.parametrize(
    ("diff", "patch"),
    [
        # Wrong line numbers and counts: recomputed from where the lines are.
        (
            "--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n@@ -1,9 +1,9 @@\n two\n-three\n+THREE\n",
            "--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n@@ -2,2 +2,2 @@\n two\n-three\n+THREE\n",
        ),
        # No file headers at all: the template's.
        (
            "@@ -1 +1 @@\n-one\n+ONE\n+one and a half\n",
            "--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n@@ -1,1 +1,2 @@\n-one\n+ONE\n+one and a half\n",
        ),
        # A bare file name, for a partial.
        (
            "--- _p.jinja\n+++ _p.jinja\n@@ -2 +2 @@\n-beta\n+gamma\n",
            "--- a/prompts/_p.jinja\n+++ b/prompts/_p.jinja\n@@ -2,1 +2,1 @@\n-beta\n+gamma\n",
        ),
        # Two hunks: the second's new start moves by the lines the first added.
        (
            "@@ -1 +1 @@\n one\n+one more\n@@ -4 +5 @@\n-four\n+FOUR\n",
            "--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n"
            "@@ -1,1 +1,2 @@\n one\n+one more\n@@ -4,1 +5,1 @@\n-four\n+FOUR\n",
        ),
        # A context line the model left empty is an empty context line.
        (
            "@@ -1,3 +1,3 @@\n-one\n+ONE\n\n",
            "--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n@@ -1,1 +1,1 @@\n-one\n+ONE\n",
        ),
    ],
)
def test_a_diff_is_made_a_patch_of_the_files_the_template_reads(diff: str, patch: str) -> None:
    assert proposals.patch_of(diff, FILES) == patch


def test_a_bare_diff_outside_a_fence_is_found() -> None:
    reply = "ROOT CAUSE: format\nREASONING: x\n--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n@@ -1 +1 @@\n-one\n+ONE\n"
    assert (
        proposals.parse_reply(reply).diff == "--- a/prompts/a.jinja\n+++ b/prompts/a.jinja\n@@ -1 +1 @@\n-one\n+ONE\n"
    )
