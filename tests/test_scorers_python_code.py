"""Python scorers (promptgit/scorers/python_code.py): user code, bounded in time, off the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import scorers
from promptgit.config import Settings, load_settings
from promptgit.errors import PromptgitError
from promptgit.scorers import Score, ScorerError, ScorerSite
from promptgit.tree import WorkTree
from tests.conftest import Result
from tests.openai_server import Server
from tests.scorers_support import SUITE, case, make_site, no_judge, run

# -- python --------------------------------------------------------------------------------------

USER_SCORERS = """\
    import json

    def as_float(output, expected, case):
        return 0.25 if output == expected else 0.75

    def as_bool(output, expected, case):
        return output.startswith(expected)

    def as_dict(output, expected, case):
        return {"score": 0.5, "reason": f"case {case.id}: half marks"}

    async def as_async(output, expected, case):
        return True

    def crashes(output, expected, case):
        return json.loads(output)["missing"]

    def too_big(output, expected, case):
        return 3

    def one_argument(output):
        return 1.0
"""


@pytest.fixture
def python_site(tmp_path: Path) -> ScorerSite:
    return make_site(tmp_path, {"evals/support/scorers.py": USER_SCORERS})


def test_python_scorers_return_float_bool_dict_or_await(python_site: ScorerSite) -> None:
    assert run("python", "scorers.py:as_float", "a", "b", python_site) == Score(0.75)
    assert run("python", "scorers.py:as_bool", "billing queue", "billing", python_site) == Score(1.0)
    assert run("python", "scorers.py:as_bool", "refunds", "billing", python_site) == Score(0.0)
    assert run("python", "scorers.py:as_dict", "x", "y", python_site) == Score(0.5, "case c1: half marks")
    assert run("python", "scorers.py:as_async", "x", "y", python_site) == Score(1.0)
    assert scorers.build("python", "scorers.py:as_dict", python_site).label == "python:as_dict"


def test_python_scorer_code_comes_from_the_tree_not_an_import(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/scorers.py": "def tone(output, expected, case):\n    return 1.0\n"})
    assert run("python", "scorers.py:tone", "x", None, site) == Score(1.0)
    (tmp_path / "evals/support/scorers.py").write_text("def tone(output, expected, case):\n    return 0.0\n")
    assert run("python", "scorers.py:tone", "x", None, site) == Score(0.0)


def test_python_scorer_config_problems_name_the_file_and_line(tmp_path: Path, python_site: ScorerSite) -> None:
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "scorers.py:as_flaot", python_site)
    err = caught.value
    assert (err.message, err.file, err.line, err.hint) == (
        "evals/support/scorers.py has no function 'as_flaot'",
        SUITE,
        7,
        "did you mean 'as_float'?",
    )
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "other.py:tone", python_site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "python scorer file 'evals/support/other.py' not found",
        SUITE,
        7,
    )
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "scorers.py", python_site)
    assert caught.value.message == "python needs `file.py:function`, got 'scorers.py'"
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "scorers.py:one_argument", python_site)
    assert caught.value.message == "evals/support/scorers.py:one_argument must take (output, expected, case)"


def test_a_syntax_error_in_a_scorer_file_names_its_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/broken.py": "def tone(output, expected, case)\n    return 1\n"})
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "broken.py:tone", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "syntax error in scorer file: expected ':'",
        "evals/support/broken.py",
        1,
    )


def test_a_scorer_file_that_fails_to_load_names_its_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"evals/support/loads.py": "X = 1\nY = 1 / 0\n"})
    with pytest.raises(PromptgitError) as caught:
        scorers.build("python", "loads.py:tone", site)
    assert (caught.value.message, caught.value.file, caught.value.line) == (
        "scorer file failed to load: ZeroDivisionError: division by zero",
        "evals/support/loads.py",
        2,
    )


def test_a_crash_in_user_scorer_code_is_an_error_naming_the_scorer_its_line_and_the_case(
    python_site: ScorerSite,
) -> None:
    with pytest.raises(ScorerError) as caught:
        run("python", "scorers.py:crashes", "{}", "x", python_site)
    assert str(caught.value) == (
        "python scorer evals/support/scorers.py:crashes raised KeyError: 'missing' "
        "at evals/support/scorers.py:16 (case 'c1')"
    )


def test_a_bad_return_value_is_an_error_naming_the_function_and_the_case(python_site: ScorerSite) -> None:
    with pytest.raises(ScorerError) as caught:
        run("python", "scorers.py:too_big", "x", "y", python_site)
    assert str(caught.value) == (
        "python scorer evals/support/scorers.py:too_big returned 3 for case 'c1': a score must lie in [0, 1], "
        "not 3; return a float in [0, 1], a bool, or {'score': 0.5, 'reason': '…'}"
    )


MISBEHAVING = """\
    import asyncio
    import os
    import sys
    import time

    def exits_zero(output, expected, case):
        sys.exit(0)

    def exits_three(output, expected, case):
        sys.exit(3)

    def raises_system_exit(output, expected, case):
        raise SystemExit("bye")

    def interrupts(output, expected, case):
        raise KeyboardInterrupt

    def stops(output, expected, case):
        raise StopIteration

    def sleeps(output, expected, case):
        time.sleep(1.5)
        return 1.0

    def spins(output, expected, case):
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            pass
        return 1.0

    async def awaits_forever(output, expected, case):
        await asyncio.sleep(1.5)
        return 1.0

    def naps(output, expected, case):
        time.sleep(0.4)
        return 1.0
