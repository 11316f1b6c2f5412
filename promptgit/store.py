"""The local SQLite store under `.promptgit/`: the response cache and each suite fingerprint's results.

The only module that imports sqlite3. It stores exactly the values it is given: response text,
token counts, costs, scores. Callers never pass model settings, headers or API keys, so none are
ever written. Errors are never stored: a failed call is simply not put, so a re-run retries it.

Durability: every put is its own short transaction, committed before it returns. The journal is
WAL with synchronous=NORMAL, so a commit survives the process being killed at any moment (the
data is in the WAL file, which the OS keeps); only a power loss can drop the last commits, which
is fine for a cache. Several processes may share one store: writers wait (busy timeout) rather
than fail, and every write is keyed, so two writers of the same key cannot duplicate a row.

Schema changes are named, ordered migrations (the simonw/llm pattern); `_migrations` records
which ran. A Connection belongs to the thread that opened the Store; asyncio code calls it from
the event loop thread (each call takes microseconds).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from promptgit.errors import PromptgitError

STORE_FILE = "store.sqlite3"
BUSY_TIMEOUT_MS = 30_000
# Well under SQLite's bound-variable limit on every version (999 before 3.32).
CHUNK = 500
# Rows fetched per step when streaming, so memory stays flat however many rows are stored.
FETCH = 1000
IMPORT_BATCH = 1000
# Row origins (the `origin` column): computed by this machine, or imported by `promptgit sync`.
LOCAL, SHARED = "local", "shared"
# A lookup with trusted_only=True sees only LOCAL rows; anything else may have been written by anyone
# who can push to the remote's results ref (docs/github-action.md, "Shared results and trust").
_TRUSTED = f" AND origin = '{LOCAL}'"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One successful model call, as cached under its call key."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    cost: float
    seconds: float


@dataclass(frozen=True, slots=True)
class StoredCase:
    """One (case, repeat) result of a suite at one fingerprint."""

    case_id: str
    repeat: int
    output: str
    score: float
    passed: bool
    scores: tuple[tuple[str, float, str | None], ...]  # (scorer label, score, reason)
    call_key: str
    input_tokens: int
    output_tokens: int
    cost: float
    seconds: float


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What is known about one fingerprint's results."""

    fingerprint: str
    suite: str
    prompt: str
    revision: str  # the revision whose run first stored a result for this fingerprint
    created: float  # unix time of that first stored result
    cases: int  # stored (case, repeat) rows


