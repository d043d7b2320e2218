"""Backups of the store, with each database's own tools: SQLite's online backup API, and
PostgreSQL's pg_dump / pg_restore.

A backup is a consistent copy taken while the server runs. A restore replaces the store's
tables with the backup's in one step: on PostgreSQL the whole restore is one transaction (any
error leaves the database as it was); on SQLite the backup API copies the file's pages under
the database lock. Backups hold patient data and password hashes, so they are written 0600.

A restore never rolls the audit trail back silently: before replacing anything it writes the
trail it is about to replace (every row, with its hashes) to a JSON-lines file beside the backup,
and afterwards appends a `restore` row to the restored trail naming the backup, that file, and
the replaced trail's last row and hash. An auditor thus holds both chains and the link between
them, each verifiable (`netlm audit verify`, or the hashes in the file), and nothing that happened
between the backup and the restore is lost from the record.
"""

import datetime as dt
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, make_url, text
from sqlalchemy.engine import URL, Engine

from netlm.store import audit
from netlm.store.db import (
    create_db_engine,
    current_revision,
    head_revision,
    known_revisions,
    private_file,
)
from netlm.store.identity import SYSTEM
from netlm.store.models import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
CLIENT_PACKAGE = "postgresql-client"
APPEND_ONLY_FUNCTION = "netlm_audit_append_only"  # migration 0005's trigger function
FOLLOW_UP_FUNCTION = "netlm_follow_up_append_only"  # migration 0009's


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    kind: str  # "sqlite" or "postgresql"
    revision: str | None  # the migration the backed-up or restored database is at
    path: Path
    # A restore's: the audit trail it replaced, and how many rows that file holds.
    audit_saved: Path | None = None
    audit_rows: int = 0


