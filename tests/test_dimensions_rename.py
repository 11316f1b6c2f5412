"""Found: in `diff` (and `ci`), a scorer only one side has (added, removed or renamed with `name:`) showed
base and head both `-`/null, hiding the score the other side has; dimensions.dimension_deltas' own docstring
says "a dimension only one side has gets base or head None"."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server

PROMPT = "---\nmax_tokens: 8\n---\nuser:\nTicket {{ text }}\nANSWER: {{ reply }}\n"


def files(name: str) -> dict[str, str | None]:
    rows = [
        {"id": f"c{i}", "text": f"t{i}", "label": "billing", "reply": "billing" if i % 2 else "BILLING"}
        for i in range(6)
    ]
    return {
        "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\n",
        "prompts/route.jinja": PROMPT,
        "evals/route.yaml": "prompt: route\ndataset: cases.jsonl\nexpected: label\n"
        f"scorers: [exact_match, {{regex: '^[a-z]+$', name: {name}}}]\n",
        "evals/cases.jsonl": "\n".join(json.dumps(r) for r in rows) + "\n",
    }


def test_a_renamed_scorer_shows_each_sides_own_score(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    repo.commit("named lower", files("lower"))
    repo.write(files("lowercase"))
    result = run_cli(["diff", "--json"], repo.path)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    by_name = {s["name"]: s for s in suite["scorers"]}
    assert (by_name["exact_match"]["base"], by_name["exact_match"]["head"]) == (1.0, 1.0)
    assert (by_name["lower"]["base"], by_name["lower"]["head"], by_name["lower"]["delta"]) == (0.5, None, None)
    assert (by_name["lowercase"]["base"], by_name["lowercase"]["head"], by_name["lowercase"]["delta"]) == (
        None,
        0.5,
        None,
    )
    text = run_cli(["diff"], repo.path).out
    assert any(line.split()[:3] == ["lowercase", "-", "50.0%"] for line in text.splitlines()), text
