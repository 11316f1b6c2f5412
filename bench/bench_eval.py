"""Benchmark `promptgit eval` against a local OpenAI-compatible server in its own process.

Measures, for N cases at concurrency C and a fixed server latency: the whole-process wall time
against the ideal ceil(N/C) x latency, the server-side span from first request to last answer,
CPU time per case, peak memory, a fully cached re-run, a run with injected faults, and the memory
of a run over 100,000 cached cases. Run it from the repository root:

    .venv/bin/python bench/bench_eval.py            # the full set (about 2 minutes)
    .venv/bin/python bench/bench_eval.py --quick    # smaller N, for a smoke test
    .venv/bin/python bench/bench_eval.py --start    # time to first request only (1 and N cases), and claims' cost
    .venv/bin/python bench/bench_eval.py --throughput --before /tmp/before   # N=20,000, C=64, 20 ms: this
        # checkout against another one's promptgit, alternating, with the stores compared
    .venv/bin/python bench/bench_eval.py --crossover  # workers off and on at growing N: where workers start to pay
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.openai_server import RemoteServer, spawn_server  # noqa: E402

PROMPT = (
    "---\nmax_tokens: 8\n---\nsystem:\nRoute the ticket to one queue.\nuser:\nTicket {{ text }}\nANSWER: {{ reply }}\n"
)
LABELS = ["billing", "refunds", "technical_support", "account_access"]


@dataclass(frozen=True)
class Run:
    """One measured `promptgit eval` process; times are time.monotonic(), which the server shares."""

    wall: float
    cpu: float
    peak_mb: float
    report: dict
    started: float
    ended: float


def make_project(folder: Path, n: int, concurrency: int, extra: str = "") -> Path:
    """A project with one suite of `n` cases; every 10th fake answer is wrong (score 0.9)."""
    (folder / "prompts").mkdir(parents=True)
    (folder / "evals").mkdir()
    (folder / "promptgit.yaml").write_text(
        f"defaults: {{model: openai/bench-model, temperature: 0}}\nconcurrency: {concurrency}\n{extra}"
    )
    (folder / "prompts/route.jinja").write_text(PROMPT)
    (folder / "evals/route.yaml").write_text(
        "prompt: route\ndataset: cases.jsonl\nexpected: label\nscorers: [exact_match]\n"
    )
    with (folder / "evals/cases.jsonl").open("w") as out:
        for i in range(n):
            label = LABELS[i % 4]
            reply = LABELS[(i + 1) % 4] if i % 10 == 0 else label
            out.write(
                json.dumps({"id": f"c{i:06d}", "text": f"ticket number {i}", "label": label, "reply": reply}) + "\n"
            )
    return folder


def run_eval_measured(project: Path, env: dict[str, str]) -> Run:
    """One `promptgit eval --json` process, reaped with wait4 to read its own CPU time and peak memory."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "promptgit", "eval", "--json"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"eval failed ({proc.returncode}): {err.read()[-2000:]}")
        report = json.loads(out.read())
    return Run(ended - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, report, started, ended)


@dataclass(frozen=True)
class Cold:
    """A cold run split into its phases, with what the server saw."""

    run: Run
    to_first_request: float  # process start to the first request reaching the server
    span: float  # first request to last answer, server-side
    after_last_answer: float  # last answer to process exit
    turnaround: float  # mean wait between a slot's answer and the request that takes the slot next
    max_in_flight: int


def measure_cold(project: Path, env: dict[str, str], server: RemoteServer, concurrency: int) -> Cold:
    """Run `promptgit eval` on a project with nothing cached, and split its wall time into phases."""
    server.reset()
    run = run_eval_measured(project, env)
    stats = server.stats()
    assert stats.first_arrival is not None and stats.last_finish is not None
    return Cold(
        run,
        stats.first_arrival - run.started,
        stats.span,
        run.ended - stats.last_finish,
        mean_turnaround(server.timeline(), concurrency),
        stats.max_in_flight,
    )


def mean_turnaround(timeline: list[tuple[float, float]], concurrency: int) -> float:
    """Mean seconds from the k-th answer to the (k + concurrency)-th request: how long freed slots sit empty."""
    arrivals = sorted(a for a, _ in timeline)
    finishes = sorted(f for _, f in timeline)
    waits = [arrivals[k + concurrency] - finishes[k] for k in range(len(arrivals) - concurrency)]
    return statistics.fmean(waits) if waits else 0.0


