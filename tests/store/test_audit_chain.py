"""The audit trail is append-only and hash-chained, on SQLite and PostgreSQL: triggers refuse
UPDATE and DELETE, `verify_chain` (and `netlm audit verify`) finds a row edited, removed or
inserted by someone who got round them, concurrent writers never fork the chain, rows written
before migration 0005 are chained by it, `netlm audit export` writes JSON lines, and a restore
keeps the trail it replaces and is recorded."""

import datetime as dt
import itertools
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from netlm.cli.audit import audit_app
from netlm.store import Store, UserInfo, create_db_engine, upgrade, verify_chain
from netlm.store.audit import EXPORTED, GENESIS, record, row_hash
from netlm.store.backup import backup, restore
from tests.store.conftest import FAST_HASHER, example


def _sql(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement))


def _bypass_triggers(engine: Engine) -> None:
    """What someone with the database owner's rights could do: switch the guard off."""
    if engine.dialect.name == "postgresql":
        _sql(engine, "ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        _sql(engine, "DROP TRIGGER audit_log_no_update")
        _sql(engine, "DROP TRIGGER audit_log_no_delete")


def _activity(store: Store, alice: UserInfo) -> None:
    store.create_case(example("01"), alice)
    store.get_case("v01", by=alice)
    store.audit(alice, "report", "case", "v01", {"lang": "en"})


def test_every_row_is_chained_to_the_one_before(store: Store, alice: UserInfo) -> None:
    _activity(store, alice)
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings().all()
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["row_hash"] for a, b in itertools.pairwise(rows))
    report = verify_chain(store.engine)
    assert (report.rows, report.head, report.problem) == (len(rows), rows[-1]["row_hash"], None)
    create = next(r for r in rows if r["action"] == "create")
    assert (create["role"], create["outcome"]) == ("clinician", "ok")


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET username = 'x'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_change_or_delete_audit_rows(
    store: Store, alice: UserInfo, statement: str
) -> None:
    _activity(store, alice)
    before = store.audit_log()
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(store.engine, statement)
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            _sql(store.engine, "TRUNCATE audit_log")
    assert store.audit_log() == before


def test_verify_names_the_first_row_edited_behind_the_triggers(
    store: Store, alice: UserInfo
) -> None:
    _activity(store, alice)
    _bypass_triggers(store.engine)
    _sql(store.engine, "UPDATE audit_log SET entity_id = 'v02' WHERE seq = 3")
    report = verify_chain(store.engine)
    assert report.problem is not None
    assert report.problem.startswith("row seq 3 ")
    assert "changed after it was written" in report.problem
    assert report.rows == 2


def test_verify_finds_a_deleted_row_and_one_inserted_out_of_chain(
    store: Store, alice: UserInfo
) -> None:
    _activity(store, alice)
    _bypass_triggers(store.engine)
    _sql(store.engine, "DELETE FROM audit_log WHERE seq = 2")
    assert "rows 2 to 2 are missing" in str(verify_chain(store.engine).problem)
    # A forged row that copies the next one's link but not its hash is caught as well.
    _sql(store.engine, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    assert "row seq 2 " in str(verify_chain(store.engine).problem)


def test_concurrent_writers_never_fork_the_chain(store: Store, alice: UserInfo) -> None:
    def write(n: int) -> None:
        for i in range(10):
            store.audit(alice, "report", "case", f"c{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_chain(store.engine)
    assert report.problem is None
    assert report.rows == len(store.audit_log(limit=1000)) >= 60


def test_a_hostile_case_id_from_a_refused_path_is_recorded_fitted(store: Store) -> None:
    """A refused request's path goes into the trail: NUL and overlong ids must not make the
    recording itself fail (PostgreSQL refuses NUL and checks lengths)."""
    record(store.engine, None, "refused", "case", "a\x00b" + "x" * 300, "404")
    (entry,) = store.audit_log(limit=1)
    assert entry.entity_id == "a\ufffdb" + "x" * 197
    assert verify_chain(store.engine).problem is None


def test_rows_written_before_the_chain_are_chained_by_the_upgrade(db_url: str) -> None:
    upgrade(db_url, "0004")
    engine = create_db_engine(db_url)
    try:
        for n in range(3):
            _sql(
                engine,
                "INSERT INTO audit_log (at, user_id, username, action, entity, entity_id, detail)"
                f" VALUES (CURRENT_TIMESTAMP, NULL, '(system)', 'old', 'case', 'c{n}', '{{}}')",
            )
        upgrade(db_url)
        report = verify_chain(engine)
        assert (report.rows, report.problem) == (3, None)
        store = Store(engine, hasher=FAST_HASHER)
        store.audit(None, "after", "case", "c3")
        assert verify_chain(engine).rows == 4
        assert [e.action for e in store.audit_log()] == ["after", "old", "old", "old"]
    finally:
        engine.dispose()


def _cli(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("NETLM_DATABASE_URL", url)
    result = CliRunner().invoke(audit_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_netlm_audit_verify_and_export(
    store: Store, alice: UserInfo, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _activity(store, alice)
    code, out, _ = _cli(db_url, monkeypatch, "verify")
    rows = len(store.audit_log())
    assert (code, out) == (
        0,
        f"audit trail intact: {rows} rows, head {verify_chain(store.engine).head}\n",
    )

    code, out, _ = _cli(db_url, monkeypatch, "export")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(lines) == rows
    assert all(list(line) == list(EXPORTED) for line in lines)  # stable keys, in order
    assert all(row_hash(line) == line["row_hash"] for line in lines)  # checkable off-line
    assert [line["seq"] for line in lines] == list(range(1, rows + 1))
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert _cli(db_url, monkeypatch, "export", "--since", future)[:2] == (0, "")

    _bypass_triggers(store.engine)
    _sql(store.engine, "UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    code, out, err = _cli(db_url, monkeypatch, "verify")
    assert (code, out) == (1, "")
    assert err.startswith("audit trail broken: row seq 2 (id ")


def test_a_restore_keeps_the_trail_it_replaces_and_is_recorded(
    store: Store, alice: UserInfo, db_url: str, tmp_path: Path
) -> None:
    _activity(store, alice)
    file = tmp_path / "before.backup"
    backup(db_url, file)
    store.create_case(example("03"), alice)  # after the backup: undone by the restore
    replaced = store.audit_log(limit=1000)
    head = verify_chain(store.engine).head

    result = restore(db_url, file)
    assert result.audit_saved is not None
    assert result.audit_rows == len(replaced)
    saved = [json.loads(line) for line in result.audit_saved.read_text().splitlines()]
    assert [line["id"] for line in saved] == [e.id for e in reversed(replaced)]
    assert saved[-1]["row_hash"] == head
    assert all(row_hash(s) == s["row_hash"] for s in saved)
    assert oct(result.audit_saved.stat().st_mode & 0o777) == "0o600"

    (last, *_) = store.audit_log(limit=1)
    assert (last.action, last.entity, last.entity_id) == ("restore", "database", file.name)
    assert last.detail["replaced_head"] == head
    assert last.detail["replaced_trail"] == str(result.audit_saved)
    assert verify_chain(store.engine).problem is None
