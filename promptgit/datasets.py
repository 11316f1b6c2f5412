"""Dataset files, by format: .jsonl, .json, .csv (as spreadsheets write it), .yaml; rows with their lines."""

from __future__ import annotations

import csv
import io
import json
import posixpath
from typing import Any

from promptgit import jsonio
from promptgit.errors import PromptgitError
from promptgit.tree import Tree, read_text
from promptgit.yamlio import load_data_file

DATASET_EXTENSIONS = (".jsonl", ".json", ".csv", ".yaml", ".yml")
Rows = list[tuple[dict, int | None]]  # each row with its 1-based line (None for inline cases)


MAX_DEPTH = 64  # levels of nesting in one row's values: deeper data is a mistake or an attack


def inline_rows(value: Any, path: str, line: int | None) -> Rows:
    """Rows given as a list of mappings (a suite's `cases:`, a .json or .yaml dataset), each checked by `check_row`."""
    if not isinstance(value, list):
        raise PromptgitError(
            f"cases must be a list of mappings, not {_kind(value)}",
            file=path,
            line=line,
            hint="e.g. `cases: [{id: a, review: Great!, expected: positive}]`",
        )
    for number, row in enumerate(value, start=1):
        check_row(row, path, line, f"row {number}")
    return [(row, None) for row in value]


def check_row(row: Any, path: str, line: int | None, name: str) -> None:
    """Refuse a row that is not a mapping with text keys, or whose values nest deeper than MAX_DEPTH."""
    if not isinstance(row, dict):
        raise PromptgitError(
            f"{name} is {_kind(row)}, not a mapping of field names to values",
            file=path,
            line=line,
            hint='write each row as a mapping, e.g. {"id": "t1", "text": "..."}',
        )
    for key in row:
        if not isinstance(key, str):
            raise PromptgitError(
                f"{name} has a field named {key!r} ({_kind(key)}); field names must be text",
                file=path,
                line=line,
                hint=f'quote the field name, e.g. "{key}": ...',
            )
    if _depth(row) > MAX_DEPTH:
        raise PromptgitError(
            f"{name} nests more than {MAX_DEPTH} levels deep",
            file=path,
            line=line,
            hint="flatten the row's values; prompts read fields, not deep trees",
        )


def _depth(value: Any) -> int:
    """How deep `value` nests (a scalar is 0), counted without recursion and stopping past MAX_DEPTH."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def load_rows(tree: Tree, path: str) -> list[tuple[dict, int | None]]:
    """A dataset file's rows with their line numbers, by extension: .jsonl .json .csv .yaml."""
    text = read_text(tree, path)
    if path.endswith(".jsonl"):
        return _jsonl_rows(text, path)
    if path.endswith(".csv"):
        return _csv_rows(text, path)
    if not path.endswith(DATASET_EXTENSIONS):
        raise PromptgitError(
            f"unknown dataset format {posixpath.splitext(path)[1]!r}",
            file=path,
            hint=f"use one of {', '.join(DATASET_EXTENSIONS)}",
        )
    data = load_data_file(text, path)
    if isinstance(data, dict) and "cases" in data:
        data = data["cases"]
    return inline_rows(data, path, 1)


def _jsonl_rows(text: str, path: str) -> list[tuple[dict, int | None]]:
    rows: list[tuple[dict, int | None]] = []
    bad: list[int] = []
    read = jsonio.reader()  # one string per field name, shared by every row
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = read(line)
        except jsonio.JsonRefused as err:
            raise PromptgitError(err.message, file=path, line=number, hint=err.hint) from None
        except json.JSONDecodeError:
            bad.append(number)
            continue
        except RecursionError:
            raise PromptgitError(
                "the line nests deeper than the JSON reader can follow",
                file=path,
                line=number,
                hint="flatten the row's values; prompts read fields, not deep trees",
            ) from None
        if not isinstance(row, dict):
            bad.append(number)
            continue
        check_row(row, path, number, f"line {number}")
        rows.append((row, number))
    if bad:
        more = (
            f" (and {len(bad) - 1} more: lines {', '.join(map(str, bad[1:6]))}{'…' if len(bad) > 6 else ''})"
            if len(bad) > 1
            else ""
        )
        raise PromptgitError(
            f"line is not a JSON object{more}",
            file=path,
            line=bad[0],
            hint='each line of a .jsonl dataset is one JSON object, e.g. {"id": "t1", "text": "..."}',
        )
    return rows


def _csv_rows(text: str, path: str) -> list[tuple[dict, int | None]]:
    """Rows of a CSV as spreadsheets write it: header names trimmed, a space after a comma skipped."""
    # skipinitialspace: in `"a", "b"` the space before the quote is not part of the second cell,
    # which would otherwise read as ` "b"` with its quotes kept.
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    rows: list[tuple[dict, int | None]] = []
    try:
        header = next(reader, None)
        if header is None:
            return rows
        names = [name.strip() for name in header]
        _refuse_duplicate_columns(names, path)
        for cells in reader:
            if not cells:
                continue  # a blank line
            if len(cells) > len(names):
                raise PromptgitError("row has more cells than the header", file=path, line=reader.line_num)
            row: dict[str, Any] = dict(zip(names, cells))
            row.update({name: None for name in names[len(cells) :]})
            rows.append((row, reader.line_num))
    except csv.Error as err:
        raise PromptgitError(f"invalid CSV: {err}", file=path, line=reader.line_num) from None
    return rows


def _refuse_duplicate_columns(names: list[str], path: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PromptgitError(
                f"column {name!r} appears twice in the header", file=path, line=1, hint="give every column its own name"
            )
        seen.add(name)


def json_cells(row: dict, columns: tuple[str, ...], file: str, line: int | None) -> dict:
    """`row` with each of `columns` that holds text parsed as JSON (an empty cell is null)."""
    if not columns:
        return row
    parsed = dict(row)
    for column in columns:
        value = row.get(column)
        if not isinstance(value, str):
            continue
        if not value.strip():
            parsed[column] = None
            continue
        try:
            parsed[column] = json.loads(value)
        except RecursionError:
            raise PromptgitError(
                f"column {column!r} nests deeper than the JSON reader can follow",
                file=file,
                line=line,
                hint="flatten the column's JSON; prompts read fields, not deep trees",
            ) from None
        except json.JSONDecodeError as err:
            raise PromptgitError(
                f"column {column!r} is not JSON ({err.msg} at character {err.pos}): {value[:60]!r}",
                file=file,
                line=line,
                hint="the suite's `json_columns:` says this column holds JSON; quote strings as JSON does",
            ) from None
    check_row(parsed, file, line, "the row")
    return parsed
