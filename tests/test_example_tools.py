"""The function-calling example project (examples/function-calling) run against the local test server.

The embedded model cannot serve tool calls (docs/spec.md, Tools), so the server plays the model: it
replies to each request with scripted tool calls, six right, one wrong and one half right, and the scores are known.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result
from tests.openai_server import Server

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "function-calling"


def _call(name: str, **arguments: object) -> dict[str, str]:
    return {"name": name, "arguments": json.dumps(arguments)}


# Request text -> the model's tool calls. Two are wrong: a date a day off, and a missing second call.
SCRIPT = {
    "What's the weather in Paris tomorrow?": [_call("get_weather", city="Paris", date="2025-06-02")],
    "Is it hot in Phoenix today? Give me Fahrenheit.": [
        _call("get_weather", city="Phoenix", date="2025-06-02", unit="fahrenheit")
    ],
    "Find me a flight from Boston to Lisbon on 2025-07-14.": [
        _call("search_flights", origin="BOS", destination="LIS", date="2025-07-14")
    ],
    "How much is 250 euros in Japanese yen?": [_call("convert_currency", amount=250, **{"from": "EUR", "to": "JPY"})],
    "I'm flying JFK to LHR on 2025-06-10: find flights and tell me the London weather that day.": [
        _call("search_flights", origin="JFK", destination="LHR", date="2025-06-10")
    ],
    "What will the weather be there on 2025-06-09?": [
        _call("get_weather", city="Rome", date="2025-06-09", unit="celsius")
    ],
    "What is that in Swiss francs?": [_call("convert_currency", amount=180, **{"from": "USD", "to": "CHF"})],
}


def test_the_function_calling_example_scores_what_the_model_called(
    openai_server: Server, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root)
    openai_server.configure(tool_calls=SCRIPT, answers={"Thanks, that's all!": "Have a good trip!"})
    result = run_cli(["eval", "--json"], root)
    assert result.code == 0, result.err
    suite = json.loads(result.out)["suites"][0]
    scores = {r["id"]: r["score"] for r in suite["results"]}
    assert scores == {
        "weather-paris": 0.0,  # today's date, not tomorrow's
        "weather-f": 1.0,
        "flight": 1.0,
        "currency": 1.0,
        "two-tools": 0.5,  # the weather call is missing
        "follow-up-city": 1.0,  # subset: the added unit is allowed
        "follow-up-amount": 1.0,
        "no-tool": 1.0,
    }
    assert suite["score"] == 6.5 / 8
    by_id = {r["id"]: r for r in suite["results"]}
    assert by_id["no-tool"]["output"] == "Have a good trip!"
    assert by_id["currency"]["output"] == 'convert_currency(amount=250, from="EUR", to="JPY")'
    sent = {r.body["messages"][-1]["content"]: r.body for r in openai_server.requests}
    follow_up = sent["What will the weather be there on 2025-06-09?"]["messages"]
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "user"]
    assert follow_up[1]["content"] == "I'm going to Rome next week."
    assert [t["function"]["name"] for t in sent["Thanks, that's all!"]["tools"]] == [
        "get_weather",
        "search_flights",
        "convert_currency",
    ]
