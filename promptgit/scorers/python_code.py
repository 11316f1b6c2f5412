"""The python scorer: the one place promptgit runs user code, a function in a file beside the suite."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import sys
import threading
import traceback
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptgit.errors import PromptgitError, did_you_mean
from promptgit.scorers import JudgeFn, Score, Scorer, ScorerError, ScorerSite, register
from promptgit.scorers.common import case_id
from promptgit.tree import Tree, read_text


def coerce(value: float | bool | dict | int) -> Score:
    """A python scorer's return value as a Score; ValueError says what is wrong with it."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"score", "reason"})
        if "score" not in value or unknown:
            raise ValueError(
                "a dict result needs a 'score' key and at most a 'reason' key"
                + (f" (unknown: {', '.join(map(repr, unknown))})" if unknown else "")
            )
        reason = value.get("reason")
        return Score(_number(value["score"]), None if reason is None else str(reason))
    return Score(_number(value))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if not isinstance(value, (int, float)):
        raise ValueError(f"a score must be a number or a bool, not {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a score must lie in [0, 1], not {value!r}")
    return float(value)


# -- python --------------------------------------------------------------------------------------

_PYTHON_HINT = "write `python: scorers.py:function_name`, the file relative to the suite file"


def _python_target(config: Any) -> tuple[str, str]:
    """(file, function) from `file.py:function`."""
    if not isinstance(config, str) or ":" not in config:
        raise PromptgitError(f"python needs `file.py:function`, got {config!r}", hint=_PYTHON_HINT)
    file, function = (part.strip() for part in config.rsplit(":", 1))
    if not file.endswith(".py") or not function.isidentifier():
        raise PromptgitError(f"python needs `file.py:function`, got {config!r}", hint=_PYTHON_HINT)
    return file, function


def _python_files(config: Any) -> list[str]:
    return [_python_target(config)[0]]


_MODULES: dict[tuple[str, str], types.ModuleType] = {}


def load_module(tree: Tree, path: str, timeout: float = 30.0) -> types.ModuleType:
    """Run a Python file read from `tree` as a fresh module (so any revision works); reused per content.

    The file's top level runs on a thread of its own for at most `timeout` seconds (promptgit.yaml's
    scorer_timeout). Whatever it raises, SystemExit included, or running past the timeout, is a
    PromptgitError naming the file: a scorer file is user input, and `sys.exit()` in it must not end promptgit.
    """
    source = read_text(tree, path)
    digest = hashlib.sha256(f"{path}\n{source}".encode()).hexdigest()[:16]
    module = _MODULES.get((path, digest))
    if module is not None:
        return module
    try:
        code = compile(source, path, "exec")
    except SyntaxError as err:
        raise PromptgitError(f"syntax error in scorer file: {err.msg}", file=path, line=err.lineno) from None
    module = types.ModuleType(f"promptgit_scorer_{digest}")
    module.__file__ = path
    # Registered so that dataclasses and pickling in the user's file find their module.
    sys.modules[module.__name__] = module
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            exec(code, module.__dict__)
        except BaseException as err:  # SystemExit, KeyboardInterrupt raised by the file: its fault, not a signal
            outcome.append(err)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name="promptgit-scorer-load", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome or outcome[0] is not None:
        del sys.modules[module.__name__]
        raised = outcome[0] if outcome else None
        if raised is None:
            raise PromptgitError(
                f"scorer file took longer than {timeout:g} s to load",
                file=path,
                hint="move slow work out of the file's top level (or raise promptgit.yaml's scorer_timeout)",
            )
        raise PromptgitError(
            f"scorer file failed to load: {type(raised).__name__}: {raised}",
            file=path,
            line=_line_in(raised, path),
            hint="fix the file's top-level code; it runs when the suite is loaded",
        ) from None
    _MODULES[(path, digest)] = module
    return module


