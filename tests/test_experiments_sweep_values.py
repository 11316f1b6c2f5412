"""Found: `--sweep temperature=0,0.0` ran two variants of one value (spec: "a sweep needs two or more
distinct values"; a value given twice is exit 2): the duplicate check compared the values' spelling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit.errors import PromptgitError
from promptgit.experiments import parse_sweep
from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project


def test_equal_values_spelled_differently_are_one_value(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    for text in ("temperature=0,0.0", "top_p=1,1.0,0.5", "max_tokens=8,8.0"):
        with pytest.raises(PromptgitError, match="names a value twice"):
            parse_sweep(text)
    assert parse_sweep("temperature=0,0.5") == ("temperature", [0, 0.5])
    root = labelled_project(write, 3, wrong=set())
    result = run_cli(["eval", "--sweep", "temperature=0,0.0"], root)
    assert result.code == 2
    assert len(openai_server.requests) == 0
