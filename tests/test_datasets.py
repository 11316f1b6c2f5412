"""Dataset files read into rows: values exactly as written, one shared string per field name."""

from __future__ import annotations

import json
from pathlib import Path

from promptgit.datasets import load_rows
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
