"""The embedded offline model's engine: one llama.cpp (xllamacpp) instance per model, served to litellm.

The model runs in-process on xllamacpp (llama.cpp). It is registered with litellm as the custom
provider "local", so a `local/...` call goes through `litellm.acompletion` like any other model.
One model instance per process serves all calls, one at a time, on one worker thread: llama.cpp
uses every core for one request, so running requests side by side would only add memory and make
outputs depend on how requests were batched together. For the same reason no call reuses the
prompt state of an earlier one: an answer depends only on its own request.

Its file comes from `promptgit.model_files` (assembled and verified there). Importing this module
imports neither xllamacpp nor litellm and touches no file; the model is assembled and loaded on the
first call (or by `prepare` / `preload`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import importlib.util
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.model_files import (
    DEFAULT_MODEL,
    INSTALL_EXTRA,
    MODELS,
    PROVIDER,
    ModelSpec,
    assemble,
    cache_dir,
    is_verified,
    spec_for,
)

# Total context of the one slot (n_parallel = 1, so the slot gets all of it). 0 would mean the
# model's trained 32k, which costs memory for prompts nobody sends; 8192 adds ~45 MB over 4096.
N_CTX = 8192
# A model call without max_tokens would otherwise generate until the context is full.
DEFAULT_MAX_TOKENS = 512
# No prompt cache: llama.cpp reusing the state of an earlier prompt computes the rest of this one
# in a different batch split, which moves logits by up to ~0.02 and flips near-ties at
# temperature 0, so an answer would depend on the calls before it (issue 18; measured in
# docs/local-model.md). Computed from scratch, a prompt is always split the same way. 0 turns off
# the RAM copy of old prompt states too (llama.cpp's default keeps 8 GiB of them).
CACHE_PROMPT = False
PROMPT_CACHE_MIB = 0
# Request fields passed through to llama.cpp; anything else litellm hands over is dropped.
PASSED_PARAMS = (
    "temperature",
    "top_p",
    "seed",
    "stop",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "logprobs",
    "top_logprobs",
)


# Settings the embedded model has no use for: where the call goes and how long it waits (models.py bounds
# the wait with `timeout` itself); `tools` is refused on its own (models._refuse_local_tools).
_NOT_SENT = frozenset(
    {"model", "max_completion_tokens", "api_base", "api_version", "extra_headers", "timeout", "tools"}
)


def dropped_settings(settings: Mapping[str, Any]) -> list[str]:
    """The settings in `settings` a call to the embedded model would drop though they could change its answer
    (not in PASSED_PARAMS): what models.complete and `check` refuse rather than ignore silently. `n: 1`
    is the engine's own behaviour, so it is not counted."""
    honoured = {*PASSED_PARAMS, *_NOT_SENT}
    return sorted(k for k, v in settings.items() if k not in honoured and not (k == "n" and v == 1))


@dataclass(frozen=True, slots=True)
class Status:
    """What `describe` reports about one local model in this process."""

    name: str
    path: Path
    assembled: bool
    loaded: bool
    loads: int
    calls: int
    load_seconds: float | None
    n_ctx: int
    threads: int
    listener: str | None


