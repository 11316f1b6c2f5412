"""The SQLite store: exact round-trips, durability, concurrent writers, SIGKILL, migrations, sync."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptgit import store as store_module
from promptgit.errors import PromptgitError
from promptgit.store import Migration, Store, StoredCase, StoredResponse

RESPONSE = StoredResponse("billing", "openai/gpt-4o-mini", 123, 4, 0.000123, 0.75)


def make_case(case_id: str, repeat: int = 0, *, score: float = 0.5, key: str = "v1:k") -> StoredCase:
    """A case with distinctive values in every field."""
    return StoredCase(
        case_id=case_id,
        repeat=repeat,
        output=f"output of {case_id}/{repeat} — ünïcode",
        score=score,
        passed=score == 1.0,
        scores=(("exact_match", 0.0, None), ("regex", 1.0, "matched ^(billing)$")),
        call_key=key,
        input_tokens=100 + repeat,
        output_tokens=7,
        cost=0.0001,
        seconds=1.25,
    )


def integrity(folder: Path) -> str:
    """SQLite's own verdict on the store file."""
    with sqlite3.connect(folder / "store.sqlite3") as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


# --- round trips ---------------------------------------------------------------------------------


def test_new_store_creates_a_git_ignored_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a" / ".promptgit"
    with Store(folder):
        pass
    assert (folder / ".gitignore").read_text() == "*\n"
    assert (folder / "store.sqlite3").is_file()


def test_existing_gitignore_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / ".promptgit"
    folder.mkdir()
    (folder / ".gitignore").write_text("store.sqlite3\n")
    Store(folder).close()
    assert (folder / ".gitignore").read_text() == "store.sqlite3\n"


def test_response_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.get_response("v1:a") is None
        store.put_response("v1:a", RESPONSE)
        assert store.get_response("v1:a") == RESPONSE
        assert store.get_response("v1:a").cost == 0.000123


