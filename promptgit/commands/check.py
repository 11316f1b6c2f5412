"""`promptgit check`: validate every prompt and suite without calling a model, reporting every problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from promptgit import scorers
from promptgit.errors import PromptgitError
from promptgit.project import Project, no_cases, no_suites
from promptgit.prompts import (
    Prompt,
    TemplateGraph,
    load_prompt,
    merged_settings,
    prompt_names,
    render,
    split_front_matter,
    template_graph,
)
from promptgit.scorers.common import Checker
from promptgit.suites import Suite, load_suite, suite_names
from promptgit.templating import PART_FUNCTIONS
from promptgit.tree import SETTINGS_FILE, read_text
from promptgit.yamlio import key_lines

# Names Jinja provides itself, which no dataset needs to supply.
T = TypeVar("T")

JINJA_GLOBALS = frozenset(
    {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "self", "varargs", "kwargs", "caller"}
)


@dataclass(frozen=True)
class CheckReport:
    """What `check` looked at and the problems it found."""

    prompts: int
    suites: int
    cases: int
    problems: tuple[PromptgitError, ...]
    notes: tuple[str, ...] = ()  # what the user should know that is not a problem (computed template names)
    models: tuple[str, ...] = ()  # every model the suites call, judges' included, sorted (the Action reads it)


def check(project: Project) -> CheckReport:
    """Validate every prompt and suite in the project; collect problems rather than stop at the first."""
    problems: list[PromptgitError] = []
    prompts: dict[str, Checked | None] = {}
    for name in prompt_names(project.tree, project.settings):
        prompts[name] = _check_prompt(project, name, problems)
    suites = 0
    cases = 0
    models: set[str] = set()
    names = suite_names(project.tree, project.settings)
    for name in names:
        suite = _attempt(partial(load_suite, project.tree, project.settings, name), problems)
        if suite is None:
            continue
        suites += 1
        cases += len(suite.cases)
        models |= suite_models(project, suite, prompts.get(suite.prompt))
        empty = no_cases(suite)
        if empty:
            problems.append(empty)
            continue
        _check_suite(project, suite, prompts, problems)
    if not names:
        problems.append(no_suites(project))
    notes = tuple(ref.note for found in prompts.values() if found for ref in found.graph.computed)
    return CheckReport(len(prompts), suites, cases, tuple(problems), notes, tuple(sorted(models)))


def suite_models(project: Project, suite: Suite, checked: Checked | None) -> set[str]:
    """The models a suite calls: its layered `model` (promptgit.yaml < prompt < suite) and its judges' own."""
    layered = merged_settings(project.settings, checked.prompt, suite.override) if checked else {}
    found = {layered.get("model") or project.settings.defaults.get("model")}
    for spec in suite.scorers:
        if spec.name == "llm_judge" and isinstance(spec.config, dict):
            found.add(spec.config.get("model"))
    return {str(model) for model in found if model}


def _attempt(step: Callable[[], T], problems: list[PromptgitError]) -> T | None:
    try:
        return step()
    except PromptgitError as err:
        problems.append(err)
        return None


@dataclass(frozen=True)
class Checked:
    """A prompt that loads, with the files and variables its template reads."""

    prompt: Prompt
    graph: TemplateGraph


def _check_prompt(project: Project, name: str, problems: list[PromptgitError]) -> Checked | None:
    prompt = _attempt(lambda: load_prompt(project.tree, project.settings, name), problems)
    if prompt is None:
        return None
    graph = template_graph(project.tree, project.settings, prompt)
    problems.extend(graph.problems)
    return None if graph.problems else Checked(prompt, graph)  # a broken include is reported once, not per suite


def _check_suite(
    project: Project, suite: Suite, prompts: dict[str, Checked | None], problems: list[PromptgitError]
) -> None:
    lines = key_lines(read_text(project.tree, suite.path))
    if suite.prompt not in prompts:
        problems.append(_not_a_prompt(project, suite, lines.get("prompt")))
        return
    _check_scorers(project, suite, problems)
    checked = prompts[suite.prompt]
    if checked is None:
        return  # its own problem is reported already
    _check_local_settings(project, suite, checked.prompt, problems)
    if _check_variables(suite, checked, lines, problems):
        _check_renders(project, suite, checked.prompt, problems)


