"""The litellm boundary: one async model call, with retries, backoff and clean errors."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gc
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from promptgit.errors import MissingCredentials, PromptgitError
from promptgit.limiter import AdaptiveLimit, Outcome

# Full-jitter exponential backoff: attempt n waits uniform(0, min(CAP, BASE * 2**(n-1))) seconds.
# Module constants so tests can shorten them.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0
# A provider's Retry-After is honoured up to this; beyond it we would rather fail and report.
RETRY_AFTER_CAP = 60.0
# 429s do not spend the retry budget (the provider is busy, not failing); a call waits out rate limits
# for at most this long in total, then fails. A run's time limit, when set, cancels it sooner.
RATE_LIMIT_PATIENCE = 600.0
# OpenAI answers 429 also for an exhausted quota, which no wait cures: such a call fails at once.
_QUOTA_PHRASES = ("insufficient_quota", "exceeded your current quota")
# litellm enforces `timeout` itself; this grace only catches a provider that ignores it.
TIMEOUT_GRACE = 5.0

# complete() owns these; a copy in the settings would clash with its own arguments.
_OWN_KWARGS = ("model", "messages", "timeout", "num_retries", "max_retries")
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")
_MISSING_KEY_PHRASES = ("missing credentials", "api_key client option must be set", "api key is missing")
_KEY_PATTERN = re.compile(r"\b(sk|pk|rk|key|gsk|xai|hf)[-_][A-Za-z0-9_\-]{6,}")
_MESSAGE_LIMIT = 300
_BOILERPLATE = re.compile(r"^(litellm\.\w+: )?(\w+Error: )?(\w+Exception - )?")

_random = random.Random()
_litellm_module: ModuleType | None = None
_import_lock = threading.Lock()  # litellm is imported and set up once, by a preload thread or a caller
_preloader: threading.Thread | None = None
_unpriced: set[str] = set()  # model names litellm has no price for
_prices: dict[str, Price | None] = {}  # model name -> its listed price, looked up once
_prepared_local: set[str] = set()  # local models whose runtime and verified file are in place


@dataclass(frozen=True)
class Completion:
    """A model's answer to one call, with what it cost."""

    text: str
    input_tokens: int
    output_tokens: int
    cost: float  # USD, 0.0 when litellm does not know the model's price
    seconds: float  # wall time of the successful attempt
    attempts: int


class ModelCallError(Exception):
    """A model call that still failed after its retries (or could not be retried); never holds a key."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts


@dataclass(frozen=True)
class _Failure:
    """What one failed attempt means for the next."""

    message: str
    retryable: bool
    retry_after: float | None = None
    rate_limited: bool = False  # a 429: waited out apart from the retry budget


class _MalformedResponse(Exception):
    """A 200 answer we cannot use (no choices, no content): retried like a server error."""


def preload() -> None:
    """Start importing litellm on a background thread, so that the first call waits only for what remains.

    For a command that knows it will call a model: the import (about 3 s of CPU here, most of the time
    before a first request) overlaps whatever the command does meanwhile. Idempotent; a failed import
    is left for the first call to raise.
    """
    global _preloader
    if _litellm_module is None and _preloader is None:
        _preloader = threading.Thread(target=_import_quietly, name="promptgit-import-litellm", daemon=True)
        _preloader.start()


async def ready() -> None:
    """Wait, without blocking the event loop, for a preload() in progress to finish."""
    thread = _preloader
    if thread is not None and thread.is_alive():
        await asyncio.get_running_loop().run_in_executor(None, thread.join)


def import_litellm() -> None:
    """Import and set up litellm now, in this thread, unless it is already (workers.py forks after it)."""
    _litellm()


def _import_quietly() -> None:
    # A failed import is raised again by the caller's own _litellm(), where it can be reported.
    with contextlib.suppress(Exception):
        _litellm()


def _litellm() -> ModuleType:
    """litellm, imported on first use (it takes seconds) and quietened; safe to call from two threads."""
    if _litellm_module is None:
        with _import_lock:
            _import_litellm()
    assert _litellm_module is not None
    return _litellm_module


def _import_litellm() -> None:
    global _litellm_module
    if _litellm_module is None:
        # Without this litellm downloads its price list from the internet at import.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on stdout
        litellm.set_verbose = False
        litellm.telemetry = False
        for name in _LITELLM_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        _trim_per_call_work(litellm)
        # litellm and openai leave about a million long-lived objects; frozen, the collector stops
        # walking them (a full collection mid-run paused every call for ~185 ms).
        gc.freeze()
        _litellm_module = litellm


def _trim_per_call_work(litellm: ModuleType) -> None:
    """Skip per-call work litellm does for logging callbacks and budgets promptgit never sets up.

    Against the local server, an untrimmed acompletion() costs ~5 ms of CPU, a raw HTTP call 0.35 ms;
    these cut ~1.5 ms, which decides whether 32 concurrent calls keep up with the provider. Each one
    only applies while litellm has no listener, and any one that no longer fits litellm is skipped.
    """
    for trim in (_skip_unheard_logging, _skip_unheard_pricing, _skip_identity_request_transform):
        try:
            trim(litellm)
        except Exception:  # a litellm or openai that moved on: keep it untrimmed
            continue


def _has_listeners(litellm: ModuleType) -> bool:
    """Whether anyone registered a litellm callback or budget that reads per-call logs and prices."""
    lists = ("callbacks", "success_callback", "failure_callback", "_async_success_callback", "_async_failure_callback")
    return any(getattr(litellm, name, None) for name in lists) or bool(getattr(litellm, "max_budget", 0))


def _skip_unheard_logging(litellm: ModuleType) -> None:
    """Drop litellm's success/failure log records (~0.5 ms each) when no callback would read them."""
    from litellm.litellm_core_utils.logging_worker import LoggingWorker

    original = LoggingWorker.ensure_initialized_and_enqueue

    def enqueue(self: Any, async_coroutine: Any) -> None:
        if _has_listeners(litellm):
            original(self, async_coroutine)
        else:
            async_coroutine.close()

    _replace(LoggingWorker, "ensure_initialized_and_enqueue", enqueue)


