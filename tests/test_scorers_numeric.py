"""The numeric scorer (promptgit/scorers/numeric.py)."""

from __future__ import annotations

import pytest

from promptgit import scorers
from promptgit.errors import PromptgitError
from promptgit.scorers import Score, ScorerSite
from tests.scorers_support import (
    SUITE,
    run,
    site_fixture,  # noqa: F401  (the `site` fixture)
)

# -- numeric -------------------------------------------------------------------------------------


def test_numeric_takes_the_first_number_within_an_absolute_tolerance(site: ScorerSite) -> None:
    assert run("numeric", None, "The total is 42.", 42, site) == Score(1.0)
    assert run("numeric", None, "0.30000000000000004", 0.3, site) == Score(1.0)
    assert run("numeric", 0.5, "about 41.6 units", "42", site) == Score(1.0)
    assert run("numeric", 0.5, "about 41.4 units", 42, site) == Score(0.0, "expected 42 ± 0.5, got 41.4")
    assert run("numeric", None, "It costs $1,234.50 in total", 1234.5, site) == Score(1.0)
    assert run("numeric", None, "gpt4 says -3", -3, site) == Score(1.0)
    assert run("numeric", None, "no idea", 3, site) == Score(0.0, "no number in 'no idea'")


def test_numeric_relative_tolerance(site: ScorerSite) -> None:
    config = {"tolerance": 0.05, "relative": True}
    assert run("numeric", config, "104", 100, site) == Score(1.0)
    assert run("numeric", config, "106", 100, site) == Score(0.0, "expected 100 ± 5, got 106")


def test_numeric_refuses_bad_tolerances_and_non_numeric_expected_values(site: ScorerSite) -> None:
    for bad in (-1, "close", {"tolerance": "x"}):
        with pytest.raises(PromptgitError) as caught:
            scorers.build("numeric", bad, site)
        assert caught.value.message.startswith("numeric's tolerance must be a number of at least 0")
        assert (caught.value.file, caught.value.line) == (SUITE, 7)
    with pytest.raises(PromptgitError) as caught:
        scorers.build("numeric", {"tolerence": 1}, site)
    assert (caught.value.message, caught.value.hint) == (
        "numeric has no option 'tolerence'",
        "did you mean 'tolerance'?",
    )
    with pytest.raises(PromptgitError) as caught:
        run("numeric", None, "3", "three", site)
    assert caught.value.message == "case 'c1': expected value 'three' is not a number, which numeric needs"
