"""Tool definitions in front matter: what `check` refuses (file and line), and what a tools file adds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit.evaluate import plan_suite
from promptgit.project import open_project
from tests.conftest import Result

SEARCH = {
    "type": "function",
    "function": {"name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


def project(write: Callable[..., Path], front: str, files: dict[str, str] | None = None) -> Path:
    return write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/agent.jinja": f"---\n{front}---\nuser:\n{{{{ q }}}}\n",
            "evals/agent.yaml": "prompt: agent\ncases:\n  - {id: a, q: hi, expected: search}\nscorers: [tool_call]\n",
            **(files or {}),
        }
    )


def tools_line(tools: object) -> str:
    return f"tools: {json.dumps(tools)}\n"


def fn(**function: object) -> dict[str, object]:
    return {"type": "function", "function": function}


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ({"name": "search"}, "setting tools must be a list, not {'name': 'search'}"),
        ([], "tools must be a non-empty list of function definitions"),
        (["search"], "tools[0]: a tool is a mapping {type: function, function: {name, description, parameters}}"),
        ([{"type": "retrieval", "function": {"name": "x"}}], "tools[0]: a tool is a mapping"),
        ([fn(name="web search")], "tools[0]: function name 'web search' must be 1-64 letters, digits, _ or -"),
        ([fn(name="x" * 65)], f"tools[0]: function name '{'x' * 65}' must be 1-64"),
        ([fn(name=7)], "tools[0]: function name 7 must be 1-64 letters, digits, _ or -"),
        ([SEARCH, SEARCH], "two tools are named 'search'"),
        ([fn(name="s", paramters={})], "tools[0]: unknown key 'paramters'"),
        ([fn(name="s", description=["x"])], "tools[0]: the description of s must be text"),
        ([fn(name="s", parameters={"type": "string"})], "tools[0]: the parameters of s must be a JSON Schema with"),
        ([fn(name="s", parameters=[])], "tools[0]: the parameters of s must be a JSON Schema with `type: object`"),
        (
            [fn(name="s", parameters={"type": "object", "properties": {"a": {"type": "strin"}}})],
            "tools[0]: the parameters of s are not a valid JSON Schema: 'strin' is not valid under any of the "
            "given schemas (at properties/a/type)",
        ),
        (
            [fn(name="s", parameters={"type": "object", "required": "a"})],
            "tools[0]: the parameters of s are not a valid JSON Schema: 'a' is not of type 'array' (at required)",
        ),
    ],
)
def test_check_refuses_a_malformed_tool_at_its_line(  # type: ignore[no-untyped-def]
    write, run_cli: Callable[..., Result], tools: object, message: str
) -> None:
    root = project(write, "temperature: 0\n" + tools_line(tools))
    result = run_cli(["check"], root)
    assert result.code == 1
    assert f"error: prompts/agent.jinja:3: {message}" in result.err


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ("search", "tool_choice must be auto, none, required or {type: function, function: {name: …}}, not 'search'"),
        ("{type: function, function: {name: lookup}}", "tool_choice names 'lookup', which is not among the prompt's"),
        ("{type: function, function: {name: serch}}", "tool_choice names 'serch', which is not among the prompt's"),
        ("sometimes", "tool_choice must be auto, none, required or {type: function, function: {name: …}}"),
        ("{type: function}", "tool_choice must be auto, none, required or"),
        ("{function: {name: search}}", "tool_choice must be auto, none, required or"),
    ],
)
def test_check_refuses_a_tool_choice_that_names_no_tool(  # type: ignore[no-untyped-def]
    write, run_cli: Callable[..., Result], choice: str, message: str
) -> None:
    root = project(write, tools_line([SEARCH]) + f"tool_choice: {choice}\n")
    result = run_cli(["check"], root)
    assert result.code == 1
    assert f"error: prompts/agent.jinja:3: {message}" in result.err


def test_good_tools_and_choices_pass_check(write, run_cli: Callable[..., Result]) -> None:  # type: ignore[no-untyped-def]
    for choice in ("auto", "none", "required", "{type: function, function: {name: search}}"):
        root = project(write, tools_line([SEARCH]) + f"tool_choice: {choice}\n")
        result = run_cli(["check"], root)
        assert (result.code, result.out) == (0, "checked 1 prompts and 1 suites (1 cases): all good\n")


@pytest.mark.parametrize(
    ("name", "files", "message"),
    [
        ("_tools/web.json", {}, "prompts/agent.jinja:2: tools file 'prompts/_tools/web.json' not found"),
        ("../tools.json", {}, "prompts/agent.jinja:2: tools file '../tools.json' is outside prompts/"),
        ("_tools/web.txt", {}, "prompts/agent.jinja:2: tools file '_tools/web.txt' is neither .json nor .yaml"),
        ("_tools/web.yaml", {"prompts/_tools/web.yaml": "- search\n"}, "prompts/_tools/web.yaml: tools[0]: a tool is"),
        ("_tools/web.json", {"prompts/_tools/web.json": "{}"}, "prompts/_tools/web.json: tools must be a non-empty"),
    ],
)
def test_a_tools_file_is_found_under_prompts_and_checked_there(  # type: ignore[no-untyped-def]
    write, run_cli: Callable[..., Result], name: str, files: dict[str, str], message: str
) -> None:
    root = project(write, f"tools: {name}\n", files)
    result = run_cli(["check"], root)
    assert result.code == 1
    assert f"error: {message}" in result.err


def test_a_tools_file_is_part_of_the_fingerprint(write, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = project(write, "tools: _tools/web.yaml\n", {"prompts/_tools/web.yaml": json.dumps([SEARCH])})
    monkeypatch.chdir(root)
    plan = plan_suite(open_project(), "agent")
    assert plan.sources.prompt_files == ("prompts/agent.jinja", "prompts/_tools/web.yaml")
    assert plan.prompt.settings["tools"] == [SEARCH]
    changed = dict(SEARCH, function={**SEARCH["function"], "description": "Search the web"})  # type: ignore[dict-item]
    write({"prompts/_tools/web.yaml": json.dumps([changed])}, root)
    again = plan_suite(open_project(), "agent")
    assert again.fingerprint != plan.fingerprint
    assert again.prompt.settings["tools"] == [changed]
