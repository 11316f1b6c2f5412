"""The code's own checks run with the tests: ruff (lint and format) over the tree, mypy over the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREES = ["promptgit", "tests", "bench"]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *TREES],
        ["ruff", "format", "--check", *TREES],
        ["mypy"],  # [tool.mypy] in pyproject.toml: the package, check_untyped_defs
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_passes_its_own_checks(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
