"""The embedded model's engine and litellm provider: clear errors, real calls, one model per process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptgit import local_model as lm
from promptgit import model_files
from promptgit.errors import PromptgitError

# litellm otherwise tries to fetch its price list from the internet when first imported.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REAL = model_files.MODELS[model_files.DEFAULT_MODEL]
REAL_INSTALLED = all(model_files.installed_package_dir(chunk.module) for chunk in REAL.chunks)


def test_importing_loads_neither_runtime_nor_litellm() -> None:
    code = (
        "import sys, promptgit.local_model, promptgit.model_files; "
        "print('xllamacpp' in sys.modules, 'litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_missing_extra_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = lm.importlib.util.find_spec
    monkeypatch.setattr(
        lm.importlib.util, "find_spec", lambda name, *a: None if name == "xllamacpp" else real_find_spec(name, *a)
    )
    with pytest.raises(PromptgitError) as caught:
        lm.prepare(model_files.DEFAULT_MODEL)
    assert "'local' extra" in caught.value.message
    assert caught.value.hint == "install it: pip install 'promptgit[local]'"


def test_request_keeps_sampling_params_and_caps_length() -> None:
    messages = [{"role": "user", "content": "hi"}]
    asked = {"temperature": 0, "top_p": 0.5, "seed": 3, "stop": "\n", "user": "x", "cache_prompt": True}
    request = lm._request(messages, asked)
    assert request == {
        "messages": messages,
        "temperature": 0,
        "top_p": 0.5,
        "seed": 3,
        "stop": ["\n"],
        "max_tokens": lm.DEFAULT_MAX_TOKENS,
        "cache_prompt": False,  # never reuse an earlier prompt's state, whoever asks
    }
    assert lm._request(messages, {"max_completion_tokens": 7})["max_tokens"] == 7


# --- the real model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the real model, assembled once for this module."""
    if not REAL_INSTALLED:
        pytest.skip("the local extra's chunk packages are not installed")
    folder = tmp_path_factory.mktemp("model-cache")
    model_files.assemble(REAL, cache=folder)
    return folder


@pytest.fixture(scope="module")
def litellm_local(model_cache: Path) -> Iterator[Any]:
    """litellm with the local provider registered and the model loaded once for this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(model_files.CACHE_ENV, str(model_cache))
        import litellm

        lm.ensure_registered()
        lm.ensure_registered()
        lm.preload(model_files.DEFAULT_MODEL)
        yield litellm


def _ask(litellm: Any, content: str, **params: Any) -> Any:
    messages = [{"role": "user", "content": content}]
    return litellm.acompletion(model=model_files.DEFAULT_MODEL, messages=messages, **params)


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


# --- same inputs, same output (issue 18) -------------------------------------------------------------

_RULES = "Classify a product review as positive, negative or neutral. Answer with one word."
_SHOTS = [
    ("Fast printing, but the ink runs out quickly. Not sure yet whether it's worth it.", "neutral"),
    ("Brilliant, the battery died during the first call. Thanks a lot.", "negative"),
    ("Perfect gift, my dad uses it every day.", "positive"),
    ("Haven't opened it yet, it's for my sister's birthday.", "neutral"),
    ("Cheap and it shows. The lid cracked within a month.", "negative"),
    ("A bit pricey, but it's the most comfortable chair I've owned.", "positive"),
    ("The lamp comes with a 2 m cable and a plug adapter.", "neutral"),
]


def _few_shot(review: str) -> list[dict[str, str]]:
    """A ~330-token few-shot prompt like the example sentiment suite's: long enough for reuse to matter."""
    turns = [{"role": "system", "content": _RULES}]
    for text, label in _SHOTS:
        turns += [{"role": "user", "content": f"Review: {text}"}, {"role": "assistant", "content": label}]
    return [*turns, {"role": "user", "content": f"Review: {review}"}]


_ASKED = _few_shot("Oh great, another charger that stops working after a week. Just what I needed.")
# Each is sent just before the asked request. With llama.cpp's prompt cache on, every one of them
# moved the asked request's top logprob (by 0.0004 to 0.046 here), because the asked prompt was
# then computed from a reused prefix in a different batch split.
_BEFORE = {
    "whatever ran before": [],
    "a different prompt": [{"role": "user", "content": "Summarise: " + "the cat sat on the mat. " * 150}],
    "the asked request itself": _ASKED,
    "the same few shots, another review": _few_shot("Does exactly what it says on the box. Five stars."),
    "the same system prompt only": [{"role": "system", "content": _RULES}, {"role": "user", "content": "Hello"}],
}


def _first_token_logprobs(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    body = lm.complete(model_files.DEFAULT_MODEL, messages, temperature=0, max_tokens=1, logprobs=True, top_logprobs=5)
    first = body["choices"][0]["logprobs"]["content"][0]
    return [(item["token"], item["logprob"]) for item in first["top_logprobs"]]


@pytest.mark.local_model
def test_an_answer_does_not_depend_on_the_call_before_it(litellm_local: Any) -> None:
    seen = {}
    for name, before in _BEFORE.items():
        if before:
            lm.complete(model_files.DEFAULT_MODEL, before, temperature=0, max_tokens=2)
        seen[name] = _first_token_logprobs(_ASKED)

    # Bit for bit, not approximately: a near-tie at temperature 0 flips on any difference.
    # The model misreads this sarcasm; what matters is that it always does, to the last bit.
    assert [token for token, _ in seen["whatever ran before"][:2]] == ["positive", "negative"]
    assert {name: probs == seen["whatever ran before"] for name, probs in seen.items()} == dict.fromkeys(_BEFORE, True)


@pytest.mark.parametrize(
    ("settings", "dropped"),
    [
        ({"temperature": 0, "seed": 1, "stop": "x", "max_completion_tokens": 9, "n": 1}, []),
        ({"api_base": "http://x", "api_version": "1", "extra_headers": {}, "timeout": 3}, []),  # where and how long
        ({"top_k": 40, "logit_bias": {"1": 2}}, ["logit_bias", "top_k"]),
        (
            {"reasoning_effort": "low", "thinking": {}, "parallel_tool_calls": False},
            ["parallel_tool_calls", "reasoning_effort", "thinking"],
        ),
        ({"tool_choice": "auto", "n": 2}, ["n", "tool_choice"]),
    ],
)
def test_the_settings_the_engine_would_drop_are_named(settings: dict[str, Any], dropped: list[str]) -> None:
    assert lm.dropped_settings(settings) == dropped
