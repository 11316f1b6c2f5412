"""End to end on the embedded model: `promptgit eval` of example suites, no API key, no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import Result

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.local_model


def _offline_env() -> dict[str, str]:
    # No provider key and no route to a provider: only the embedded model can answer.
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_API_BASE", "_BASE_URL"))}
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""})
    return env


def test_eval_on_the_example_suite_gives_real_scores_offline(tmp_path: Path) -> None:
    for item in ("promptgit.yaml", "prompts", "evals"):
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / item)
    run = [sys.executable, "-m", "promptgit", "eval", "sentiment/reviews", "--json"]
    done = subprocess.run(run, cwd=tmp_path, env=_offline_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    suite = json.loads(done.stdout)["suites"][0]
    results = suite["results"]
    assert (suite["cases"], suite["errors"], suite["calls"], suite["cached"]) == (24, 0, 24, 0)
    # The score is exactly what exact_match says about the model's real outputs.
    truth = [r["output"].strip().lower() == str(r["expected"]).strip().lower() for r in results]
    assert suite["score"] == pytest.approx(sum(truth) / len(truth), abs=1e-6)
    assert 0.3 < suite["score"] <= 1.0  # a real model, not a stub: it gets most of them, not none
    assert len({r["output"] for r in results}) >= 2  # it answers differently for different reviews
    again = subprocess.run(run, cwd=tmp_path, env=_offline_env(), capture_output=True, text=True, timeout=120)
    repeat = json.loads(again.stdout)["suites"][0]
    assert (repeat["calls"], repeat["cached"], repeat["score"]) == (0, 24, suite["score"])


# --- same inputs, same output (issue 18) -------------------------------------------------------------

CASES = 4


def _small_project(root: Path, concurrency: int) -> Path:
    """The example prompts with two small suites: CASES reviews (inline cases) and CASES tickets (a dataset)."""
    shutil.copytree(ROOT / "prompts", root / "prompts")
    settings = yaml.safe_load((ROOT / "promptgit.yaml").read_text(encoding="utf-8"))
    settings["concurrency"] = concurrency
    (root / "promptgit.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    reviews = yaml.safe_load((ROOT / "evals/sentiment/reviews.yaml").read_text(encoding="utf-8"))
    reviews["cases"] = reviews["cases"][:CASES]
    (root / "evals/sentiment").mkdir(parents=True)
    (root / "evals/sentiment/reviews.yaml").write_text(yaml.safe_dump(reviews), encoding="utf-8")
    shutil.copytree(ROOT / "evals/support", root / "evals/support")
    tickets = (ROOT / "evals/support/tickets.jsonl").read_text(encoding="utf-8").splitlines()[:CASES]
    (root / "evals/support/tickets.jsonl").write_text("\n".join(tickets) + "\n", encoding="utf-8")
    return root


def _outputs(run_cli: Callable[..., Result], root: Path, *suites: str) -> dict[str, dict[str, str]]:
    """Every case's output by suite, from one in-process `promptgit eval --json` that paid every call."""
    done = run_cli(["eval", "--json", *suites], root)
    assert done.code in (0, 1), done.err
    report = json.loads(done.out)
    found = {}
    for suite in report["suites"]:
        assert (suite["cases"], suite["errors"], suite["calls"], suite["cached"]) == (CASES, 0, CASES, 0)
        found[suite["name"]] = {r["id"]: r["output"] for r in suite["results"]}
    return found


def test_a_suite_answers_the_same_alone_and_beside_another_suite(
    tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _offline_env().items():
        monkeypatch.setenv(name, value)
    runs = {
        # One process and one loaded model serve all four runs, and each sends the same requests
        # in another order, after other calls, 1 to 4 in flight.
        "reviews alone": _outputs(run_cli, _small_project(tmp_path / "a", 4), "sentiment/reviews"),
        "tickets alone": _outputs(run_cli, _small_project(tmp_path / "b", 4), "support/classify"),
        "both, 4 at a time": _outputs(run_cli, _small_project(tmp_path / "c", 4)),
        "tickets first, one at a time": _outputs(
            run_cli, _small_project(tmp_path / "d", 1), "support/classify", "sentiment/reviews"
        ),
    }
    reviews, tickets = runs["reviews alone"]["sentiment/reviews"], runs["tickets alone"]["support/classify"]
    assert len(reviews) == len(tickets) == CASES
    for name in ("both, 4 at a time", "tickets first, one at a time"):
        assert runs[name] == {"sentiment/reviews": reviews, "support/classify": tickets}, name


# --- no litellm for the embedded model (issue 18, part 5) --------------------------------------------

_NO_LITELLM_PROBE = (
    "import sys\nfrom promptgit.cli import main\ntry:\n    main(['eval', '--json'])\nexcept SystemExit as e:\n"
    "    code = e.code\nprint('LITELLM' if 'litellm' in sys.modules else 'NO-LITELLM', code, file=sys.stderr)\n"
)


def test_a_run_whose_calls_are_all_local_never_imports_litellm(tmp_path: Path) -> None:
    # The prompt's model and the judge's are both the embedded one; two cases, so four calls.
    root = _small_project(tmp_path / "p", 2)
    shutil.rmtree(root / "evals/support")
    reviews = yaml.safe_load((root / "evals/sentiment/reviews.yaml").read_text(encoding="utf-8"))
    reviews["cases"] = reviews["cases"][:2]
    reviews["scorers"] = ["exact_match", {"llm_judge": {"rubric": "Is one word.", "model": "local/qwen2.5-coder-0.5b"}}]
    reviews.pop("threshold", None)
    (root / "evals/sentiment/reviews.yaml").write_text(yaml.safe_dump(reviews), encoding="utf-8")
    run = [sys.executable, "-c", _NO_LITELLM_PROBE]
    done = subprocess.run(run, cwd=root, env=_offline_env(), capture_output=True, text=True, timeout=600)
    assert done.stderr.strip().splitlines()[-1] in ("NO-LITELLM 0", "NO-LITELLM 1"), done.stderr
    suite = json.loads(done.stdout)["suites"][0]
    assert (suite["cases"], suite["calls"], suite["cached"]) == (2, 4, 0)
    assert suite["input_tokens"] > 0 and suite["cost"] == 0.0