def _skip_unheard_pricing(litellm: ModuleType) -> None:
    """Price a call once, in _cost(), instead of litellm's two or three times (~1 ms for unknown models)."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    original = Logging.response_cost_calculator

    def response_cost_calculator(self: Any, *args: Any, **kwargs: Any) -> float | None:
        return original(self, *args, **kwargs) if _has_listeners(litellm) else None

    _replace(Logging, "response_cost_calculator", response_cost_calculator)


def _replace(owner: Any, name: str, replacement: Any) -> None:
    """Put `replacement` in place of `owner.name`: the trims patch litellm's classes on purpose."""
    setattr(owner, name, replacement)


def _skip_identity_request_transform(litellm: ModuleType) -> None:
    """Skip the openai SDK's per-call walk over chat params (~0.5 ms) when it cannot change anything.

    The walk only renames aliased keys and formats dates or files; when no chat parameter type
    declares either, it returns its input minus omitted values, which is what we do instead.
    """
    from openai._utils import is_given
    from openai.resources.chat.completions import completions
    from openai.types.chat import completion_create_params

    if _declares_transforms(completion_create_params.CompletionCreateParamsBase, set()):
        return

    async def transform(data: Any, expected_type: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {k: v for k, v in data.items() if is_given(v)}

    completions.async_maybe_transform = transform


def _declares_transforms(annotation: Any, seen: set[int]) -> bool:
    """Whether a params type, anywhere inside, has an openai PropertyInfo with an alias or format."""
    import typing

    import typing_extensions
    from openai._utils._transform import PropertyInfo

    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, PropertyInfo) and (meta.alias is not None or meta.format is not None):
            return True
    inner: list[Any] = list(typing.get_args(annotation))
    if typing_extensions.is_typeddict(annotation):  # openai's TypedDicts are typing_extensions ones
        inner += typing.get_type_hints(annotation, include_extras=True).values()
    return any(_declares_transforms(arg, seen) for arg in inner if not isinstance(arg, (str, int, bool)))


