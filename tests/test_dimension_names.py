"""Default dimension names (scorer_names.py): unnamed scorers of one kind work, and their names follow what
they measure, not where they stand, so `diff` never pairs one scorer's history with another's.

Through load_suite, the real CLI, real git repos, real SQLite and real HTTP to the local test server."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import stats
from promptgit.dimensions import DimensionScore
from promptgit.errors import PromptgitError
from promptgit.project import open_project
from promptgit.scorer_names import config_digest, default_names, described
from promptgit.store import STORE_FILE
from promptgit.suites import load_suite
from tests.conftest import Result
from tests.gitrepo import new_repo
from tests.openai_server import Server

PROMPT = "---\nmax_tokens: 8\n---\nuser:\nTicket {{ text }}\nANSWER: {{ reply }}\n"
LOWER, UPPER = "regex: '^[a-z]+$'", "regex: '^[A-Z]'"


def files(scorers: list[str], replies: tuple[str, ...] = ("billing", "BILLING", "Billing", "Billing")) -> dict:
    """A suite whose fake-model answer is each row's `reply`. With the default replies `^[a-z]+$` passes
    1 case of 4 and `^[A-Z]` 3 of 4."""
    rows = [{"id": f"c{i}", "text": f"t{i}", "label": "billing", "reply": r} for i, r in enumerate(replies)]
    listed = "".join(f"  - {s}\n" for s in scorers)
    return {
        "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\n",
        "prompts/route.jinja": PROMPT,
        "evals/route.yaml": f"prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers:\n{listed}",
        "evals/cases.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
        "evals/a.py": "def tone(output, expected, case):\n    return 1.0\n",
        "evals/b.py": "def tone(output, expected, case):\n    return 0.0\n",
    }


def dimensions(write: Callable[..., Path], scorers: list[str]) -> list[str]:
    opened = open_project(start=write(files(scorers)))
    return [s.dimension for s in load_suite(opened.tree, opened.settings, "route").scorers]


def test_the_digest_is_six_hex_digits_of_kind_and_configuration() -> None:
    assert config_digest("regex", "^[a-z]+$") == "a98d91"
    assert config_digest("regex", "^[A-Z]") == "efb494"
    # The kind is part of it: one configuration under two kinds is two measurements.
    assert config_digest("contains", "bill") == "9472ed"
    assert config_digest("icontains", "bill") != "9472ed"
    # Key order in a mapping does not change it.
    assert config_digest("llm_judge", {"rubric": "polite", "model": "m"}) == config_digest(
        "llm_judge", {"model": "m", "rubric": "polite"}
    )
    assert default_names([("regex", "^[A-Z]"), ("exact_match", None), ("regex", "^[a-z]+$")]) == (
        "regex~efb494",
        "exact_match",
        "regex~a98d91",
    )


@pytest.mark.parametrize(
    ("scorers", "names"),
    [
        ([LOWER, UPPER], ["regex~a98d91", "regex~efb494"]),
        # Reordered: each keeps its own name.
        ([UPPER, LOWER], ["regex~efb494", "regex~a98d91"]),
        # A kind no other scorer shares keeps its bare name, as results stored before this rule have it.
        (
            ["exact_match", LOWER, "contains: bill", "contains: refund"],
            ["exact_match", "regex", "contains~9472ed", "contains~2ae0b0"],
        ),
        (
            ["{llm_judge: {rubric: polite}}", "{llm_judge: {rubric: short}}"],
            ["llm_judge~d9dc2f", "llm_judge~7a3bb7"],
        ),
        # Python scorers share a label when their functions share a name, whatever the file.
        (["python: a.py:tone", "python: b.py:tone"], ["python:tone~a7dab7", "python:tone~b38ddf"]),
        (["{numeric: {tolerance: 0.1}}", "{numeric: {tolerance: 0.5}}"], ["numeric~2b9eb1", "numeric~2200c3"]),
        # The weight is not the measurement: it stays out of the name.
        ([f"{{{LOWER}, weight: 3}}", UPPER], ["regex~a98d91", "regex~efb494"]),
        # A `name:` wins, and the unnamed scorer left alone in its kind takes the bare kind.
        ([LOWER, f"{{{UPPER}, name: upper}}"], ["regex", "upper"]),
        ([f"{{{LOWER}, name: lower}}", f"{{{UPPER}, name: upper}}"], ["lower", "upper"]),
        # Two scorers alike but named are two dimensions: the suite asked for both.
        ([f"{{{LOWER}, name: one}}", f"{{{LOWER}, name: two}}"], ["one", "two"]),
    ],
)
def test_unnamed_scorers_of_one_kind_are_named_by_their_configuration(
    write: Callable[..., Path], scorers: list[str], names: list[str]
) -> None:
    assert dimensions(write, scorers) == names


@pytest.mark.parametrize(
    ("scorers", "first"),
    [
        ([LOWER, LOWER], 5),
        # Spelled differently, read the same: quotes, key order, weight.
        (["exact_match", "regex: '^[a-z]+$'", 'regex: "^[a-z]+$"'], 6),
        (["{llm_judge: {rubric: polite, model: m}}", "{llm_judge: {model: m, rubric: polite}}"], 5),
        (["{contains: bill, weight: 2}", "contains: bill"], 5),
        (["exact_match", "exact_match"], 5),
        (["python: a.py:tone", "python: a.py:tone"], 5),
    ],
)
def test_a_scorer_written_twice_is_refused_with_its_line_and_a_fix(
    write: Callable[..., Path], scorers: list[str], first: int
) -> None:
    with pytest.raises(PromptgitError) as raised:
        dimensions(write, scorers)
    kind = scorers[-1].strip("{").split(":")[0]
    assert raised.value.message == f"the {kind} scorer repeats the one on line {first} (same kind and configuration)"
    assert (raised.value.file, raised.value.line) == ("evals/route.yaml", 4 + len(scorers))
    assert raised.value.hint == (
        "delete one (give the other `weight: 2` to count it twice), or give one a `name:` to keep both"
    )


def test_a_repeated_scorer_is_exit_2_naming_the_file_and_line(
    write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    result = run_cli(["eval"], write(files([LOWER, UPPER, LOWER])))
    assert result.code == 2
    assert "evals/route.yaml:7" in result.err
    assert "the regex scorer repeats the one on line 5" in result.err
    assert "Traceback" not in result.err


def test_two_unnamed_regex_scorers_evaluate_each_on_its_own(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    root = write(files([LOWER, UPPER]))
    result = run_cli(["eval", "--json"], root)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    assert suite["score"] == 0.5
    one, three = stats.wilson_interval(1, 4), stats.wilson_interval(3, 4)
    assert suite["scorers"] == [
        {"name": "regex~a98d91", "score": 0.25, "ci": [round(one.low, 6), round(one.high, 6)]},
        {"name": "regex~efb494", "score": 0.75, "ci": [round(three.low, 6), round(three.high, 6)]},
    ]
    text = run_cli(["eval"], root).out
    assert "route  regex~a98d91  25.0% [" in text
    assert "route  regex~efb494  75.0% [" in text
    # A legend says which is which.
    assert "\n  regex~a98d91 = regex: '^[a-z]+$'\n  regex~efb494 = regex: '^[A-Z]'\n" in text


def scorer_deltas(run_cli: Callable[..., Result], root: Path, base: str, head: str) -> dict[str, tuple]:
    result = run_cli(["diff", base, head, "--json"], root)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    return {s["name"]: (s["base"], s["head"], s["delta"]) for s in suite["scorers"]}


def test_reordering_two_unnamed_scorers_keeps_each_ones_history(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("lower, then upper", files([LOWER, UPPER]))
    head = repo.commit("upper, then lower", files([UPPER, LOWER]))
    # Named by position, the two would have swapped: lower 25% -> 75% and upper 75% -> 25%.
    assert scorer_deltas(run_cli, repo.path, base, head) == {
        "regex~efb494": (0.75, 0.75, 0.0),
        "regex~a98d91": (0.25, 0.25, 0.0),
    }


def test_a_changed_pattern_is_a_new_dimension_not_a_delta_of_the_old(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("lower, upper", files([LOWER, UPPER]))
    head = repo.commit("upper becomes all upper", files([LOWER, "regex: '^[A-Z]+$'"]))
    new = f"regex~{config_digest('regex', '^[A-Z]+$')}"
    assert new == "regex~29ba6d"
    assert scorer_deltas(run_cli, repo.path, base, head) == {
        "regex~a98d91": (0.25, 0.25, 0.0),
        new: (None, 0.25, None),
        "regex~efb494": (0.75, None, None),
    }
    text = run_cli(["diff", base, head], repo.path).out
    legend = "  regex~a98d91 = regex: '^[a-z]+$'\n  regex~29ba6d = regex: '^[A-Z]+$'\n  regex~efb494 = regex: '^[A-Z]'"
    assert legend in text


@pytest.mark.parametrize(
    ("before", "after", "name", "sides"),
    [
        # A scorer alone in its kind keeps the bare kind as its pattern changes: 1 of 4 -> 3 of 4.
        (["exact_match", LOWER], ["exact_match", UPPER], "regex", (0.25, 0.75)),
        # A `name:` stays as the author edits what it names.
        (
            ["exact_match", f"{{{LOWER}, name: form}}"],
            ["exact_match", f"{{{UPPER}, name: form}}"],
            "form",
            (0.25, 0.75),
        ),
        # ...or gives the name to another kind.
        (
            ["exact_match", f"{{{UPPER}, name: form}}"],
            ["exact_match", "{contains: ILL, name: form}"],
            "form",
            (0.75, 0.25),
        ),
        (["exact_match", "contains: bill"], ["exact_match", "contains: ILL"], "contains", (0.25, 0.25)),
    ],
)
def test_a_scorer_whose_configuration_changed_under_one_name_is_not_compared(
    openai_server: Server,
    tmp_path: Path,
    run_cli: Callable[..., Result],
    git_env: None,
    before: list[str],
    after: list[str],
    name: str,
    sides: tuple[float, float],
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("before", files(before))
    head = repo.commit("after", files(after))
    result = run_cli(["diff", base, head, "--json"], repo.path)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    rows = {s["name"]: (s["base"], s["head"], s["delta"], s["p_value"], s["scorer_changed"]) for s in suite["scorers"]}
    assert rows == {"exact_match": (1.0, 1.0, 0.0, 1.0, False), name: (*sides, None, None, True)}
    text = run_cli(["diff", base, head], repo.path).out
    assert any(
        line.startswith(name + " ") and line.endswith("not compared: scorer changed") for line in text.splitlines()
    )
    markdown = run_cli(["diff", base, head, "--markdown"], repo.path).out
    assert "| not compared: scorer changed |" in markdown


def test_a_changed_weight_is_the_same_measurement(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("even", files(["exact_match", LOWER]))
    head = repo.commit("pattern counts thrice", files(["exact_match", f"{{{LOWER}, weight: 3}}"]))
    assert scorer_deltas(run_cli, repo.path, base, head) == {"exact_match": (1.0, 1.0, 0.0), "regex": (0.25, 0.25, 0.0)}


def test_the_legend_spells_each_digest_named_scorer_in_at_most_60_characters(write: Callable[..., Path]) -> None:
    rubric = "Names exactly one queue, in lower case, and nothing else at all"
    opened = open_project(start=write(files(["exact_match", f"{{llm_judge: {{rubric: '{rubric}'}}}}", UPPER, LOWER])))
    specs = load_suite(opened.tree, opened.settings, "route").scorers
    interval = stats.Interval(0.0, 1.0)
    scores = [DimensionScore(s.dimension, 0.5, interval) for s in specs]
    assert [(d.name, d.about) for d in described(scores, specs)] == [
        ("exact_match", ""),
        ("llm_judge", ""),
        ("regex~efb494", "regex: '^[A-Z]'"),
        ("regex~a98d91", "regex: '^[a-z]+$'"),
    ]
    judges = ["{llm_judge: {rubric: short}}", f"{{llm_judge: {{rubric: '{rubric}'}}}}"]
    opened = open_project(start=write(files(judges)))
    specs = load_suite(opened.tree, opened.settings, "route").scorers
    about = [d.about for d in described([DimensionScore(s.dimension, 0.5, interval) for s in specs], specs)]
    assert about == ['llm_judge: {"rubric":"short"}', 'llm_judge: {"rubric":"Names exactly one queue, in lower cas…']
    assert len(about[1]) == 60


def test_rows_stored_before_scorers_had_names_of_their_own_are_not_paired(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("lower, upper", files([LOWER, UPPER]))
    head = repo.commit("lower alone", files([LOWER]))
    assert run_cli(["eval", "--rev", base], repo.path).code == 0
    # As an older promptgit stored them: both regex scorers under the label `regex`, upper's value last.
    with sqlite3.connect(open_project(start=repo.path).store_path / STORE_FILE) as db:
        relabelled = db.execute(
            "UPDATE cases SET scores = json_array(json_array('regex', json_extract(scores, '$[0][1]'), NULL),"
            " json_array('regex', json_extract(scores, '$[1][1]'), NULL))"
        ).rowcount
    assert relabelled == 4
    result = run_cli(["diff", base, head, "--json"], repo.path)
    assert result.code == 0, result.err
    [suite] = json.loads(result.out)["suites"]
    # Paired by name, base's `regex` (upper, 75%) would have passed for head's (lower, 25%): a 50-point drop.
    assert [(s["name"], s["base"], s["head"], s["delta"], s["scorer_changed"]) for s in suite["scorers"]] == [
        ("regex", 0.75, 0.25, None, True)
    ]


def test_log_by_scorer_marks_a_column_whose_scorer_changed(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result], git_env: None
) -> None:
    repo = new_repo(tmp_path / "repo")
    repo.commit("lower", files(["exact_match", LOWER]))
    repo.commit("upper", files(["exact_match", UPPER]))
    repo.commit("upper, counted twice", files(["exact_match", f"{{{UPPER}, weight: 2}}"]))
    result = run_cli(["log", "--json"], repo.path)
    assert result.code == 0, result.err
    [log] = json.loads(result.out)
    assert [(e["message"], e["scorer_changed"]) for e in log["entries"]] == [
        ("lower", []),
        ("upper", ["regex"]),
        ("upper, counted twice", []),
    ]
    text = run_cli(["log", "--by-scorer"], repo.path).out
    marked = [line.split()[2] for line in text.splitlines() if "(scorer changed)" in line]
    assert marked == ["upper"], text
