"""The scorer registry (promptgit/scorers/__init__.py): built-ins and user scorers register alike."""

from __future__ import annotations

from typing import Any

import pytest

from promptgit import scorers
from promptgit.errors import PromptgitError
from promptgit.scorers import Score, ScorerSite
from tests.scorers_support import (
    SUITE,
    run,
    site_fixture,  # noqa: F401  (the `site` fixture)
)

# -- the registry --------------------------------------------------------------------------------


def test_every_builtin_is_registered() -> None:
    assert set(scorers.names()) >= {
        "exact_match",
        "equals",
        "contains",
        "icontains",
        "regex",
        "json_valid",
        "json_schema",
        "numeric",
        "levenshtein",
        "llm_judge",
        "python",
    }


def test_unknown_scorer_names_the_suite_line_and_suggests_a_spelling(site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        scorers.build("exact_mach", None, site)
    err = caught.value
    assert (err.message, err.file, err.line, err.hint) == (
        "unknown scorer 'exact_mach'",
        SUITE,
        7,
        "did you mean 'exact_match'?",
    )


def test_a_user_scorer_is_built_exactly_like_a_builtin(site: ScorerSite) -> None:
    class Shouting:
        label = "shouting"

        def __init__(self, minimum: int) -> None:
            self.minimum = minimum

        async def score(self, output: str, expected: Any, the_case: Any, judge: Any) -> Score:
            return Score(1.0 if sum(c.isupper() for c in output) >= self.minimum else 0.0)

    @scorers.register("test_shouting")
    def shouting(config: Any, where: ScorerSite) -> Shouting:
        if not isinstance(config, int):
            raise PromptgitError("shouting needs a number")
        return Shouting(config)

    assert "test_shouting" in scorers.names()
    assert run("test_shouting", 3, "HEY YOU", None, site) == Score(1.0)
    assert run("test_shouting", 3, "hey", None, site) == Score(0.0)
    with pytest.raises(PromptgitError) as caught:
        scorers.build("test_shouting", "loud", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == ("shouting needs a number", SUITE, 7)
    with pytest.raises(ValueError, match="registered already"):
        scorers.register("test_shouting")(lambda config, where: Shouting(1))