"""

# Function -> the end of its error: each is an error for the case, never a crash of the run.
MISBEHAVIOUR = {
    "exits_zero": "raised SystemExit: 0 at evals/support/bad.py:7 (case 'c1')",
    "exits_three": "raised SystemExit: 3 at evals/support/bad.py:10 (case 'c1')",
    "raises_system_exit": "raised SystemExit: bye at evals/support/bad.py:13 (case 'c1')",
    "interrupts": "raised KeyboardInterrupt:  at evals/support/bad.py:16 (case 'c1')",
    "stops": "raised StopIteration:  at evals/support/bad.py:19 (case 'c1')",
    "sleeps": "took longer than 0.3 s on case 'c1' (raise promptgit.yaml's scorer_timeout if it needs longer)",
    "spins": "took longer than 0.3 s on case 'c1' (raise promptgit.yaml's scorer_timeout if it needs longer)",
    "awaits_forever": "took longer than 0.3 s on case 'c1' (raise promptgit.yaml's scorer_timeout if it needs longer)",
}


@pytest.fixture
def bad_site(tmp_path: Path) -> ScorerSite:
    return dataclasses.replace(make_site(tmp_path, {"evals/support/bad.py": MISBEHAVING}), python_timeout=0.3)


@pytest.mark.parametrize("function", sorted(MISBEHAVIOUR))
def test_a_scorer_that_exits_raises_or_overruns_is_an_error_for_the_case(bad_site: ScorerSite, function: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScorerError) as caught:
        run("python", f"bad.py:{function}", "x", None, bad_site)
    assert str(caught.value) == f"python scorer evals/support/bad.py:{function} {MISBEHAVIOUR[function]}"
    assert time.monotonic() - started < 1.4  # the timeout, not the function, decides when the case ends


def test_a_slow_scorer_never_stalls_the_event_loop(bad_site: ScorerSite) -> None:
    scorer = scorers.build("python", "bad.py:naps", dataclasses.replace(bad_site, python_timeout=5))

    async def both() -> tuple[Score, int]:
        scoring = asyncio.ensure_future(scorer.score("x", None, case(), no_judge))
        ticks = 0
        while not scoring.done():  # counts the loop's turns while the scorer runs
            await asyncio.sleep(0.01)
            ticks += 1
        return await scoring, ticks

    score, ticks = asyncio.run(both())
    # The scorer slept 0.4 s on its own thread: about 40 turns. On the loop it would have allowed at most 1.
    assert score == Score(1.0)
    assert ticks >= 3  # a loaded machine turns the loop less often, but a blocked loop turns at most once


def test_scorer_timeout_is_a_setting_with_a_default(write: Callable[..., Path]) -> None:
    assert Settings().scorer_timeout == 30.0 == scorers.PYTHON_TIMEOUT
    root = write({"promptgit.yaml": "scorer_timeout: 2.5\n"})
    assert load_settings(WorkTree(root)).scorer_timeout == 2.5
    for bad in ("0", "-1", "soon", "true"):
        (root / "promptgit.yaml").write_text(f"scorer_timeout: {bad}\n")
        with pytest.raises(PromptgitError) as caught:
            load_settings(WorkTree(root))
        assert (caught.value.file, caught.value.line) == ("promptgit.yaml", 1)
        assert caught.value.message.startswith("scorer_timeout must be a number")


def test_eval_reports_misbehaving_scorers_per_case_and_finishes(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    scorer_file = textwrap.dedent(MISBEHAVING) + textwrap.dedent(
        """\
        def by_case(output, expected, case):
            if case.id == "exit":
                sys.exit(0)
            if case.id == "crash":
                return {}["nope"]
            if case.id == "slow":
                time.sleep(1.5)
            return output == expected
        """
    )
    ids = ["ok1", "exit", "crash", "slow", "ok2", "ok3", "ok4", "ok5", "ok6", "ok7"]
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\nscorer_timeout: 0.5\nmax_error_rate: 0.5\n",
            "prompts/p.jinja": "user:\nANSWER: {{ reply }}\n",
            "evals/s.yaml": "prompt: p\nexpected: reply\nscorers:\n  - python: bad.py:by_case\ncases:\n"
            + "".join(f"  - {{id: {i}, reply: fine}}\n" for i in ids),
            "evals/bad.py": scorer_file,
        }
    )
    result = run_cli(["eval", "--json"], root)
    suite = json.loads(result.out)["suites"][0]
    assert (result.code, suite["passed"], suite["errors"]) == (0, 7, 3)
    errors = {r["id"]: r["error"] for r in suite["results"] if r["error"]}
    assert errors == {
        "exit": "python:by_case: python scorer evals/bad.py:by_case raised SystemExit: 0 at evals/bad.py:40 "
        "(case 'exit')",
        "crash": "python:by_case: python scorer evals/bad.py:by_case raised KeyError: 'nope' at evals/bad.py:42 "
        "(case 'crash')",
        "slow": "python:by_case: python scorer evals/bad.py:by_case took longer than 0.5 s on case 'slow' "
        "(raise promptgit.yaml's scorer_timeout if it needs longer)",
    }


# -- coerce --------------------------------------------------------------------------------------


def test_coerce_python_return_values() -> None:
    assert scorers.coerce(True) == Score(1.0)
    assert scorers.coerce(False) == Score(0.0)
    assert scorers.coerce(1) == Score(1.0)
    assert scorers.coerce(0.4) == Score(0.4)
    assert scorers.coerce({"score": 0.5}) == Score(0.5)
    assert scorers.coerce({"score": True, "reason": "ok"}) == Score(1.0, "ok")
    for bad, message in [
        (1.5, "a score must lie in [0, 1], not 1.5"),
        (float("nan"), "a score must lie in [0, 1], not nan"),
        ("0.5", "a score must be a number or a bool, not str"),
        ({"value": 1}, "a dict result needs a 'score' key and at most a 'reason' key (unknown: 'value')"),
        (None, "a score must be a number or a bool, not NoneType"),
    ]:
        with pytest.raises(ValueError) as caught:
            scorers.coerce(bad)  # type: ignore[arg-type]
        assert str(caught.value) == message
