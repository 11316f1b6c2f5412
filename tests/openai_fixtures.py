"""Pytest fixtures for the local OpenAI-compatible server (tests/openai_server.py).

Registered once for every test module by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator

import pytest

from tests.openai_server import Server

# Any value works: the server checks no key. Tests assert it never shows up in a message.
DUMMY_KEY = "sk-test-dummy-key"
# A model name litellm sends to the local server (the part after "openai/" reaches it as "model").
TEST_MODEL = "openai/test-model"

_shared: Server | None = None


def shared_server() -> Server:
    """One in-process server per test process, started on first use, stopped at exit."""
    global _shared
    if _shared is None:
        _shared = Server()
        atexit.register(_shared.close)
    return _shared


def litellm_settings(server: Server) -> dict[str, str]:
    """Model settings that send an `openai/...` call to `server`."""
    return {"api_base": server.api_base, "api_key": DUMMY_KEY}


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The shared server with default behaviour and no records; openai/... calls go to it."""
    server = shared_server()
    server.configure()
    server.reset()
    # An openai/... model without api_base reaches the local server, never the internet.
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    monkeypatch.setenv("OPENAI_API_BASE", server.api_base)
    monkeypatch.setenv("OPENAI_BASE_URL", server.api_base)
    yield server
    server.configure()
