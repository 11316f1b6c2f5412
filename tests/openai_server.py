"""A small OpenAI-compatible chat completions server on 127.0.0.1, with fault injection, for tests and benchmarks.

Answers (deterministic, so tests can predict them), from the last user message:
  0. its exact text looked up in `tool_calls`: a reply that calls those tools (content null), else
  0. its exact text looked up in `model_answers[model]` (a table per requested model name), else
  1. its exact text looked up in `answers` (a table passed in), else
  2. `replies[key]` for the first key (in the table's order) that the message contains, else
  3. the rest of the line after the last `ANSWER:` marker in it, stripped, else
  4. the message itself (an echo).
Usage counts words: prompt_tokens is the words of all messages, completion_tokens the words of the
answer (each at least 1).

Faults are decided per *attempt*: the attempt index of a request is how many times the same body
(canonical JSON) arrived before it. For attempt k the server takes `script[k]` when the script is that
long, else draws from `rates` (a fault kind -> probability) with a hash of (seed, body, k), so the same
seed gives the same faults whatever order the requests arrive in; `fault_attempts=N` limits the
drawn faults to the first N attempts (so `rates={"500": 1.0}, fault_attempts=1` fails every first try
and lets every retry through). Beyond `max_concurrency` requests in flight, the server answers 429
with `Retry-After` at once. Fault kinds: see `FAULTS`.

In-process: `start_server(...)` runs it on a background thread. As a process (benchmarks, so the
server does not share the client's CPU): `python tests/openai_server.py --latency 0.2 ...` prints its
URL as the first line of stdout; `spawn_server(...)` does that and returns the same kind of handle.
Control endpoints (not recorded): GET /_stats, GET /_timeline, POST /_configure (JSON of ServerConfig fields),
POST /_reset.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

# What each fault does to the attempt it hits.
FAULTS = {
    "ok": "a normal answer",
    "500": "HTTP 500 with an OpenAI-style error body",
    "503": "HTTP 503",
    "429": "HTTP 429 with Retry-After (config.retry_after seconds)",
    "hang": "no answer for hang_seconds (longer than any client timeout)",
    "bad_json": "HTTP 200 whose body is not valid JSON",
    "drop": "the connection is closed without an answer",
    "no_choices": "HTTP 200 with an empty choices list",
    "null_content": "HTTP 200 whose message content is null",
    "400": "HTTP 400 invalid_request_error (not retryable)",
    "401": "HTTP 401 invalid_api_key",
}
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


@dataclass(frozen=True)
class ServerConfig:
    """How the server behaves; replace it whole with `configure()`."""

    latency: float = 0.0
    max_concurrency: int | None = None
    retry_after: float = 1.0
    rates: Mapping[str, float] = field(default_factory=dict)
    fault_attempts: int | None = None
    script: tuple[str, ...] = ()
    hang_seconds: float = 3600.0
    seed: int = 0
    answers: Mapping[str, str] = field(default_factory=dict)
    model_answers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    replies: Mapping[str, str] = field(default_factory=dict)  # a text the last user message contains -> answer
    # Last user text -> the tool calls to reply with: [{"name", "arguments"}], arguments as the raw string
    # sent (so a test can script arguments that are not JSON); the reply's content is then null.
    tool_calls: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [kind for kind in (*self.rates, *self.script) if kind not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {sorted(FAULTS)}")
        object.__setattr__(self, "script", tuple(self.script))


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; status 0 means no answer was sent (hang, drop)."""

    path: str
    arrival: float  # time.monotonic()
    finish: float
    status: int
    outcome: str  # a FAULTS key, or "busy" for a 429 from the concurrency limit
    attempt: int
    body: Any


@dataclass(frozen=True)
class ServerStats:
    """Counts and timings over finished requests (a hang finishes when its client gives up).

    Times are time.monotonic(), which processes on one host share.
    """

    count: int
    outcomes: Mapping[str, int]
    max_in_flight: int
    first_arrival: float | None
    last_finish: float | None

    @property
    def span(self) -> float:
        """Seconds from the first arrival to the last finish (0.0 with no requests)."""
        if self.first_arrival is None or self.last_finish is None:
            return 0.0
        return self.last_finish - self.first_arrival


