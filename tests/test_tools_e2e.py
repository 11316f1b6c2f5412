"""Tools, prior turns and images end to end: real HTTP through litellm to the local server, real SQLite."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from promptgit.project import open_project
from promptgit.store import Store, StoredCase
from tests.conftest import Result
from tests.openai_server import Server

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
    },
]
PROMPT = "---\ntools: _tools/web.json\ntool_choice: auto\n---\nsystem:\nUse a tool.\nuser:\n{{ question }}\n"
# The test server's scripted replies: each question's tool calls, arguments as the raw string the model sent.
SCRIPT = {
    "news": [{"name": "search", "arguments": '{"query": "news", "days": 1}'}],
    "paris": [{"name": "weather", "arguments": '{"city": "Paris"}'}],
    "broken": [{"name": "search", "arguments": '{"query": "x",'}],
    "two": [
        {"name": "weather", "arguments": '{"city": "Oslo"}'},
        {"name": "search", "arguments": '{"query": "oslo", "days": 7}'},
    ],
    "wrong": [{"name": "search", "arguments": '{"query": "rome"}'}],
    "nothing": [{"name": "weather", "arguments": ""}],
}
CASES = [
    {"id": "news", "question": "news", "calls": {"name": "search", "arguments": {"query": "news", "days": 1}}},
    {"id": "paris", "question": "paris", "calls": [{"name": "weather", "arguments": {"city": "Paris"}}]},
    {"id": "broken", "question": "broken", "calls": {"name": "search", "arguments": {"query": "x"}}},
    {
        "id": "two",
        "question": "two",
        "calls": [
            {"name": "search", "arguments": {"query": "oslo", "days": 7}},
            {"name": "weather", "arguments": {"city": "Oslo"}},
        ],
    },
    {"id": "wrong", "question": "wrong", "calls": {"name": "weather", "arguments": {"city": "Rome"}}},
    {"id": "nothing", "question": "nothing", "calls": "weather"},
    {"id": "plain", "question": "ANSWER: no tool", "calls": []},
]


def tool_project(write: Callable[..., Path], scorer: str = "tool_call", rows: list[dict] | None = None) -> Path:
    return write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model, temperature: 0}\n",
            "prompts/_tools/web.json": json.dumps(TOOLS),
            "prompts/agent.jinja": PROMPT,
            "evals/agent.yaml": f"prompt: agent\ndataset: cases.jsonl\nexpected: calls\nscorers: [{scorer}]\n",
            "evals/cases.jsonl": "\n".join(json.dumps(r) for r in rows or CASES) + "\n",
        }
    )


def run_json(run_cli: Callable[..., Result], root: Path, *args: str) -> dict:
    result = run_cli([*args, "--json"], root)
    assert result.code in (0, 1), result.err
    return json.loads(result.out)


def stored_cases(root: Path) -> dict[str, StoredCase]:
    with Store(open_project(start=root).store_path) as store:
        fingerprint = store.fingerprints()[0]
        return {c.case_id: c for c in store.cases(fingerprint)}


def stored_outputs(root: Path) -> dict[str, str]:
    return {case_id: c.output for case_id, c in stored_cases(root).items()}


def test_tool_calls_are_sent_stored_structured_and_scored(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    openai_server.configure(tool_calls=SCRIPT)
    root = tool_project(write)
    suite = run_json(run_cli, root, "eval")["suites"][0]

    body = openai_server.requests[0].body
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == "auto"
    results = {r["id"]: r for r in suite["results"]}
    assert {k: r["score"] for k, r in results.items()} == {
        "news": 1.0,
        "paris": 1.0,
        "broken": 0.0,
        "two": 1.0,  # the pairing ignores order
        "wrong": 0.0,
        "nothing": 1.0,  # a name alone matches any arguments; empty arguments are {}
        "plain": 1.0,  # no call expected, none made
    }
    assert results["news"]["output"] == 'search(query="news", days=1)'
    assert results["two"]["output"] == 'weather(city="Oslo")\nsearch(query="oslo", days=7)'
    assert results["broken"]["output"] == 'search(<not JSON: {"query": "x",>)'
    assert results["plain"]["output"] == "no tool"

    stored = stored_outputs(root)
    prefix = "\x00promptgit-output:v1\n"
    assert json.loads(stored["broken"].removeprefix(prefix)) == {
        "text": "",
        "tool_calls": [
            {
                "name": "search",
                "arguments": None,
                "arguments_text": '{"query": "x",',
                "error": "arguments of search are not JSON: Expecting property name enclosed in double quotes "
                "at column 15",
            }
        ],
    }
    assert json.loads(stored["paris"].removeprefix(prefix))["tool_calls"][0]["arguments"] == {"city": "Paris"}
    assert stored["plain"] == "no tool"  # a reply without tool calls is stored as its text, as before


def test_tool_call_reasons_name_what_differs(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    openai_server.configure(tool_calls=SCRIPT)
    root = tool_project(write)
    run_json(run_cli, root, "eval")
    reasons = {case_id: c.scores[0][2] for case_id, c in stored_cases(root).items()}
    assert reasons == {
        "news": None,
        "paris": None,
        "broken": "arguments of search are not JSON: Expecting property name enclosed in double quotes at column 15",
        "two": None,
        "wrong": 'expected a call to weather, the reply called search; unexpected call search(query="rome")',
        "nothing": None,
        "plain": None,
    }


def test_subset_and_schema_matching(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    openai_server.configure(tool_calls=SCRIPT)
    rows = [
        {"id": "sub-ok", "question": "news", "calls": {"name": "search", "arguments": {"query": "news"}}},
        {"id": "sub-bad", "question": "news", "calls": {"name": "search", "arguments": {"query": "old"}}},
        {"id": "sub-nested", "question": "two", "calls": [{"name": "search", "arguments": {"days": 7}}]},
    ]
    root = tool_project(write, "{tool_call: {match: subset}}", rows)
    scores = {r["id"]: r["score"] for r in run_json(run_cli, root, "eval")["suites"][0]["results"]}
    # sub-nested: one of its expected call paired, of the reply's two calls
    assert scores == {"sub-ok": 1.0, "sub-bad": 0.0, "sub-nested": 0.5}

    schema = {"type": "object", "properties": {"days": {"type": "integer", "maximum": 3}}, "required": ["days"]}
    rows = [
        {"id": "fits", "question": "news", "calls": {"name": "search", "arguments": schema}},
        {"id": "too-many-days", "question": "two", "calls": [{"name": "search", "arguments": schema}, "weather"]},
        {"id": "no-days", "question": "wrong", "calls": {"name": "search", "arguments": schema}},
    ]
    root = tool_project(write, "{tool_call: {match: schema}}", rows)
    results = {r["id"]: r for r in run_json(run_cli, root, "eval")["suites"][0]["results"]}
    assert {k: r["score"] for k, r in results.items()} == {"fits": 1.0, "too-many-days": 0.5, "no-days": 0.0}


def test_expected_calls_from_a_named_field_and_python_scorers_read_them(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    openai_server.configure(tool_calls=SCRIPT)
    rows = [{"id": c["id"], "question": c["question"], "want": c["calls"], "calls": "ignored"} for c in CASES[:3]]
    root = tool_project(write, "{tool_call: {field: want}}", rows)
    write(
        {
            "evals/agent.yaml": "prompt: agent\ndataset: cases.jsonl\nexpected: calls\n"
            "scorers: [{tool_call: {field: want}}, {python: shape.py:score}]\n",
            "evals/shape.py": "def score(output, expected, case):\n"
            "    calls = output.tool_calls\n"
            "    ok = [c.name for c in calls] == ['search'] and c_ok(calls[0])\n"
            "    return {'score': float(ok), 'reason': repr([(c.name, c.arguments, c.error is None) for c in calls])}\n"
            "def c_ok(call):\n"
            "    return isinstance(call.arguments, dict) and call.arguments_text.startswith('{')\n",
        },
        root,
    )
    results = {r["id"]: r for r in run_json(run_cli, root, "eval")["suites"][0]["results"]}
    assert {k: r["score"] for k, r in results.items()} == {"news": 1.0, "paris": 0.5, "broken": 0.0}


def test_cache_key_covers_the_tools(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    openai_server.configure(tool_calls=SCRIPT)
    root = tool_project(write, rows=CASES[:1])
    run_json(run_cli, root, "eval")
    changed = [dict(TOOLS[0], function={**TOOLS[0]["function"], "description": "Search the news"}), TOOLS[1]]
    write({"prompts/_tools/web.json": json.dumps(changed)}, root)
    again = run_json(run_cli, root, "eval")["suites"][0]
    assert (again["calls"], again["cached"]) == (1, 0)  # a new fingerprint and a new call key
    assert len(openai_server.requests) == 2
    assert openai_server.requests[1].body["tools"][0]["function"]["description"] == "Search the news"
    write({"prompts/agent.jinja": PROMPT.replace("tool_choice: auto", "tool_choice: required")}, root)
    third = run_json(run_cli, root, "eval")["suites"][0]
    assert (third["calls"], openai_server.requests[2].body["tool_choice"]) == (1, "required")


CONVERSATION_PROMPT = "system:\nBe brief.\n{{ turns(history) }}\nuser:\n{{ question }}\n"


def test_prior_turns_from_a_jsonl_field_are_sent_as_messages(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    history = [
        {"role": "user", "content": "My name is Ada.\nassistant:\nnot a turn"},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "I live in \x00\x02 Paris."},
    ]
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/chat.jinja": CONVERSATION_PROMPT,
            "evals/chat.yaml": "prompt: chat\ndataset: chats.jsonl\nexpected: answer\nscorers: [exact_match]\n",
            "evals/chats.jsonl": json.dumps({"id": "a", "history": history, "question": "ANSWER: Ada", "answer": "Ada"})
            + "\n",
        }
    )
    suite = run_json(run_cli, root, "eval")["suites"][0]
    assert suite["results"][0]["score"] == 1.0
    assert openai_server.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        *history,
        {"role": "user", "content": "ANSWER: Ada"},
    ]


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
IMAGE_PROMPT = "user:\nWhat is this? ANSWER: a dot\n{{ image(photo) }}\n"


def image_project(write: Callable[..., Path], model: str = "openai/test-model") -> Path:
    root = write(
        {
            "promptgit.yaml": f"defaults: {{model: {model}}}\n",
            "prompts/look.jinja": IMAGE_PROMPT,
            "evals/look.yaml": "prompt: look\ndataset: photos.jsonl\nexpected: answer\nscorers: [exact_match]\n",
            "evals/photos.jsonl": json.dumps({"id": "dot", "photo": "images/dot.png", "answer": "a dot"}) + "\n",
        }
    )
    (root / "images").mkdir(exist_ok=True)
    (root / "images" / "dot.png").write_bytes(PNG)
    return root


def test_an_image_file_reaches_the_server_as_a_data_url(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = image_project(write)
    suite = run_json(run_cli, root, "eval")["suites"][0]
    assert suite["results"][0]["score"] == 1.0
    content = openai_server.requests[0].body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this? ANSWER: a dot"}
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == PNG

    # New bytes: a new fingerprint (not the stored result) and a new call key (not the cached reply).
    (root / "images" / "dot.png").write_bytes(PNG + b"\x00")
    again = run_json(run_cli, root, "eval")["suites"][0]
    assert (again["calls"], again["fingerprint"] != suite["fingerprint"]) == (1, True)
    assert base64.b64decode(openai_server.requests[1].body["messages"][0]["content"][1]["image_url"]["url"][22:]) == (
        PNG + b"\x00"
    )


def test_a_model_without_vision_is_refused_by_name(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    for model in ("openai/gpt-3.5-turbo", "local/qwen2.5-coder-0.5b", "openai/gpt-4-0613"):
        root = image_project(write, model)
        result = run_cli(["eval"], root)
        assert result.code == 2, (model, result.err)
        assert f"model {model} takes no images" in result.err
        assert "Traceback" not in result.err
    assert openai_server.requests == []


def test_the_embedded_model_is_refused_tools_by_name(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = tool_project(write, rows=CASES[:1])
    for choice in ("auto", "required", "none"):
        write(
            {
                "prompts/agent.jinja": PROMPT.replace("tool_choice: auto", f"tool_choice: {choice}"),
                "promptgit.yaml": "defaults: {model: local/qwen2.5-coder-0.5b}\n",
            },
            root,
        )
        result = run_cli(["eval"], root)
        assert result.code == 2
        assert result.err.startswith(
            "promptgit: error: prompts/agent.jinja: the embedded model local/qwen2.5-coder-0.5b cannot call tools"
        )
    assert openai_server.requests == []


def test_a_reply_that_looks_like_the_encoding_reads_back_as_written(openai_server: Server, write, run_cli) -> None:  # type: ignore[no-untyped-def]
    replies = {
        "a": "\x00promptgit-output:v1\n{}",
        "b": '\x00promptgit-output:v1\n{"text": "x", "tool_calls": []}',
        "c": "\x00plain",
    }
    openai_server.configure(answers={f"q{k}": v for k, v in replies.items()})
    rows = [{"id": k, "question": f"q{k}", "calls": []} for k in replies]
    root = tool_project(write, rows=rows)
    write({"evals/agent.yaml": "prompt: agent\ndataset: cases.jsonl\nexpected: calls\nscorers: [equals]\n"}, root)
    write({"evals/cases.jsonl": "\n".join(json.dumps({**r, "calls": replies[r["id"]]}) for r in rows) + "\n"}, root)
    suite = run_json(run_cli, root, "eval")["suites"][0]
    assert {r["id"]: (r["output"], r["score"]) for r in suite["results"]} == {k: (v, 1.0) for k, v in replies.items()}
