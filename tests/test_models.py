"""Model calls through litellm's real client against the local fault-injecting server."""

from __future__ import annotations

import asyncio
import gc
import itertools
import re
import subprocess
import sys
import time
import types
from typing import Any

import pytest

from promptgit import models
from promptgit.errors import PromptgitError
from promptgit.models import Completion, ModelCallError
from tests.openai_fixtures import DUMMY_KEY, TEST_MODEL, litellm_settings
from tests.openai_server import RequestRecord, Server, ServerConfig, _State, answer_for, spawn_server, start_server

SECRET = "sk-test-SECRET-0123456789"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry waits of a few milliseconds, so retry tests stay fast."""
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(models, "BACKOFF_CAP", 0.02)


def call(
    server: Server,
    content: str = "Which queue? ANSWER: billing",
    *,
    model: str = TEST_MODEL,
    retries: int = 3,
    timeout: float = 5.0,
    **settings: Any,
) -> Completion:
    """One complete() call to the local server, on a fresh event loop."""
    merged = {**litellm_settings(server), "temperature": 0, **settings}
    messages = [{"role": "system", "content": "Route tickets."}, {"role": "user", "content": content}]
    return asyncio.run(models.complete(model, messages, merged, timeout=timeout, retries=retries))


def outcomes(server: Server) -> list[str]:
    return [r.outcome for r in sorted(server.requests, key=lambda r: r.arrival)]


def test_plain_call_returns_text_tokens_and_settings(openai_server: Server) -> None:
    result = call(openai_server, seed=7, max_tokens=5, stop=["\n"], response_format={"type": "json_object"})
    assert result.text == "billing"
    assert (result.input_tokens, result.output_tokens) == (6, 1)  # words: 2 system + 4 user; 1 answer
    assert result.attempts == 1
    assert result.cost == 0.0  # litellm has no price for "test-model"
    assert 0 < result.seconds < 5
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "test-model"
    assert (request.body["temperature"], request.body["seed"], request.body["max_tokens"]) == (0, 7, 5)
    assert (request.body["stop"], request.body["response_format"]) == (["\n"], {"type": "json_object"})
    assert request.body["messages"][-1] == {"role": "user", "content": "Which queue? ANSWER: billing"}


def test_known_model_is_priced(openai_server: Server) -> None:
    import litellm

    result = call(openai_server, model="openai/gpt-4o-mini")
    price = litellm.model_cost["gpt-4o-mini"]
    expected = 6 * price["input_cost_per_token"] + 1 * price["output_cost_per_token"]
    assert result.cost == pytest.approx(expected)


@pytest.mark.parametrize("fault", ["500", "503", "bad_json", "drop", "no_choices", "null_content"])
def test_transient_fault_is_retried_then_succeeds(openai_server: Server, fault: str) -> None:
    openai_server.configure(script=(fault,))
    result = call(openai_server)
    assert (result.text, result.attempts) == ("billing", 2)
    assert outcomes(openai_server) == [fault, "ok"]


def test_several_faults_in_a_row_count_every_attempt(openai_server: Server) -> None:
    openai_server.configure(script=("500", "drop", "bad_json"))
    result = call(openai_server, retries=3)
    assert (result.text, result.attempts) == ("billing", 4)
    assert outcomes(openai_server) == ["500", "drop", "bad_json", "ok"]


def test_rate_limit_waits_for_retry_after(openai_server: Server) -> None:
    openai_server.configure(script=("429",), retry_after=0.4)
    result = call(openai_server)
    assert result.attempts == 2
    first, second = sorted(openai_server.requests, key=lambda r: r.arrival)
    assert first.status == 429
    waited = second.arrival - first.finish
    assert 0.38 <= waited < 1.0


def test_hang_beyond_timeout_is_retried(openai_server: Server) -> None:
    openai_server.configure(script=("hang",))
    started = time.monotonic()
    result = call(openai_server, timeout=0.5)
    assert (result.text, result.attempts) == ("billing", 2)
    assert 0.5 <= time.monotonic() - started < 3.0
    assert result.seconds < 0.5  # the successful attempt's own time, not the whole call's


def test_failing_every_attempt_raises_after_retries_plus_one(openai_server: Server) -> None:
    openai_server.configure(rates={"500": 1.0})
    with pytest.raises(ModelCallError) as caught:
        call(openai_server, retries=2)
    assert caught.value.attempts == 3
    assert openai_server.stats().count == 3
    assert "injected server error" in str(caught.value)
    assert str(caught.value).endswith("after 3 attempts")


def test_bad_request_is_not_retried(openai_server: Server) -> None:
    openai_server.configure(script=("400",))
    with pytest.raises(ModelCallError) as caught:
        call(openai_server, retries=3)
    assert caught.value.attempts == 1
    assert "injected bad request" in str(caught.value)
    assert openai_server.stats().count == 1


def test_rejected_key_is_a_user_error_without_the_key(openai_server: Server) -> None:
    openai_server.configure(script=("401",))
    with pytest.raises(PromptgitError) as caught:
        call(openai_server, api_key=SECRET)
    assert "rejected its API key" in str(caught.value)
    assert "SECRET" not in str(caught.value)
    assert openai_server.stats().count == 1


def test_missing_key_names_the_variable(openai_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    messages = [{"role": "user", "content": "hi"}]
    settings = {"api_base": openai_server.api_base}
    with pytest.raises(PromptgitError) as caught:
        asyncio.run(models.complete(TEST_MODEL, messages, settings, timeout=5, retries=3))
    assert caught.value.message == f"no API key for model {TEST_MODEL}"
    assert "OPENAI_API_KEY" in (caught.value.hint or "")
    assert openai_server.stats().count == 0


def test_unknown_provider_is_a_user_error(openai_server: Server) -> None:
    with pytest.raises(PromptgitError) as caught:
        call(openai_server, model="nosuchprovider/some-model")
    assert "nosuchprovider/some-model" in caught.value.message
    assert openai_server.stats().count == 0


def test_unsupported_setting_is_named(openai_server: Server) -> None:
    with pytest.raises(PromptgitError) as caught:
        call(openai_server, model="anthropic/claude-3-5-haiku-20241022", logit_bias={"1": 1})
    assert "setting logit_bias" in caught.value.message
    assert "remove it from the prompt's front matter" in (caught.value.hint or "")
    assert openai_server.stats().count == 0


def test_no_api_key_in_error_messages(openai_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai_server.configure(rates={"500": 1.0})
    with pytest.raises(ModelCallError) as failed:
        call(openai_server, retries=1, api_key=SECRET)
    openai_server.configure(script=("hang",))
    with pytest.raises(ModelCallError) as timed_out:
        call(openai_server, retries=0, timeout=0.2, api_key=SECRET)
    for error in (failed.value, timed_out.value):
        assert "SECRET" not in str(error) and "SECRET" not in repr(error.args)
        assert error.__cause__ is None and error.__context__ is None  # no provider text rides along
    assert "timed out after 0.2 s" in str(timed_out.value)


def test_secrets_are_scrubbed_from_provider_text() -> None:
    text = models._clean(f"litellm.BadRequestError: bad key {SECRET} or sk-proj-abcdefghijkl", {})
    assert text == "bad key sk-*** or sk-***"


def test_retry_after_header_forms() -> None:
    class Fake(Exception):
        def __init__(self, headers: dict[str, str]) -> None:
            self.litellm_response_headers = headers

    assert models._retry_after(Fake({"retry-after": "2"})) == 2.0
    assert models._retry_after(Fake({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert models._retry_after(Fake({"retry-after": "100000"})) == models.RETRY_AFTER_CAP
    assert models._retry_after(Fake({})) is None


def test_backoff_is_full_jitter_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "BACKOFF_BASE", 0.5)
    monkeypatch.setattr(models, "BACKOFF_CAP", 20.0)
    delays = [models._delay(10, None) for _ in range(200)]
    assert min(delays) >= 0.0 and max(delays) <= 20.0 and max(delays) > 10.0
    assert all(models._delay(1, None) <= 0.5 for _ in range(50))
    after = [models._delay(1, 3.0) for _ in range(200)]  # Retry-After, then full jitter on top
    assert min(after) >= 3.0 and max(after) <= 3.5 and len(set(after)) == 200


def test_busy_server_429s_are_waited_out(openai_server: Server) -> None:
    openai_server.configure(latency=0.05, max_concurrency=4, retry_after=0.05)

    async def many() -> list[Completion]:
        settings = {**litellm_settings(openai_server), "temperature": 0}
        calls = [
            models.complete(
                TEST_MODEL, [{"role": "user", "content": f"case {i} ANSWER: {i}"}], settings, timeout=5, retries=20
            )
            for i in range(12)
        ]
        return await asyncio.gather(*calls)

    results = asyncio.run(many())
    assert [r.text for r in results] == [str(i) for i in range(12)]
    stats = openai_server.stats()
    assert stats.max_in_flight <= 4
    assert stats.outcomes["ok"] == 12 and stats.outcomes.get("busy", 0) > 0
    assert stats.count == 12 + stats.outcomes["busy"] == sum(r.attempts for r in results)


def _fake_local_model(monkeypatch: pytest.MonkeyPatch, bodies: list[Any], steps: list[str]) -> None:
    """A stand-in promptgit.local_model whose engine answers each submit with the next of `bodies`
    (a response dict, or an exception the engine raises)."""
    from concurrent.futures import Future

    def prepare(model: str) -> None:
        steps.append(f"prepare {model}")

    def submit(model: str, messages: list[Any], params: dict[str, Any]) -> Future[Any]:
        steps.append(f"submit {model} {sorted(params)}")
        future: Future[Any] = Future()
        body = bodies.pop(0)
        if isinstance(body, BaseException):
            future.set_exception(body)
        else:
            future.set_result(body)
        return future

    fake = types.ModuleType("promptgit.local_model")
    fake.prepare = prepare  # type: ignore[attr-defined]
    fake.submit = submit  # type: ignore[attr-defined]
    fake.dropped_settings = lambda settings: []  # type: ignore[attr-defined]
    monkeypatch.setattr(models, "_prepared_local", set())
    monkeypatch.setitem(sys.modules, "promptgit.local_model", fake)
    import promptgit

    monkeypatch.setattr(promptgit, "local_model", fake, raising=False)


def _local_body(text: str, prompt: int = 2, completion: int = 3) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": usage}


def _call_local(retries: int = 2) -> Completion:
    messages = [{"role": "user", "content": "x"}]
    return asyncio.run(models.complete("local/tiny", messages, {"temperature": 0}, timeout=5, retries=retries))


def test_local_models_are_checked_first_then_called_without_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []
    _fake_local_model(monkeypatch, [_local_body("from local")], steps)
    result = _call_local()
    assert (result.text, result.input_tokens, result.output_tokens, result.cost, result.attempts) == (
        "from local",
        2,
        3,
        0.0,
        1,
    )
    assert steps == ["prepare local/tiny", "submit local/tiny ['temperature']"]


@pytest.mark.parametrize(
    ("first", "retried"),
    [
        ({"error": {"code": 500, "message": "slot failed"}}, True),
        ({"error": {"code": 503, "message": "busy"}}, True),
        ({"choices": []}, True),  # a 200 with nothing in it
        (RuntimeError("llama.cpp hiccup"), True),
        ({"error": {"code": 400, "message": "the request exceeds the available context size"}}, False),
        (ValueError("invalid grammar"), False),
        (PromptgitError("the local model local/tiny could not be loaded: no memory"), False),
    ],
)
def test_a_failed_local_call_is_retried_or_not_as_an_http_one_would_be(
    monkeypatch: pytest.MonkeyPatch, first: Any, retried: bool
) -> None:
    steps: list[str] = []
    _fake_local_model(monkeypatch, [first, _local_body("second")], steps)
    if retried:
        result = _call_local()
        assert (result.text, result.attempts) == ("second", 2)
    else:
        with pytest.raises(ModelCallError) as failed:
            _call_local()
        assert failed.value.attempts == 1
        assert failed.value.message.startswith("local/tiny: ")
    assert len(steps) == (3 if retried else 2)


def test_a_local_call_that_keeps_failing_is_a_model_call_error_after_its_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[str] = []
    _fake_local_model(monkeypatch, [{"error": {"code": 500, "message": "boom"}}] * 3, steps)
    with pytest.raises(ModelCallError) as failed:
        _call_local(retries=2)
    assert (failed.value.message, failed.value.attempts) == ("local/tiny: error 500: boom after 3 attempts", 3)


def test_a_local_call_never_imports_litellm() -> None:
    code = (
        "import asyncio, sys, types\n"
        "from concurrent.futures import Future\n"
        "from promptgit import models\n"
        "fake = types.ModuleType('promptgit.local_model')\n"
        "fake.prepare = lambda model: None\n"
        "def submit(model, messages, params):\n"
        "    f = Future(); f.set_result({'choices': [{'message': {'content': 'ok'}}]}); return f\n"
        "fake.submit = submit\n"
        "fake.dropped_settings = lambda settings: []\n"
        "sys.modules['promptgit.local_model'] = fake\n"
        "asked = [{'role': 'user', 'content': 'x'}]\n"
        "done = asyncio.run(models.complete('local/tiny', asked, {}, timeout=5, retries=0))\n"
        "print(done.text, 'litellm' in sys.modules, models.needs_litellm(['local/a', 'local/b']),"
        " models.needs_litellm(['local/a', 'openai/x']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["ok", "False", "False", "True"]


def test_litellm_callbacks_still_hear_calls_when_registered(
    openai_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    heard: list[float | None] = []

    class Listener(CustomLogger):
        async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
            heard.append(kwargs.get("response_cost"))

    monkeypatch.setattr(litellm, "callbacks", [Listener()])

    async def call_and_settle() -> Completion:
        settings = litellm_settings(openai_server)
        done = await models.complete(
            "openai/gpt-4o-mini", [{"role": "user", "content": "ANSWER: a"}], settings, timeout=5, retries=0
        )
        for _ in range(100):  # litellm logs on a background task
            if heard:
                break
            await asyncio.sleep(0.01)
        return done

    result = asyncio.run(call_and_settle())
    assert heard == [pytest.approx(result.cost)] and result.cost > 0


def test_importing_models_does_not_import_litellm() -> None:
    code = "import promptgit.models, sys; assert 'litellm' not in sys.modules, 'litellm imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# The server itself: determinism, per-attempt faults, the process mode.


def test_answer_rule() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "Ticket\nANSWER:  refunds \nmore"}]
    }
    assert answer_for(body, {}) == "refunds"
    assert answer_for({"messages": [{"role": "user", "content": "hello"}]}, {"hello": "hi"}) == "hi"
    assert answer_for({"messages": [{"role": "user", "content": "echo me"}]}, {}) == "echo me"


def test_faults_are_deterministic_per_seed_and_attempt() -> None:
    def draws(seed: int) -> list[str]:
        state = _State(ServerConfig(rates={"500": 0.3, "drop": 0.2}, seed=seed))
        return [state.fault(f"body{i}", attempt) for i in range(50) for attempt in range(2)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)
    assert 20 <= sum(kind != "ok" for kind in draws(1)) <= 80


def test_fault_attempts_lets_retries_through(openai_server: Server) -> None:
    openai_server.configure(rates={"500": 1.0}, fault_attempts=1)
    assert call(openai_server).attempts == 2
    assert call(openai_server, "another ANSWER: x").attempts == 2
    assert outcomes(openai_server) == ["500", "ok", "500", "ok"]


def test_server_as_a_process_reports_its_span() -> None:
    with spawn_server(latency=0.1, script=("500",)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        settings = {"api_base": server.api_base, "api_key": DUMMY_KEY}

        async def two() -> list[Completion]:
            calls = [
                models.complete(
                    TEST_MODEL, [{"role": "user", "content": f"ANSWER: {i}"}], settings, timeout=5, retries=2
                )
                for i in range(2)
            ]
            return await asyncio.gather(*calls)

        results = asyncio.run(two())
        stats = server.stats()
    assert [r.text for r in results] == ["0", "1"]
    assert stats.count == 4 and stats.outcomes == {"500": 2, "ok": 2}
    assert stats.max_in_flight == 2
    assert 0.2 <= stats.span < 2.0


def test_server_as_a_process_gives_its_timeline() -> None:
    with spawn_server(latency=0.05) as server:
        settings = {"api_base": server.api_base, "api_key": DUMMY_KEY}
        for i in range(2):
            asyncio.run(
                models.complete(
                    TEST_MODEL, [{"role": "user", "content": f"ANSWER: {i}"}], settings, timeout=5, retries=0
                )
            )
        (first, first_done), (second, second_done) = server.timeline()
    assert first_done - first >= 0.05 and second_done - second >= 0.05
    assert first_done <= second  # the second call started after the first answer


def test_litellm_objects_are_frozen_out_of_garbage_collection(openai_server: Server) -> None:
    call(openai_server)
    assert gc.get_freeze_count() > 100_000


def test_in_process_server_records_requests() -> None:
    with start_server(latency=0.0) as server:
        asyncio.run(
            models.complete(
                TEST_MODEL, [{"role": "user", "content": "ANSWER: a"}], litellm_settings(server), timeout=5, retries=0
            )
        )
        [record] = server.requests
    assert isinstance(record, RequestRecord)
    assert (record.status, record.outcome, record.attempt) == (200, "ok", 0)
    assert record.finish >= record.arrival


def test_429s_do_not_spend_the_retry_budget_and_retry_after_is_jittered(openai_server: Server) -> None:
    openai_server.configure(script=("429", "429", "429", "500"), retry_after=0.2)
    result = call(openai_server, retries=1)  # three 429s and one 500: only the 500 spends the one retry
    assert (result.text, result.attempts) == ("billing", 5)
    assert outcomes(openai_server) == ["429", "429", "429", "500", "ok"]
    records = sorted(openai_server.requests, key=lambda r: r.arrival)
    waits = [later.arrival - earlier.finish for earlier, later in itertools.pairwise(records[:4])]
    assert all(0.2 <= wait < 0.2 + 0.02 * 2**n + 0.3 for n, wait in enumerate(waits))


@pytest.mark.parametrize(
    "message",
    [
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota: no credit left",
    ],
)
def test_an_exhausted_quota_is_not_waited_out(message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = models._litellm()
    error = litellm.exceptions.RateLimitError(message, llm_provider="openai", model="gpt-4o-mini")
    assert models._classify(error, "openai/gpt-4o-mini", {}, 5.0) == models._Failure(
        f"quota exhausted: RateLimitError: {message}", retryable=False
    )
    busy = litellm.exceptions.RateLimitError("too many requests in flight", llm_provider="openai", model="m")
    assert models._classify(busy, "openai/m", {}, 5.0).rate_limited


def test_rate_limiting_past_the_patience_is_an_error(openai_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "RATE_LIMIT_PATIENCE", 0.5)
    openai_server.configure(rates={"429": 1.0}, retry_after=0.2)
    with pytest.raises(ModelCallError) as caught:
        call(openai_server, retries=10)
    assert caught.value.attempts == 3  # waits of 0.2 s and a little jitter: a third would pass 0.5 s
    assert re.fullmatch(
        r"openai/test-model: rate limited: RateLimitError: .*injected rate limit.* after 3 attempts, "
        r"still rate limited after 0\.4 s of waiting",
        caught.value.message,
    ), caught.value.message


def test_a_shared_limit_adapts_to_a_provider_that_allows_fewer_calls(openai_server: Server) -> None:
    from promptgit.limiter import AdaptiveLimit

    openai_server.configure(latency=0.05, max_concurrency=4, retry_after=0.05)
    limit = AdaptiveLimit(16)

    async def many() -> list[Completion]:
        settings = {**litellm_settings(openai_server), "temperature": 0}
        calls = [
            models.complete(
                TEST_MODEL, [{"role": "user", "content": f"case {i} ANSWER: {i}"}], settings, timeout=5, retries=0,
                limit=limit,
            )
            for i in range(48)
        ]  # fmt: skip
        return await asyncio.gather(*calls)

    results = asyncio.run(many())
    assert [r.text for r in results] == [str(i) for i in range(48)]
    stats = openai_server.stats()
    assert (stats.outcomes["ok"], stats.max_in_flight, limit.in_flight) == (48, 4, 0)
    assert limit.lowest <= 4 < 16  # it halved below the provider's limit at least once
    # Without the limit every one of 48 callers would hammer the server; with it, 429s stay a minority.
    assert stats.outcomes.get("busy", 0) < 48


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"top_k": 5}, "the embedded model local/tiny does not take setting top_k"),
        (
            {"logit_bias": {"15": -100}, "temperature": 0},
            "the embedded model local/tiny does not take setting logit_bias",
        ),
        (
            {"reasoning_effort": "low", "thinking": {}},
            "the embedded model local/tiny does not take settings reasoning_effort, thinking",
        ),
    ],
)
def test_a_local_call_with_a_setting_its_engine_would_drop_is_refused_before_it_is_sent(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], message: str
) -> None:
    from promptgit import local_model

    steps: list[str] = []
    _fake_local_model(monkeypatch, [_local_body("never")], steps)
    monkeypatch.setattr(sys.modules["promptgit.local_model"], "dropped_settings", local_model.dropped_settings)
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(PromptgitError) as refused:
        asyncio.run(models.complete("local/tiny", messages, settings, timeout=5, retries=0))
    assert refused.value.message == message
    assert steps == ["prepare local/tiny"]  # nothing was sent
