"""The numeric scorer: the output's first number against the expected one, within a tolerance."""

from __future__ import annotations

import math
import re
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.scorers import Score, Scorer, ScorerSite, register
from promptgit.scorers.common import Checker, case_id, options_of, require_expected, short

# The first number in the text: 42, -3.5, .5, 1e-3, 1,234.5 (thousands separators), not the 4 in "gpt4".
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")


def first_number(text: str) -> float | None:
    """The first number written in `text`, or None."""
    match = _NUMBER.search(text)
    return float(match.group(0).replace(",", "")) if match else None


def _tolerance(config: Any) -> tuple[float, bool]:
    if config is None:
        return 0.0, False
    if isinstance(config, dict):
        options = options_of("numeric", config, {"tolerance", "relative"})
        tolerance, relative = options.get("tolerance", 0.0), options.get("relative", False)
        if not isinstance(relative, bool):
            raise PromptgitError(f"numeric's relative must be true or false, got {relative!r}")
    else:
        tolerance, relative = config, False
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise PromptgitError(
            f"numeric's tolerance must be a number of at least 0, got {tolerance!r}",
            hint="e.g. `numeric: 0.5`, or `numeric: {tolerance: 0.05, relative: true}`",
        )
    return float(tolerance), relative


def _expected_number(expected: Any, case: Any, site: ScorerSite) -> float:
    require_expected(expected, case, site, "numeric")
    number = None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        number = float(expected)
    elif isinstance(expected, str):
        number = first_number(expected)
    if number is None or not math.isfinite(number):
        raise site.error(f"case {case_id(case)}: expected value {expected!r} is not a number, which numeric needs")
    return number


@register("numeric")
def _numeric(config: Any, site: ScorerSite) -> Scorer:
    """1 when the output's first number is within the tolerance (absolute, or relative) of the expected one."""
    tolerance, relative = _tolerance(config)

    def check(output: str, expected: Any, case: Any) -> Score:
        target = _expected_number(expected, case, site)
        got = first_number(output)
        if got is None:
            return Score(0.0, f"no number in {short(output)}")
        allowed = tolerance * abs(target) if relative else tolerance
        # The slack absorbs float rounding such as 0.1 + 0.2 against 0.3.
        if abs(got - target) <= allowed + 1e-9 * max(1.0, abs(target)):
            return Score(1.0)
        spread = f" ± {allowed:g}" if allowed else ""
        return Score(0.0, f"expected {target:g}{spread}, got {got:g}")

    return Checker("numeric", check)