def _runtime() -> Any:
    """Import xllamacpp, or say how to install it."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise PromptgitError(
            "the local model needs the optional 'local' extra (xllamacpp and the model chunks), which is not installed",
            hint=f"install it: {INSTALL_EXTRA}",
        )
    try:
        return importlib.import_module("xllamacpp")
    except ImportError as error:
        raise PromptgitError(
            f"the local model runtime xllamacpp cannot be imported: {error}",
            hint="reinstall it: pip install --force-reinstall 'promptgit[local]'",
        ) from error


def _threads() -> int:
    # More threads than usable cores halves llama.cpp's speed, so count the cores we may run on.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class _Engine:
    """One loaded model, owned by one worker thread: every call and the lazy load run on it, in order."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.loads = 0
        self.calls = 0
        self.load_seconds: float | None = None
        self.listener: str | None = None
        self._server: Any = None
        self._failure: PromptgitError | None = None
        self._socket_dir: str | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptgit-local")

    def submit(self, request: dict[str, Any]) -> Future[dict[str, Any]]:
        """Queue one chat completion request; its future holds llama.cpp's response dict."""
        return self._worker.submit(self._complete, request)

    def load(self) -> None:
        """Load the model now (on the worker thread) unless it is loaded."""
        self._worker.submit(self._loaded).result()

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        server = self._loaded()
        self.calls += 1
        return server.handle_chat_completions(request)

    def _loaded(self) -> Any:
        # Runs only on the worker thread, so this check-then-load cannot race.
        if self._server is not None:
            return self._server
        if self._failure is not None:
            raise self._failure
        try:
            self._server = self._start(prepare(self.spec.name))
        except PromptgitError as error:
            self._failure = error
            raise
        except Exception as error:  # llama.cpp reports a bad file or no memory as a plain RuntimeError
            self._failure = PromptgitError(
                f"the local model {self.spec.name} could not be loaded: {error}",
                hint=f"it needs about 1 GB of free memory; delete {cache_dir()} to re-assemble it",
            )
            raise self._failure from error
        return self._server

    def _start(self, path: Path) -> Any:
        xllamacpp = _runtime()
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.verbosity = -1
        params.n_ctx = N_CTX
        params.n_parallel = 1
        params.cpuparams.n_threads = _threads()
        params.cpuparams_batch.n_threads = _threads()
        params.cache_ram_mib = PROMPT_CACHE_MIB
        params.cache_prompt = CACHE_PROMPT
        params.offline = True
        self._configure_listener(params)
        started = time.perf_counter()
        server = xllamacpp.Server(params)
        self.load_seconds = time.perf_counter() - started
        self.loads += 1
        self.listener = server.listening_address
        return server

    def _configure_listener(self, params: Any) -> None:
        """Keep the HTTP listener xllamacpp always starts unreachable: a private socket, or loopback plus a key."""
        params.api_keys = [secrets.token_urlsafe(32)]
        params.n_threads_http = 1
        params.ui = False
        params.endpoint_slots = False
        params.endpoint_metrics = False
        if os.name == "posix":
            # llama.cpp listens on a Unix socket when the host name ends in ".sock": no TCP port at
            # all, in a 0700 folder only this user can enter.
            self._socket_dir = tempfile.mkdtemp(prefix="promptgit-llm-")
            params.hostnames = [os.path.join(self._socket_dir, "llama.sock")]
        else:
            params.hostnames = ["127.0.0.1"]
            params.port = 0

    def close(self) -> None:
        """Stop the worker, free the model and remove the listener's socket folder."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        if _FORKED:
            self.abandon()  # llama.cpp's teardown hangs in a process forked after it started
        self._server = None  # the Server's destructor stops llama.cpp's loop and listener
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def abandon(self) -> None:
        """Make sure the Server's destructor never runs; the OS frees everything when the process ends."""
        if self._server is not None:
            import ctypes

            ctypes.pythonapi.Py_IncRef(ctypes.py_object(self._server))