async def complete(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    *,
    timeout: float,
    retries: int,
    limit: AdaptiveLimit | None = None,
) -> Completion:
    """Call `model` once through litellm, retrying transient failures up to `retries` times.

    Rate limits (429) are waited out apart from `retries`, for up to RATE_LIMIT_PATIENCE seconds in
    all, each wait the provider's Retry-After plus full jitter. With `limit`, every request holds one
    of its slots while in flight, and tells it whether the provider had room (AIMD: limiter.py).
    Raises ModelCallError when the call still fails, PromptgitError for a configuration problem.
    """
    refuse_images(model, messages)
    _refuse_local_tools(model, settings)
    kwargs = {k: v for k, v in settings.items() if k not in _OWN_KWARGS}
    if model.startswith("local/"):
        return await _complete_local(model, messages, kwargs, timeout=timeout, retries=retries)
    await ready()
    litellm = _litellm()
    kwargs = _with_tool_options(kwargs)
    sent = failed = limited = 0
    waited = 0.0  # seconds spent waiting out 429s
    while True:
        sent += 1
        ticket = await limit.acquire() if limit is not None else 0
        started = time.monotonic()
        outcome = Outcome.OTHER
        try:
            response = await asyncio.wait_for(
                litellm.acompletion(
                    model=model,
                    # litellm may edit messages in place; callers' mappings stay theirs.
                    messages=[dict(m) for m in messages],
                    timeout=timeout,
                    num_retries=0,  # we retry, with backoff that honours Retry-After
                    max_retries=0,
                    **kwargs,
                ),
                timeout + TIMEOUT_GRACE,
            )
            outcome = Outcome.OK
            return _completion(litellm, response, time.monotonic() - started, sent)
        except Exception as exc:  # every failure is classified below
            failure = _classify(exc, model, kwargs, timeout)
            outcome = Outcome.LIMITED if failure.rate_limited else Outcome.OTHER
        finally:
            if limit is not None:
                limit.release(ticket, outcome)
        tries = f" after {sent} attempts" if sent > 1 else ""
        if failure.rate_limited:
            limited += 1
            pause = _delay(limited, failure.retry_after)
            if waited + pause > RATE_LIMIT_PATIENCE:
                raise ModelCallError(
                    f"{model}: {failure.message}{tries}, still rate limited after {waited:.1f} s of waiting",
                    attempts=sent,
                ) from None
            waited += pause
            await asyncio.sleep(pause)
            continue
        failed += 1
        if not failure.retryable or failed > retries:
            raise ModelCallError(f"{model}: {failure.message}{tries}", attempts=sent) from None
        await asyncio.sleep(_delay(failed, failure.retry_after))


def needs_litellm(model_names: Iterable[str | None]) -> bool:
    """Whether calls to these models go through litellm: every name but the embedded `local/` ones.

    A run whose calls are all `local/` never imports litellm (about 1.5 s quiet, 3.5 s loaded, of CPU
    before the first call; docs/benchmarks.md): the embedded model needs nothing from it.
    """
    return any(name is None or not name.startswith("local/") for name in model_names)


async def _complete_local(
    model: str, messages: Sequence[Mapping[str, str]], settings: Mapping[str, Any], *, timeout: float, retries: int
) -> Completion:
    """One call to the embedded model straight to its engine, without litellm, retried like complete().

    Same answer shape as a litellm call: llama.cpp's OpenAI-shaped body gives the text and token
    counts; the cost is always 0.0. Raises ModelCallError when it still fails, PromptgitError when
    the model or its runtime is not installed.
    """
    _prepare_local_model(model)
    from promptgit import local_model

    dropped = local_model.dropped_settings(settings)
    if dropped:  # the engine would answer as if they were not there
        raise PromptgitError(
            f"the embedded model {model} does not take setting{'s' if len(dropped) > 1 else ''} {', '.join(dropped)}",
            hint="remove them from the prompt's front matter (or `defaults:`), or use a model that takes them",
        )

    sent = failed = 0
    while True:
        sent += 1
        started = time.monotonic()
        try:
            future = local_model.submit(model, [dict(m) for m in messages], dict(settings))
            body = await asyncio.wait_for(asyncio.wrap_future(future), timeout + TIMEOUT_GRACE)
            return _local_completion(body, time.monotonic() - started, sent)
        except Exception as exc:  # every failure is classified below
            failure = _classify_local(exc, timeout)
        tries = f" after {sent} attempts" if sent > 1 else ""
        failed += 1
        if not failure.retryable or failed > retries:
            raise ModelCallError(f"{model}: {failure.message}{tries}", attempts=sent) from None
        await asyncio.sleep(_delay(failed, None))


def _local_completion(body: Mapping[str, Any], seconds: float, attempts: int) -> Completion:
    """Our Completion from llama.cpp's response body; an error body raises _LocalError."""
    if "error" in body:
        error = body["error"] if isinstance(body["error"], Mapping) else {"message": body["error"]}
        raise _LocalError(int(error.get("code") or 500), str(error.get("message") or error))
    choices = body.get("choices") or []
    if not choices:
        raise _MalformedResponse("the response has no choices")
    usage = body.get("usage") or {}
    return Completion(
        text=(choices[0].get("message") or {}).get("content") or "",
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cost=0.0,  # the embedded model costs nothing per call
        seconds=seconds,
        attempts=attempts,
    )


