"""End to end on the embedded model: `promptgit eval` of an example suite, no API key, no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
