"""Run knobs and case selection end to end (selection.py): --repeat, -j, --case, --filter, --limit, --sample,
--failing, --shard, against the local server, with the requests it received counted exactly."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit.evaluate import plan_suites, results_for
from promptgit.project import open_project
from promptgit.selection import parse_shard, sample_order, shard_of
from promptgit.store import Store
from tests.conftest import Result
from tests.openai_server import Server
from tests.test_eval import labelled_project
from tests.test_suites import SAME_LOOKING_IDS

Run = Callable[..., Result]


def run_json(run_cli: Run, root: Path, *args: str) -> tuple[int, dict]:
    result = run_cli(["eval", "--json", *args], root)
    assert result.code in (0, 1, 3), result.err
    return result.code, json.loads(result.out)


def suite_of(document: dict) -> dict:
    (suite,) = document["suites"]
    return suite


def ids(suite: dict) -> list[str]:
    return [r["id"] for r in suite["results"]]


def test_a_limited_run_is_shown_as_a_selection_and_a_full_run_reuses_its_rows(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 10, wrong={3, 7})
    _, first = run_json(run_cli, root, "--limit", "4")
    suite = suite_of(first)
    assert ids(suite) == ["c000", "c001", "c002", "c003"]
    assert (suite["score"], suite["calls"], suite["cases"]) == (0.75, 4, 4)
    assert suite["selection"] == {"cases": 4, "of": 10, "by": ["--limit 4"], "shard": None}
    assert len(openai_server.requests) == 4
    text = run_cli(["eval", "--limit", "4"], root)
    assert "route: 4 of 10 cases (--limit 4): a selection, not the suite's score" in text.out
    _, whole = run_json(run_cli, root)
    suite = suite_of(whole)
    assert (suite["score"], suite["calls"], suite["cached"], suite["cases"], suite["selection"]) == (
        0.8,
        6,
        4,
        10,
        None,
    )
    assert len(openai_server.requests) == 10


def test_stored_rows_of_a_selection_are_never_read_as_the_suites_result(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 6, wrong=set())
    for args in (["--limit", "2"], ["--case", "c000", "--case", "c003"], ["--filter", "^c00[01]$"]):
        run_json(run_cli, root, *args)
        project = open_project(None, root)
        with Store(project.store_path) as store:
            plans = plan_suites(project)
            # log --no-eval and blame --no-eval read stored results only: a partial fingerprint is not one.
            assert results_for(project, store, plans, stored_only=True) == {}
    calls = len(openai_server.requests)
    run_json(run_cli, root)
    project = open_project(None, root)
    with Store(project.store_path) as store:
        (found,) = results_for(project, store, plan_suites(project), stored_only=True).values()
    assert (found.score, len(found.cases), found.calls) == (1.0, 6, 0)
    assert (calls, len(openai_server.requests)) == (3, 6)


def test_case_runs_the_named_cases_and_an_unknown_id_says_the_nearest(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 12, wrong={3})
    _, document = run_json(run_cli, root, "--case", "c003", "--case", "c010")
    suite = suite_of(document)
    assert (ids(suite), suite["score"], suite["calls"]) == (["c003", "c010"], 0.5, 2)
    assert suite["selection"]["by"] == ["--case c003", "--case c010"]
    for wrong, near in (("c03", "c003"), ("C003", "c003"), ("c0100", "c010"), ("c0011", "c011")):
        result = run_cli(["eval", "--case", "c001", "--case", wrong], root)
        assert result.code == 2
        assert f"no case {wrong!r} in suite 'route'" in result.err
        assert f"did you mean {near!r}?" in result.err
    assert len(openai_server.requests) == 2


def test_filter_searches_ids_and_vars_with_re2(openai_server: Server, write: Callable[..., Path], run_cli: Run) -> None:
    root = labelled_project(write, 12, wrong=set())
    _, by_id = run_json(run_cli, root, "--filter", "^c00[12]$")
    assert ids(suite_of(by_id)) == ["c001", "c002"]
    _, by_var = run_json(run_cli, root, "--filter", r"^text=ticket 1\d?$")
    assert ids(suite_of(by_var)) == ["c001", "c010", "c011"]
    _, by_value = run_json(run_cli, root, "--filter", "reply=ACCOUNT")
    assert ids(suite_of(by_value)) == ["c003", "c007", "c011"]
    for pattern, said in (
        ("(?=c)", "--filter: invalid regular expression '(?=c)'"),
        (r"(c)\1", r"--filter: invalid regular expression '(c)\\1'"),
        ("[", "--filter: invalid regular expression '['"),
        ("^zzz$", "--filter '^zzz$' matches no case"),
    ):
        result = run_cli(["eval", "--filter", pattern], root)
        assert (result.code, said in result.err) == (2, True), result.err
    assert len(openai_server.requests) == 6  # c001 c002 c010 c011 c003 c007: each called once


def test_sample_is_the_same_on_every_run_and_limit_applies_after_it(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 20, wrong=set())
    order = sorted((f"c{i:03d}" for i in range(20)), key=lambda i: hashlib.sha256(f"7\0{i}".encode()).digest())
    _, first = run_json(run_cli, root, "--sample", "5", "--seed", "7")
    _, again = run_json(run_cli, root, "--sample", "5", "--seed", "7")
    assert ids(suite_of(first)) == ids(suite_of(again)) == sorted(order[:5])
    assert (suite_of(first)["calls"], suite_of(again)["calls"]) == (5, 0)
    _, other = run_json(run_cli, root, "--sample", "5", "--seed", "8", "--limit", "2")
    order8 = sorted((f"c{i:03d}" for i in range(20)), key=lambda i: hashlib.sha256(f"8\0{i}".encode()).digest())
    assert ids(suite_of(other)) == sorted(order8[:5])[:2]
    assert suite_of(other)["selection"]["by"] == ["--sample 5 --seed 8", "--limit 2"]
    for seed in ("3", "0"):
        result = run_cli(["eval", "--seed", seed], root)
        assert (result.code, "--seed only picks for --sample" in result.err) == (2, True)


def test_sample_order_does_not_move_a_case_when_others_are_added() -> None:
    from promptgit.suites import Case

    few = [Case(f"k{i}", {}, None, {}) for i in range(10)]
    more = few + [Case(f"new{i}", {}, None, {}) for i in range(10)]
    kept = [c.id for c in sample_order(more, 3) if c.id.startswith("k")]
    assert kept == [c.id for c in sample_order(few, 3)]


def test_failing_reruns_what_failed_in_the_stored_result(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 10, wrong={2, 5, 9})
    nothing = run_cli(["eval", "--failing"], root)
    assert nothing.code == 0
    assert "route: no stored result at this fingerprint, so no case is known to fail" in nothing.err
    assert len(openai_server.requests) == 0
    run_json(run_cli, root)
    code, document = run_json(run_cli, root, "--failing")
    suite = suite_of(document)
    assert (code, ids(suite), suite["calls"], suite["score"]) == (1, ["c002", "c005", "c009"], 0, 0.0)
    assert suite["selection"] == {"cases": 3, "of": 10, "by": ["--failing"], "shard": None}
    # The prompt fixed: a new fingerprint has nothing stored, so --failing says so rather than run all of it.
    (root / "prompts/route.jinja").write_text((root / "prompts/route.jinja").read_text() + "Be exact.\n")
    again = run_cli(["eval", "--failing"], root)
    assert "no stored result at this fingerprint" in again.err
    assert len(openai_server.requests) == 10


def test_failing_with_every_case_passing_runs_nothing(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 4, wrong=set())
    run_json(run_cli, root)
    result = run_cli(["eval", "--failing"], root)
    assert (result.code, result.err.strip()) == (0, "route: no case failed in its stored result")


def test_repeat_overrides_the_suite_and_its_rows_serve_any_smaller_count(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 5, wrong=set())
    _, three = run_json(run_cli, root, "--repeat", "3")
    assert (suite_of(three)["repeat"], suite_of(three)["calls"]) == (3, 15)
    _, one = run_json(run_cli, root)  # the suite's own repeat: 1
    assert (suite_of(one)["repeat"], suite_of(one)["calls"], suite_of(one)["cached"]) == (1, 0, 5)
    _, two = run_json(run_cli, root, "--repeat", "2")
    assert (suite_of(two)["calls"], suite_of(two)["cached"]) == (0, 10)
    _, four = run_json(run_cli, root, "--repeat", "4")
    assert (suite_of(four)["calls"], suite_of(four)["cached"]) == (5, 15)
    assert len(openai_server.requests) == 20
    assert run_cli(["eval", "--repeat", "0"], root).code == 2


def test_concurrency_bounds_the_calls_in_flight(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    openai_server.configure(latency=0.05)
    root = labelled_project(write, 6, wrong=set())  # concurrency: 8 in its promptgit.yaml
    _, document = run_json(run_cli, root, "-j", "1")
    assert suite_of(document)["calls"] == 6
    assert openai_server.stats().max_in_flight == 1
    assert run_cli(["eval", "--concurrency", "0"], root).code == 2


def test_shards_partition_the_calls_and_meet_in_the_store(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 15, wrong={4}, repeat=2)
    ran: list[tuple[str, int]] = []
    for index in (1, 2, 3):
        _, document = run_json(run_cli, root, "--shard", f"{index}/3")
        suite = suite_of(document)
        mine = [(f"c{i:03d}", r) for i in range(15) for r in range(2) if shard_of("route", f"c{i:03d}", r, 3) == index]
        assert suite["calls"] == len(mine)
        assert suite["selection"]["shard"] == f"{index}/3"
        ran += mine
    assert sorted(ran) == [(f"c{i:03d}", r) for i in range(15) for r in range(2)]
    assert len(openai_server.requests) == 30
    _, whole = run_json(run_cli, root)
    assert (suite_of(whole)["calls"], suite_of(whole)["cached"], suite_of(whole)["score"]) == (0, 30, round(14 / 15, 6))
    assert len(openai_server.requests) == 30


def test_a_shard_shows_the_cases_it_completed_not_those_waiting_for_other_shards(
    openai_server: Server, write: Callable[..., Path], run_cli: Run
) -> None:
    root = labelled_project(write, 8, wrong=set(), repeat=2)
    _, document = run_json(run_cli, root, "--shard", "1/2")
    both = [f"c{i:03d}" for i in range(8) if all(shard_of("route", f"c{i:03d}", r, 2) == 1 for r in range(2))]
    assert ids(suite_of(document)) == both
    assert suite_of(document)["errors"] == 0
    _, second = run_json(run_cli, root, "--shard", "2/2")
    # Shard 2 completes every case it ran a repeat of: its own, and those shard 1 began.
    touched = [f"c{i:03d}" for i in range(8) if any(shard_of("route", f"c{i:03d}", r, 2) == 2 for r in range(2))]
    assert ids(suite_of(second)) == touched


def test_a_shards_place_depends_on_its_ids_alone() -> None:
    assert [shard_of("route", f"c{i:03d}", 0, 4) for i in range(8)] == [
        int.from_bytes(hashlib.sha256(f"route\0c{i:03d}\0{0}".encode()).digest()[:8], "big") % 4 + 1 for i in range(8)
    ]
    assert {shard_of("s", "x", r, 3) for r in range(60)} == {1, 2, 3}


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3", "1/0", "-1/2", "1/2/3", ""])
def test_a_malformed_shard_is_refused(text: str) -> None:
    from promptgit.errors import PromptgitError

    with pytest.raises(PromptgitError, match="is not I/N with 1 <= I <= N"):
        parse_shard(text)


def test_a_malformed_shard_on_the_command_line_is_exit_2(write: Callable[..., Path], run_cli: Run) -> None:
    root = labelled_project(write, 3, wrong=set())
    for text in ("0/3", "5/4", "two/4"):
        result = run_cli(["eval", "--shard", text], root)
        assert (result.code, f"--shard {text!r} is not I/N" in result.err) == (2, True)


def test_log_blame_diff_and_ci_never_take_a_partial_run_for_the_suites_score(
    openai_server: Server, git_env: None, tmp_path: Path, write: Callable[..., Path], run_cli: Run
) -> None:
    from tests.gitrepo import new_repo

    repo = new_repo(tmp_path / "repo")
    labelled_project(lambda files: write(files, repo.path), 10, wrong={3, 7})
    c1 = repo.commit("route tickets")
    prompt = repo.path / "prompts/route.jinja"
    c2 = repo.commit("plainly", {"prompts/route.jinja": prompt.read_text().replace("Route", "Plainly route")})
    root = repo.path
    assert suite_of(run_json(run_cli, root, "--rev", c1, "--limit", "4")[1])["calls"] == 4
    assert suite_of(run_json(run_cli, root, "--shard", "1/2")[1])["selection"]["shard"] == "1/2"
    partial = len(openai_server.requests)

    logged = json.loads(run_cli(["log", "--no-eval", "--json", "route"], root).out)
    assert [e["score"] for e in logged[0]["entries"]] == [None, None]
    blamed = json.loads(run_cli(["blame", "--no-eval", "--json", "route"], root).out)
    impacts = [i for line in blamed["lines"] for i in line["impacts"].values()]
    assert {(i["before"], i["after"]) for i in impacts} == {(None, None)}
    assert len(openai_server.requests) == partial  # reading stored results made no call

    logged = json.loads(run_cli(["log", "--json", "-q", "route"], root).out)
    assert [e["score"] for e in logged[0]["entries"]] == [0.8, 0.8]  # every case, the stored ones reused
    assert len(openai_server.requests) == 20  # each revision's 10 calls, once: 4 + 6 at c1, shard + rest at c2
    compared = json.loads(run_cli(["diff", c1, c2, "--json", "-q"], root).out)["suites"][0]
    assert (compared["base_cases"], compared["head_cases"], compared["compared"]["cases"]) == (10, 10, 10)
    gated = run_cli(["ci", "--base", c1, "--head", c2, "--json", "-q", "--no-pull", "--no-bisect"], root)
    suite = json.loads(gated.out)["suites"][0]
    assert (gated.code, suite["base_score"], suite["head_score"], suite["base_cases"]) == (0, 0.8, 0.8, 10)
    assert len(openai_server.requests) == 20


def test_diff_and_ci_take_repeat_and_concurrency(
    openai_server: Server, git_env: None, tmp_path: Path, write: Callable[..., Path], run_cli: Run
) -> None:
    from tests.gitrepo import new_repo

    repo = new_repo(tmp_path / "repo")
    labelled_project(lambda files: write(files, repo.path), 6, wrong={1})
    c1 = repo.commit("route tickets")
    prompt = repo.path / "prompts/route.jinja"
    c2 = repo.commit("plainly", {"prompts/route.jinja": prompt.read_text().replace("Route", "Plainly route")})
    openai_server.configure(latency=0.02)
    compared = run_cli(["diff", c1, c2, "--json", "-q", "--repeat", "3", "-j", "1"], repo.path)
    assert compared.code == 0, compared.err
    assert len(openai_server.requests) == 2 * 6 * 3
    assert openai_server.stats().max_in_flight == 1
    gated = run_cli(["ci", "--base", c1, "--head", c2, "--json", "-q", "--no-pull", "--repeat", "2"], repo.path)
    assert (gated.code, json.loads(gated.out)["suites"][0]["head_score"]) == (0, round(5 / 6, 6))
    assert len(openai_server.requests) == 36  # repeats 0 and 1 were stored by the diff's three
    for command in (["diff", c1, c2], ["ci", "--base", c1]):
        assert run_cli([*command, "--repeat", "0"], repo.path).code == 2
        assert run_cli([*command, "-j", "0"], repo.path).code == 2


@pytest.mark.parametrize(("composed", "decomposed"), SAME_LOOKING_IDS)
def test_case_in_either_unicode_form_selects_its_case(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result], composed: str, decomposed: str
) -> None:
    # Ids are read in NFC (suites.normal_id); a --case typed or pasted in the other form names the same case.
    rows = [{"id": decomposed, "text": "x", "expected": "x"}, {"id": "b", "text": "y", "expected": "y"}]
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/p.jinja": "user:\nANSWER: {{ text }}\n",
            "evals/s.yaml": "prompt: p\ndataset: d.jsonl\nscorers: [exact_match]\n",
            "evals/d.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
        }
    )
    for typed in (composed, decomposed):
        result = run_cli(["eval", "--json", "--case", typed], root)
        assert result.code == 0, result.err
        assert [c["id"] for c in json.loads(result.out)["suites"][0]["results"]] == [composed]