class _LocalError(Exception):
    """llama.cpp answered with an error body: `status` is its HTTP-style code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _classify_local(exc: Exception, timeout: float) -> _Failure:
    """Whether a failed embedded-model attempt is worth another, by the rule complete() applies to HTTP."""
    if isinstance(exc, asyncio.TimeoutError):
        return _Failure(f"timed out after {timeout:g} s", retryable=True)
    if isinstance(exc, PromptgitError):  # the model could not be loaded: the same on every attempt
        return _Failure(str(exc), retryable=False)
    if isinstance(exc, ValueError):  # llama.cpp refuses a request it cannot take (too long for the context)
        return _Failure(f"bad request: {exc}", retryable=False)
    if isinstance(exc, _LocalError):
        return _Failure(f"error {exc.status}: {exc}", retryable=exc.status >= 500)
    if isinstance(exc, (_MalformedResponse, KeyError, IndexError, TypeError, AttributeError)):
        return _Failure(f"malformed response: {type(exc).__name__}: {exc}", retryable=True)
    return _Failure(f"{type(exc).__name__}: {exc}", retryable=True)


def supports_json_mode(model: str) -> bool:
    """Whether `model`'s provider takes OpenAI's `response_format` (JSON mode), by litellm's table of parameters.

    False when litellm does not know the model or its provider (the embedded `local/` provider
    included), so the call goes out without the setting rather than being refused for it.
    """
    if model.startswith("local/"):
        return False
    try:
        params = _litellm().get_supported_openai_params(model=model)
    except Exception:  # litellm raises a variety of errors for a provider it cannot map
        return False
    return bool(params) and "response_format" in params


def _prepare_local_model(model: str) -> None:
    """Check the model exists, its runtime is installed and its file verified (once per model and process).

    Checked before the first call, because inside a call the same problem would come back as a
    failed call for every case (an inconclusive run) instead of one clear message.
    """
    try:
        from promptgit import local_model
    except ModuleNotFoundError as exc:
        if exc.name != "promptgit.local_model":
            raise
        raise PromptgitError(
            "local/... models need promptgit's embedded model, which this install does not have",
            hint="reinstall promptgit with its 'local' extra: pip install 'promptgit[local]'",
        ) from None
    if model not in _prepared_local:
        local_model.prepare(model)
        _prepared_local.add(model)


def _completion(litellm: ModuleType, response: Any, seconds: float, attempts: int) -> Completion:
    """Our Completion from litellm's ModelResponse, refusing answers with nothing in them."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise _MalformedResponse("the response has no choices")
    message = choices[0].message
    text = message.content
    if text is None:
        if getattr(message, "tool_calls", None) or getattr(message, "function_call", None):
            text = ""  # a tool call is an answer, only not a textual one
        else:
            raise _MalformedResponse("the response's message has no content")
    usage = getattr(response, "usage", None)
    return Completion(
        text=_with_tool_calls(text, message),
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost=_cost(litellm, response),
        seconds=seconds,
        attempts=attempts,
    )


def _with_tool_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call options, telling litellm to skip its MCP gateway when tools are sent.

    litellm (1.106) imports its proxy's MCP module for any call with `tools`, which needs the `mcp`
    package of its proxy extra and fails without it; promptgit's tools are function definitions
    (tools.py checks each is `type: function`), never MCP servers, so the gateway has nothing to do.
    """
    return {**kwargs, "_skip_mcp_handler": True} if kwargs.get("tools") else kwargs


def _with_tool_calls(text: str, message: Any) -> str:
    """The reply's text with its tool calls, in the stored form toolcalls.encode gives (text alone without)."""
    calls = list(getattr(message, "tool_calls", None) or ())
    legacy = getattr(message, "function_call", None)
    if not calls and legacy is None and not text.startswith("\x00"):  # NUL-led text could pass for the encoding
        return text
    from promptgit import toolcalls

    functions = [call.function for call in calls] or ([legacy] if legacy is not None else [])
    return toolcalls.encode(text, [toolcalls.parse_call(f.name or "", f.arguments) for f in functions])


