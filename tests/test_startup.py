"""Start-up: `--help`, `check` and `render` never import litellm (it takes seconds to import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from promptgit.cli import main
try:
    main({args!r})
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("litellm", "openai", "xllamacpp", "git") if m in sys.modules)
print("IMPORTED", heavy, code, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["check"], ["render", "support/classify", "--var", "ticket=x"]])
def test_commands_that_call_no_model_import_no_model_library(basic_project: Path, args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], cwd=basic_project, capture_output=True, text=True, timeout=60
    )
    assert done.stderr.strip().splitlines()[-1] == "IMPORTED [] 0", done.stderr
