"""The one user-facing error family, turned into a clean message once, at the CLI boundary."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1  # a gate failed or a check found problems
EXIT_USAGE = 2  # bad usage or bad input
EXIT_INCONCLUSIVE = 3  # too many model errors to judge
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it
EXIT_INTERNAL = 70  # a bug in promptgit: EX_SOFTWARE of BSD's sysexits.h, never 1 (a failed gate)


class PromptgitError(Exception):
    """Bad input or usage: shown as `file:line: message` plus the fix, exit code 2, no traceback."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint

    def located(self, file: str, line: int | None = None) -> PromptgitError:
        """Return this error pinned to `file` (and `line`) when it does not name a place yet."""
        if self.file is None:
            self.file = file
            self.line = line if self.line is None else self.line
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class MissingCredentials(PromptgitError):
    """No API key in the environment for a model: not bad input but an environment that cannot call it.

    Every pull request from a fork (and Dependabot's) runs without the repository's secrets. An
    evaluation that meets this stops, keeps what is stored and ends inconclusive with this message as
    its reason (evaluate.py); any other command shows it as an error, exit 2.
    """


class Inconclusive(PromptgitError):
    """Not bad input, but nothing to judge: a model call that failed after its retries, outside an evaluation
    (where such a case is an error, not a score). Shown like any PromptgitError, with exit 3."""

    exit_code = EXIT_INCONCLUSIVE


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A `did you mean X?` hint for a near-miss spelling, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else None


def write_output(path: Path, data: bytes, what: str, option: str) -> None:
    """Write a file the user asked for (`what`, given by `option`), creating its folder; an unwritable path is
    a PromptgitError naming it (exit 2), never a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise PromptgitError(
            f"cannot write {what} to {path}: {err.strerror or err}", hint=f"give {option} a writable file path"
        ) from None
