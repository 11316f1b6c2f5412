"""`promptgit drift` and `eval --no-cache` end to end: the local server changes its answers behind the same model
name, and drift sees it without any commit (paired against the stored result, exit 1 on a significant drop)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project

Run = Callable[..., Result]


def user_messages(server: Server) -> dict[str, str]:
    """Each case's last user message, by the ticket text it carries (`Ticket ticket 3` -> case c003)."""
    found = {}
    for record in server.requests:
        text = [m["content"] for m in record.body["messages"] if m["role"] == "user"][-1]
        number = int(text.split("\n")[0].rsplit(" ", 1)[1])
        found[f"c{number:03d}"] = text
    return found


def change_model(server: Server, wrong: range | list[int], answer: str = "nonsense") -> None:
    """The provider now answers `answer` to the cases at `wrong`, under the same model name."""
    messages = user_messages(server)
    server.configure(answers={messages[f"c{i:03d}"]: answer for i in wrong})


def drift(run_cli: Run, root: Path, *args: str) -> tuple[int, dict, str]:
    result = run_cli(["drift", "--json", *args], root)
    return result.code, json.loads(result.out), result.err


def test_drift_fails_on_a_significant_drop_and_stores_what_the_model_says_now(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 20, wrong=set())
    assert run_cli(["eval"], root).code == 0
    code, same, _ = drift(run_cli, root)
    (suite,) = same["suites"]
    assert (code, same["verdict"], suite["reason"], suite["fresh_calls"]) == (
        0,
        "pass",
        "no case changed since the stored result",
        20,
    )
    assert len(openai_server.requests) == 40
    change_model(openai_server, range(8))
    code, dropped, err = drift(run_cli, root)
    (suite,) = dropped["suites"]
    assert (code, dropped["verdict"], suite["base_score"], suite["head_score"]) == (1, "fail", 1.0, 0.6)
    assert (suite["up"], suite["down"], suite["p_value"]) == (0, 8, 2 / 256)
    assert suite["regressed"] == [f"c{i:03d}" for i in range(8)]
    assert (
        suite["reason"]
        == "dropped 40.0 pts (p = 0.00781, 0 up / 8 down) since the stored result, and the drop is significant"
    )
    assert "fail: route: dropped 40.0 pts" in err
    assert len(openai_server.requests) == 60
    # The fresh answers replaced the stored ones: eval reuses them, and drift now compares with them.
    evaluated = json.loads(run_cli(["eval", "--json"], root).out)["suites"][0]
    assert (evaluated["score"], evaluated["calls"], evaluated["cached"]) == (0.6, 0, 20)
    code, again, _ = drift(run_cli, root)
    assert (code, again["suites"][0]["reason"]) == (0, "no case changed since the stored result")
    assert len(openai_server.requests) == 80


def test_drift_within_noise_an_improvement_and_a_drop_within_max_drop_pass(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 20, wrong=set(range(10)))
    run_cli(["eval"], root)
    change_model(openai_server, [12, 13], "nonsense")  # two of the right ones go wrong
    code, noisy, _ = drift(run_cli, root)
    assert (code, noisy["suites"][0]["reason"]) == (
        0,
        "moved within noise since the stored result (p = 0.5, 0 up / 2 down)",
    )
    labels = ["billing", "refunds", "technical_support", "account_access"]
    messages = user_messages(openai_server)
    openai_server.configure(answers={messages[f"c{i:03d}"]: labels[i % 4] for i in range(20)})  # every case right
    code, better, _ = drift(run_cli, root)
    (suite,) = better["suites"]
    assert (code, suite["up"], suite["down"], suite["head_score"]) == (0, 12, 0, 1.0)
    assert suite["reason"] == "improved significantly since the stored result (p < 0.001, 12 up / 0 down)"
    suite_file = root / "evals/route.yaml"
    suite_file.write_text(suite_file.read_text() + "max_drop: 0.5\n")
    run_cli(["eval"], root)  # the new fingerprint's baseline: every case right (the answers table still holds)
    change_model(openai_server, range(8))  # c000-c007 answer nonsense; c008 and c009 their wrong replies again
    code, within, _ = drift(run_cli, root)
    assert (code, within["suites"][0]["reason"]) == (
        0,
        "dropped 50.0 pts (p = 0.00195, 0 up / 10 down), significant but within max_drop 50.0",
    )


def test_drift_with_nothing_stored_stores_the_baseline(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 6, wrong={1})
    code, first, _ = drift(run_cli, root)
    (suite,) = first["suites"]
    assert (code, suite["base_score"], suite["head_score"], suite["fresh_calls"]) == (0, None, round(5 / 6, 6), 6)
    assert suite["reason"] == "nothing was stored to compare with: this run is stored as the baseline"
    evaluated = json.loads(run_cli(["eval", "--json"], root).out)["suites"][0]
    assert (evaluated["calls"], evaluated["cached"]) == (0, 6)


def test_drift_is_inconclusive_when_the_fresh_calls_fail(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 6, wrong=set(), settings="retries: 0\n")
    run_cli(["eval"], root)
    openai_server.configure(rates={"400": 1.0})
    code, failed, _ = drift(run_cli, root)
    (suite,) = failed["suites"]
    assert (code, failed["verdict"], suite["verdict"]) == (3, "inconclusive", "inconclusive")
    assert suite["reason"].startswith("6 of 6 cases failed to run on fresh")
    openai_server.configure()
    # Nothing was replaced by the failed calls: the stored result still stands.
    evaluated = json.loads(run_cli(["eval", "--json"], root).out)["suites"][0]
    assert (evaluated["score"], evaluated["calls"]) == (1.0, 0)


def test_drift_text_names_both_sides(openai_server: Server, write: Callable[..., Path], run_cli: Run) -> None:
    root = labelled_project(write, 4, wrong=set())
    run_cli(["eval"], root)
    result = run_cli(["drift"], root)
    assert result.code == 0
    assert result.out.splitlines()[0] == "stored -> fresh"
    assert result.out.splitlines()[1].split() == [
        "suite",
        "base",
        "head",
        "delta",
        "(pts)",
        "[95%",
        "CI]",
        "improved",
        "regressed",
    ]


def test_no_cache_calls_afresh_and_replaces_the_cached_answer(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 10, wrong=set())
    run_cli(["eval"], root)
    change_model(openai_server, range(3))

    def score_and_calls(*args: str) -> tuple[float, int, int]:
        suite = json.loads(run_cli(["eval", "--json", *args], root).out)["suites"][0]
        return suite["score"], suite["calls"], suite["cached"]

    assert score_and_calls() == (1.0, 0, 10)  # the cache answers: the change is unseen
    assert score_and_calls("--no-cache") == (0.7, 10, 0)
    assert score_and_calls() == (0.7, 0, 10)
    assert score_and_calls("--no-cache", "--limit", "2") == (0.0, 2, 0)
    assert len(openai_server.requests) == 22