_ENGINES: dict[str, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(spec: ModelSpec) -> _Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(spec.name)
        if engine is None:
            engine = _ENGINES[spec.name] = _Engine(spec)
        return engine


def _close_all() -> None:
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.close()


_FORKED = False


def _forget_after_fork() -> None:
    # A forked child inherits the Server objects but not their threads, so it loads its own.
    # Destroying an inherited Server would join threads the child lacks (it crashes), so they
    # are abandoned instead.
    global _ENGINES_LOCK, _FORKED
    _FORKED = True
    for engine in _ENGINES.values():
        engine.abandon()
    _ENGINES.clear()
    _ENGINES_LOCK = threading.Lock()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def prepare(model: str = DEFAULT_MODEL) -> Path:
    """Check the runtime is installed and return the verified model file, assembling it once if needed."""
    spec = spec_for(model)
    _runtime()
    return assemble(spec)


def preload(model: str = DEFAULT_MODEL) -> None:
    """Assemble and load `model` now, so the first call does not pay for it."""
    _engine(spec_for(model)).load()


def describe(model: str = DEFAULT_MODEL) -> Status:
    """Where `model` lives and whether, how often and how fast this process loaded it."""
    spec = spec_for(model)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(spec.name)
    path = cache_dir() / spec.filename
    return Status(
        name=spec.name,
        path=path,
        assembled=is_verified(spec, path),
        loaded=bool(engine and engine.loads),
        loads=engine.loads if engine else 0,
        calls=engine.calls if engine else 0,
        load_seconds=engine.load_seconds if engine else None,
        n_ctx=N_CTX,
        threads=_threads(),
        listener=engine.listener if engine else None,
    )


def complete(model: str, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """One chat completion on the local model, without litellm: llama.cpp's OpenAI-shaped response dict."""
    return submit(model, messages, params).result()


def submit(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> Future[dict[str, Any]]:
    """Queue one chat completion on the local model, without litellm; the future holds llama.cpp's
    OpenAI-shaped response dict, or raises PromptgitError (the model cannot load) or ValueError (a
    request llama.cpp refuses). Params outside PASSED_PARAMS are dropped."""
    return _engine(spec_for(model)).submit(_request(messages, params))


def _request(messages: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": [dict(message) for message in messages]}
    for key in PASSED_PARAMS:
        if params.get(key) is not None:
            request[key] = params[key]
    if params.get("max_completion_tokens") is not None:
        request["max_tokens"] = params["max_completion_tokens"]
    request.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    request["cache_prompt"] = CACHE_PROMPT
    if isinstance(request.get("stop"), str):
        request["stop"] = [request["stop"]]
    return request


def unwrap_error(error: BaseException) -> PromptgitError | None:
    """The PromptgitError behind an exception litellm raised for a local call, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, PromptgitError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


_REGISTER_LOCK = threading.Lock()


def ensure_registered() -> None:
    """Register the "local" provider with litellm (idempotent), so `local/...` names work in litellm calls."""
    import litellm

    with _REGISTER_LOCK:
        if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
            return
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": _make_handler(litellm)})
        litellm.register_model({name: _cost_entry() for name in MODELS})


def _cost_entry() -> dict[str, Any]:
    # Zero costs make litellm report cost 0 instead of failing to price an unknown model; the
    # cache costs are listed only so litellm does not warn that they are missing.
    return {
        "litellm_provider": PROVIDER,
        "mode": "chat",
        "max_tokens": N_CTX,
        "max_input_tokens": N_CTX,
        "max_output_tokens": N_CTX,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
    }


def _make_handler(litellm: Any) -> Any:
    """A litellm CustomLLM serving `local/...` names; defined here so importing this module needs no litellm."""
    from litellm.llms.custom_llm import CustomLLMError

    def submit(model: str, messages: list[Any], optional_params: dict[str, Any]) -> Future[dict[str, Any]]:
        try:
            return _engine(spec_for(model)).submit(_request(messages, optional_params or {}))
        except PromptgitError as error:
            raise CustomLLMError(status_code=400, message=str(error)) from error

    def respond(model: str, result: Future[dict[str, Any]], model_response: Any) -> Any:
        try:
            body = result.result()
        except PromptgitError as error:
            # 400, not litellm's default connection error: retrying a missing or broken install is pointless.
            raise CustomLLMError(status_code=400, message=str(error)) from error
        except ValueError as error:
            raise CustomLLMError(status_code=400, message=str(error)) from error
        return _to_model_response(litellm, CustomLLMError, model, body, model_response)

    class LocalProvider(litellm.CustomLLM):
        """litellm's view of the embedded model."""

        def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            """Blocking call: queue on the model's worker thread and wait."""
            future = submit(model, messages, kwargs.get("optional_params") or {})
            return respond(model, future, kwargs.get("model_response") or litellm.ModelResponse())

        async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            """Async call: the event loop stays free while the worker thread runs the model."""
            future = submit(model, messages, kwargs.get("optional_params") or {})
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(future)
            return respond(model, future, kwargs.get("model_response") or litellm.ModelResponse())

    return LocalProvider()


def _to_model_response(litellm: Any, error_type: Any, model: str, body: dict[str, Any], response: Any) -> Any:
    """Copy llama.cpp's OpenAI-shaped answer into litellm's ModelResponse, with token counts."""
    if "error" in body:
        error = body["error"]
        raise error_type(status_code=int(error.get("code") or 500), message=str(error.get("message") or error))
    choice = body["choices"][0]
    response.choices[0].message.content = choice["message"].get("content") or ""
    response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
    response.model = model
    response.created = int(body.get("created") or time.time())
    usage = body.get("usage") or {}
    response.usage = litellm.Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        total_tokens=int(usage.get("total_tokens") or 0),
    )
    return response