def answer_for(
    body: Mapping[str, Any],
    answers: Mapping[str, str],
    model_answers: Mapping[str, Mapping[str, str]] | None = None,
    replies: Mapping[str, str] | None = None,
) -> str:
    """The deterministic answer to a chat request (see the module docstring)."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    last = _text(users[-1].get("content")) if users else ""
    own = (model_answers or {}).get(str(body.get("model")), {})
    if last in own:
        return own[last]
    if last in answers:
        return answers[last]
    contained = next((reply for key, reply in (replies or {}).items() if key in last), None)
    if contained is not None:
        return contained
    if "ANSWER:" in last:
        return last.rsplit("ANSWER:", 1)[1].split("\n", 1)[0].strip()
    return last


def _scripted_calls(body: Mapping[str, Any], scripted: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The tool calls `scripted` holds for the request's last user text, in OpenAI's reply shape, or None."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    calls = scripted.get(_text(users[-1].get("content"))) if users else None
    if calls is None:
        return None
    return [
        {"id": f"call_{i}", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for i, c in enumerate(calls)
    ]


def _text(content: Any) -> str:
    # Content may be a list of parts in the multimodal form.
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _draw(seed: int, key: str, attempt: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:7], "big") / float(1 << 56)


class _State:
    """Config, records and counters; touched only on the server's event loop thread."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.lock = threading.Lock()  # guards records against readers on other threads
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: list[RequestRecord] = []
            self.seen: dict[str, int] = {}
            self.in_flight = 0
            self.max_in_flight = 0
            self.served = 0

    def reconfigure(self, config: ServerConfig) -> None:
        # A new script or rates start from attempt 0 again; records stay.
        self.config = config
        self.seen = {}

    def record(self, rec: RequestRecord) -> None:
        with self.lock:
            self.records.append(rec)

    def snapshot(self) -> list[RequestRecord]:
        with self.lock:
            return list(self.records)

    def stats(self) -> ServerStats:
        records = self.snapshot()
        outcomes: dict[str, int] = {}
        for rec in records:
            outcomes[rec.outcome] = outcomes.get(rec.outcome, 0) + 1
        return ServerStats(
            count=len(records),
            outcomes=outcomes,
            max_in_flight=self.max_in_flight,
            first_arrival=min((r.arrival for r in records), default=None),
            last_finish=max((r.finish for r in records), default=None),
        )

    def next_attempt(self, key: str) -> int:
        attempt = self.seen.get(key, 0)
        self.seen[key] = attempt + 1
        return attempt

    def fault(self, key: str, attempt: int) -> str:
        cfg = self.config
        if attempt < len(cfg.script):
            return cfg.script[attempt]
        if cfg.fault_attempts is not None and attempt >= cfg.fault_attempts:
            return "ok"
        draw, edge = _draw(cfg.seed, key, attempt), 0.0
        for kind in sorted(cfg.rates):
            edge += cfg.rates[kind]
            if draw < edge:
                return kind
        return "ok"


STATE = web.AppKey("state", _State)
# Faults answered with an OpenAI-style error body: status, message, error type.
_ERRORS = {
    "500": (500, "injected server error", "server_error"),
    "503": (503, "injected server error", "server_error"),
    "429": (429, "injected rate limit", "rate_limit_error"),
    "400": (400, "injected bad request", "invalid_request_error"),
    "401": (401, "Incorrect API key provided", "invalid_request_error"),
}


