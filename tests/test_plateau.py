"""`promptgit log` says when to stop (issue 14, part 4): each version's top failure pattern, a column per
scorer with --by-scorer, and the plateau line after three changes in a row with no significant gain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import stats
from promptgit.plateau import PLATEAU_CHANGES, Plateau, plateau
from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server
from tests.test_ci import prompt, suite_yaml
from tests.test_git_native import SETTINGS, cli_json, dataset

UP = stats.paired_test([[0.0]] * 8, [[1.0]] * 8)  # 8 of 8 up: p = 0.0078, an improvement
DOWN = stats.paired_test([[1.0]] * 8, [[0.0]] * 8)  # a significant drop is no improvement either
FLAT = stats.paired_test([[1.0]] * 8, [[1.0]] * 8)  # no case changed
NOISE = stats.paired_test([[0.0]] * 2, [[1.0]] * 2)  # up, but within noise (p = 0.5)


@pytest.mark.parametrize(
    ("changes", "found"),
    [
        ([("a", None), ("b", UP), ("c", FLAT), ("d", DOWN), ("e", NOISE)], Plateau(3, "c")),
        ([("a", None), ("b", FLAT), ("c", FLAT), ("d", FLAT), ("e", FLAT)], Plateau(4, "b")),
        ([("a", None), ("b", UP), ("c", FLAT), ("d", FLAT)], None),  # two misses are not yet a plateau
        ([("a", FLAT), ("b", FLAT), ("c", FLAT), ("d", UP)], None),  # the latest change improved: it moves
        ([("a", FLAT), ("x", None), ("b", FLAT), ("y", None), ("c", FLAT)], Plateau(3, "a")),  # unscored rows skipped
        ([], None),
    ],
)
def test_the_plateau_rule(changes: list[tuple[str, stats.PairedTest | None]], found: Plateau | None) -> None:
    assert (UP.significant, DOWN.significant, FLAT.changed, NOISE.significant) == (True, True, 0, False)
    assert PLATEAU_CHANGES == 3
    assert plateau(changes) == found


pytestmark = pytest.mark.usefixtures("git_env")


def files(answer: str, instruction: str) -> dict[str, str]:
    return {"prompts/route.jinja": prompt(answer, instruction)}


def five_commits(path: Path) -> tuple[str, ...]:
    """c1 naive; c2 good (+20 cases, significant); c3 good reworded (no case changes); c4 naive again under a
    new wording (a significant drop); c5 reworded (no case changes). So c3, c4, c5 improve nothing."""
    repo = new_repo(path)
    suite = suite_yaml("scorers:\n  - exact_match\n  - regex: '^[A-Za-z_]+$'\n    name: one_word\n").replace(
        "scorers: [exact_match]\n", ""
    )
    c1 = repo.commit(
        "naive",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": prompt("naive"),
            "evals/route.yaml": suite,
            "evals/cases.jsonl": dataset(),
        },
    )
    c2 = repo.commit("one queue", files("good", "One queue."))
    c3 = repo.commit("exactly one queue", files("good", "Exactly one queue."))
    c4 = repo.commit("reply with the queue", files("naive", "Reply with the queue."))
    c5 = repo.commit("reply with one queue", files("naive", "Reply with one queue."))
    return c1, c2, c3, c4, c5


def test_log_marks_the_plateau_and_each_versions_top_failure(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    c1, c2, c3, c4, c5 = five_commits(tmp_path / "repo")
    [log] = cli_json(run_cli, tmp_path / "repo", ["log", "--json"])
    entries = log["entries"]
    assert [e["commit"] for e in entries] == [c1, c2, c3, c4, c5]
    # naive: 12/40 right; good: 32/40 right; every answer is one word. A case's score is the two scorers' mean.
    assert [(e["score"], [(s["name"], s["score"]) for s in e["scorers"]]) for e in entries] == [
        (0.65, [("exact_match", 0.3), ("one_word", 1.0)]),
        (0.9, [("exact_match", 0.8), ("one_word", 1.0)]),
        (0.9, [("exact_match", 0.8), ("one_word", 1.0)]),
        (0.65, [("exact_match", 0.3), ("one_word", 1.0)]),
        (0.65, [("exact_match", 0.3), ("one_word", 1.0)]),
    ]
    assert [e["p_value"] is not None and e["p_value"] < 0.05 for e in entries] == [False, True, False, True, False]
    assert [e["top_pattern"] for e in entries] == [
        "account_access -> billing  7",  # the 28 naive misses: each label answered as the next one, 7 apiece
        "account_access -> billing  2",
        "account_access -> billing  2",
        "account_access -> billing  7",
        "account_access -> billing  7",
    ]
    assert log["plateau"] == {
        "changes": 3,
        "since": c3,
        "message": (
            f"the score has stalled: the last 3 changes (since {c3[:8]}) brought no significant improvement "
            "(paired test, p < 0.05); the remaining failures may be a capability problem or ambiguous cases, "
            "which rewording will not fix"
        ),
    }
    text = run_cli(["log", "--by-scorer"], tmp_path / "repo").out.splitlines()
    assert text[1].split() == [
        "commit", "date", "change", "made", "score", "[95%", "CI]", "delta", "keep?", "exact_match", "one_word", "top",
        "failure",
    ]  # fmt: skip
    assert text[3].startswith(c1[:8]) and text[3].endswith(
        "30.0% [18.1, 45.4]  100.0% [91.2, 100.0]  account_access -> billing  7"
    )
    assert text[-1] == f"route: {log['plateau']['message']}"


def test_no_plateau_while_changes_still_pay(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = new_repo(tmp_path / "repo")
    repo.commit(
        "naive",
        {
            "promptgit.yaml": SETTINGS,
            "prompts/route.jinja": prompt("naive"),
            "evals/route.yaml": suite_yaml(),
            "evals/cases.jsonl": dataset(),
        },
    )
    repo.commit("reworded", files("naive", "Route it."))
    repo.commit("reworded again", files("naive", "Route this."))
    repo.commit("one queue", files("good", "One queue."))
    [log] = cli_json(run_cli, repo.path, ["log", "--json"])
    assert log["plateau"] is None
    assert "stalled" not in run_cli(["log"], repo.path).out
