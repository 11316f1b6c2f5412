"""Benchmark `promptgit blame` and `promptgit bisect` over a long history, against a local server.

Builds a throwaway repository of COMMITS commits in which every commit rewrites one of the prompt's
lines (so every commit changes the suite's fingerprint), and one commit in the middle breaks half the
answers. Measures a cold blame (evaluates what it needs), a warm blame (everything stored: the issue's
target is under 2 s for the whole process), and a bisect (revisions evaluated vs log2(commits) + 2).

    .venv/bin/python bench/bench_history.py [--commits 500] [--cases 40]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.openai_server import spawn_server  # noqa: E402

LINES = 20


def git(root: Path, *args: str, env: dict[str, str]) -> str:
    """Run git in `root`."""
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout.strip()


def prompt(revisions: list[int], answer: str) -> str:
    """A prompt whose system lines carry the commit that last rewrote them."""
    body = "\n".join(f"Guideline {i}: revision {r}." for i, r in enumerate(revisions))
    return f"---\nmax_tokens: 8\n---\nsystem:\n{body}\nuser:\nTicket {{{{ text }}}}\nANSWER: {{{{ {answer} }}}}\n"


def build_repo(root: Path, commits: int, cases: int, env: dict[str, str]) -> str:
    """The history; returns the sha of the commit that breaks the answers."""
    labels = ["billing", "refunds", "account_access"]
    (root / "prompts").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "promptgit.yaml").write_text("defaults: {model: openai/bench-model, temperature: 0}\nconcurrency: 32\n")
    (root / "evals/route.yaml").write_text(
        "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"
    )
    (root / "evals/cases.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "id": f"k{i:03d}",
                    "text": f"t{i}",
                    "label": labels[i % 3],
                    "good": labels[i % 3],
                    "bad": labels[i % 3] if i % 2 else "technical_support",
                }
            )
            + "\n"
            for i in range(cases)
        )
    )
    git(root, "init", "-q", "-b", "main", env=env)
    revisions = [0] * LINES
    answer, culprit = "good", ""
    for n in range(1, commits + 1):
        if n == commits // 2:
            answer = "bad"
        else:
            revisions[n % LINES] = n
        (root / "prompts/route.jinja").write_text(prompt(revisions, answer))
        git(root, "add", "-A", env=env)
        git(root, "commit", "-q", "-m", f"Change {n}", env=env)
        if n == commits // 2:
            culprit = git(root, "rev-parse", "HEAD", env=env)
    return culprit


def timed(root: Path, env: dict[str, str], *args: str) -> tuple[float, dict]:
    """Wall time and JSON output of one promptgit process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "promptgit", *args, "--json"], cwd=root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"promptgit {' '.join(args)} failed: {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def main() -> None:
    """Build the history, run the measurements, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--cases", type=int, default=40)
    args = parser.parse_args()
    server = spawn_server(latency=0.0)
    work = Path(tempfile.mkdtemp(prefix="promptgit-history-"))
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_API_BASE": server.api_base,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@x",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    try:
        started = time.perf_counter()
        culprit = build_repo(work, args.commits, args.cases, env)
        built = time.perf_counter() - started
        first = git(work, "rev-list", "--max-parents=0", "HEAD", env=env)
        cold, _ = timed(work, env, "blame", "route")
        cold_requests = server.stats().count
        server.reset()
        warm, report = timed(work, env, "blame", "route")
        warm_requests = server.stats().count
        answer = next(line for line in report["lines"] if line["text"].startswith("ANSWER"))
        server.reset()
        bisect_wall, bisect = timed(work, env, "bisect", "route", "--good", first)
        rows = [
            (
                "history",
                f"{args.commits} commits, every one changes the fingerprint; {args.cases} cases; "
                f"built in {built:.1f} s",
            ),
            ("cold blame", f"{cold:.2f} s, {cold_requests} model calls"),
            ("warm blame (target < 2 s)", f"{warm:.2f} s, {warm_requests} model calls"),
            (
                "blamed ANSWER line",
                f"commit {'is' if answer['commit'] == culprit else 'is NOT'} the culprit, delta {answer['delta']}",
            ),
            (
                "bisect",
                f"{bisect_wall:.2f} s; {len(bisect['evaluated'])} revisions evaluated "
                f"(log2({args.commits}) + 2 = {math.log2(args.commits) + 2:.1f}); "
                f"found {'the culprit' if bisect['first_bad'] == culprit else bisect['first_bad']}; "
                f"{server.stats().count} model calls",
            ),
        ]
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
