"""Chat messages: text, or parts (text and images) in order, and how rendered sections become them.

prompts.py splits a render at its role markers; MessageBuilder puts what turns() and image() placed
(see `content`) into the messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from promptgit import templating
from promptgit.content import Image, Turn
from promptgit.errors import PromptgitError


@dataclass(frozen=True)
class Message:
    """One chat message: its text, and, when it carries images, its parts in order (text and Image)."""

    role: str
    content: str  # the text (its text parts, a line apart, when there are parts)
    parts: tuple[str | Image, ...] = ()  # empty for a text-only message

    @property
    def images(self) -> tuple[Image, ...]:
        """The message's images, in order."""
        return tuple(p for p in self.parts if isinstance(p, Image))

    def as_dict(self) -> dict[str, Any]:
        """The message as litellm and JSON want it: content is text, or a list of parts when it has images."""
        if not self.parts:
            return {"role": self.role, "content": self.content}
        return {"role": self.role, "content": [_part(p, Image.as_part) for p in self.parts]}

    def described(self) -> dict[str, Any]:
        """As `as_dict`, with each image file described (path, type, size, sha256) instead of its bytes."""
        if not self.parts:
            return self.as_dict()
        return {"role": self.role, "content": [_part(p, Image.described) for p in self.parts]}


def _part(part: str | Image, image: Callable[[Image], dict[str, Any]]) -> dict[str, Any]:
    return {"type": "text", "text": part} if isinstance(part, str) else image(part)


class MessageBuilder:
    """Messages from role sections whose text holds part markers (turns() and image())."""

    def __init__(self, path: str, role: str | None) -> None:
        self.path = path
        self.default = role  # the role of text with no role line: "user" when the body has none
        self.role = role
        self.chunks: list[str | int] = []  # text, and indexes of parts placed in it
        self.sections: list[tuple[str | None, list[str | int]]] = []

    def start(self, role: str) -> None:
        self.sections.append((self.role, self.chunks))
        self.role, self.chunks = role, []

    def add_text(self, text: str) -> None:
        pieces = templating.PART_MARKER.split(text)
        for index, piece in enumerate(pieces):
            self.chunks.append(int(piece) if index % 2 else piece)

    def finish(self, parts: Sequence[Any], has_roles: bool) -> tuple[Message, ...]:
        self.sections.append((self.role, self.chunks))
        messages: list[Message] = []
        for role, chunks in self.sections:
            messages.extend(self._section(role, chunks, parts))
        if not messages:
            raise PromptgitError("the prompt renders to no message", file=self.path, hint="write a body")
        return tuple(messages)

    def _section(self, role: str | None, chunks: list[str | int], parts: Sequence[Any]) -> list[Message]:
        """One role section: its messages, each run of prior turns closing the message before it."""
        out: list[Message] = []
        pending: list[str | Image] = []
        current = role
        for chunk in chunks:
            part = parts[chunk] if isinstance(chunk, int) else None
            if isinstance(part, tuple):  # prior turns
                if any(isinstance(p, Image) or p.strip() for p in pending):
                    out.extend(self._message(current, pending))
                out.extend(Message(t.role, t.content) for t in part if isinstance(t, Turn))
                pending, current = [], self.default
            else:
                pending.append(part if isinstance(part, Image) else templating.unescape(str(chunk)))
        return out + self._message(current, pending)

    def _message(self, role: str | None, pending: list[str | Image]) -> list[Message]:
        text = "".join(p for p in pending if isinstance(p, str)).strip()
        images = [p for p in pending if isinstance(p, Image)]
        if role is None:
            if text or images:
                raise PromptgitError(
                    f"text with no role line: {text[:60]!r}" if text else "an image with no role line",
                    file=self.path,
                    hint="put a `user:` line before it (after turns(), the next message needs its role line)",
                )
            return []
        if not images:
            return [Message(role, text)]
        if role != "user":
            raise PromptgitError(
                f"an image in a {role} message; providers take images in user messages only",
                file=self.path,
                hint="place image() under a `user:` line",
            )
        parts = _trimmed(pending)
        return [Message(role, "\n".join(p for p in parts if isinstance(p, str)), parts)]


def _trimmed(pending: list[str | Image]) -> tuple[str | Image, ...]:
    """The parts of a message with images: each text between images stripped, empty text dropped."""
    parts = (p.strip() if isinstance(p, str) else p for p in _joined(pending))
    return tuple(p for p in parts if p)


def _joined(pending: list[str | Image]) -> list[str | Image]:
    """Adjacent text chunks joined into one text part."""
    out: list[str | Image] = []
    for part in pending:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        else:
            out.append(part)
    return out
