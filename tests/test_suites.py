"""Suites and datasets read as their author meant: encodings, spreadsheet CSV, JSON columns, YAML parsed once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptgit import yamlio
from promptgit.config import Settings, load_settings
from promptgit.errors import PromptgitError
from promptgit.prompts import Message, load_prompt, render
from promptgit.scorers import ScorerSite, build
from promptgit.suites import load_suite
from promptgit.tree import WorkTree
from tests.conftest import Result

BOM = "\ufeff".encode()


def write_bytes(root: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


DATASETS = {
    "jsonl": b'{"id": "x", "q": "1", "expected": "a"}\n{"id": "y", "q": "2", "expected": "b"}\n',
    "json": b'[{"id": "x", "q": "1", "expected": "a"}, {"id": "y", "q": "2", "expected": "b"}]',
    "csv": b"id,q,expected\r\nx,1,a\r\ny,2,b\r\n",
    "yaml": b"- {id: x, q: '1', expected: a}\n- {id: y, q: '2', expected: b}\n",
}


@pytest.mark.parametrize("ext", sorted(DATASETS))
def test_a_byte_order_mark_is_read_as_nothing_in_suites_and_every_dataset(tmp_path: Path, ext: str) -> None:
    root = write_bytes(
        tmp_path,
        {
            "evals/s.yaml": BOM + f"prompt: p\ndataset: data.{ext}\nscorers: [exact_match]\n".encode(),
            f"evals/data.{ext}": BOM + DATASETS[ext],
        },
    )
    suite = load_suite(WorkTree(root), Settings(), "s")
    assert [(c.id, c.vars["q"], c.expected) for c in suite.cases] == [("x", "1", "a"), ("y", "2", "b")]


def test_a_byte_order_mark_before_front_matter_keeps_the_settings(tmp_path: Path) -> None:
    root = write_bytes(
        tmp_path,
        {
            "promptgit.yaml": BOM + b"defaults: {model: openai/x}\nconcurrency: 3\n",
            "prompts/p.jinja": BOM + b'---\ntemperature: 0\n---\nsystem:\nBe brief.\n{% include "_p.jinja" %}\n',
            "prompts/_p.jinja": BOM + b"user:\n{{ q }}\n",
        },
    )
    tree = WorkTree(root)
    settings = load_settings(tree)
    assert (settings.concurrency, dict(settings.defaults)) == (3, {"model": "openai/x"})
    prompt = load_prompt(tree, settings, "p")
    assert dict(prompt.settings) == {"temperature": 0}
    assert render(tree, settings, prompt, {"q": "hi"}).messages == (
        Message("system", "Be brief."),
        Message("user", "hi"),
    )


@pytest.mark.parametrize(
    "path,data,offset,line",
    [
        ("evals/data.csv", b"id,q,expected\nx,caf\xe9,a\n", 19, 2),  # Latin-1, as Excel's plain "CSV" writes it
        ("evals/data.jsonl", b'{"id": "x", "q": "\xff"}\n', 18, 1),
        ("evals/s.yaml", b"prompt: p\n# \xc3 broken\ncases: [{q: 1}]\nscorers: [equals]\n", 12, 2),
    ],
)
def test_bytes_that_are_not_utf8_name_the_file_and_byte_offset(
    tmp_path: Path, path: str, data: bytes, offset: int, line: int
) -> None:
    files = {"evals/s.yaml": b"prompt: p\ndataset: data.csv\nscorers: [equals]\n", path: data}
    if path.endswith(".jsonl"):
        files["evals/s.yaml"] = b"prompt: p\ndataset: data.jsonl\nscorers: [equals]\n"
    root = write_bytes(tmp_path, files)
    with pytest.raises(PromptgitError) as err:
        load_suite(WorkTree(root), Settings(), "s")
    assert (err.value.file, err.value.line) == (path, line)
    assert f"at byte offset {offset}" in err.value.message
    assert err.value.message.startswith(f"not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset}")


def test_a_prompt_that_is_not_utf8_exits_2(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    root = write_bytes(tmp_path, {"prompts/p.jinja": b"user:\nna\xefve\n"})
    result = run_cli(["render", "p"], root)
    assert result.code == 2
    assert "prompts/p.jinja:2: not UTF-8 text: byte 0xef at byte offset 8" in result.err


SPREADSHEET_CSV = (
    'question, expected , notes\r\n"What is the capital of France?", "Paris", "a, b"\r\n'
    '"2+2?",  "4",plain\r\n"Say ""hi""", "hi", \r\n'
)


