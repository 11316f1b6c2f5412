"""Scorers: the Scorer protocol and one registry, where built-ins register exactly like user scorers.

docs/spec.md, Scorers.

The families live one module each and register themselves when this package is imported:
`text` (exact_match, equals, contains, icontains, regex, levenshtein), `json_output` (json_valid,
json_schema), `tools` (tool_call), `numeric`, `judge` (llm_judge) and `python_code` (python: user functions).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from promptgit.config import Settings
from promptgit.errors import PromptgitError, did_you_mean
from promptgit.tree import Tree, normalize

# Seconds a python scorer may take on one output before the case is an error; promptgit.yaml's
# `scorer_timeout` sets it per project (config.Settings holds the default).
PYTHON_TIMEOUT = Settings.scorer_timeout


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one output: a value in [0, 1] and, where useful, why."""

    value: float
    reason: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise ValueError(f"a score must be a number, not {self.value!r}")
        if not 0.0 <= self.value <= 1.0:  # also refuses NaN
            raise ValueError(f"a score must lie in [0, 1], not {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


class JudgeFn(Protocol):
    """The engine's cached model call for judges; `model=None` means the engine's default judge model."""

    async def __call__(self, model: str | None, messages: list[dict[str, str]], settings: dict[str, Any], /) -> str:
        """The model's reply text to `messages`."""
        ...


class Scorer(Protocol):
    """A configured scorer: scores one output of one case."""

    @property
    def label(self) -> str:
        """The scorer's name in results, e.g. "exact_match", "regex", "python:tone"."""
        ...

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Score `output` against the case's `expected` value."""
        ...


@dataclass(frozen=True)
class ScorerSite:
    """Where a scorer is configured: for error messages, and for reading files beside the suite."""

    suite_path: str
    line: int | None
    tree: Tree
    python_timeout: float = PYTHON_TIMEOUT  # seconds, for python scorers

    def error(self, message: str, hint: str | None = None) -> PromptgitError:
        """An error pinned to the scorer's line in the suite file."""
        return PromptgitError(message, file=self.suite_path, line=self.line, hint=hint)

    def resolve(self, relative: str) -> str:
        """A path relative to the suite file's folder, as a project-relative path."""
        return resolve(self.suite_path, relative)


ScorerFactory = Callable[[Any, ScorerSite], Scorer]
FilesRead = Callable[[Any], list[str]]


class ScorerError(Exception):
    """A scorer that could not score one output (a judge's unreadable verdict, user code that crashed or hung).

    The case is an error, never a score; the message names the scorer and the case.
    """


class JudgeReplyError(ScorerError):
    """A judge's reply without exactly one readable verdict: the case is an error, not a failure."""


@dataclass(frozen=True)
class _Entry:
    factory: ScorerFactory
    reads: FilesRead | None


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, *, reads: FilesRead | None = None) -> Callable[[ScorerFactory], ScorerFactory]:
    """Register a scorer factory under `name`; `reads(config)` lists files it reads, relative to the suite."""

    def decorate(factory: ScorerFactory) -> ScorerFactory:
        known = _REGISTRY.get(name)
        if known is not None and known.factory is not factory:
            raise ValueError(f"a scorer named {name!r} is registered already")
        _REGISTRY[name] = _Entry(factory, reads)
        return factory

    return decorate


def names() -> list[str]:
    """Every registered scorer name, sorted."""
    return sorted(_REGISTRY)


def build(name: str, config: Any, site: ScorerSite) -> Scorer:
    """Configure the scorer `name` with `config`; bad names and configs name the suite file and line."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise site.error(
            f"unknown scorer {name!r}",
            hint=did_you_mean(name, _REGISTRY) or f"known scorers: {', '.join(names())}",
        )
    try:
        return entry.factory(config, site)
    except PromptgitError as err:
        raise err.located(site.suite_path, site.line) from None


def files_read(name: str, config: Any, suite_path: str) -> list[str]:
    """Project-relative paths of the files a configured scorer reads (for the suite's fingerprint)."""
    entry = _REGISTRY.get(name)
    if entry is None or entry.reads is None:
        return []
    try:
        relatives = entry.reads(config)
    except (PromptgitError, ValueError, TypeError):
        return []  # a bad config has no files; build() reports it
    found = []
    for relative in relatives:
        try:
            found.append(resolve(suite_path, relative))
        except PromptgitError:
            continue
    return found


def resolve(suite_path: str, relative: str) -> str:
    """`relative` (to the suite file's folder) as a project-relative path."""
    return normalize(posixpath.join(posixpath.dirname(suite_path), relative))


# The families register themselves on import; importing them here also re-exports what callers use.
import promptgit.scorers.json_output  # noqa: E402, F401  (json_valid, json_schema: nothing else to re-export)
from promptgit.scorers import tools as _tools  # noqa: E402, F401  (tool_call: nothing else to re-export)
from promptgit.scorers.common import strip_fence  # noqa: E402
from promptgit.scorers.judge import JudgeVerdict, judge_messages, judge_settings, parse_verdict  # noqa: E402
from promptgit.scorers.numeric import first_number  # noqa: E402
from promptgit.scorers.python_code import coerce, load_module  # noqa: E402
from promptgit.scorers.text import edit_distance, similarity  # noqa: E402

__all__ = [
    "PYTHON_TIMEOUT",
    "FilesRead",
    "JudgeFn",
    "JudgeReplyError",
    "JudgeVerdict",
    "Score",
    "Scorer",
    "ScorerError",
    "ScorerFactory",
    "ScorerSite",
    "build",
    "coerce",
    "edit_distance",
    "files_read",
    "first_number",
    "judge_messages",
    "judge_settings",
    "load_module",
    "names",
    "parse_verdict",
    "register",
    "resolve",
    "similarity",
    "strip_fence",
]