def _error(status: int, message: str, kind: str, headers: Mapping[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status, headers=headers)


def _completion(body: Mapping[str, Any], text: str | None, served: int) -> dict[str, Any]:
    prompt_tokens = sum(_words(_text(m.get("content"))) for m in body.get("messages", []))
    completion_tokens = _words(text or "")
    return {
        "id": f"chatcmpl-{served}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


async def _answer(state: _State, request: web.Request, body: Any, outcome: str) -> web.StreamResponse:
    """The response to one accepted request, after the configured latency, with its fault applied."""
    cfg = state.config
    if outcome == "hang":
        await asyncio.sleep(cfg.hang_seconds)
    elif cfg.latency:
        await asyncio.sleep(cfg.latency)
    if outcome == "drop":
        # Closing makes aiohttp cancel this handler, so the client gets no answer at all.
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(cfg.hang_seconds)
    if outcome in _ERRORS:
        status, message, kind = _ERRORS[outcome]
        headers = {"Retry-After": f"{cfg.retry_after:g}"} if status == 429 else None
        return _error(status, message, kind, headers)
    if outcome == "bad_json":
        return web.Response(status=200, text='{"id": "chatcmpl-x", "choices": [', content_type="application/json")
    state.served += 1
    reply = _completion(body, answer_for(body, cfg.answers, cfg.model_answers, cfg.replies), state.served)
    calls = _scripted_calls(body, cfg.tool_calls)
    if calls is not None:
        reply["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": calls}
        reply["choices"][0]["finish_reason"] = "tool_calls"
    if outcome == "no_choices":
        reply["choices"] = []
    if outcome == "null_content":
        reply["choices"][0]["message"]["content"] = None
    return web.json_response(reply)


async def _chat(request: web.Request) -> web.StreamResponse:
    state: _State = request.app[STATE]
    arrival = time.monotonic()
    raw = await request.read()
    try:
        body = json.loads(raw)
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    except ValueError:
        body, key = raw.decode(errors="replace"), "invalid"
    attempt = state.next_attempt(key)
    cfg = state.config
    if cfg.max_concurrency is not None and state.in_flight >= cfg.max_concurrency:
        state.record(RequestRecord(request.path, arrival, time.monotonic(), 429, "busy", attempt, body))
        return _error(429, "too many requests in flight", "rate_limit_error", {"Retry-After": f"{cfg.retry_after:g}"})
    outcome = state.fault(key, attempt) if isinstance(body, dict) else "400"
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    status = 0
    try:
        response = await _answer(state, request, body, outcome)
        status = response.status
        return response
    finally:
        state.in_flight -= 1
        state.record(RequestRecord(request.path, arrival, time.monotonic(), status, outcome, attempt, body))


async def _stats(request: web.Request) -> web.Response:
    stats = request.app[STATE].stats()
    return web.json_response({**dataclasses.asdict(stats), "span": stats.span})


async def _timeline(request: web.Request) -> web.Response:
    records = sorted(request.app[STATE].snapshot(), key=lambda r: r.arrival)
    return web.json_response([[r.arrival, r.finish] for r in records])


async def _configure(request: web.Request) -> web.Response:
    request.app[STATE].reconfigure(ServerConfig(**(await request.json())))
    return web.json_response({"ok": True})


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"ok": True})


def _app(state: _State) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = state
    for path in CHAT_PATHS:
        app.router.add_post(path, _chat)
    app.router.add_get("/_stats", _stats)
    app.router.add_get("/_timeline", _timeline)
    app.router.add_post("/_configure", _configure)
    app.router.add_post("/_reset", _reset)
    return app


async def _serve(state: _State, port: int) -> tuple[web.AppRunner, int]:
    # handler_cancellation: a client that gives up (timeout) frees its slot at once, as a real server's would.
    runner = web.AppRunner(_app(state), handler_cancellation=True, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    return runner, runner.addresses[0][1]


class Server:
    """An in-process server on a background thread; records every request it gets."""

    def __init__(self, config: ServerConfig | None = None, port: int = 0) -> None:
        self._state = _State(config or ServerConfig())
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port,), name="openai-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner, self.port = self._loop.run_until_complete(_serve(self._state, port))
        self._ready.set()
        self._loop.run_forever()

    @property
    def api_base(self) -> str:
        """The base URL litellm's `api_base` takes."""
        return f"{self.url}/v1"

    @property
    def config(self) -> ServerConfig:
        """The configuration in force."""
        return self._state.config

    def configure(self, **changes: Any) -> None:
        """Replace the configuration (defaults plus `changes`, fields of ServerConfig); attempts count from 0 again."""
        self._loop.call_soon_threadsafe(self._state.reconfigure, ServerConfig(**changes))
        self._sync()

    def reset(self) -> None:
        """Forget recorded requests, attempt counts and in-flight peaks (the config stays)."""
        self._loop.call_soon_threadsafe(self._state.reset)
        self._sync()

    def _sync(self) -> None:
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(5)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every chat request so far, in the order they finished."""
        return self._state.snapshot()

    def stats(self) -> ServerStats:
        """Counts, peak concurrency and the server-side span."""
        return self._state.stats()

    def close(self) -> None:
        """Stop serving and join the thread."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(**config: Any) -> Server:
    """Start an in-process server with ServerConfig fields as keywords."""
    return Server(ServerConfig(**config))


