"""What a message holds besides text: images, and prior turns taken from a dataset field as values.

docs/spec.md, Conversations and Images. Templates place them with `turns(value)` and `image(source)`
(templating.py registers both); prompts.py puts them into the rendered messages.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptgit.errors import PromptgitError
from promptgit.tree import Tree, normalize

# The image types OpenAI's vision models take (and so every provider litellm maps them to).
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
# OpenAI's documented limit for one image in a request ("Images and vision" guide): 20 MB.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
TURN_ROLES = ("system", "user", "assistant")
_URL_SCHEMES = ("http://", "https://", "data:")


@dataclass(frozen=True)
class Image:
    """An image in a message: a project file sent as a data URL, or a URL sent as it is."""

    source: str  # the project-relative path, or the URL
    url: str  # what is sent: the URL, or data:<media type>;base64,<bytes>
    media_type: str | None = None  # files only
    size: int | None = None  # bytes, files only
    sha256: str | None = None  # of the bytes, files only

    @property
    def is_file(self) -> bool:
        """Whether the image is a project file (its bytes are sent, and hashed into the fingerprint)."""
        return self.size is not None

    def as_part(self) -> dict[str, Any]:
        """The message part providers take: {"type": "image_url", "image_url": {"url": …}}."""
        return {"type": "image_url", "image_url": {"url": self.url}}

    def described(self) -> dict[str, Any]:
        """The part without its bytes, for `render --json`: a file's path, media type, size and sha256."""
        if not self.is_file:
            return self.as_part()
        about = {"file": self.source, "media_type": self.media_type, "bytes": self.size, "sha256": self.sha256}
        return {"type": "image_url", "image_url": about}

    def label(self) -> str:
        """`[image: photos/cat.png, image/png, 12,345 bytes]`, or `[image: https://…]`: never the bytes."""
        if not self.is_file:
            return f"[image: {self.source if not self.source.startswith('data:') else self.source[:40] + '…'}]"
        return f"[image: {self.source}, {self.media_type}, {self.size:,} bytes]"


@dataclass(frozen=True)
class Turn:
    """One prior turn of a conversation, from a dataset value: a role and its text, never parsed."""

    role: str
    content: str


def image_path(value: str) -> str | None:
    """The project path `value` names when it names a file of an image type (by its extension), else None."""
    if value.startswith(_URL_SCHEMES) or posixpath.splitext(value.lower())[1] not in MEDIA_TYPES:
        return None
    try:
        return normalize(value)
    except PromptgitError:  # outside the project: image() refuses it when a template passes it
        return None


def load_image(tree: Tree, source: Any) -> Image:
    """The image `source` names: an http(s) or data URL, or a project-relative file of an image type."""
    if not isinstance(source, str) or not source.strip():
        raise PromptgitError(
            f"image() takes a URL or a project file's path, not {source!r}",
            hint="e.g. image(photo) where the dataset's `photo` is images/cat.png or https://…",
        )
    if source.startswith(_URL_SCHEMES):
        return Image(source=source, url=source)
    ext = posixpath.splitext(source.lower())[1]
    if ext not in MEDIA_TYPES:
        raise PromptgitError(
            f"image {source!r} is not a {', '.join(sorted(MEDIA_TYPES))} file",
            hint="providers take PNG, JPEG, GIF and WebP images",
        )
    path = normalize(source)
    try:
        data = tree.read_bytes(path)
    except FileNotFoundError:
        raise PromptgitError(
            f"image file {path!r} not found", hint="image paths are relative to the project root"
        ) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise PromptgitError(f"image {path!r} is {len(data):,} bytes; providers take at most {MAX_IMAGE_BYTES:,}")
    media_type = MEDIA_TYPES[ext]
    url = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    return Image(path, url, media_type, len(data), hashlib.sha256(data).hexdigest())


def load_turns(value: Any) -> tuple[Turn, ...]:
    """Prior turns from a value that is a list of {role, content} mappings (role system, user or assistant)."""
    if not isinstance(value, (list, tuple)):
        raise PromptgitError(
            f"turns() takes a list of messages [{{role, content}}], not {type(value).__name__}",
            hint='give the dataset field a JSON list, e.g. [{"role": "user", "content": "hi"}]',
        )
    turns = []
    for index, item in enumerate(value):
        role = item.get("role") if isinstance(item, Mapping) else None
        content = item.get("content") if isinstance(item, Mapping) else None
        if role not in TURN_ROLES or not isinstance(content, str) or set(item) - {"role", "content"}:
            raise PromptgitError(
                f"turns(): message {index} must be {{role, content}} with role {', '.join(TURN_ROLES)} "
                f"and text content, not {_short(item)}",
                hint="each prior turn is a mapping with exactly `role` and `content`",
            )
        turns.append(Turn(role, content))
    return tuple(turns)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