def _line_in(err: BaseException, path: str) -> int | None:
    """The deepest line of `path` in the exception's traceback."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else None


@dataclass(frozen=True)
class _PythonScorer:
    """A user function `(output, expected, case) -> float | bool | dict` from a file beside the suite.

    `output` is a `str` (the reply's text) with `output.tool_calls`: a tuple of toolcalls.ToolCall, each
    with `.name`, `.arguments` (parsed JSON, None when unparseable), `.arguments_text` (as the model
    wrote them) and `.error` (why they do not parse, else None); empty for a reply that calls no tool.
    """

    label: str
    path: str
    function: Callable[[str, Any, Any], Any]
    timeout: float  # seconds per output

    async def score(self, output: str, expected: Any, case: Any, judge: JudgeFn) -> Score:
        """Run the user's function on a thread of its own (awaiting it there when async) and coerce its result.

        Raises ScorerError, naming the scorer and the case, when the function raises (SystemExit
        included), runs past `timeout` seconds, or returns something that is not a score: a bug in
        the scorer is an error for that case, never a verdict on the output and never the end of the run.
        """
        name = f"{self.path}:{self.function.__name__}"
        try:
            result = await run_off_loop(lambda: _call(self.function, output, expected, case), self.timeout)
        except asyncio.TimeoutError:  # not yet the builtin TimeoutError on Python 3.10
            raise ScorerError(
                f"python scorer {name} took longer than {self.timeout:g} s on case {case_id(case)} "
                "(raise promptgit.yaml's scorer_timeout if it needs longer)"
            ) from None
        except UserCodeError as raised:
            err = raised.error
            line = _line_in(err, self.path)
            where = f" at {self.path}:{line}" if line else ""
            raise ScorerError(
                f"python scorer {name} raised {type(err).__name__}: {err}{where} (case {case_id(case)})"
            ) from None
        try:
            return coerce(result)
        except ValueError as err:
            raise ScorerError(
                f"python scorer {name} returned {_cut(repr(result))} for case {case_id(case)}: {err}; "
                "return a float in [0, 1], a bool, or {'score': 0.5, 'reason': '…'}"
            ) from None


def _call(function: Callable[[str, Any, Any], Any], output: str, expected: Any, case: Any) -> Any:
    result = function(output, expected, case)
    if inspect.isawaitable(result):
        return asyncio.run(_awaited(result))  # this thread's own loop: the run's loop never waits on user code
    return result


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class UserCodeError(Exception):
    """Whatever user code raised (SystemExit and KeyboardInterrupt too), carried as a plain Exception."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


async def run_off_loop(call: Callable[[], Any], timeout: float) -> Any:
    """`call()` on a new daemon thread, awaited for at most `timeout` seconds (TimeoutError after).

    Any exception `call` raises, BaseException included, is raised here wrapped in UserCodeError
    (a bare SystemExit or StopIteration would end the event loop, not the task). A daemon thread and not the
    loop's executor: Python cannot stop a thread, so one that runs past its timeout is abandoned, and
    an executor's worker would hold up the end of `asyncio.run` (and the process) until it returned.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: UserCodeError | None) -> None:
        if future.done():  # abandoned after its timeout
            return
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    def work() -> None:
        value: Any = None
        error: UserCodeError | None = None
        try:
            value = call()
        except BaseException as err:  # whatever it is, the awaiting task gets it
            error = UserCodeError(err)
        with contextlib.suppress(RuntimeError):  # the run's loop has closed: nobody waits for this result
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="promptgit-python-scorer", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


@register("python", reads=_python_files)
def _python(config: Any, site: ScorerSite) -> Scorer:
    """A function in a Python file beside the suite: `python: scorers.py:tone`."""
    file, function_name = _python_target(config)
    path = site.resolve(file)
    if not site.tree.exists(path):
        raise site.error(f"python scorer file {path!r} not found", hint=_PYTHON_HINT)
    module = load_module(site.tree, path, site.python_timeout)
    function = getattr(module, function_name, None)
    if not callable(function):
        defined = [n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")]
        listed = f"functions there: {', '.join(defined) or 'none'}"
        raise site.error(
            f"{path} has no function {function_name!r}", hint=did_you_mean(function_name, defined) or listed
        )
    if not _takes_three(function):
        raise site.error(f"{path}:{function_name} must take (output, expected, case)")
    return _PythonScorer(f"python:{function_name}", path, function, site.python_timeout)


def _takes_three(function: Callable[..., Any]) -> bool:
    try:
        inspect.signature(function).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:
        return True  # no signature to inspect (a builtin): let the call decide
    return True
