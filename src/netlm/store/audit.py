"""The audit trail as evidence: every row hash-chained to the one before, sealed at commit.

Rows are added to a session like any other (`s.add(AuditRow(...))`), but held back from the
flush and inserted as the transaction's last step: the chain's head is locked (SQLite: the
BEGIN IMMEDIATE every write transaction takes; PostgreSQL: a transaction-level advisory lock),
read, and each row gets the next `seq`, the head's hash as `prev_hash`, and
`row_hash = SHA-256(canonical JSON of its fields and prev_hash)`. Holding the lock only from
there to COMMIT means a writer never waits for it while holding other locks, so concurrent
writers neither fork the chain (a unique `seq` would refuse a fork anyway) nor deadlock.

Database triggers (migration 0005) refuse UPDATE and DELETE on the table; `verify` finds any
row changed, removed or added outside the chain by someone who bypassed them.

While a web request is served, `access` names its client address, user and route: the rows
written for it carry them, and the web layer learns whether anything was recorded at all.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, event, inspect, select, text
from sqlalchemy.orm import Session, UOWTransaction

from netlm.store.identity import ANONYMOUS, UserInfo, utcnow
from netlm.store.models import AuditRow

GENESIS = "0" * 64  # prev_hash of the first row
_PENDING = "netlm.audit.pending"
# Any fixed 64-bit key: the advisory lock only netlm's audit writers take.
_PG_CHAIN_LOCK = 0x6E65746C6D417564

# What the chain covers, in this order; a new field is a new canonical form (and a migration).
CHAINED = ("seq", "at", "user_id", "username", "role", "address", "via", "action", "entity",
           "entity_id", "outcome", "detail", "prev_hash")  # fmt: skip
EXPORTED = ("id", *CHAINED, "row_hash")


@dataclass
class Access:
    """The request being served (its ASGI scope): who, from where, by which route. `recorded`
    becomes true once an audit row was committed for it; `refused` holds a refusal the answer's
    status hides (a page's 401 is a redirect to the login form)."""

    address: str
    scope: Mapping[str, Any]
    user: UserInfo | None = None
    recorded: bool = False
    refused: int | None = None

    @property
    def via(self) -> str:
        """The method and the route's template (the raw path before routing)."""
        route = self.scope.get("route")
        return f"{self.scope.get('method', '')} {getattr(route, 'path', self.scope.get('path'))}"


_access: ContextVar[Access | None] = ContextVar("netlm_access", default=None)


@contextmanager
def access(address: str, scope: Mapping[str, Any]) -> Iterator[Access]:
    """Attribute the audit rows written inside the block to the request `scope`."""
    current = Access(address, scope)
    token = _access.set(current)
    try:
        yield current
    finally:
        _access.reset(token)


def current_access() -> Access | None:
    return _access.get()


def attribute(user: UserInfo | None = None, refused: int | None = None) -> None:
    """Name the signed-in user of the request being served, or a refusal of it."""
    current = _access.get()
    if current is not None:
        current.user = user or current.user
        current.refused = refused or current.refused


def record(
    engine: Engine,
    by: UserInfo | None,
    action: str,
    entity: str,
    entity_id: str,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    actor: str = ANONYMOUS,
) -> None:
    """Append one row in a transaction of its own (e.g. a refused request); `actor` names who
    acted when no user did. `entity_id` may come from a hostile path: it is fitted."""
    with Session(engine) as s, s.begin():
        s.add(
            AuditRow(
                at=utcnow(), user_id=None if by is None else by.id,
                username=actor if by is None else by.username,
                role=None if by is None else by.role, action=action, entity=entity,
                entity_id=fit(entity_id, 200), outcome=outcome, detail=detail or {},
            )
        )  # fmt: skip


def fit(value: str, size: int) -> str:
    """`value` as a column of `size` characters takes it on every database: control characters
    (PostgreSQL refuses NUL) shown as U+FFFD, the rest cut off."""
    return "".join("\ufffd" if ord(c) < 32 or ord(c) == 127 else c for c in value[:size])


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash is taken over: its chained fields as sorted, compact JSON, the
    time as UTC ISO 8601 with microseconds (what both databases keep)."""
    values = {name: fields[name] for name in CHAINED}
    at = values["at"]
    if isinstance(at, dt.datetime):
        values["at"] = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def _fields(row: AuditRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EXPORTED}


def lock_chain(connection: Connection) -> None:
    """Serialise appends until the transaction ends (SQLite's write lock already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})


def chain_head(connection: Connection) -> tuple[int, str]:
    """The last row's `seq` and hash (0 and GENESIS on an empty trail)."""
    found = connection.execute(
        select(AuditRow.seq, AuditRow.row_hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if found is None else (int(found[0]), str(found[1]))


@event.listens_for(Session, "before_flush")
def _hold_back(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Keep unsealed audit rows out of every flush but the last, in the order they were added."""
    new = [o for o in session.new if isinstance(o, AuditRow) and o.row_hash is None]
    for row in sorted(new, key=lambda o: inspect(o).insert_order):
        session.expunge(row)
        session.info.setdefault(_PENDING, []).append(row)


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    session.flush()  # everything else first: the chain lock is the transaction's last
    pending: list[AuditRow] = session.info.pop(_PENDING, [])
    if not pending:
        return
    connection = session.connection()
    lock_chain(connection)
    seq, previous = chain_head(connection)
    request = current_access()
    for row in pending:
        if request is not None:
            request.recorded = True
            row.address = row.address or fit(request.address, 64)
            row.via = row.via or fit(request.via, 200)
            if row.role is None and request.user is not None and row.user_id == request.user.id:
                row.role = request.user.role
        row.outcome = row.outcome or "ok"
        row.detail = row.detail or {}
        row.at = row.at or utcnow()
        seq += 1
        row.seq, row.prev_hash = seq, previous
        row.row_hash = previous = row_hash(_fields(row))
        session.add(row)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# --- verify and export ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """`rows` checked; `problem` names the first bad row (None: the chain is intact)."""

    rows: int
    head: str
    problem: str | None


def verify_chain(engine: Engine) -> ChainReport:
    """Walk the chain from its first row; stop at the first row whose hash, link or place is
    wrong. Deleting the newest rows leaves a shorter valid chain: compare `head` with an earlier
    export or verification to see that."""
    rows, previous, expected = 0, GENESIS, 1
    with engine.connect() as connection:
        outside = connection.scalar(select(AuditRow.id).where(AuditRow.seq.is_(None)).limit(1))
        if outside is not None:
            return ChainReport(0, GENESIS, f"row id {outside} is outside the chain (no seq)")
        result = connection.execution_options(yield_per=1000).execute(
            select(AuditRow).order_by(AuditRow.seq)
        )
        for found in result.mappings():
            fields = {name: found[name] for name in EXPORTED}
            where = f"row seq {fields['seq']} (id {fields['id']})"
            if fields["seq"] != expected:
                problem = f"{where}: rows {expected} to {fields['seq'] - 1} are missing"
                return ChainReport(rows, previous, problem)
            if fields["prev_hash"] != previous:
                return ChainReport(rows, previous, f"{where}: does not follow row {expected - 1}")
            if row_hash(fields) != fields["row_hash"]:
                return ChainReport(rows, previous, f"{where}: changed after it was written")
            rows, previous, expected = rows + 1, fields["row_hash"], expected + 1
    return ChainReport(rows, previous, None)


def entry_json(fields: Mapping[Any, Any]) -> str:
    """One row as a JSON line for a SIEM: the exported keys, in their order, time in UTC."""
    values = {name: fields[name] for name in EXPORTED}
    at = values["at"]
    if isinstance(at, dt.datetime):
        values["at"] = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def export(engine: Engine, out: TextIO, since: dt.datetime | None = None) -> int:
    """Write the rows at or after `since` (all by default), oldest first, one JSON object a
    line; returns how many."""
    query = select(AuditRow).order_by(AuditRow.seq)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    count = 0
    with engine.connect() as connection:
        for found in connection.execution_options(yield_per=1000).execute(query).mappings():
            out.write(entry_json(found) + "\n")
            count += 1
    return count
