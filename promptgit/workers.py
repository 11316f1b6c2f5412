"""Model calls spread over worker processes, so that litellm's per-call CPU uses every core.

litellm, the openai SDK and httpx cost about 4.5 ms of CPU per call (docs/benchmarks.md), all of it
Python holding one GIL: against a fast endpoint one process tops out near 220 calls a second however
many are in flight. A `Pool` forks worker processes once litellm is imported (so no worker imports it
again), each with its own event loop and its own litellm clients, and sends them one model call at
a time over a socket. Only the call crosses: the parent still renders, shares calls in flight,
claims keys, scores and writes every result into the one store, so a run with workers stores
exactly what a run without them does.

Workers ignore SIGINT and end when their socket closes: Ctrl-C, a time limit or an error in the
parent closes the pool, and a parent that dies closes the sockets with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import pickle
import signal
import socket
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptgit import models
from promptgit.errors import MissingCredentials, PromptgitError
from promptgit.limiter import AdaptiveLimit

# Environment variable: "0" never uses workers, a whole number N always uses N (tests, benchmarks);
# unset, a run decides by AUTO_MIN_CALLS.
WORKERS_ENV = "PROMPTGIT_WORKERS"
# A run engages workers when it has at least this many case-repeats to compute on a machine with two
# or more cores. Measured (bench_eval.py --crossover, medians of 3, quiet 2-core machine, 20 ms, C=64):
# no gain at 50 to 250 calls (the fork and each worker's first call cost what they save), 2.8 -> 2.6 s
# at 500, 3.7 -> 3.2 s at 1,000, 8.8 -> 6.5 s at 4,000; at 200 ms, C=32, 1,000 calls: 9.7 -> 9.2 s.
AUTO_MIN_CALLS = 500
_HEADER = struct.Struct("!I")  # each message: its pickled length, then the pickle
_parent_ends: list[int] = []  # this process's ends of its workers' sockets (file descriptors)


@dataclass(frozen=True)
class _Request:
    ident: int
    model: str
    messages: list[dict[str, str]]
    settings: dict[str, Any]
    timeout: float
    retries: int


def planned_workers(calls: int, model_names: Sequence[str | None]) -> int:
    """How many worker processes a run of `calls` uncached case-repeats should use: 0 for none.

    PROMPTGIT_WORKERS decides when set (a whole number, 0 for none; anything else is a PromptgitError);
    otherwise one per usable core when the run is big enough and calls through litellm (the embedded
    `local/` model runs in this process, and uses every core by itself).
    """
    forced = os.environ.get(WORKERS_ENV, "").strip()
    if forced:
        if not forced.isdigit():
            raise PromptgitError(
                f"{WORKERS_ENV} must be a whole number of worker processes, not {forced!r}",
                hint="0 for none; unset it to let promptgit decide",
            )
        return int(forced)
    cores = _cores()
    if cores < 2 or calls < AUTO_MIN_CALLS or not models.needs_litellm(model_names):
        return 0
    return cores


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Pool:
    """Worker processes answering model calls; `complete` has the meaning of models.complete."""

    def __init__(self) -> None:
        self._workers: list[_Worker] = []
        self._next_id = 0

    @classmethod
    async def start(cls, count: int, concurrency: int) -> Pool:
        """Import litellm here, then fork `count` workers, each allowed ceil(concurrency / count) requests
        in flight (each adapts its own share to 429s, limiter.py)."""
        await models.ready()
        models.import_litellm()  # before the fork: the workers inherit it instead of importing it again
        pool = cls()
        share = max(1, math.ceil(concurrency / count))
        for _ in range(count):
            pool._workers.append(await _Worker.fork(share))
        return pool

    async def complete(
        self,
        model: str,
        messages: Sequence[Mapping[str, str]],
        settings: Mapping[str, Any],
        *,
        timeout: float,
        retries: int,
    ) -> models.Completion:
        """One call on the least busy live worker (or in this process when none is left).

        Raises what models.complete raises: ModelCallError, PromptgitError (MissingCredentials).
        """
        live = [w for w in self._workers if w.alive]
        if not live:
            return await models.complete(model, messages, settings, timeout=timeout, retries=retries)
        worker = min(live, key=lambda w: len(w.pending))
        self._next_id += 1
        request = _Request(self._next_id, model, [dict(m) for m in messages], dict(settings), timeout, retries)
        return await worker.call(request)

    async def close(self) -> None:
        """End every worker: close its socket (it exits on seeing that), then reap it."""
        for worker in self._workers:
            worker.close()
        for worker in self._workers:
            await worker.reap()


class _Worker:
    """The parent's end of one worker process."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pid = pid
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[models.Completion]] = {}
        self.alive = True
        self.listening = asyncio.ensure_future(self._listen())

    @classmethod
    async def fork(cls, share: int) -> _Worker:
        ours, theirs = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            ours.close()
            _drop_inherited_ends()
            _serve(theirs, share)
        theirs.close()
        _parent_ends.append(ours.fileno())
        reader, writer = await asyncio.open_connection(sock=ours)
        return cls(pid, reader, writer)

    async def call(self, request: _Request) -> models.Completion:
        future: asyncio.Future[models.Completion] = asyncio.get_running_loop().create_future()
        self.pending[request.ident] = future
        _send(self.writer, request)
        try:
            return await future
        except asyncio.CancelledError:  # a time limit or Ctrl-C: the worker stops the call too
            if self.alive:
                _send(self.writer, ("cancel", request.ident))
            raise
        finally:
            self.pending.pop(request.ident, None)

    async def _listen(self) -> None:
        try:
            while True:
                ident, outcome = await _receive(self.reader)
                future = self.pending.get(ident)
                if future is not None and not future.done():
                    _settle(future, outcome)
        except (asyncio.IncompleteReadError, ConnectionError, EOFError):
            pass
        finally:
            self._died()

    def _died(self) -> None:
        # Calls it held fail as a model call fails; the next calls go to the workers still alive.
        self.alive = False
        for future in self.pending.values():
            if not future.done():
                future.set_exception(models.ModelCallError("the worker process making the call ended", attempts=1))

    def close(self) -> None:
        self.alive = False
        fd = self.writer.get_extra_info("socket").fileno()
        if fd in _parent_ends:
            _parent_ends.remove(fd)
        with contextlib.suppress(OSError):
            self.writer.close()

    async def reap(self) -> None:
        self.listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.listening
        for _ in range(100):  # a worker exits within milliseconds of its socket closing
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                return
            await asyncio.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _drop_inherited_ends() -> None:
    """In a new worker: let go of the parent's ends of earlier workers' sockets.

    Held here too, they would stay open after the parent closes them, and those workers would never
    see the end. Each is pointed at /dev/null rather than closed, because the objects that own them
    (never run in this process) might close that number later, when it names another file.
    """
    null = os.open(os.devnull, os.O_RDWR)
    for fd in _parent_ends:
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