def prefill_cache(project: Path, n: int) -> None:
    """Store a response for every case, as if a previous run had paid for them (for the 100k memory run)."""
    sys.path.insert(0, str(ROOT))
    from promptgit.hashing import call_key
    from promptgit.project import open_project
    from promptgit.prompts import load_prompt, render
    from promptgit.store import Store, StoredResponse
    from promptgit.suites import load_suite

    proj = open_project(None, project)
    suite = load_suite(proj.tree, proj.settings, "route")
    prompt = load_prompt(proj.tree, proj.settings, "route")
    with Store(proj.store_path) as store:
        for case in suite.cases:
            rendered = render(proj.tree, proj.settings, prompt, case.vars)
            key = call_key([m.as_dict() for m in rendered.messages], dict(rendered.settings), 0)
            store.put_response(key, StoredResponse(case.vars["reply"], "openai/bench-model", 20, 1, 0.0, 0.2))
    assert n == len(suite.cases)


def seconds_to_import_litellm() -> float:
    """Process start to `import litellm` done (as promptgit sets it up: local cost map), one fresh process."""
    probe = "import os, time; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'; import litellm; print(time.time())"
    started = time.time()
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return float(done.stdout) - started


def claim_cost(keys: int = 2000) -> tuple[float, float]:
    """Microseconds per paid call that the store's claim adds (the claim, and its release inside the
    response's put), and what the put alone takes, on fresh stores on this disk."""
    from promptgit.store import Store, StoredResponse

    response = StoredResponse("billing", "openai/bench-model", 20, 1, 0.0, 0.2)
    timings = []
    for claiming in (False, True):
        with tempfile.TemporaryDirectory() as folder, Store(Path(folder)) as store:
            started = time.perf_counter()
            for k in range(keys):
                key = f"v1:{k:064d}"
                if claiming:
                    store.claim(key, "bench", 125.0)
                store.put_response(key, response, releasing="bench" if claiming else None)
            timings.append((time.perf_counter() - started) / keys * 1e6)
    plain, claimed = timings
    return claimed - plain, plain


# `promptgit eval --json` that also says on stderr when litellm's import (and promptgit's set-up of it) ended.
IMPORT_PROBE = """
import sys, time
from promptgit import models
original = models._litellm
def timed():
    first = models._litellm_module is None
    module = original()
    if first:
        print("LITELLM-READY", time.monotonic(), file=sys.stderr, flush=True)
    return module
models._litellm = timed
from promptgit.cli import main
main(["eval", "--json"])
"""