class RemoteServer:
    """A server in its own process, driven through its control endpoints."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    @property
    def api_base(self) -> str:
        """The base URL litellm's `api_base` takes."""
        return f"{self.url}/v1"

    def _call(self, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as reply:
            return json.loads(reply.read())

    def configure(self, **changes: Any) -> None:
        """Replace the configuration (defaults plus `changes`, fields of ServerConfig); attempts count from 0 again."""
        ServerConfig(**changes)  # fail here, not in the other process
        self._call("/_configure", changes)

    def reset(self) -> None:
        """Forget recorded requests, attempt counts and in-flight peaks."""
        self._call("/_reset", {})

    def stats(self) -> ServerStats:
        """Counts, peak concurrency and the server-side span."""
        data = self._call("/_stats")
        data.pop("span")
        return ServerStats(**data)

    def timeline(self) -> list[tuple[float, float]]:
        """(arrival, finish) of every chat request, in arrival order."""
        return [(a, f) for a, f in self._call("/_timeline")]

    def close(self) -> None:
        """Stop the process."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RemoteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn_server(**config: Any) -> RemoteServer:
    """Start the server as a separate process with ServerConfig fields as keywords."""
    ServerConfig(**config)
    args = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--exit-with-stdin",
        "--config-json",
        json.dumps(config, default=list),
    ]
    # The child holds our pipe as stdin: when this process dies, however, the server stops too.
    process = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise RuntimeError(f"the server process did not start (printed {url!r})")
    return RemoteServer(process, url)


def _parse_args(argv: list[str] | None) -> tuple[ServerConfig, int, bool]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--rate", action="append", default=[], metavar="KIND=P", help=f"kinds: {', '.join(FAULTS)}")
    parser.add_argument("--fault-attempts", type=int)
    parser.add_argument("--script", default="", help="comma-separated fault kinds for attempts 0, 1, ...")
    parser.add_argument("--hang-seconds", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--answers", type=Path, help="a JSON object: last user message -> answer")
    parser.add_argument("--config-json", help="all ServerConfig fields as one JSON object (overrides the rest)")
    parser.add_argument("--exit-with-stdin", action="store_true", help="stop when stdin closes (the parent died)")
    ns = parser.parse_args(argv)
    if ns.config_json:
        return ServerConfig(**json.loads(ns.config_json)), ns.port, ns.exit_with_stdin
    config = ServerConfig(
        latency=ns.latency,
        max_concurrency=ns.max_concurrency,
        retry_after=ns.retry_after,
        rates={k: float(v) for k, v in (item.split("=", 1) for item in ns.rate)},
        fault_attempts=ns.fault_attempts,
        script=tuple(s for s in ns.script.split(",") if s),
        hang_seconds=ns.hang_seconds,
        seed=ns.seed,
        answers=json.loads(ns.answers.read_text()) if ns.answers else {},
    )
    return config, ns.port, ns.exit_with_stdin


async def _main(config: ServerConfig, port: int, exit_with_stdin: bool) -> None:
    runner, bound = await _serve(_State(config), port)
    print(f"http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if exit_with_stdin:
        threading.Thread(target=_wait_for_eof, args=(loop, stop), daemon=True).start()
    await stop.wait()
    await runner.cleanup()


def _wait_for_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    sys.stdin.buffer.read()
    loop.call_soon_threadsafe(stop.set)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, printing the URL as the first line of stdout."""
    config, port, exit_with_stdin = _parse_args(argv)
    asyncio.run(_main(config, port, exit_with_stdin))


if __name__ == "__main__":
    main()
