"""cli.py's own parsing: a `--var` given twice is refused, not read as its last value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--var", "ticket=a", "--var", "ticket=b"], "ticket"),
        (["--var", "ticket=a", "--var", "ticket=a"], "ticket"),  # the same value twice is still a slip
        (["--var", "ticket =a", "--var", " ticket=b"], "ticket"),  # spaces around the name
    ],
)
def test_render_refuses_a_var_given_twice(
    basic_project: Path, run_cli: Callable[..., Result], args: list[str], name: str
) -> None:
    result = run_cli(["render", "support/classify", *args], basic_project)
    assert result.code == 2
    assert f"--var {name} is given twice" in result.err
    assert result.out == ""