def test_get_responses_returns_only_found_keys(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for i in range(1200):  # more than one chunk
            store.put_response(f"v1:{i}", StoredResponse(f"t{i}", "m", i, 2 * i, i / 10, 0.5))
        keys = [f"v1:{i}" for i in range(0, 1200, 3)] + ["v1:missing", "v1:3"]
        found = store.get_responses(keys)
        assert set(found) == {f"v1:{i}" for i in range(0, 1200, 3)}
        assert found["v1:999"] == StoredResponse("t999", "m", 999, 1998, 99.9, 0.5)
        assert store.get_responses([]) == {}


def test_put_response_again_keeps_the_latest(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.put_response("v1:a", RESPONSE)
        newer = StoredResponse("refunds", "m2", 1, 2, 0.5, 3.0)
        store.put_response("v1:a", newer)
        assert store.get_response("v1:a") == newer


def test_case_round_trip_and_run_info(tmp_path: Path) -> None:
    before = time.time()
    with Store(tmp_path) as store:
        store.put_case("v1:fp", "support/classify", "support/classify", "abc123", make_case("2", 1))
        store.put_case("v1:fp", "support/classify", "support/classify", "def456", make_case("10", 0, score=1.0))
        store.put_case("v1:fp", "support/classify", "support/classify", "abc123", make_case("2", 0))
        cases = store.cases("v1:fp")
        run = store.run("v1:fp")
    assert cases == [make_case("10", 0, score=1.0), make_case("2", 0), make_case("2", 1)]
    assert cases[0].passed is True and cases[1].passed is False
    assert cases[1].scores == (("exact_match", 0.0, None), ("regex", 1.0, "matched ^(billing)$"))
    assert run is not None
    # The first revision to store a result stays the fingerprint's recorded origin.
    assert (run.fingerprint, run.suite, run.prompt, run.revision, run.cases) == (
        "v1:fp", "support/classify", "support/classify", "abc123", 3,
    )  # fmt: skip
    assert before <= run.created <= time.time()


def test_put_case_again_replaces_the_result(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.put_case("v1:fp", "s", "p", "r", make_case("1", score=0.0))
        store.put_case("v1:fp", "s", "p", "r", make_case("1", score=1.0))
        assert store.cases("v1:fp") == [make_case("1", score=1.0)]
        assert store.run("v1:fp").cases == 1


def test_runs_finds_known_fingerprints_only(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.run("v1:none") is None and store.cases("v1:none") == []
        for fp, n in (("v1:x", 2), ("v1:y", 1)):
            for i in range(n):
                store.put_case(fp, f"suite-{fp}", "p", "WORKTREE", make_case(str(i)))
        found = store.runs(["v1:x", "v1:y", "v1:none", "v1:x"])
    assert sorted(found) == ["v1:x", "v1:y"]
    assert found["v1:x"].cases == 2 and found["v1:y"].cases == 1
    assert found["v1:y"].suite == "suite-v1:y" and found["v1:y"].revision == "WORKTREE"


def test_everything_survives_reopening(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.put_response("v1:a", RESPONSE)
        store.put_case("v1:fp", "s", "p", "r", make_case("1"))
        run = store.run("v1:fp")
    with Store(tmp_path) as store:
        assert store.get_response("v1:a") == RESPONSE
        assert store.cases("v1:fp") == [make_case("1")]
        assert store.run("v1:fp") == run


def test_store_uses_wal(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- several processes, and SIGKILL --------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from promptgit.store import Store, StoredCase, StoredResponse

folder, name, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = Store(folder)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
for i in range(count):
    key = f"v1:{name}:{i}"
    store.put_response(key, StoredResponse(f"text {i}", "m", i, 1, 0.0, 0.0))
    # Both writers share one fingerprint: its run row is written concurrently by both.
    store.put_case("v1:shared", "s", "p", name, StoredCase(key, 0, "o", 1.0, True, (), key, i, 1, 0.0, 0.0))
    print(key, flush=True)
"""


def start_writer(tmp_path: Path, name: str, count: int) -> subprocess.Popen[str]:
    """A subprocess that opens the store, says ready, waits for the go file, then puts rows."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    args = [sys.executable, str(script), str(tmp_path / "store"), name, str(count), str(tmp_path / "go")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    writers = [start_writer(tmp_path, name, 500) for name in ("a", "b")]
    (tmp_path / "go").touch()  # both are open and waiting: their writes overlap
    outputs = [proc.communicate(timeout=60)[0] for proc in writers]
    assert [proc.returncode for proc in writers] == [0, 0]
    assert [len(out.splitlines()) for out in outputs] == [500, 500]
    with Store(tmp_path / "store") as store:
        keys = [f"v1:{name}:{i}" for name in ("a", "b") for i in range(500)]
        assert len(store.get_responses(keys)) == 1000
        assert store.get_response("v1:b:499") == StoredResponse("text 499", "m", 499, 1, 0.0, 0.0)
        assert store.run("v1:shared").cases == 1000
        assert {c.case_id for c in store.cases("v1:shared")} == set(keys)
    assert integrity(tmp_path / "store") == "ok"


def test_sigkill_loses_nothing_that_was_put(tmp_path: Path) -> None:
    proc = start_writer(tmp_path, "k", 1_000_000)
    (tmp_path / "go").touch()
    assert proc.stdout is not None
    reported = [proc.stdout.readline() for _ in range(300)]
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Only whole lines: a key is reported after its put returned.
    reported += rest.splitlines(keepends=True)
    keys = [line.strip() for line in reported if line.endswith("\n")]
    assert len(keys) >= 300
    with Store(tmp_path / "store") as store:
        assert len(store.get_responses(keys)) == len(keys)
        stored_cases = {c.case_id for c in store.cases("v1:shared")}
        assert set(keys) <= stored_cases
    assert integrity(tmp_path / "store") == "ok"


# --- migrations ----------------------------------------------------------------------------------


def recording_migrations(calls: list[str], names: list[str]) -> list[Migration]:
    """The real migrations followed by test ones that record their runs and add a table each."""

    def step(name: str) -> Migration:
        def apply(db: sqlite3.Connection) -> None:
            calls.append(name)
            db.execute(f"CREATE TABLE {name} (x)")  # fails if a migration ever ran twice

        return Migration(name, apply)

    return list(store_module.MIGRATIONS) + [step(name) for name in names]


def test_migration_names_are_unique_and_numbered_in_order() -> None:
    names = [m.name for m in store_module.MIGRATIONS]
    assert names[0] == "m001_initial"
    assert names == sorted(set(names)) and all(name[:1] == "m" and name[1:4].isdigit() for name in names)


def test_migrations_run_once_and_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = [m.name for m in store_module.MIGRATIONS]
    calls: list[str] = []
    monkeypatch.setattr(store_module, "MIGRATIONS", recording_migrations(calls, ["m901_a", "m902_b"]))
    with Store(tmp_path) as store:
        assert store.applied_migrations() == [*real, "m901_a", "m902_b"]
    Store(tmp_path).close()
    assert calls == ["m901_a", "m902_b"]


def test_old_store_runs_only_new_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(store_module, "MIGRATIONS", recording_migrations(calls, ["m901_a"]))
    with Store(tmp_path) as store:
        store.put_response("v1:a", RESPONSE)
    monkeypatch.setattr(store_module, "MIGRATIONS", recording_migrations(calls, ["m901_a", "m902_b", "m903_c"]))
    with Store(tmp_path) as store:
        assert store.applied_migrations()[-3:] == ["m901_a", "m902_b", "m903_c"]
        assert store.get_response("v1:a") == RESPONSE
    assert calls == ["m901_a", "m902_b", "m903_c"]


def test_failed_migration_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, Migration("m999_broken", broken)])
    with pytest.raises(RuntimeError):
        Store(tmp_path)
    monkeypatch.undo()
    with Store(tmp_path) as store:
        assert store.applied_migrations() == [m.name for m in store_module.MIGRATIONS]
        store.put_response("v1:a", RESPONSE)  # the real schema was rolled back too, then re-created


def test_store_from_a_newer_promptgit_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        db.execute("INSERT INTO _migrations VALUES ('m777_from_the_future', 0)")
    with pytest.raises(PromptgitError) as caught:
        Store(tmp_path)
    assert "newer promptgit" in caught.value.message
    assert "m777_from_the_future" in caught.value.message
    assert "upgrade promptgit" in caught.value.hint
    assert caught.value.file == str(tmp_path / "store.sqlite3")


def test_corrupt_store_names_the_file_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "store.sqlite3").write_bytes(b"this is not a database, just some text" * 200)
    with pytest.raises(PromptgitError) as caught:
        Store(tmp_path)
    assert caught.value.file == str(tmp_path / "store.sqlite3")
    assert "damaged" in caught.value.message
    assert f"delete the folder {tmp_path}" in caught.value.hint


def test_store_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    with pytest.raises(PromptgitError) as caught:
        Store(tmp_path / "blocker" / ".promptgit")
    assert caught.value.file == str(tmp_path / "blocker" / ".promptgit")


# --- sync ----------------------------------------------------------------------------------------


def fill(store: Store) -> None:
    """Two fingerprints sharing a response (a scorer change keeps the calls), plus an unrelated response."""
    for i in range(3):
        store.put_response(f"v1:call{i}", StoredResponse(f"text{i}", "m", i, i, i / 3, 0.1))
    store.put_response("v1:unused", RESPONSE)
    store.put_case("v1:one", "s", "p", "r1", make_case("1", key="v1:call0"))
    store.put_case("v1:one", "s", "p", "r1", make_case("2", key="v1:call1"))
    store.put_case("v1:two", "s", "p", "r2", make_case("1", score=1.0, key="v1:call0"))
    store.put_case("v1:three", "s", "p", "r3", make_case("1", key="v1:call2"))


def test_export_import_gives_identical_results(tmp_path: Path) -> None:
    with Store(tmp_path / "a") as source:
        fill(source)
        # Through JSON text, as `promptgit sync` carries it.
        records = [json.loads(json.dumps(r)) for r in source.export_results()]
        expected = {fp: source.cases(fp) for fp in ("v1:one", "v1:two", "v1:three")}
        runs = source.runs(list(expected))
    kinds = [r["kind"] for r in records]
    assert kinds == ["run"] * 3 + ["case"] * 4 + ["response"] * 3  # each response once, unused one not
    with Store(tmp_path / "b") as copy:
        assert copy.import_results(records) == 10
        assert {fp: copy.cases(fp) for fp in expected} == expected
        assert copy.runs(list(expected)) == runs
        assert copy.get_response("v1:call1") == StoredResponse("text1", "m", 1, 1, 1 / 3, 0.1)
        assert copy.get_response("v1:unused") is None
        assert copy.import_results(records) == 0
        assert {fp: copy.cases(fp) for fp in expected} == expected


def test_export_of_chosen_fingerprints(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        fill(store)
        records = list(store.export_results(["v1:two", "v1:nowhere"]))
    assert records[0] == {
        "kind": "run", "fingerprint": "v1:two", "suite": "s", "prompt": "p",
        "revision": "r2", "created": records[0]["created"],
    }  # fmt: skip
    assert [(r["kind"], r.get("fingerprint", r.get("key"))) for r in records] == [
        ("run", "v1:two"), ("case", "v1:two"), ("response", "v1:call0"),
    ]  # fmt: skip
    assert records[1]["scores"] == [["exact_match", 0.0, None], ["regex", 1.0, "matched ^(billing)$"]]
    assert records[1]["passed"] is True


def test_import_keeps_local_results(tmp_path: Path) -> None:
    with Store(tmp_path / "a") as source:
        source.put_case("v1:fp", "s", "p", "remote", make_case("1", score=0.0))
        source.put_case("v1:fp", "s", "p", "remote", make_case("2", score=0.0))
        records = list(source.export_results())
    with Store(tmp_path / "b") as local:
        local.put_case("v1:fp", "s", "p", "local", make_case("1", score=1.0))
        assert local.import_results(records) == 1  # only case 2 is new
        assert local.cases("v1:fp") == [make_case("1", score=1.0), make_case("2", score=0.0)]
        assert local.run("v1:fp").revision == "local"


def test_import_skips_unknown_kinds_and_refuses_malformed_records(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.import_results([{"kind": "from_a_newer_version", "x": 1}]) == 0
        bad = _response_record_with(input_tokens="12")
        with pytest.raises(PromptgitError) as caught:
            store.import_results([bad])
        assert "input_tokens" in caught.value.message
        with pytest.raises(PromptgitError):
            store.import_results(["not a record"])  # type: ignore[list-item]
        assert store.get_response("v1:r") is None


def _response_record_with(**changes: object) -> dict[str, object]:
    """A valid response record with some fields changed."""
    record = {"kind": "response", "key": "v1:r", "text": "t", "model": "m",
              "input_tokens": 1, "output_tokens": 2, "cost": 0.0, "seconds": 0.0}  # fmt: skip
    record.update(changes)
    return record


def test_import_of_many_records_is_batched(tmp_path: Path) -> None:
    records = (_response_record_with(key=f"v1:{i}") for i in range(2500))
    with Store(tmp_path) as store:
        assert store.import_results(records) == 2500
        assert len(store.get_responses([f"v1:{i}" for i in range(2500)])) == 2500


def test_put_while_exporting(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        fill(store)
        records = store.export_results()
        first = next(records)
        store.put_case("v1:four", "s", "p", "r", make_case("1"))  # a put mid-export still commits
        rest = list(records)
        assert first["kind"] == "run" and len(rest) >= 9
    with Store(tmp_path) as store:
        assert store.cases("v1:four") == [make_case("1")]


def test_case_keys_list_what_is_stored_for_one_fingerprint(tmp_path: Path) -> None:
    with Store(tmp_path / "store") as store:
        for case_id, repeat in (("a", 0), ("a", 1), ("b", 0)):
            store.put_case("v1:f", "s", "p", "WORKTREE", make_case(case_id, repeat))
        store.put_case("v1:other", "s", "p", "WORKTREE", make_case("c"))
        assert store.case_keys("v1:f") == {("a", 0), ("a", 1), ("b", 0)}
        assert store.case_keys("v1:none") == set()


# --- claims ---------------------------------------------------------------------------------------


def test_a_key_has_one_claimer_until_released_or_lapsed(tmp_path: Path) -> None:
    with Store(tmp_path) as first, Store(tmp_path) as second:
        assert (first.claim("v1:a", "A", 30), second.claim("v1:a", "B", 30)) == (True, False)
        assert (second.claimed("v1:a"), second.claimed("v1:b")) == (True, False)
        first.release("v1:a", "B")  # not B's: nothing happens
        assert second.claim("v1:a", "B", 30) is False
        first.release("v1:a", "A")
        assert (second.claimed("v1:a"), second.claim("v1:a", "B", 0.05)) == (False, True)
        time.sleep(0.1)  # B's lease lapses: B is taken to have died
        assert (first.claimed("v1:a"), first.claim("v1:a", "A", 30)) == (False, True)
        assert first._db.execute("SELECT owner FROM claims").fetchall() == [("A",)]


def test_a_key_with_a_stored_response_cannot_be_claimed(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.put_response("v1:local", RESPONSE)
        store.import_results([{"kind": "response", "key": "v1:pulled", **_response_fields()}])
        assert store.claim("v1:local", "A", 30) is False
        assert store.claim("v1:pulled", "A", 30) is False
        assert store.claim("v1:pulled", "B", 30, trusted_only=True) is True  # a pulled answer is not trusted


def _response_fields() -> dict[str, object]:
    r = RESPONSE
    return {"text": r.text, "model": r.model, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
            "cost": r.cost, "seconds": r.seconds}  # fmt: skip


def test_renew_extends_ones_own_claims_and_drops_lapsed_ones(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.claim("v1:a", "A", 0.05) and store.claim("v1:b", "A", 0.05) and store.claim("v1:c", "dead", 0.05)
        time.sleep(0.1)
        assert store.renew("A", 30) == 2
        assert store._db.execute("SELECT key, owner FROM claims ORDER BY key").fetchall() == [
            ("v1:a", "A"),
            ("v1:b", "A"),
        ]
        assert store.claim("v1:a", "B", 30) is False
        store.release_all("A")
        assert store._db.execute("SELECT count(*) FROM claims").fetchone() == (0,)


CLAIMER = """
import sys
import time
from pathlib import Path
from promptgit.store import Store
store = Store(Path(sys.argv[1]))
(Path(sys.argv[1]) / f"ready-{sys.argv[2]}").touch()
while not (Path(sys.argv[1]) / "go").exists():  # every racer open and waiting: their claims overlap
    time.sleep(0.001)
won = []
start = "ABC".index(sys.argv[2]) * 133  # each racer starts elsewhere and runs into the others' keys
for k in [(start + i) % 400 for i in range(400)]:
    if store.claim(f"v1:{k}", sys.argv[2], 60):
        won.append(k)
    time.sleep(0.0005)  # a racer that got the CPU first does not finish before the others begin
print(",".join(map(str, won)))
"""


def test_processes_racing_for_the_same_keys_take_each_exactly_once(tmp_path: Path) -> None:
    Store(tmp_path).close()
    racers = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, str(tmp_path), name], stdout=subprocess.PIPE, text=True)
        for name in ("A", "B", "C")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in "ABC") and time.monotonic() < deadline:
        time.sleep(0.01)  # every racer has imported and opened the store, however loaded the machine
    (tmp_path / "go").touch()
    won = [set(map(int, filter(None, racer.communicate(timeout=120)[0].strip().split(",")))) for racer in racers]
    assert sum(len(w) for w in won) == 400 and set().union(*won) == set(range(400))
    assert sum(1 for w in won if w) >= 2  # they did race
