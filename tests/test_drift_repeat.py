"""Found: `drift --repeat K` (K above the suite's `repeat:`) read the stored result at K repeats, found no case
stored whole, said "nothing was stored to compare with: this run is stored as the baseline" and passed, while
the fresh answers replaced the stored ones: a model that changed behind its name passed drift, and the
evidence was overwritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import LABELS, labelled_project


def test_drift_with_more_repeats_compares_with_what_is_stored(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = labelled_project(write, 8, wrong=set())
    assert run_cli(["eval", "-q"], root).code == 0  # stored at the suite's repeat: 1, every case right
    # The provider changes the model behind its name: every answer is now wrong.
    changed = {f"Ticket ticket {i}\nANSWER: {LABELS[i % 4].upper()}": "no idea" for i in range(8)}
    openai_server.configure(answers=changed)
    result = run_cli(["drift", "--json", "--repeat", "2"], root)
    (suite,) = json.loads(result.out)["suites"]
    assert "nothing was stored" not in suite["reason"]
    assert (suite["compared"]["cases"], suite["down"], suite["verdict"], result.code) == (8, 8, "fail", 1)
