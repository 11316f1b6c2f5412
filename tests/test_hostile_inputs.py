"""The corpus of bad, hostile and broken inputs (issue 19): each ends in its documented exit code with a
message naming the file (and line or case where known) and the fix, no traceback, and nothing stored lost.

Every input is added to a project whose good suite was evaluated first; after the bad run the bad files
are removed and the good suite is evaluated again: it must be answered from the store (0 calls).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.openai_fixtures import DUMMY_KEY
from tests.openai_server import Server

GOOD_SETTINGS = "defaults: {model: openai/test-model, temperature: 0}\n"
GOOD = {
    "promptgit.yaml": GOOD_SETTINGS,
    "prompts/good.jinja": "user:\nTicket {{ text }}\nANSWER: {{ label }}\n",
    "evals/good.yaml": "prompt: good\ndataset: good.jsonl\nexpected: label\nscorers: [exact_match]\n",
    "evals/good.jsonl": "".join(
        json.dumps({"id": f"g{i}", "text": f"t{i}", "label": label}) + "\n"
        for i, label in enumerate(["billing", "refunds", "billing"])
    ),
}
BAD_SUITE = "prompt: bad\ncases: [{id: c1, text: hi}]\nscorers: [exact_match]\n"
LAUGHS = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(9)
)  # 9**9 values once expanded
DEEP = 100_000
SECRET = "sk-live-abcdef123456"
CSV_SUITE = "prompt: bad\ndataset: d.csv\njson_columns: [text]\nscorers: [exact_match]\n"


@dataclass(frozen=True)
class Link:
    """A symbolic link to `target` (absolute, or relative to the link's folder)."""

    target: str


@dataclass(frozen=True)
class Bad:
    """One bad input: files added (or replaced) in the good project, the command, what it must say."""

    name: str
    files: dict[str, str | Link]
    expect: tuple[str, ...]  # substrings of stderr: the file (and line or case) and the problem
    args: tuple[str, ...] = ("eval", "bad")
    code: int = 2
    hint: bool = True
    suite: bool = True  # add evals/bad.yaml (BAD_SUITE) unless `files` gives one
    absent: tuple[str, ...] = field(default=())  # text that must never be printed (a secret)


def prompt(body: str, front: str = "") -> dict[str, str | Link]:
    return {"prompts/bad.jinja": (f"---\n{front}---\n" if front else "") + body}


def setting(front: str) -> dict[str, str | Link]:
    return prompt("user:\n{{ text }}\n", front)


def dataset(name: str, text: str) -> dict[str, str | Link]:
    return {
        "prompts/bad.jinja": "user:\n{{ text }}\n",
        "evals/bad.yaml": f"prompt: bad\ndataset: {name}\nscorers: [exact_match]\n",
        f"evals/{name}": text,
    }


def scorer(source: str, settings: str = GOOD_SETTINGS) -> dict[str, str | Link]:
    return {
        "promptgit.yaml": settings,
        "prompts/bad.jinja": "user:\nANSWER: ok\n",
        "evals/bad.yaml": "prompt: bad\ncases: [{id: c1}]\nscorers: [{python: 'sc.py:score'}]\n",
        "evals/sc.py": source,
    }


RENDER_LIMIT = "the template went past a render limit"
TEMPLATE_FAILED = "the template failed while rendering"
RECURSES = "the template recurses without end"
CASE = "case 'c1' of suite 'bad' does not render"
NESTS = "the template nests too deeply to compile"

CORPUS = [
    # -- template runtime errors: exit 2 at the template line, naming the case ------------------
    Bad("divide by zero", prompt("user:\n{{ 1/0 }}\n"), ("prompts/bad.jinja:2:", CASE, "ZeroDivisionError")),
    Bad("floor divide by zero", prompt("user:\n{{ 7 // 0 }}\n"), ("prompts/bad.jinja:2:", "ZeroDivisionError")),
    Bad("int plus str", prompt("user:\n{{ 1 + 'a' }}\n"), ("prompts/bad.jinja:2:", "TypeError: unsupported operand")),
    Bad("sort mixed types", prompt("user:\n{{ [1, 'a'] | sort }}\n"), ("prompts/bad.jinja:2:", "TypeError")),
    Bad("float overflow", prompt("user:\n{{ 10.0 ** 1000 }}\n"), ("prompts/bad.jinja:2:", "OverflowError")),
    Bad("int too long to print", prompt("user:\n{{ 2 ** 90000 }}\n"), ("prompts/bad.jinja:2:", "ValueError")),
    Bad("bad int filter base", prompt("user:\n{{ '12' | int(base=1) }}x{{ {}.nope() }}\n"), ("prompts/bad.jinja:2:",)),
    Bad(
        "call on undefined",
        prompt("user:\n{{ nothing() }}\n"),
        ("prompts/bad.jinja:2:", "undefined variable: 'nothing' is undefined"),
    ),
    Bad(
        "recursive macro",
        prompt("{% macro f() %}{{ f() }}{% endmacro %}\nuser:\n{{ f() }}\n"),
        ("prompts/bad.jinja:1:", RECURSES),
    ),
    Bad("self include", prompt("user:\n{% include 'bad.jinja' %}\n"), ("prompts/bad.jinja:2:", RECURSES)),
    Bad(
        "mutual include",
        {**prompt("user:\n{% include '_b.jinja' %}\n"), "prompts/_b.jinja": "{% include 'bad.jinja' %}\n"},
        ("prompts/", RECURSES),
    ),
    Bad(
        "recursive loop",
        prompt("user:\n{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}\n"),
        ("prompts/bad.jinja:2:", RECURSES),
    ),
    Bad("private attribute", prompt("user:\n{{ text.__class__.__mro__ }}\n"), ("prompts/bad.jinja:2:",)),
    Bad("lipsum removed", prompt("user:\n{{ lipsum(99999) }}\n"), ("prompts/bad.jinja:2:", "'lipsum' is undefined")),
    # -- template source nested past the parser or Python's compiler -----------------------------
    Bad(
        "5000 nested parentheses",
        prompt("user:\n{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}\n"),
        ("prompts/bad.jinja: ", NESTS),
    ),
    Bad(
        "1000 nested ifs",
        prompt("user:\n" + "{% if 1 %}" * 1000 + "x" + "{% endif %}" * 1000 + "\n"),
        ("prompts/bad.jinja", NESTS),
    ),
    Bad(
        "100 nested loops",
        prompt("user:\n" + "{% for a in [1] %}" * 100 + "x" + "{% endfor %}" * 100 + "\n"),
        ("prompts/bad.jinja", NESTS),
    ),
    Bad("20000 additions", prompt("user:\n{{ " + "+".join(["1"] * 20000) + " }}\n"), ("prompts/bad.jinja", NESTS)),
    # -- unbounded renders: refused, not run --------------------------------------------------
    Bad(
        "nested loops 99999 x 99999",
        prompt("user:\n{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}\n"),
        ("prompts/bad.jinja:2:", RENDER_LIMIT, "more than 1,000,000 steps"),
    ),
    Bad(
        "nested loops over strings",
        prompt("user:\n{% for a in 'x' * 9999 %}{% for b in 'y' * 9999 %}{% endfor %}{% endfor %}\n"),
        ("prompts/bad.jinja:2:", RENDER_LIMIT, "steps"),
    ),
    Bad(
        "exponential macro",
        prompt("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}\nuser:\n{{ f(40) }}\n"),
        ("prompts/bad.jinja:1:", RENDER_LIMIT, "steps"),
    ),
    Bad("string times 10**9", prompt("user:\n{{ 'x' * 10**9 }}\n"), ("prompts/bad.jinja:2:", RENDER_LIMIT)),
    Bad("list times 10**8", prompt("user:\n{{ ([0] * 10**8) | length }}\n"), ("prompts/bad.jinja:2:", RENDER_LIMIT)),
    Bad("huge power", prompt("user:\n{{ 10 ** 10000000 }}\n"), ("prompts/bad.jinja:2:", RENDER_LIMIT, "bits")),
    Bad("range 10**9", prompt("user:\n{% for i in range(10**9) %}x{% endfor %}\n"), ("prompts/bad.jinja:2:",)),
    Bad("center filter width", prompt("user:\n{{ 'x' | center(10**9) }}\n"), ("prompts/bad.jinja:2:", RENDER_LIMIT)),
    Bad("ljust method width", prompt("user:\n{{ 'x'.ljust(10**9) }}\n"), ("prompts/bad.jinja:2:", RENDER_LIMIT)),
    Bad("printf width", prompt("user:\n{{ '%0999999999d' | format(1) }}\n"), ("prompts/bad.jinja:2:", "format width")),
    Bad("str.format width", prompt("user:\n{{ '{:>999999999}'.format(1) }}\n"), ("prompts/bad.jinja:2:", RENDER_LIMIT)),
    Bad("percent width", prompt("user:\n{{ '%0999999999d' % 1 }}\n"), ("prompts/bad.jinja:2:", "format width")),
    Bad(
        "replace amplification",
        prompt("user:\n{{ ('x' * 999999) | replace('', 'yy') }}\n"),
        ("prompts/bad.jinja:2:", "replace() would build"),
    ),
    Bad(
        "namespace doubling",
        prompt(
            "user:\n{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}{{ ns.s | length }}\n"
        ),
        ("prompts/bad.jinja:2:", RENDER_LIMIT, "characters"),
    ),
    Bad(
        "rendered text too long",
        prompt("user:\n{% for i in range(99999) %}{{ 'x' * 20 }}{% endfor %}\n"),
        ("prompts/bad.jinja", RENDER_LIMIT, "the rendered text passed 1,000,000 characters"),
    ),
    # -- datasets of the wrong shape ----------------------------------------------------------
    Bad("row with a number key", dataset("d.yaml", "- {1: a, text: x}\n"), ("evals/d.yaml:1:", "field named 1")),
    Bad("row with a null key", dataset("d.yaml", "- {null: a, text: x}\n"), ("evals/d.yaml:1:", "field named None")),
    Bad("row with a bool key", dataset("d.yaml", "- {true: a, text: x}\n"), ("evals/d.yaml:1:", "field named True")),
    Bad("json nested 100000 deep", dataset("d.json", "[" * DEEP + "]" * DEEP), ("evals/d.json:", "nests deeper")),
    Bad(
        "jsonl line nested 100000 deep",
        dataset("d.jsonl", '{"text": ' + "[" * DEEP + "]" * DEEP + "}\n"),
        ("evals/d.jsonl:1:", "nests deeper"),
    ),
    Bad("yaml nested 3000 deep", dataset("d.yaml", "[" * 3000 + "]" * 3000 + "\n"), ("evals/d.yaml:", "nests deeper")),
    Bad(
        "row nested 100 deep",
        dataset("d.jsonl", '{"text": ' + "[" * 100 + "]" * 100 + "}\n"),
        ("evals/d.jsonl:1:", "nests more than 64 levels deep"),
    ),
    Bad("rows that are lists", dataset("d.json", "[[1, 2]]"), ("evals/d.json:1:", "row 1 is a list")),
    Bad("rows that are numbers", dataset("d.json", "[1, 2]"), ("evals/d.json:1:", "row 1 is a number")),
    Bad("rows that are null", dataset("d.json", "[null]"), ("evals/d.json:1:", "row 1 is null")),
    Bad("dataset that is a number", dataset("d.json", "42"), ("evals/d.json:1:", "not a number")),
    Bad("jsonl line that is a list", dataset("d.jsonl", "[1, 2]\n"), ("evals/d.jsonl:1:", "not a JSON object")),
    Bad(
        "json column nested 60000 deep",
        {**dataset("d.csv", 'id,text\nc1,"' + "[" * 60_000 + "]" * 60_000 + '"\n'), "evals/bad.yaml": CSV_SUITE},
        ("evals/d.csv:2:", "column 'text' nests deeper"),
    ),
    Bad(
        "json column nested 100 deep",
        {**dataset("d.csv", 'id,text\nc1,"' + "[" * 100 + "]" * 100 + '"\n'), "evals/bad.yaml": CSV_SUITE},
        ("evals/d.csv:2:", "the row nests more than 64 levels deep"),
    ),
    Bad("dataset not utf-8", dataset("d.jsonl", "\udcff"), ("evals/d.jsonl:1:", "not UTF-8")),
    Bad(
        "inline cases that are text",
        {"prompts/bad.jinja": "user:\nhi\n", "evals/bad.yaml": "prompt: bad\ncases: [a, b]\nscorers: [exact_match]\n"},
        ("evals/bad.yaml:2:", "row 1 is text"),
    ),
    # -- YAML bombs -----------------------------------------------------------------------------
    Bad(
        "alias bomb in a suite",
        {"prompts/bad.jinja": "user:\n{{ text }}\n", "evals/bad.yaml": f"{LAUGHS}prompt: bad\n"},
        ("evals/bad.yaml:1:", "aliases expand to more than 1,000,000 values"),
    ),
    Bad(
        "alias bomb in a dataset",
        dataset("d.yaml", LAUGHS),
        ("evals/d.yaml:1:", "aliases expand"),
    ),
    Bad("alias bomb in front matter", setting(f"description: x\n{LAUGHS}"), ("prompts/bad.jinja:2:", "aliases expand")),
    Bad(
        "alias bomb in promptgit.yaml",
        {"promptgit.yaml": GOOD_SETTINGS + LAUGHS},
        ("promptgit.yaml:1:", "aliases expand"),
        args=("check",),
    ),
    Bad(
        "self-referring alias",
        {
            "prompts/bad.jinja": "user:\nhi\n",
            "evals/bad.yaml": "prompt: bad\nscorers: [exact_match]\ncases: &c [{text: *c}]\n",
        },
        ("evals/bad.yaml:1:", "refers to a value that contains it"),
    ),
    # -- python scorer files ------------------------------------------------------------------------
    Bad("sys.exit at import", scorer("import sys\nsys.exit(3)\n"), ("evals/sc.py:2:", "SystemExit")),
    Bad("KeyboardInterrupt at import", scorer("raise KeyboardInterrupt\n"), ("evals/sc.py:1:", "KeyboardInterrupt")),
    Bad(
        "endless loop at import",
        scorer("import time\nwhile True:\n    time.sleep(0.05)\n", GOOD_SETTINGS + "scorer_timeout: 0.3\n"),
        ("evals/sc.py:", "took longer than 0.3 s to load"),
    ),
    # -- settings the provider would reject for every call --------------------------------------
    Bad("temperature hot", setting("temperature: hot\n"), ("prompts/bad.jinja:2:", "setting temperature")),
    Bad("negative max_tokens", setting("max_tokens: -1\n"), ("prompts/bad.jinja:2:", "setting max_tokens")),
    Bad("fractional max_tokens", setting("temperature: 0\nmax_tokens: 1.5\n"), ("prompts/bad.jinja:3:", "max_tokens")),
    Bad("top_p above 1", setting("top_p: 2\n"), ("prompts/bad.jinja:2:", "setting top_p")),
    Bad("stop as a number", setting("stop: 5\n"), ("prompts/bad.jinja:2:", "setting stop")),
    Bad("seed as text", setting("seed: abc\n"), ("prompts/bad.jinja:2:", "setting seed")),
    Bad(
        "temperature hot in defaults",
        {"promptgit.yaml": "defaults: {model: openai/test-model, temperature: hot}\n"},
        ("promptgit.yaml:1:", "setting temperature"),
        args=("check",),
    ),
    Bad(
        "temperature hot for a judge",
        {
            "prompts/bad.jinja": "user:\nhi\n",
            "evals/bad.yaml": "prompt: bad\ncases: [{id: c1}]\nscorers:\n"
            "  - llm_judge: {rubric: ok, settings: {temperature: hot}}\n",
        },
        ("evals/bad.yaml:4:", "setting temperature"),
    ),
    # -- credentials in settings --------------------------------------------------------------------
    Bad(
        "authorization header",
        setting(f"extra_headers: {{Authorization: Bearer {SECRET}}}\n"),
        ("prompts/bad.jinja:2:", "holds a credential (extra_headers.Authorization)"),
        absent=(SECRET,),
    ),
    Bad(
        "api-key header",
        setting(f"extra_headers: {{api-key: {SECRET}}}\n"),
        ("prompts/bad.jinja:2:", "credential"),
        absent=(SECRET,),
    ),
    Bad(
        "bearer value under another header",
        setting(f"extra_headers: {{X-Custom: 'Bearer {SECRET}'}}\n"),
        ("prompts/bad.jinja:2:", "an authorization value"),
        absent=(SECRET,),
    ),
    Bad(
        "api_key nested in a setting",
        setting(f"thinking: {{type: enabled, auth: {{api_key: {SECRET}}}}}\n"),
        ("prompts/bad.jinja:2:", "thinking.auth.api_key"),
        absent=(SECRET,),
    ),
    Bad(
        "userinfo in api_base",
        setting(f"api_base: https://user:{SECRET}@gateway.example/v1\n"),
        ("prompts/bad.jinja:2:", "before @ in the URL"),
        absent=(SECRET,),
    ),
    Bad(
        "key in api_base query",
        setting(f"api_base: https://gateway.example/v1?api-key={SECRET}\n"),
        ("prompts/bad.jinja:2:", "query parameter 'api-key'"),
        absent=(SECRET,),
    ),
    Bad(
        "authorization header in defaults",
        {"promptgit.yaml": f"defaults:\n  model: openai/test-model\n  extra_headers: {{Authorization: {SECRET}}}\n"},
        ("promptgit.yaml:1:", "credential"),
        args=("check",),
        absent=(SECRET,),
    ),
    Bad(
        "authorization header for a judge",
        {
            "prompts/bad.jinja": "user:\nhi\n",
            "evals/bad.yaml": "prompt: bad\ncases: [{id: c1}]\nscorers:\n"
            f"  - llm_judge: {{rubric: ok, settings: {{extra_headers: {{Authorization: {SECRET}}}}}}}\n",
        },
        ("evals/bad.yaml:4:", "credential"),
        absent=(SECRET,),
    ),
    # -- the store's folder ---------------------------------------------------------------------------
    Bad(
        "cache at the project root", {"promptgit.yaml": GOOD_SETTINGS + "cache: .\n"}, ("promptgit.yaml", "own folder")
    ),
    Bad("cache above the project", {"promptgit.yaml": GOOD_SETTINGS + "cache: ..\n"}, ("promptgit.yaml", "above")),
    Bad("cache in prompts", {"promptgit.yaml": GOOD_SETTINGS + "cache: prompts\n"}, ("promptgit.yaml", "prompts")),
    Bad("cache in evals", {"promptgit.yaml": GOOD_SETTINGS + "cache: evals/store\n"}, ("promptgit.yaml", "evals")),
    # -- symbolic links out of the project --------------------------------------------------------
    Bad(
        "include of a link to /proc/self/environ",
        {"prompts/bad.jinja": "user:\n{% include '_env.jinja' %}\n", "prompts/_env.jinja": Link("/proc/self/environ")},
        ("prompts/_env.jinja:", "a symbolic link to /proc/", "outside the project"),
        absent=(DUMMY_KEY,),
    ),
    Bad(
        "prompt that is a link out",
        {"prompts/bad.jinja": Link("../../outside/secret.jinja")},
        ("prompts/bad.jinja:", "outside the project"),
        absent=("TOP SECRET",),
    ),
    Bad(
        "dataset that is a link out",
        {**dataset("d.jsonl", ""), "evals/d.jsonl": Link("../../outside/rows.jsonl")},
        ("evals/d.jsonl:", "outside the project"),
        absent=("TOP SECRET",),
    ),
    Bad(
        "scorer file that is a link out",
        {**scorer(""), "evals/sc.py": Link("../../outside/sc.py")},
        ("evals/sc.py:", "outside the project"),
    ),
    Bad(
        "render of a link out",
        {"prompts/bad.jinja": "user:\n{% include '_env.jinja' %}\n", "prompts/_env.jinja": Link("/proc/self/environ")},
        ("prompts/_env.jinja:", "outside the project"),
        args=("render", "bad"),
        suite=False,
        absent=(DUMMY_KEY,),
    ),
    # -- check reports bad input as problems (exit 1, its documented code) -------------------------
    Bad(
        "check: divide by zero",
        prompt("user:\n{{ 1/0 }}\n"),
        ("prompts/bad.jinja:2:", "case 'c1'"),
        args=("check",),
        code=1,
    ),
    Bad("check: temperature hot", setting("temperature: hot\n"), ("prompts/bad.jinja:2:",), args=("check",), code=1),
    Bad(
        "check: nested loops",
        prompt("user:\n{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}\n"),
        ("prompts/bad.jinja:2:", RENDER_LIMIT),
        args=("check",),
        code=1,
    ),
    Bad("check: alias bomb", dataset("d.yaml", LAUGHS), ("evals/d.yaml:1:", "aliases expand"), args=("check",), code=1),
]


@pytest.fixture
def good_project(
    openai_server: Server, write: Callable[..., Path], run_cli: Callable[..., Result], tmp_path: Path
) -> Path:
    """A project whose good suite is evaluated and stored (3 calls), beside an `outside` folder with secrets."""
    root = write(GOOD, tmp_path / "project")
    write(
        {
            "outside/secret.jinja": "user:\nTOP SECRET\n",
            "outside/rows.jsonl": '{"text": "TOP SECRET"}\n',
            "outside/sc.py": "def score(output, expected, case):\n    return 1.0\n",
        }
    )
    first = run_cli(["eval", "--json", "good"], root)
    assert first.code == 0, first.err
    assert json.loads(first.out)["suites"][0]["calls"] == 3
    return root


def add(root: Path, files: dict[str, str | Link]) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        if isinstance(content, Link):
            target.symlink_to(content.target)
        elif "\udcff" in content:
            target.write_bytes(b'{"text": "caf\xe9"}\n')
        else:
            target.write_text(content, encoding="utf-8")


def remove(root: Path, files: dict[str, str | Link]) -> None:
    for path in files:
        target = root / path
        if path in GOOD:
            target.write_text(GOOD[path], encoding="utf-8")
        elif target.is_symlink() or target.exists():
            target.unlink()


@pytest.mark.parametrize("bad", CORPUS, ids=[b.name for b in CORPUS])
def test_bad_input_ends_cleanly_and_keeps_the_store(
    bad: Bad, good_project: Path, run_cli: Callable[..., Result]
) -> None:
    files = {**({"evals/bad.yaml": BAD_SUITE} if bad.suite else {}), **bad.files}
    add(good_project, files)

    result = run_cli(list(bad.args), good_project)

    shown = result.out + result.err
    assert result.code == bad.code, shown
    for text in bad.expect:
        assert text in result.err, f"{text!r} not in {result.err!r}"
    assert ("hint: " in result.err) == bad.hint, result.err
    assert "Traceback" not in shown
    assert "never awaited" not in shown
    for secret in bad.absent:
        assert secret not in shown
    remove(good_project, files)
    again = run_cli(["eval", "--json", "good"], good_project)
    assert again.code == 0, again.err
    suite = json.loads(again.out)["suites"][0]
    assert (suite["calls"], suite["cached"], suite["passed"]) == (0, 3, 3)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60
    assert len({b.name for b in CORPUS}) == len(CORPUS)


def test_python_scorer_calling_sys_exit_is_an_error_for_its_case(
    good_project: Path, run_cli: Callable[..., Result]
) -> None:
    source = "import sys\ndef score(output, expected, case):\n    sys.exit(0)\n"
    add(good_project, scorer(source))

    result = run_cli(["eval", "--json", "bad"], good_project)

    suite = json.loads(result.out)["suites"][0]
    assert result.code == 3  # inconclusive: the only case is an error, never a pass or a crash
    assert [(r["id"], r["error"]) for r in suite["results"]] == [
        ("c1", "python:score: python scorer evals/sc.py:score raised SystemExit: 0 at evals/sc.py:3 (case 'c1')")
    ]
    again = json.loads(run_cli(["eval", "--json", "good"], good_project).out)["suites"][0]
    assert (again["calls"], again["cached"]) == (0, 3)


def test_links_out_of_a_subfolder_project_are_refused_at_a_revision(
    git_env: None, write: Callable[..., Path], run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    from tests.gitrepo import new_repo

    repo = new_repo(tmp_path / "repo")
    repo.write({"ai/prompts/p.jinja": "user:\n{% include '_x.jinja' %}\n", "secrets.txt": "TOP SECRET\n"})
    (repo.path / "ai/prompts/_x.jinja").symlink_to("../../secrets.txt")  # inside the repository, outside ai/
    repo.commit("a link out of the project")
    project = repo.path / "ai"

    for args in (["render", "p"], ["render", "p", "--rev", "HEAD"]):
        result = run_cli(args, project)
        assert result.code == 2, result.err
        assert "prompts/_x.jinja: a symbolic link to" in result.err
        assert "outside the project" in result.err
        assert "TOP SECRET" not in result.out + result.err


def test_cache_in_a_tracked_folder_is_refused(git_env: None, run_cli: Callable[..., Result], tmp_path: Path) -> None:
    from tests.gitrepo import new_repo

    repo = new_repo(tmp_path / "repo")
    repo.commit("project", {**GOOD, "promptgit.yaml": GOOD_SETTINGS + "cache: docs\n", "docs/readme.md": "hi\n"})

    result = run_cli(["eval", "good"], repo.path)

    assert result.code == 2
    assert "promptgit.yaml: cache: 'docs' is a folder git tracks" in result.err
    assert "hint: point cache: at a folder of its own that git ignores" in result.err
    assert sorted(p.name for p in (repo.path / "docs").iterdir()) == ["readme.md"]


@pytest.mark.parametrize(
    ("output", "shown"),
    [
        ("\x1b[2J\x1b]0;pwned\x07ok", "\\x1b[2J\\x1b]0;pwned\\x07ok"),
        ("tab\there\x7f", "tab\\x09here\\x7f"),
        ("c1\x9bcsi\x85", "c1\\x9bcsi\\x85"),
        ("line one\nline two\r\n", "line one⏎line two⏎"),
    ],
)
def test_terminal_tables_escape_control_characters(output: str, shown: str) -> None:
    from promptgit.display import clip

    assert clip(output, 80) == shown


def test_the_report_groups_case_errors_by_message_with_counts(
    openai_server: Server, git_env: None, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    from tests.gitrepo import new_repo

    rows = "".join(json.dumps({"id": f"c{i}", "text": f"t{i}", "label": "billing"}) + "\n" for i in range(5))
    suite = "prompt: good\ndataset: good.jsonl\nexpected: label\nscorers: [{python: 'sc.py:score'}]\n"
    fine = "def score(output, expected, case):\n    return 1.0\n"
    broken = (
        "def score(output, expected, case):\n"
        "    if case.id in ('c0', 'c1', 'c2'):\n"
        "        raise ValueError('no label')\n"
        "    if case.id == 'c3':\n"
        "        raise KeyError('tone')\n"
        "    return 1.0\n"
    )
    repo = new_repo(tmp_path / "repo")
    base = repo.commit("base", {**GOOD, "evals/good.yaml": suite, "evals/good.jsonl": rows, "evals/sc.py": fine})
    head = repo.commit("head", {"evals/sc.py": broken})

    result = run_cli(["diff", base, head, "--markdown", "-q"], repo.path)

    assert result.code == 0, result.err
    table = [line for line in result.out.splitlines() if line.startswith(("| errors", "| 3 ", "| 1 "))]
    assert table == [
        "| errors | side | message | cases |",
        "| 3 | head | python:score: python scorer evals/sc\\.py:score raised ValueError: no label at evals/sc\\.py:3 "
        "| c0, c1, c2 |",
        "| 1 | head | python:score: python scorer evals/sc\\.py:score raised KeyError: 'tone' at evals/sc\\.py:5 "
        "| c3 |",
    ]


def test_no_api_key_ends_inconclusive_with_the_report_and_its_reason(
    openai_server: Server,
    git_env: None,
    run_cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.gitrepo import new_repo

    repo = new_repo(tmp_path / "repo")
    base = repo.commit("base", GOOD)
    head = repo.commit("head", {"prompts/good.jinja": "user:\nTicket: {{ text }}\nANSWER: {{ label }}\n"})
    monkeypatch.delenv("OPENAI_API_KEY")  # a pull request from a fork runs without the repository's secrets
    report = tmp_path / "report.md"

    result = run_cli(["ci", "--base", base, "--head", head, "--report", str(report), "--no-pull", "-q"], repo.path)

    reason = "no API key for model openai/test-model: set OPENAI_API_KEY"
    assert result.code == 3, result.err
    written = report.read_text(encoding="utf-8")
    assert "## ⚠️ promptgit: inconclusive" in written
    escaped = "no API key for model openai/test\\-model: set OPENAI\\_API\\_KEY in the environment"
    assert f"| ⚠️ {escaped}" in written  # the gate's reason
    assert f"| 3 | head | not evaluated: {escaped}" in written  # the errors, grouped
    assert "Traceback" not in result.out + result.err
    assert len(openai_server.requests) == 0
    evaluated = run_cli(["eval", "good"], repo.path)
    assert evaluated.code == 3
    assert evaluated.err == (
        f"inconclusive: good: {reason} in the environment (settings never hold secrets): 3 of 3 cases not evaluated\n"
    )