def _not_a_prompt(project: Project, suite: Suite, line: int | None) -> PromptgitError:
    """Why the suite's `prompt:` names no prompt: no such file, or a partial (which only other templates include)."""
    folder = project.settings.prompts
    try:
        load_prompt(project.tree, project.settings, suite.prompt)
    except PromptgitError as err:
        hint = err.hint or f"name a prompt under {folder}/ without its extension"
        return PromptgitError(
            f"the suite's prompt {suite.prompt!r} does not exist", file=suite.path, line=line, hint=hint
        )
    return PromptgitError(
        f"the suite's prompt {suite.prompt!r} is a partial: files and folders under {folder}/ starting with `_` are "
        "included by prompts, not evaluated",
        file=suite.path,
        line=line,
        hint="name the prompt that includes it, or rename the file without the leading `_` if it is a prompt itself",
    )


def _check_scorers(project: Project, suite: Suite, problems: list[PromptgitError]) -> None:
    for spec in suite.scorers:
        site = scorers.ScorerSite(suite_path=suite.path, line=spec.line, tree=project.tree)
        built = _attempt(partial(scorers.build, spec.name, spec.config, site), problems)
        if isinstance(built, Checker):
            _dry_run(built, suite, problems)


def _dry_run(scorer: Checker, suite: Suite, problems: list[PromptgitError]) -> None:
    """Score an empty output on every case with a model-free scorer: what it needs from a case (an expected
    value, a pattern that compiles) fails here as it would after paid calls. Only pure built-ins run here;
    user code (`python`) and the judge do not."""
    for case in suite.cases:
        try:
            scorer.check("", case.expected, case)
        except PromptgitError as err:
            problems.append(err)
            return  # one case says enough about a scorer; the others usually share its cause


def _check_local_settings(project: Project, suite: Suite, prompt: Prompt, problems: list[PromptgitError]) -> None:
    """A suite on the embedded model with settings its engine would drop is refused here, as its calls would be."""
    settings = merged_settings(project.settings, prompt, suite.override)
    if not str(settings.get("model") or "").startswith("local/"):
        return
    try:
        from promptgit.local_model import dropped_settings
    except ModuleNotFoundError:  # an install without the embedded model: its calls say how to get it
        return
    for key in dropped_settings(settings):
        mine = key in prompt.settings
        front = split_front_matter(read_text(project.tree, prompt.path), prompt.path)[0] if mine else None
        lines = (
            key_lines(front[0], line_offset=front[1] - 1)
            if front
            else key_lines(read_text(project.tree, SETTINGS_FILE))
        )
        problems.append(
            PromptgitError(
                f"setting {key} would be dropped: suite {suite.name!r} runs on the embedded model "
                f"{settings['model']}, which does not take it",
                file=prompt.path if mine else SETTINGS_FILE,
                line=lines.get(key) if mine else lines.get("defaults"),
                hint=f"remove `{key}`, or give the suite a model that takes it (`model:` in {suite.path})",
            )
        )


def _check_variables(suite: Suite, checked: Checked, lines: dict[str, int], problems: list[PromptgitError]) -> bool:
    prompt = checked.prompt
    used = checked.graph.variables - JINJA_GLOBALS - PART_FUNCTIONS
    provided = {key for case in suite.cases for key in case.vars} | {
        k for k, v in prompt.inputs.items() if v is not None
    }
    missing = sorted(used - provided)
    if missing:
        problems.append(
            PromptgitError(
                f"prompt {prompt.name!r} uses {', '.join(map(repr, missing))}, which the suite's cases never provide",
                file=suite.path,
                line=lines.get("vars") or lines.get("dataset") or lines.get("cases"),
                hint="add the field to the dataset, map it with `vars: {variable: field}`, "
                "or give it a default in the prompt's `inputs:`",
            )
        )
    return not missing


def _check_renders(project: Project, suite: Suite, prompt: Prompt, problems: list[PromptgitError]) -> None:
    for case in suite.cases:
        try:
            render(project.tree, project.settings, prompt, case.vars, suite.override)
        except PromptgitError as err:
            err.message = f"case {case.id!r} does not render: {err.message}"
            problems.append(err)
            return  # one broken case says enough about a template
