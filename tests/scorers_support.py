"""Shared helpers for the scorer tests: a scorer site over a throwaway folder, cases, and a run helper."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from promptgit import scorers
from promptgit.scorers import Score, ScorerSite
from promptgit.suites import Case
from promptgit.tree import WorkTree

SUITE = "evals/support/classify.yaml"


def make_site(tmp_path: Path, files: dict[str, str] | None = None, line: int | None = 7) -> ScorerSite:
    for path, text in (files or {}).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return ScorerSite(suite_path=SUITE, line=line, tree=WorkTree(tmp_path))


def case(expected: Any = None, case_id: str = "c1", **variables: Any) -> Case:
    return Case(id=case_id, vars=variables, expected=expected, row={**variables, "expected": expected}, line=3)


async def no_judge(model: str | None, messages: list[dict[str, str]], settings: dict[str, Any]) -> str:
    raise AssertionError("this scorer must not call a model")


def run(name: str, config: Any, output: str, expected: Any, site: ScorerSite) -> Score:
    scorer = scorers.build(name, config, site)
    return asyncio.run(scorer.score(output, expected, case(expected), no_judge))


@pytest.fixture(name="site")
def site_fixture(tmp_path: Path) -> ScorerSite:
    """A scorer site over an empty throwaway folder; test files import this to use the `site` fixture."""
    return make_site(tmp_path)