def _settle(future: asyncio.Future[models.Completion], outcome: tuple[Any, ...]) -> None:
    """Resolve a call's future from the worker's tagged answer (exceptions do not pickle reliably)."""
    kind = outcome[0]
    if kind == "ok":
        future.set_result(outcome[1])
    elif kind == "call_error":
        future.set_exception(models.ModelCallError(outcome[1], attempts=outcome[2]))
    elif kind == "missing_credentials":
        future.set_exception(MissingCredentials(outcome[1], hint=outcome[2]))
    elif kind == "config":
        future.set_exception(PromptgitError(outcome[1], hint=outcome[2]))
    else:  # a bug in the worker: raised as one in the parent would be
        future.set_exception(RuntimeError(f"in a worker process: {outcome[1]}"))


def _send(writer: asyncio.StreamWriter, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_HEADER.pack(len(data)) + data)


async def _receive(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


# --- the worker process ------------------------------------------------------------------------------


def _serve(sock: socket.socket, share: int) -> None:
    """The worker's whole life: answer calls until the parent closes the socket, then exit at once."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.set_wakeup_fd(-1)  # the inherited one is the parent's event loop's
        asyncio.run(_answer_calls(sock, share))
    except BaseException:  # nothing can be reported from here: the parent sees the socket close
        code = 1
    finally:
        os._exit(code)  # never the parent's exit handlers, never its teardown


async def _answer_calls(sock: socket.socket, share: int) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    limit = AdaptiveLimit(share)
    calls: dict[int, asyncio.Task[None]] = {}
    try:
        while True:
            try:
                message = await _receive(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if isinstance(message, tuple):  # ("cancel", ident)
                task = calls.get(message[1])
                if task is not None:
                    task.cancel()
                continue
            task = asyncio.ensure_future(_answer(message, limit, writer))
            calls[message.ident] = task
            task.add_done_callback(functools.partial(_forget, calls, message.ident))
    finally:
        for task in list(calls.values()):
            task.cancel()


def _forget(calls: dict[int, asyncio.Task[None]], ident: int, _: asyncio.Task[None]) -> None:
    calls.pop(ident, None)


async def _answer(request: _Request, limit: AdaptiveLimit, writer: asyncio.StreamWriter) -> None:
    try:
        done = await models.complete(
            request.model,
            request.messages,
            request.settings,
            timeout=request.timeout,
            retries=request.retries,
            limit=limit,
        )
        outcome: tuple[Any, ...] = ("ok", done)
    except models.ModelCallError as err:
        outcome = ("call_error", err.message, err.attempts)
    except MissingCredentials as err:
        outcome = ("missing_credentials", err.message, err.hint)
    except PromptgitError as err:
        outcome = ("config", err.message, err.hint)
    except Exception as err:  # a bug: the parent raises it as its own
        outcome = ("bug", f"{type(err).__name__}: {err}")
    _send(writer, (request.ident, outcome))