def refuse_images(model: str, messages: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a call with images to a model litellm knows takes none (litellm.supports_vision).

    A model litellm has no entry for is given the images: its provider answers for itself. The
    embedded model reads text only. Raises PromptgitError naming the model.
    """
    if not any(isinstance(m.get("content"), list) for m in messages) or supports_images(model) is not False:
        return
    raise PromptgitError(
        f"model {model} takes no images, and the prompt sends some",
        hint="pick a vision model (e.g. openai/gpt-4o-mini), or render the prompt without image()",
    )


def _refuse_local_tools(model: str, settings: Mapping[str, Any]) -> None:
    """The embedded model serves no tool calls: its llama.cpp refuses `tools` without its Jinja templates,
    and with them Qwen2.5-Coder-0.5B answered a tool request with plain JSON text, not a tool call
    (tried on 2026-11-29, docs/spec.md, Tools). Refused here rather than the tools silently dropped."""
    if model.startswith("local/") and settings.get("tools"):
        raise PromptgitError(
            f"the embedded model {model} cannot call tools, and the prompt defines some",
            hint="evaluate function-calling prompts with a model that calls tools, e.g. openai/gpt-4o-mini",
        )


def supports_images(model: str) -> bool | None:
    """Whether `model` takes images by litellm's model table; None when litellm does not know the model."""
    if model.startswith("local/"):
        return False
    litellm = _litellm()
    try:
        litellm.get_model_info(model=model)
    except Exception:  # litellm raises a variety of errors for a model it has no entry for
        return None
    return bool(litellm.supports_vision(model=model))


def _cost(litellm: ModuleType, response: Any) -> float:
    """The call's USD cost as litellm prices it, 0.0 when it cannot."""
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")  # set when litellm priced it already (a callback wanted it)
    model = str(getattr(response, "model", "") or "")
    if cost is None and model not in _unpriced:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:  # an unknown price is 0.0, never a failed call
            # Looking up an unknown model is slow (~0.3 ms) and its answer does not change.
            _unpriced.add(model)
    return float(cost) if isinstance(cost, (int, float)) and cost > 0 else 0.0


@dataclass(frozen=True)
class Price:
    """What a model charges, in USD per token, and the most tokens it can answer with (None: not listed)."""

    input_per_token: float
    output_per_token: float
    max_output_tokens: int | None


def price(model: str) -> Price | None:
    """`model`'s price from litellm's bundled price list (read locally: LITELLM_LOCAL_MODEL_COST_MAP), or
    None when the list has no price for it; the embedded `local/` model is free."""
    if model.startswith("local/"):
        return Price(0.0, 0.0, None)
    if model not in _prices:  # max_cost asks before every call; the list does not change during a run
        _prices[model] = _listed_price(model)
    return _prices[model]


def _listed_price(model: str) -> Price | None:
    try:
        info = _litellm().get_model_info(model)
    except Exception:  # litellm raises for a model it has not mapped: no price is known
        return None
    per_input, per_output = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if per_input is None or per_output is None:
        return None
    most = info.get("max_output_tokens") or info.get("max_tokens")
    return Price(float(per_input), float(per_output), int(most) if most else None)


def price_known(model: str) -> bool:
    """Whether litellm's price list prices `model` (the embedded model is free, so known)."""
    return model.startswith("local/") or price(model) is not None


def count_tokens(model: str, messages: Sequence[Mapping[str, str]]) -> int:
    """The prompt tokens of `messages` for `model`, by litellm's token_counter (the model's tokenizer where
    litellm knows it, else tiktoken's cl100k_base), chat formatting included."""
    return int(_litellm().token_counter(model=model, messages=[dict(m) for m in messages]))


def _classify(exc: Exception, model: str, settings: Mapping[str, Any], timeout: float) -> _Failure:
    """Whether a failed attempt is worth another; configuration problems raise PromptgitError."""
    litellm = _litellm()
    errors = litellm.exceptions
    text = f"{type(exc).__name__}: {_clean(str(exc), settings)}"
    if isinstance(exc, errors.UnsupportedParamsError):
        raise _unsupported_setting(model, text) from None
    if _is_unknown_provider(exc, errors):
        raise PromptgitError(
            f"litellm does not know the provider of model {model!r}",
            hint="name a model as provider/model, e.g. openai/gpt-4o-mini (see litellm's provider list)",
        ) from None
    if isinstance(exc, errors.AuthenticationError) or _mentions_missing_key(text):
        raise _auth_error(model, settings) from None
    if isinstance(exc, (_MalformedResponse, IndexError, KeyError, json.JSONDecodeError)):
        return _Failure(f"malformed response: {text}", retryable=True)
    if isinstance(exc, (asyncio.TimeoutError, errors.Timeout)):
        return _Failure(f"timed out after {timeout:g} s", retryable=True)
    if isinstance(exc, errors.RateLimitError):
        if any(phrase in text.lower() for phrase in _QUOTA_PHRASES):
            return _Failure(f"quota exhausted: {text}", retryable=False)
        return _Failure(f"rate limited: {text}", retryable=True, retry_after=_retry_after(exc), rate_limited=True)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, errors.APIConnectionError) or (isinstance(status, int) and status >= 500):
        return _Failure(text, retryable=True, retry_after=_retry_after(exc))
    if isinstance(exc, errors.OpenAIError) or isinstance(status, int):
        return _Failure(text, retryable=False)  # 400-class: the same request fails the same way
    raise exc


