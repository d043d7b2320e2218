"""`netlm db backup` / `netlm db restore` on SQLite and PostgreSQL, as an operator runs them:
real processes on a real database, compared through the store before and after."""

import os
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from netlm import assess
from netlm.store import Store, UserInfo, create_db_engine, current_revision, head_revision, upgrade
from tests.store.conftest import FAST_HASHER, PASSWORD, example

NETLM = Path(sys.executable).parent / "netlm"


def netlm(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETLM_DATABASE_URL": url, "NETLM_DATA_DIR": str(tmp_path / "data"),
           "NETLM_SECRET_KEY": "test-secret"}  # fmt: skip
    return subprocess.run(
        [str(NETLM), "db", *args], capture_output=True, text=True, env=env, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """What a restore must bring back: users, cases with versions, assessments and audit."""

    users: list[tuple[str, str, bool]]
    cases: list[tuple[str, int, bool]]
    assessments: int
    audit: list[tuple[str, str]]


def snapshot(url: str) -> Snapshot:
    engine = create_db_engine(url)
    try:
        store = Store(engine, hasher=FAST_HASHER)
        cases = store.list_cases(include_deleted=True)
        return Snapshot(
            users=[(u.username, u.role, u.disabled) for u in store.list_users()],
            cases=sorted((c.case_id, c.current_version, c.deleted) for c in cases),
            assessments=sum(len(store.list_assessments(c.case_id)) for c in cases if not c.deleted),
            audit=sorted((e.action, e.entity_id or "") for e in store.audit_log(limit=1000)),
        )
    finally:
        engine.dispose()


def fill(store: Store) -> UserInfo:
    alice = store.add_user("alice", PASSWORD, "clinician", display_name="Dr Alice")
    for prefix in ("01", "03"):
        record = store.create_case(example(prefix), alice)
        store.save_assessment(record.case.id, 1, assess(record.case, lang="en"), alice)
    return alice


def test_round_trip(store: Store, db_url: str, tmp_path: Path) -> None:
    alice = fill(store)
    before = snapshot(db_url)
    file = tmp_path / "netlm.backup"

    made = netlm(db_url, tmp_path, "backup", str(file))
    assert made.returncode == 0, made.stderr
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    assert made.stdout == f"backed up the {kind} database (migration {head_revision()}) to {file}\n"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600, "a backup holds patient data"

    # Everything after the backup is undone by the restore.
    store.create_case(example("05"), alice)
    store.delete_case("v01", alice, "entered twice")
    store.add_user("mallory", PASSWORD, "admin")
    assert snapshot(db_url) != before

    replaced = store.audit_log(limit=1000)
    restored = netlm(db_url, tmp_path, "restore", str(file), "--yes")
    assert restored.returncode == 0, restored.stderr
    (saved,) = tmp_path.glob("netlm.backup.replaced-audit-*.jsonl")
    assert restored.stdout == (
        f"restored the {kind} database from {file} (migration {head_revision()})\n"
        f"kept the audit trail it replaced ({len(replaced)} rows) in {saved}\n"
    )
    # The data is the backup's; the audit trail is too, plus the restore itself.
    after = snapshot(db_url)
    assert after.audit == sorted([*before.audit, ("restore", "netlm.backup")])
    assert replace(after, audit=before.audit) == before
    assert store.authenticate("alice", PASSWORD, "127.0.0.1").username == "alice"


def test_restore_of_an_older_backup_drops_later_tables_and_can_be_upgraded(
    db_url: str, tmp_path: Path
) -> None:
    upgrade(db_url, "0003")
    file = tmp_path / "old.backup"
    assert netlm(db_url, tmp_path, "backup", str(file)).returncode == 0
    upgrade(db_url)
    restored = netlm(db_url, tmp_path, "restore", str(file), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.splitlines()[-1] == (
        f"run `netlm db upgrade` to bring it to migration {head_revision()}"
    )
    assert current_revision(db_url) == "0003"
    assert netlm(db_url, tmp_path, "upgrade").stdout == f"{head_revision()}\n"


def test_refusals_are_one_line(store: Store, db_url: str, tmp_path: Path) -> None:
    fill(store)
    file = tmp_path / "netlm.backup"
    assert netlm(db_url, tmp_path, "backup", str(file)).returncode == 0
    again = netlm(db_url, tmp_path, "backup", str(file))
    assert (again.returncode, again.stderr) == (
        2, f"error: {file}: already exists; choose a new file name\n",
    )  # fmt: skip
    unconfirmed = netlm(db_url, tmp_path, "restore", str(file))
    assert (unconfirmed.returncode, unconfirmed.stderr) == (
        2, "error: restore replaces the database; add --yes to confirm\n",
    )  # fmt: skip
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    refused = netlm(db_url, tmp_path, "restore", str(junk), "--yes")
    assert (refused.returncode, refused.stderr) == (2, f"error: {junk}: is not a netlm backup\n")
    missing = netlm(db_url, tmp_path, "restore", str(tmp_path / "nope"), "--yes")
    assert missing.stderr == f"error: {tmp_path / 'nope'}: cannot read: No such file or directory\n"
    assert snapshot(db_url).cases == [("v01", 1, False), ("v03", 1, False)], "nothing changed"


def test_a_backup_of_the_other_database_or_a_newer_netlm_is_refused(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    fill(store)
    sqlite_url = f"sqlite:///{tmp_path / 'other' / 'netlm.db'}"
    upgrade(sqlite_url)
    sqlite_backup = tmp_path / "sqlite.backup"
    assert netlm(sqlite_url, tmp_path, "backup", str(sqlite_backup)).returncode == 0
    if db_url.startswith("postgresql"):
        refused = netlm(db_url, tmp_path, "restore", str(sqlite_backup), "--yes")
        assert refused.stderr == (
            f"error: {sqlite_backup}: is a SQLite backup; it cannot be restored into PostgreSQL\n"
        )
        pg_backup = tmp_path / "pg.backup"
        assert netlm(db_url, tmp_path, "backup", str(pg_backup)).returncode == 0
        other = netlm(sqlite_url, tmp_path, "restore", str(pg_backup), "--yes")
        assert other.stderr == (
            f"error: {pg_backup}: is a PostgreSQL backup; it cannot be restored into SQLite\n"
        )
        return
    with sqlite3.connect(sqlite_backup) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    newer = netlm(db_url, tmp_path, "restore", str(sqlite_backup), "--yes")
    assert newer.returncode == 2
    assert newer.stderr.startswith(f"error: {sqlite_backup}: was made by a newer netlm (migration")
    assert len(snapshot(db_url).cases) == 2, "nothing changed"


def test_backup_of_an_empty_database_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = netlm(url, tmp_path, "backup", str(tmp_path / "x.backup"))
    assert (result.returncode, result.stderr) == (
        2, f"error: no database at {url} to back up (create it with `netlm db upgrade`)\n",
    )  # fmt: skip
    assert not (tmp_path / "x.backup").exists()


@pytest.mark.parametrize("program", ["pg_dump"])
def test_missing_postgresql_client_names_the_package(
    program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netlm.store import backup

    monkeypatch.setattr(backup.glob, "glob", lambda _pattern: [])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backup.BackupError) as raised:
        backup._client(program)
    assert str(raised.value) == (
        f"{program} is needed for PostgreSQL backups: install the Debian package "
        "postgresql-client (at least the server's version)"
    )