def backup(url: str, target: Path) -> BackupResult:
    """Write a consistent copy of the database at `url` to `target` (which must not exist)."""
    if target.exists():
        raise BackupError(f"{target}: already exists; choose a new file name")
    revision = current_revision(url)
    if revision is None:
        raise BackupError("the database has no netlm schema yet (run `netlm db upgrade`)")
    parsed = make_url(url)
    partial = target.with_name(target.name + ".partial")
    try:
        private_file(partial)
        if parsed.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_path(parsed), partial)
            kind = "sqlite"
        else:
            _run([_client("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  "--file", str(partial), "--dbname", _libpq(parsed)], url=parsed)  # fmt: skip
            kind = "postgresql"
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(kind, revision, target)


def restore(url: str, source: Path) -> BackupResult:
    """Replace the netlm tables of the database at `url` with the backup in `source`, keeping
    the audit trail it replaces in a file beside the backup and recording the restore."""
    try:
        with source.open("rb") as file:
            magic = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"{source}: cannot read: {exc.strerror}") from None
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if not magic.startswith((SQLITE_MAGIC, PGDUMP_MAGIC)):
        raise BackupError(f"{source}: is not a netlm backup")
    if magic.startswith(SQLITE_MAGIC) != is_sqlite:
        made, into = ("SQLite", "PostgreSQL") if not is_sqlite else ("PostgreSQL", "SQLite")
        raise BackupError(f"{source}: is a {made} backup; it cannot be restored into {into}")
    revision = _sqlite_revision(source) if is_sqlite else _pgdump_revision(source)
    _check_revision(source, revision)
    saved, rows, head = _save_audit(url, source)
    if is_sqlite:
        _sqlite_copy(source, _sqlite_path(parsed))
    else:
        _pg_restore(parsed, source)
    if saved is not None:
        detail = {"backup": str(source), "backup_revision": revision, "replaced_rows": rows,
                  "replaced_head": head, "replaced_trail": str(saved)}  # fmt: skip
        _record_restore(url, source.name, detail)
    kind = "sqlite" if is_sqlite else "postgresql"
    return BackupResult(kind, revision, source, saved, rows)


def _chained(engine: Engine) -> bool:
    """Whether the database's audit trail is hash-chained (migration 0005 or later)."""
    tables = inspect(engine)
    if not tables.has_table("audit_log"):
        return False
    return "row_hash" in {c["name"] for c in tables.get_columns("audit_log")}


def _save_audit(url: str, source: Path) -> tuple[Path | None, int, str]:
    """Write the current audit trail beside the backup (0600); its file, rows and last hash."""
    if current_revision(url) is None:
        return None, 0, audit.GENESIS
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = source.with_name(f"{source.name}.replaced-audit-{stamp}.jsonl")
    engine = create_db_engine(url)
    try:
        private_file(target)
        with target.open("w", encoding="utf-8") as out:
            if _chained(engine):
                rows = audit.export(engine, out)
                head = audit.verify_chain(engine).head
            else:  # an older netlm's trail, unchained: its rows as they are
                with engine.connect() as connection:
                    found = connection.execute(text("SELECT * FROM audit_log ORDER BY id"))
                    dicts = [dict(r) for r in found.mappings()]
                for row in dicts:
                    out.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
                rows, head = len(dicts), audit.GENESIS
    finally:
        engine.dispose()
    return target, rows, head


def _record_restore(url: str, name: str, detail: dict[str, Any]) -> None:
    """Append the restore to the restored trail, when it is chained (else after the upgrade
    there is no row to link to: the saved file and the command's output are the record)."""
    engine = create_db_engine(url)
    try:
        if _chained(engine):
            audit.record(engine, None, "restore", "database", name, detail=detail, actor=SYSTEM)
    finally:
        engine.dispose()


def _check_revision(source: Path, revision: str | None) -> None:
    if revision is None:
        raise BackupError(f"{source}: holds no netlm schema (no migration revision)")
    if revision not in known_revisions():
        raise BackupError(
            f"{source}: was made by a newer netlm (migration {revision}; this one knows up to "
            f"{head_revision()}); restore it with that version"
        )


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("backup and restore need an SQLite database file")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent snapshot even while the server writes."""
    if not source.exists():
        raise BackupError(f"{source}: no such database file")
    private_file(target)
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)


def _sqlite(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _sqlite_revision(path: Path) -> str | None:
    try:
        with _sqlite(path) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else str(row[0])


# --- PostgreSQL ---------------------------------------------------------------------------------


def _libpq(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection URI (what pg_dump and psql take), without the
    password: that goes in PGPASSWORD, never on a command line other users can read."""
    return url.set(drivername="postgresql")._replace(password=None).render_as_string()


def _client(program: str) -> str:
    """The newest installed pg_dump / pg_restore / psql (a newer one reads older servers)."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
        key=lambda p: int(m.group(1)) if (m := re.search(r"/(\d+)/bin/", p)) else 0,
    )
    found = candidates[-1] if candidates else shutil.which(program)
    if not found:
        raise BackupError(
            f"{program} is needed for PostgreSQL backups: install the Debian package "
            f"{CLIENT_PACKAGE} (at least the server's version)"
        )
    return found


def _run(command: list[str], stdin: bytes | None = None, url: URL | None = None) -> bytes:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url is not None and url.password:
        env["PGPASSWORD"] = str(url.password)
    result = subprocess.run(
        command, input=stdin, capture_output=True, check=False, timeout=3600, env=env
    )
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
        raise BackupError((errors or lines or [f"{Path(command[0]).name} failed"])[0])
    return result.stdout


def _pgdump_revision(source: Path) -> str | None:
    data = _run([_client("pg_restore"), "--data-only", "--table=alembic_version", "--file=-",
                 str(source)])  # fmt: skip
    found = re.search(rb"COPY [^\n]*alembic_version[^\n]*FROM stdin;\n([^\n\\]+)\n", data)
    return found.group(1).decode().strip() if found else None


def _pg_restore(url: URL, source: Path) -> None:
    """Drop netlm's tables and load the backup, all in one transaction."""
    script = _run([_client("pg_restore"), "--clean", "--if-exists", "--no-owner",
                   "--no-privileges", "--file=-", str(source)])  # fmt: skip
    # Tables of a later migration than the backup's are not in the dump: drop them too, so the
    # restored database is exactly the backup (and `netlm db upgrade` can migrate it again).
    tables = [*Base.metadata.tables, "alembic_version"]
    drops = "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in tables)
    for function in (APPEND_ONLY_FUNCTION, FOLLOW_UP_FUNCTION):
        drops += f"DROP FUNCTION IF EXISTS {function}() CASCADE;\n"
    _run([_client("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
          "--set=ON_ERROR_STOP=1", "--dbname", _libpq(url)],
         stdin=drops.encode() + script, url=url)  # fmt: skip
