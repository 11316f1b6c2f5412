"""`promptgit render`: the messages a prompt renders to, from given variables or a suite's case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.project import Project
from promptgit.prompts import Rendered, load_prompt, render
from promptgit.suites import load_suite, normal_id


def render_prompt(
    project: Project,
    prompt_name: str | None,
    variables: Mapping[str, Any],
    suite_name: str | None = None,
    case_id: str | None = None,
) -> Rendered:
    """Render a prompt with `variables`, over a suite case's variables when one is named."""
    base: dict[str, Any] = {}
    override: dict[str, Any] = {}
    if suite_name:
        suite = load_suite(project.tree, project.settings, suite_name)
        prompt_name = prompt_name or suite.prompt
        override = suite.override
        base = dict(_case(suite, case_id).vars)
    elif case_id:
        raise PromptgitError("--case needs --suite", hint="name the suite whose case to render: --suite S --case ID")
    if not prompt_name:
        raise PromptgitError("name a prompt to render, or a suite with --suite")
    prompt = load_prompt(project.tree, project.settings, prompt_name)
    return render(project.tree, project.settings, prompt, {**base, **variables}, override)


def _case(suite: Any, case_id: str | None) -> Any:
    if case_id is None:
        return suite.cases[0]
    for case in suite.cases:
        if case.id == normal_id(case_id):
            return case
    ids = ", ".join(c.id for c in suite.cases[:8])
    raise PromptgitError(
        f"suite {suite.name!r} has no case {case_id!r}", file=suite.path, hint=f"case ids start: {ids}"
    )