def _is_unknown_provider(exc: Exception, errors: ModuleType) -> bool:
    unknown = getattr(errors, "LiteLLMUnknownProvider", ())
    return isinstance(exc, unknown) or (
        isinstance(exc, errors.BadRequestError) and "LLM Provider NOT provided" in str(exc)
    )


def _mentions_missing_key(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in _MISSING_KEY_PHRASES)


def _unsupported_setting(model: str, text: str) -> PromptgitError:
    """A setting the model's provider rejects, named when litellm says which."""
    named = re.search(r"parameters: \[([^\]]*)\]", text) or re.search(r"support (\w+)=", text)
    setting = named.group(1).replace("'", "") if named else None
    what = f"setting {setting}" if setting else "a setting"
    return PromptgitError(
        f"model {model} does not accept {what} ({text})",
        hint="remove it from the prompt's front matter (or from `defaults:` in promptgit.yaml), "
        "or pick a model that supports it",
    )


def _auth_error(model: str, settings: Mapping[str, Any]) -> PromptgitError:
    """A missing or rejected API key, naming the environment variable the provider reads."""
    names: list[str] = []
    try:
        found = _litellm().validate_environment(model=model, api_key=settings.get("api_key"))
        names = list(found.get("missing_keys") or [])
    except Exception:  # only a nicer hint is lost
        pass
    if names:  # an evaluation stops inconclusive on this (a fork's pull request has no secrets)
        return MissingCredentials(
            f"no API key for model {model}",
            hint=f"set {' and '.join(names)} in the environment (settings never hold secrets)",
        )
    return PromptgitError(
        f"the provider of model {model} rejected its API key",
        hint="check the API key in the environment (e.g. OPENAI_API_KEY) and that it is still valid",
    )


def _retry_after(exc: Exception) -> float | None:
    """Seconds the provider asked us to wait (Retry-After / retry-after-ms), if it said."""
    # litellm keeps the provider's headers on `litellm_response_headers`; `response.headers`
    # is often a rebuilt, empty copy.
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if not headers:
            continue
        try:
            millis = headers.get("retry-after-ms")
            if millis is not None:
                return min(RETRY_AFTER_CAP, max(0.0, float(millis) / 1000))
            seconds = headers.get("retry-after")
            if seconds is not None:
                return min(RETRY_AFTER_CAP, max(0.0, _parse_retry_after(seconds)))
        except (TypeError, ValueError):
            continue
    return None


def _parse_retry_after(value: str) -> float:
    """Retry-After is delta-seconds or an HTTP date."""
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return when.timestamp() - time.time()


def _delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after the `attempt`-th failure of its kind: full jitter, uniform(0, min(CAP, BASE *
    2**(attempt-1))) ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015), after the
    provider's Retry-After when it gave one, so that callers told the same Retry-After do not all
    come back at the same instant."""
    backoff = _random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
    return backoff if retry_after is None else retry_after + backoff


def _clean(text: str, settings: Mapping[str, Any]) -> str:
    """A provider's error, short, on one line, with no litellm boilerplate and no secrets in it."""
    text = " ".join(text.split())
    # litellm says "litellm.X: X: OpenAIException - what happened"; keep what happened.
    text = _BOILERPLATE.sub("", text)
    for secret in _secrets(settings):
        text = text.replace(secret, "***")
    text = _KEY_PATTERN.sub(lambda m: m.group(1) + "-***", text)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _secrets(settings: Mapping[str, Any]) -> list[str]:
    """Values that must never be shown: keys in the settings and in the environment."""
    values = [str(v) for k, v in settings.items() if "key" in k.lower() or "token" in k.lower()]
    values += [v for k, v in os.environ.items() if k.endswith(("_KEY", "_TOKEN", "_SECRET")) and len(v) >= 8]
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)