# --- migrations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One named schema change; names are recorded in `_migrations` once applied."""

    name: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: list[Migration] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    """Register `fn` as the next migration, named after the function; never rename or reorder."""
    MIGRATIONS.append(Migration(fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """Responses keyed by call key; runs keyed by fingerprint; cases keyed by (fingerprint, id, repeat)."""
    # Rowid tables, not WITHOUT ROWID: outputs are often larger than a WITHOUT ROWID row should be.
    db.execute(
        """CREATE TABLE responses (
            key TEXT PRIMARY KEY, text TEXT NOT NULL, model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
            cost REAL NOT NULL, seconds REAL NOT NULL, created REAL NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE runs (
            fingerprint TEXT PRIMARY KEY, suite TEXT NOT NULL, prompt TEXT NOT NULL,
            revision TEXT NOT NULL, created REAL NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE cases (
            fingerprint TEXT NOT NULL, case_id TEXT NOT NULL, repeat INTEGER NOT NULL,
            output TEXT NOT NULL, score REAL NOT NULL, passed INTEGER NOT NULL,
            scores TEXT NOT NULL, call_key TEXT NOT NULL,
            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
            cost REAL NOT NULL, seconds REAL NOT NULL,
            UNIQUE (fingerprint, case_id, repeat))"""
    )


@migration
def m002_origin(db: sqlite3.Connection) -> None:
    """Where each case and response came from: `local` (computed here) or `shared` (pulled from a remote).

    Rows stored before this migration get `unknown`: an older promptgit did not record whether a row
    was pulled, so trusted_only lookups skip such rows as they skip shared ones.
    """
    for table in ("cases", "responses"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN origin TEXT NOT NULL DEFAULT 'unknown'")


def _applied(db: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in this database, in the order they ran."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    if not exists:
        return []
    return [name for (name,) in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def _refuse_newer(applied: Iterable[str], migrations: Sequence[Migration], path: Path) -> None:
    """Raise when the store records migrations this promptgit does not know: a newer one made it."""
    unknown = [name for name in applied if name not in {m.name for m in migrations}]
    if unknown:
        raise PromptgitError(
            f"the store was created by a newer promptgit (unknown migrations: {', '.join(unknown)})",
            file=str(path),
            hint="upgrade promptgit (pip install -U promptgit), or delete the store's folder to start afresh",
        )


def migrate(db: sqlite3.Connection, path: Path, migrations: Sequence[Migration] | None = None) -> None:
    """Run, in order and once each, the migrations this database has not recorded yet."""
    migrations = MIGRATIONS if migrations is None else migrations
    applied = _applied(db)
    _refuse_newer(applied, migrations, path)
    if all(m.name in applied for m in migrations):
        return
    # IMMEDIATE takes the write lock first, so two processes opening a new store migrate it once.
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        applied = _applied(db)
        _refuse_newer(applied, migrations, path)
        for step in migrations:
            if step.name not in applied:
                step.apply(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (step.name, time.time()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


# --- the store ----------------------------------------------------------------------------------

_RESPONSE_COLUMNS = "text, model, input_tokens, output_tokens, cost, seconds"
_CASE_COLUMNS = "case_id, repeat, output, score, passed, scores, call_key, input_tokens, output_tokens, cost, seconds"
_RUN_SELECT = (
    "SELECT fingerprint, suite, prompt, revision, created,"
    " (SELECT count(*) FROM cases c WHERE c.fingerprint = r.fingerprint) FROM runs r"
)


# SQLite's primary result codes (sqlite.org/rescode.html); the sqlite3 module names them only from Python 3.11.
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def _is_corruption(err: sqlite3.DatabaseError) -> bool:
    """Whether an error means the file is damaged or not a database (not merely busy or locked)."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return not isinstance(err, sqlite3.OperationalError)  # Python 3.10 has no error codes


def _corrupt(path: Path, err: sqlite3.DatabaseError) -> PromptgitError:
    """The user-facing error for a damaged store file."""
    return PromptgitError(
        f"the store is damaged or not a promptgit store ({err})",
        file=str(path),
        hint=f"delete the folder {path.parent} to start a fresh store; results are re-computed or pulled again",
    )


def _open_error(path: Path, err: sqlite3.DatabaseError) -> PromptgitError:
    """The user-facing error for a store that cannot be opened at all."""
    if _is_corruption(err):
        return _corrupt(path, err)
    return PromptgitError(
        f"cannot open the store ({err})",
        file=str(path),
        hint="check the `cache` setting in promptgit.yaml and the folder's permissions",
    )


def _prepare_folder(folder: Path) -> None:
    """Create the store's folder with a .gitignore that keeps all of it out of git."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".gitignore", "x", encoding="utf-8") as ignore:
            ignore.write("*\n")
    except FileExistsError:
        pass
    except OSError as err:
        raise PromptgitError(
            f"cannot create the store folder ({err.strerror})",
            file=str(folder),
            hint="check the `cache` setting in promptgit.yaml and the folder's permissions",
        ) from None


def _scores_json(scores: Sequence[Sequence[Any]]) -> str:
    """Scorer results as compact JSON: [[label, score, reason], ...]."""
    return json.dumps([[label, float(score), reason] for label, score, reason in scores], separators=(",", ":"))


def _scores_tuple(text: str) -> tuple[tuple[str, float, str | None], ...]:
    """Scorer results back from their JSON."""
    return tuple((label, score, reason) for label, score, reason in json.loads(text))


def _case_from_row(row: Sequence[Any]) -> StoredCase:
    """A StoredCase from a row selected with _CASE_COLUMNS."""
    case_id, repeat, output, score, passed, scores, call_key, tin, tout, cost, seconds = row
    return StoredCase(
        case_id, repeat, output, score, bool(passed), _scores_tuple(scores), call_key, tin, tout, cost, seconds
    )


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    """`?, ?, ?` for an IN list of `count` values."""
    return ", ".join("?" * count)


class Store:
    """The response cache and per-fingerprint results in `folder/store.sqlite3`."""

    def __init__(self, folder: Path) -> None:
        """Create the folder (git-ignored) if needed, open the database and bring its schema up to date."""
        self.folder = Path(folder)
        self.path = self.folder / STORE_FILE
        _prepare_folder(self.folder)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.DatabaseError as err:
            raise _open_error(self.path, err) from None
        try:
            self._configure()
            migrate(self._db, self.path)
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise _open_error(self.path, err) from None
        except BaseException:
            self._db.close()
            raise

    def _configure(self) -> None:
        """Concurrency and durability settings; see the module docstring for why these."""
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")

    def close(self) -> None:
        """Close the database; every put has already been committed."""
        self._db.close()

    def __enter__(self) -> Store:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement, turning a damaged file into a PromptgitError."""
        try:
            return self._db.execute(sql, params)
        except sqlite3.DatabaseError as err:
            if _is_corruption(err):
                raise _corrupt(self.path, err) from None
            raise

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, fetched a block at a time."""
        cursor = self._execute(sql, params)
        try:
            while rows := cursor.fetchmany(FETCH):
                yield from rows
        except sqlite3.DatabaseError as err:
            if _is_corruption(err):
                raise _corrupt(self.path, err) from None
            raise
        finally:
            cursor.close()

    def applied_migrations(self) -> list[str]:
        """Names of the migrations this store has run, in order."""
        return _applied(self._db)

    # --- response cache -------------------------------------------------------------------------

    def get_response(self, key: str, trusted_only: bool = False) -> StoredResponse | None:
        """The cached response for a call key, or None; with `trusted_only`, only one computed here."""
        trust = _TRUSTED if trusted_only else ""
        row = self._execute(f"SELECT {_RESPONSE_COLUMNS} FROM responses WHERE key = ?{trust}", (key,)).fetchone()
        return StoredResponse(*row) if row else None

    def get_responses(self, keys: Sequence[str]) -> dict[str, StoredResponse]:
        """The cached responses among `keys` (missing keys are absent), looked up in chunks."""
        found: dict[str, StoredResponse] = {}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            sql = f"SELECT key, {_RESPONSE_COLUMNS} FROM responses WHERE key IN ({_marks(len(chunk))})"
            for key, *rest in self._execute(sql, chunk):
                found[key] = StoredResponse(*rest)
        return found

    def put_response(self, key: str, response: StoredResponse) -> None:
        """Cache a successful response under its call key (the latest put wins); committed on return."""
        r = response
        self._execute(
            f"""INSERT INTO responses (key, {_RESPONSE_COLUMNS}, created, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET text = excluded.text, model = excluded.model,
                input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                cost = excluded.cost, seconds = excluded.seconds, created = excluded.created,
                origin = excluded.origin""",
            (key, r.text, r.model, r.input_tokens, r.output_tokens, r.cost, r.seconds, time.time(), LOCAL),
        )

    # --- results --------------------------------------------------------------------------------

    def put_case(self, fingerprint: str, suite: str, prompt: str, revision: str, case: StoredCase) -> None:
        """Store one (case, repeat) result at a fingerprint (the latest put wins); committed on return."""
        c = case
        self._execute("BEGIN IMMEDIATE")  # outside the try: a failed BEGIN has nothing to roll back
        try:
            # The first revision to store a result for a fingerprint stays its recorded origin.
            self._execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?)",
                (fingerprint, suite, prompt, revision, time.time()),
            )
            self._execute(
                f"""INSERT INTO cases (fingerprint, {_CASE_COLUMNS}, origin)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (fingerprint, case_id, repeat) DO UPDATE SET output = excluded.output,
                    score = excluded.score, passed = excluded.passed, scores = excluded.scores,
                    call_key = excluded.call_key, input_tokens = excluded.input_tokens,
                    output_tokens = excluded.output_tokens, cost = excluded.cost, seconds = excluded.seconds,
                    origin = excluded.origin""",
                (
                    fingerprint, c.case_id, c.repeat, c.output, float(c.score), int(bool(c.passed)),
                    _scores_json(c.scores), c.call_key, c.input_tokens, c.output_tokens, c.cost, c.seconds, LOCAL,
                ),
            )  # fmt: skip
            self._execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def iter_cases(self, fingerprint: str, trusted_only: bool = False) -> Iterator[StoredCase]:
        """A fingerprint's stored results, ordered by case id then repeat, streamed (`trusted_only`: local ones)."""
        trust = _TRUSTED if trusted_only else ""
        sql = f"SELECT {_CASE_COLUMNS} FROM cases WHERE fingerprint = ?{trust} ORDER BY case_id, repeat"
        return (_case_from_row(row) for row in self._stream(sql, (fingerprint,)))

    def case_keys(self, fingerprint: str, trusted_only: bool = False) -> set[tuple[str, int]]:
        """The (case id, repeat) pairs stored for a fingerprint, without reading outputs (`trusted_only`: local)."""
        trust = _TRUSTED if trusted_only else ""
        sql = f"SELECT case_id, repeat FROM cases WHERE fingerprint = ?{trust}"
        return {(case_id, repeat) for case_id, repeat in self._stream(sql, (fingerprint,))}

    def cases(self, fingerprint: str) -> list[StoredCase]:
        """A fingerprint's stored results, ordered by case id then repeat (callers match by id)."""
        return list(self.iter_cases(fingerprint))

    def run(self, fingerprint: str) -> RunInfo | None:
        """What is stored for one fingerprint, or None when it has no results."""
        row = self._execute(f"{_RUN_SELECT} WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return RunInfo(*row) if row else None

    def runs(self, fingerprints: Sequence[str]) -> dict[str, RunInfo]:
        """What is stored for each of `fingerprints` that has results."""
        found: dict[str, RunInfo] = {}
        for chunk in _chunks(list(dict.fromkeys(fingerprints))):
            for row in self._execute(f"{_RUN_SELECT} WHERE fingerprint IN ({_marks(len(chunk))})", chunk):
                found[row[0]] = RunInfo(*row)
        return found

    def fingerprints(self) -> list[str]:
        """Every fingerprint with stored results, oldest first."""
        return [
            row[0] for row in self._execute("SELECT fingerprint FROM runs ORDER BY created, fingerprint").fetchall()
        ]

    # --- sync -----------------------------------------------------------------------------------

    def export_results(self, fingerprints: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Plain JSON-able records for `promptgit sync`: runs, their cases, then the responses those cases used."""
        params: tuple[str, ...] = ()
        scope = ""
        if fingerprints is not None:
            # One JSON parameter instead of an IN list: any number of fingerprints, no variable limit.
            scope = " WHERE fingerprint IN (SELECT value FROM json_each(?))"
            params = (json.dumps(list(fingerprints)),)
        sql = f"SELECT fingerprint, suite, prompt, revision, created FROM runs{scope} ORDER BY fingerprint"
        for fp, suite, prompt, revision, created in self._stream(sql, params):
            yield {"kind": "run", "fingerprint": fp, "suite": suite, "prompt": prompt,
                   "revision": revision, "created": created}  # fmt: skip
        sql = f"SELECT fingerprint, {_CASE_COLUMNS} FROM cases{scope} ORDER BY fingerprint, case_id, repeat"
        for fp, *rest in self._stream(sql, params):
            yield _case_record(fp, _case_from_row(rest))
        # Each response once, however many fingerprints share it (a scorer change keeps the calls).
        sql = f"SELECT key, {_RESPONSE_COLUMNS} FROM responses WHERE key IN (SELECT call_key FROM cases{scope})"
        for key, *rest in self._stream(sql, params):
            yield _response_record(key, StoredResponse(*rest))

    def import_results(self, records: Iterable[dict[str, Any]]) -> int:
        """Merge exported records as SHARED rows, keeping what is already stored; returns how many rows were new.

        Every record is checked before any is written, so a malformed one (PromptgitError) imports nothing.
        """
        statements = [s for s in (_import_statement(r, self.path) for r in records) if s is not None]
        return sum(self._write_batch(statements[i : i + IMPORT_BATCH]) for i in range(0, len(statements), IMPORT_BATCH))

    def _write_batch(self, batch: Sequence[tuple[str, tuple[Any, ...]]]) -> int:
        """Run a batch of INSERT OR IGNORE statements in one transaction; returns rows inserted."""
        if not batch:
            return 0
        added = 0
        self._execute("BEGIN IMMEDIATE")
        try:
            for sql, params in batch:
                added += self._execute(sql, params).rowcount
            self._execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return added


# --- sync records -------------------------------------------------------------------------------


def _case_record(fingerprint: str, case: StoredCase) -> dict[str, Any]:
    """A case as a sync record."""
    c = case
    return {
        "kind": "case", "fingerprint": fingerprint, "case_id": c.case_id, "repeat": c.repeat,
        "output": c.output, "score": c.score, "passed": c.passed,
        "scores": [list(s) for s in c.scores], "call_key": c.call_key,
        "input_tokens": c.input_tokens, "output_tokens": c.output_tokens,
        "cost": c.cost, "seconds": c.seconds,
    }  # fmt: skip


def _response_record(key: str, response: StoredResponse) -> dict[str, Any]:
    """A cached response as a sync record."""
    r = response
    return {
        "kind": "response", "key": key, "text": r.text, "model": r.model,
        "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "cost": r.cost, "seconds": r.seconds,
    }  # fmt: skip


_STR, _INT, _NUM, _BOOL = (str,), (int,), (int, float), (bool,)

# Per record kind: the INSERT OR IGNORE and its fields with their accepted JSON types, in column order.
_IMPORTS: dict[str, tuple[str, tuple[tuple[str, tuple[type, ...]], ...]]] = {
    "run": (
        "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?)",
        (("fingerprint", _STR), ("suite", _STR), ("prompt", _STR), ("revision", _STR), ("created", _NUM)),
    ),
    "case": (
        f"INSERT OR IGNORE INTO cases (fingerprint, {_CASE_COLUMNS}, origin)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{SHARED}')",
        (
            ("fingerprint", _STR), ("case_id", _STR), ("repeat", _INT), ("output", _STR),
            ("score", _NUM), ("passed", _BOOL), ("scores", (list,)), ("call_key", _STR),
            ("input_tokens", _INT), ("output_tokens", _INT), ("cost", _NUM), ("seconds", _NUM),
        ),
    ),
    "response": (
        f"INSERT OR IGNORE INTO responses (key, {_RESPONSE_COLUMNS}, created, origin)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{SHARED}')",
        (
            ("key", _STR), ("text", _STR), ("model", _STR), ("input_tokens", _INT),
            ("output_tokens", _INT), ("cost", _NUM), ("seconds", _NUM),
        ),
    ),
}  # fmt: skip


def _malformed(problem: str, path: Path) -> PromptgitError:
    """The user-facing error for a sync record that cannot be imported."""
    return PromptgitError(
        f"cannot import synced results: {problem}",
        file=str(path),
        hint="the remote results may come from a newer promptgit (upgrade it) or be damaged (push them again)",
    )


def _field(record: dict[str, Any], name: str, types: tuple[type, ...], path: Path) -> Any:
    """One typed field of a sync record; bools are not numbers here, though Python says they are."""
    value = record.get(name)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _malformed(f"a {record.get('kind')} record has a bad {name!r}: {value!r}", path)
    return value


def _import_statement(record: Any, path: Path) -> tuple[str, tuple[Any, ...]] | None:
    """The INSERT for one sync record; None for a kind this version does not know (a newer one's extra)."""
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise _malformed(f"not a record: {str(record)[:80]!r}", path)
    if record["kind"] not in _IMPORTS:
        return None
    sql, fields = _IMPORTS[record["kind"]]
    values = [_field(record, name, types, path) for name, types in fields]
    if record["kind"] == "case":
        values[5] = int(values[5])
        values[6] = _checked_scores(values[6], path)
    if record["kind"] == "response":
        values.append(time.time())
    return sql, tuple(values)


def _checked_scores(scores: list[Any], path: Path) -> str:
    """A case record's scorer results, validated and as stored."""
    for item in scores:
        ok = (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], (int, float))
            and (item[2] is None or isinstance(item[2], str))
        )
        if not ok:
            raise _malformed(f"a case record has a bad scorer result: {item!r}", path)
    return _scores_json(scores)
