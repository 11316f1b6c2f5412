"""Dataset files read into rows: values exactly as written, one shared string per field name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptgit.datasets import load_rows
from promptgit.errors import PromptgitError
from promptgit.tree import WorkTree


def test_jsonl_rows_keep_values_and_share_field_names(tmp_path: Path) -> None:
    written = [{"id": f"c{i}", "text": f"ticket {i}", "label": ["a", "b"][i % 2], "n": i} for i in range(50)]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in written) + "\n")
    rows = load_rows(WorkTree(tmp_path), "cases.jsonl")
    assert [row for row, _ in rows] == written
    assert [line for _, line in rows] == list(range(1, 51))
    # 100,000 rows of 4 fields held 4 copies of each name per row before: ~20 MB at the 100k benchmark.
    first = list(rows[0][0])
    for row, _ in rows[1:]:
        assert all(a is b for a, b in zip(first, row))


LONG = "9" * 5000  # more digits than Python converts to an int by default (4300)


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ('{"id": "b", "text": "t", "expected": "x", "expected": "y"}', "the field 'expected' appears twice"),
        ('{"id": "b", "id": "c", "text": "t"}', "the field 'id' appears twice"),
        ('{"id": "b", "text": {"lang": "en", "lang": "fr"}}', "the field 'lang' appears twice"),
        ('{"id": "b", "text": "t", "expected": ' + LONG + "}", "a number of 5000 digits"),
        ('{"id": "b", "text": [1, -' + LONG + "]}", "a number of 5000 digits"),
        ('{"id": ' + LONG + ', "text": "t"}', "a number of 5000 digits"),
    ],
)
def test_jsonl_row_with_a_duplicate_field_or_a_too_long_number_is_refused_at_its_line(
    tmp_path: Path, second_line: str, message: str
) -> None:
    # A key twice was read as its last value without a word (a case scored against an answer its author
    # overrode by mistake); a 5000-digit number was a ValueError traceback.
    (tmp_path / "cases.jsonl").write_text('{"id": "a", "text": "t"}\n' + second_line + "\n")
    with pytest.raises(PromptgitError) as raised:
        load_rows(WorkTree(tmp_path), "cases.jsonl")
    assert (raised.value.file, raised.value.line) == ("cases.jsonl", 2)
    assert raised.value.message.startswith(message)
    assert raised.value.hint