def first_request(project: Path, env: dict[str, str], server: RemoteServer) -> tuple[float, float]:
    """(process start to first request, litellm ready to first request) of one cold `promptgit eval`."""
    server.reset()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=project, env=env, capture_output=True, text=True)
    ready = [float(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("LITELLM-READY")]
    first = server.stats().first_arrival
    if done.returncode not in (0, 1) or not ready or first is None:
        raise SystemExit(f"eval failed ({done.returncode}): {done.stderr[-2000:]}")
    return first - started, first - ready[0]


def start_only(n: int, c: int, latency: float, repeat: int) -> None:
    """Medians of `repeat` cold runs of 1 and of `n` cases: start to first request, and litellm's import
    finishing to first request; beside `import litellm` alone, and what claims add per paid call.

    Set PYTHONPATH to another checkout's folder to measure its promptgit (the server and this script stay).
    """
    server = spawn_server(latency=latency)
    work = Path(tempfile.mkdtemp(prefix="promptgit-bench-"))
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_API_BASE": server.api_base}
    load = os.getloadavg()[0]
    try:
        imports = [seconds_to_import_litellm() for _ in range(repeat)]
        rows = [("python -c 'import litellm' (process start to import done)", imports)]
        for size in (1, n):
            runs = [first_request(make_project(work / f"start{size}-{k}", size, c), env, server) for k in range(repeat)]
            rows.append((f"N={size}: start to first request", [r[0] for r in runs]))
            rows.append((f"N={size}: litellm ready to first request", [r[1] for r in runs]))
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average (1 min) before: {load:.1f}, after: {os.getloadavg()[0]:.1f}")
    print("| measurement | median | runs |\n|---|---|---|")
    for name, values in rows:
        print(f"| {name} | {statistics.median(values):.3f} s | {', '.join(f'{v:.3f}' for v in values)} |")
    added, put = claim_cost()
    print(f"| claim + release per paid call | {added:.0f} us | (the response's put alone: {put:.0f} us) |")


def store_digest(project: Path) -> str:
    """A digest of what a run stored (every case and response, less times), to tell two stores apart."""
    with sqlite3.connect(project / ".promptgit" / "store.sqlite3") as db:
        rows = db.execute(
            "SELECT fingerprint, case_id, repeat, output, score, passed, scores, call_key, input_tokens, "
            "output_tokens, cost FROM cases ORDER BY fingerprint, case_id, repeat"
        ).fetchall()
        rows += db.execute(
            "SELECT key, text, model, input_tokens, output_tokens, cost FROM responses ORDER BY key"
        ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:12]


def checkout_env(env: dict[str, str], checkout: Path, workers: str | None = None) -> dict[str, str]:
    """The environment that runs `checkout`'s promptgit (and forces a worker count when given)."""
    chosen = {**env, "PYTHONPATH": str(checkout)}
    if workers is None:
        chosen.pop("PROMPTGIT_WORKERS", None)
    else:
        chosen["PROMPTGIT_WORKERS"] = workers
    return chosen


def compare_cold(
    sides: list[tuple[str, dict[str, str]]], n: int, c: int, latency: float, repeat: int
) -> list[tuple[str, list[Cold], list[str], list[float]]]:
    """`repeat` rounds of one cold run per side, alternating sides, each on a fresh project; with the
    load average before each run and a digest of each run's store."""
    server = spawn_server(latency=latency)
    work = Path(tempfile.mkdtemp(prefix="promptgit-bench-"))
    found: dict[str, tuple[list[Cold], list[str], list[float]]] = {name: ([], [], []) for name, _ in sides}
    try:
        for attempt in range(repeat):
            for name, env in sides:
                folder = make_project(work / f"{name}-{attempt}", n, c)
                colds, digests, loads = found[name]
                loads.append(os.getloadavg()[0])
                colds.append(measure_cold(folder, {**env, "OPENAI_API_BASE": server.api_base}, server, c))
                digests.append(store_digest(folder))
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    return [(name, *found[name]) for name, _ in sides]


def print_compared(results: list[tuple[str, list[Cold], list[str], list[float]]], n: int, ideal: float) -> None:
    """One Markdown row per side: medians of the cold runs, with every run's value beside them."""
    print(
        "| side | whole process | x ideal | span | start to first request | CPU per case | peak MB | "
        "score / calls / errors | store digest | load average |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for name, colds, digests, loads in results:
        walls = [r.run.wall for r in colds]
        median = sorted(colds, key=lambda r: r.run.wall)[len(colds) // 2]
        suite = median.run.report["suites"][0]
        print(
            f"| {name} | {statistics.median(walls):.1f} s ({', '.join(f'{w:.1f}' for w in walls)}) | "
            f"{statistics.median(walls) / ideal:.1f} x | {statistics.median(r.span for r in colds):.1f} s | "
            f"{statistics.median(r.to_first_request for r in colds):.2f} s | "
            f"{statistics.median(r.run.cpu for r in colds) / n * 1000:.2f} ms | "
            f"{statistics.median(r.run.peak_mb for r in colds):.0f} | "
            f"{suite['score']} / {suite['calls']} / {suite['errors']} | {', '.join(sorted(set(digests)))} | "
            f"{', '.join(f'{x:.1f}' for x in loads)} |"
        )


def main() -> None:
    """Run every measurement and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--big", type=int, default=100_000, help="cases in the cached memory run (0 to skip)")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs to take the median of")
    parser.add_argument("--quick", action="store_true", help="200 cases, 10,000 in the memory run, one cold run")
    parser.add_argument("--start", action="store_true", help="only the time to first request, and claims' cost")
    parser.add_argument("--throughput", action="store_true", help="N=20,000, C=64, 20 ms unless given: cold runs only")
    parser.add_argument("--before", type=Path, help="with --throughput: another checkout's folder, run alternately")
    parser.add_argument("--crossover", action="store_true", help="workers off and on (PROMPTGIT_WORKERS) at growing N")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[500, 1000, 2000, 4000],
        help="with --crossover: the N to measure, comma-separated",
    )
    parser.add_argument(
        "--keep-latency",
        action="store_true",
        help="with --crossover: use --latency and --concurrency as given (default there: 20 ms, C=64)",
    )
    args = parser.parse_args()
    if args.start:
        start_only(args.cases, args.concurrency, args.latency, args.repeat)
        return
    base = {**os.environ, "OPENAI_API_KEY": "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    if args.throughput:
        n = 20_000 if args.cases == 1000 else args.cases
        c = 64 if args.concurrency == 32 else args.concurrency
        latency = 0.02 if args.latency == 0.2 else args.latency
        sides = ([("before", checkout_env(base, args.before))] if args.before else []) + [
            ("after", checkout_env(base, ROOT))
        ]
        print(f"N={n}, C={c}, {latency * 1000:.0f} ms; ideal {math.ceil(n / c) * latency:.2f} s")
        print_compared(compare_cold(sides, n, c, latency, args.repeat), n, math.ceil(n / c) * latency)
        return
    if args.crossover:
        latency = 0.02 if args.latency == 0.2 and not args.keep_latency else args.latency
        c = 64 if args.concurrency == 32 and not args.keep_latency else args.concurrency
        for n in args.sizes:
            sides = [(f"N={n}, {w} workers", checkout_env(base, ROOT, w)) for w in ("0", "2")]
            print(f"N={n}, C={c}, {latency * 1000:.0f} ms")
            print_compared(compare_cold(sides, n, c, latency, args.repeat), n, math.ceil(n / c) * latency)
        return
    if args.quick:
        args.cases, args.big, args.repeat = 200, 10_000, 1
    n, c, latency = args.cases, args.concurrency, args.latency
    ideal = math.ceil(n / c) * latency
    server = spawn_server(latency=latency)
    work = Path(tempfile.mkdtemp(prefix="promptgit-bench-"))
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_API_BASE": server.api_base,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    rows: list[tuple[str, str, str]] = []
    try:
        # The fixed cost of a cold run (start-up, imports, first call), to tell it from the cost per case.
        single = measure_cold(make_project(work / "single", 1, c), env, server, c)
        colds = []
        for attempt in range(args.repeat):
            folder = make_project(work / f"cold{attempt}", n, c)
            colds.append((measure_cold(folder, env, server, c), folder))
        colds.sort(key=lambda pair: pair[0].run.wall)
        cold, project = colds[len(colds) // 2]  # the median run by wall time; the range is shown beside it
        suite = cold.run.report["suites"][0]
        walls = [r.run.wall / ideal for r, _ in colds]
        spans = [r.span / ideal for r, _ in colds]
        marginal = (cold.run.cpu - single.run.cpu) / (n - 1)
        rows += [
            (
                f"cold run, N={n}, C={c}, {latency * 1000:.0f} ms (median of {len(colds)})",
                f"whole process {cold.run.wall:.2f} s = {cold.run.wall / ideal:.2f} x ideal ({ideal:.2f} s); "
                f"range {min(walls):.2f}-{max(walls):.2f} x",
                "<= 1.3 x",
            ),
            (
                "  start to first request",
                f"{cold.to_first_request:.2f} s (a 1-case run: {single.to_first_request:.2f} s)",
                "",
            ),
            (
                "  server-side span",
                f"{cold.span:.2f} s = {cold.span / ideal:.3f} x ideal; range {min(spans):.3f}-{max(spans):.3f} x; "
                f"max in flight {cold.max_in_flight}; freed slots sat empty {cold.turnaround * 1000:.0f} ms on average",
                "<= 1.10 x",
            ),
            ("  last answer to exit", f"{cold.after_last_answer:.2f} s", ""),
            (
                "  CPU per case",
                f"{cold.run.cpu / n * 1000:.2f} ms whole process / N ({cold.run.cpu:.2f} s); "
                f"{marginal * 1000:.2f} ms beyond a 1-case run's {single.run.cpu:.2f} s",
                "<= 4 ms",
            ),
            ("  peak memory", f"{cold.run.peak_mb:.0f} MB", ""),
            ("  score / calls / errors", f"{suite['score']} / {suite['calls']} / {suite['errors']}", "0.9 / N / 0"),
        ]
        server.reset()
        warm = run_eval_measured(project, env)
        rows.append(
            (
                "fully cached re-run",
                f"{warm.wall:.2f} s, {warm.report['suites'][0]['calls']} calls, "
                f"{server.stats().count} requests, peak {warm.peak_mb:.0f} MB",
                "<= 1 s, 0 calls",
            )
        )
        faulty = make_project(work / "faulty", n, c, "timeout: 2\nretries: 6\n")
        server.configure(latency=latency, rates={"500": 0.05, "bad_json": 0.02, "hang": 0.01}, hang_seconds=60, seed=3)
        server.reset()
        bad = run_eval_measured(faulty, env)
        fs = bad.report["suites"][0]
        outcomes = server.stats().outcomes
        rows.append(
            (
                "5% 500s, 2% invalid JSON, 1% hangs",
                f"{bad.wall:.2f} s; score {fs['score']}, errors {fs['errors']}, server saw {dict(outcomes)}",
                "every case scored",
            )
        )
        server.configure(latency=latency)
        if args.big:
            big = make_project(work / "big", args.big, c)
            prefill_cache(big, args.big)
            server.reset()
            run = run_eval_measured(big, env)
            rows.append(
                (
                    f"{args.big:,} cached cases (first scoring)",
                    f"{run.wall:.1f} s, peak {run.peak_mb:.0f} MB, {run.report['suites'][0]['calls']} calls",
                    "< 300 MB",
                )
            )
            again = run_eval_measured(big, env)
            rows.append(
                (f"{args.big:,} cases, stored results", f"{again.wall:.1f} s, peak {again.peak_mb:.0f} MB", "< 300 MB")
            )
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    print("| measurement | result | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()