def test_csv_as_spreadsheets_write_it(tmp_path: Path) -> None:
    root = write_bytes(
        tmp_path,
        {
            "evals/s.yaml": b"prompt: p\ndataset: d.csv\nscorers: [equals]\n",
            "evals/d.csv": BOM + SPREADSHEET_CSV.encode(),
        },
    )
    suite = load_suite(WorkTree(root), Settings(), "s")
    assert [dict(c.row) for c in suite.cases] == [
        {"question": "What is the capital of France?", "expected": "Paris", "notes": "a, b"},
        {"question": "2+2?", "expected": "4", "notes": "plain"},
        {"question": 'Say "hi"', "expected": "hi", "notes": ""},
    ]
    assert [c.expected for c in suite.cases] == ["Paris", "4", "hi"]


def test_a_repeated_csv_column_is_refused(tmp_path: Path) -> None:
    root = write_bytes(
        tmp_path,
        {"evals/s.yaml": b"prompt: p\ndataset: d.csv\nscorers: [equals]\n", "evals/d.csv": b"q, q\n1,2\n"},
    )
    with pytest.raises(PromptgitError) as err:
        load_suite(WorkTree(root), Settings(), "s")
    assert (err.value.message, err.value.line) == ("column 'q' appears twice in the header", 1)


def test_json_columns_make_equals_compare_json(tmp_path: Path) -> None:
    root = write_bytes(
        tmp_path,
        {
            "evals/s.yaml": b"prompt: p\ndataset: d.csv\njson_columns: [expected, tags]\nscorers: [equals]\n",
            "evals/d.csv": b'q,expected,tags\r\na,"{""x"": 1, ""y"": [2, 3]}","[""t""]"\r\n'
            b'b,42,\r\nc,"""text""",[]\r\n',
        },
    )
    tree = WorkTree(root)
    suite = load_suite(tree, Settings(), "s")
    assert [(c.expected, c.vars["tags"]) for c in suite.cases] == [
        ({"x": 1, "y": [2, 3]}, ["t"]),
        (42, None),
        ("text", []),
    ]
    equals = build("equals", None, ScorerSite(suite_path=suite.path, line=4, tree=tree))

    def score(output: str, case: int) -> float:
        return asyncio.run(equals.score(output, suite.cases[case].expected, suite.cases[case], None)).value  # type: ignore[arg-type]

    assert [score('{"y": [2, 3], "x": 1}', 0), score('{"x": 1}', 0), score("42.0", 1), score("text", 2)] == [
        1.0,
        0.0,
        1.0,
        1.0,
    ]


def test_a_json_column_that_is_not_json_names_the_row(tmp_path: Path) -> None:
    root = write_bytes(
        tmp_path,
        {
            "evals/s.yaml": b"prompt: p\ndataset: d.csv\njson_columns: expected\nscorers: [equals]\n",
            "evals/d.csv": b"q,expected\na,1\nb,{x: 1}\n",
        },
    )
    with pytest.raises(PromptgitError) as err:
        load_suite(WorkTree(root), Settings(), "s")
    assert (err.value.file, err.value.line) == ("evals/d.csv", 3)
    assert (
        err.value.message
        == "column 'expected' is not JSON (Expecting property name enclosed in double quotes at character 1): '{x: 1}'"
    )


def test_yaml_is_parsed_once_per_file_per_run(write) -> None:  # type: ignore[no-untyped-def]
    from promptgit.evaluate import plan_suites
    from promptgit.project import open_project

    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}  # parse-once test\n",
            "prompts/p.jinja": "---\ntemperature: 0  # parse-once test\n---\nuser:\n{{ q }}\n",
            "evals/a.yaml": "prompt: p\ndataset: rows.yaml\nscorers: [equals]  # parse-once test\n",
            "evals/b.yaml": "prompt: p\ndataset: rows.yaml\nscorers: [contains]  # parse-once test\n",
            "evals/rows.yaml": "- {q: '1', expected: '1'}  # parse-once test\n",
        }
    )
    yamlio._parse.cache_clear()
    project = open_project(start=root)
    plans = plan_suites(project)
    assert [p.suite.name for p in plans] == ["a", "b"]
    # promptgit.yaml, the front matter, a.yaml, b.yaml, rows.yaml: five texts, each parsed once,
    # though settings are read twice and each suite file three times.
    assert yamlio.parse_count() == 5
    assert yamlio._parse.cache_info().hits >= 6  # the repeated reads were served, not parsed
    assert json.loads(json.dumps([len(p.suite.cases) for p in plans])) == [1, 1]


# The same text written as one code point and as its canonical decomposition.
SAME_LOOKING_IDS = [
    ("caf\u00e9", "cafe\u0301"),  # é, and e + combining acute
    ("\u00c5ngstr\u00f6m", "\u212bngstro\u0308m"),  # Å and ö, and the angstrom sign and o + diaeresis
    ("\ud55c", "\u1112\u1161\u11ab"),  # a Hangul syllable, and its three jamo
]


@pytest.mark.parametrize(("composed", "decomposed"), SAME_LOOKING_IDS)
def test_ids_that_differ_only_in_unicode_normalisation_are_one_id(
    tmp_path: Path, composed: str, decomposed: str
) -> None:
    # Two such rows passed as two cases that print identically; the second is now a duplicate.
    rows = [{"id": composed, "q": "1"}, {"id": decomposed, "q": "2"}]
    root = write_bytes(
        tmp_path,
        {
            "evals/s.yaml": b"prompt: p\ndataset: d.jsonl\nscorers: [exact_match]\n",
            "evals/d.jsonl": "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode(),
        },
    )
    with pytest.raises(PromptgitError) as err:
        load_suite(WorkTree(root), Settings(), "s")
    assert (err.value.message, err.value.line) == (f"duplicate case id {composed!r}", 2)


@pytest.mark.parametrize(("composed", "decomposed"), SAME_LOOKING_IDS)
def test_an_id_reads_the_same_in_either_unicode_form(tmp_path: Path, composed: str, decomposed: str) -> None:
    # An editor that re-saves a dataset in the other form must not rename its cases between revisions.
    ids = []
    for form in (composed, decomposed):
        root = write_bytes(
            tmp_path / str(len(ids)),
            {
                "evals/s.yaml": f"prompt: p\ncases: [{{id: {form}, q: '1'}}]\nscorers: [exact_match]\n".encode(),
            },
        )
        ids.append(load_suite(WorkTree(root), Settings(), "s").cases[0].id)
    assert ids == [composed, composed]


@pytest.mark.parametrize(
    ("scorers", "message"),
    [
        ("[{exact_match: null, weight: .inf}, contains: x]", "cannot read scorer"),
        ("[{exact_match: null, weight: .Inf}]", "cannot read scorer"),
        ("[{exact_match: null, weight: -.inf}]", "cannot read scorer"),
        (
            "[{exact_match: null, weight: 1.0e+308}, {contains: x, weight: 1.0e+308}]",
            "the scorers' weights add up to more than a float holds",
        ),
    ],
)
def test_an_infinite_weight_is_refused_by_check(
    write: Callable[..., Path], run_cli: Callable[..., Result], scorers: str, message: str
) -> None:
    # `weight: .inf` passed `check`, then made a case's weighted mean inf/inf = NaN: exit 70 at the store.
    root = write(
        {
            "promptgit.yaml": "defaults: {model: openai/test-model}\n",
            "prompts/p.jinja": "user:\n{{ text }}\n",
            "evals/s.yaml": f"prompt: p\ncases: [{{id: a, text: x, expected: x}}]\nscorers: {scorers}\n",
        }
    )
    result = run_cli(["check"], root)
    assert result.code == 1
    assert f"evals/s.yaml:3: {message}" in result.err
