"""Who acts in the store: users as the rest of netlm sees them, and the base every part of the
store shares (one engine, a clock, and the audit trail every change is written to)."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from netlm.store.db import READ_ONLY
from netlm.store.errors import NotFound
from netlm.store.models import AuditRow, CaseRow, UserRow

Role = Literal["admin", "clinician", "viewer"]
SYSTEM = "(system)"  # actor of changes made without a signed-in user, e.g. from the CLI
ANONYMOUS = "(anonymous)"  # actor of failed logins; parentheses cannot occur in a username
UNUSABLE_PASSWORD = "!"  # not an argon2 hash: every password check against it fails
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns: a larger one names no row


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    # A service's account (e.g. CDS Hooks): names the author of its changes; nobody signs in.
    system: bool = False
    mfa: bool = False  # signs in with a TOTP code after the password


class StoreBase:
    """One engine (writes, and reads marked read-only), a clock, and the audit trail."""

    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine = engine  # shared with the repositories beside this one (CDS Hooks)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._clock = clock

    def _audit(
        self,
        s: Session,
        by: UserInfo | None,
        action: str,
        entity: str,
        entity_id: str,
        detail: dict[str, Any] | None = None,
        actor: str = SYSTEM,
    ) -> None:
        s.add(
            AuditRow(
                at=self._clock(),
                user_id=None if by is None else by.id,
                username=actor if by is None else by.username,
                role=None if by is None else by.role,
                action=action,
                entity=entity,
                entity_id=entity_id,
                detail=detail or {},
            )
        )


def live_case(s: Session, case_id: str, lock: bool = False) -> CaseRow:
    """The case row, locked for the transaction when `lock`; NotFound for one unknown or deleted."""
    query = select(CaseRow).where(CaseRow.id == case_id)
    row = s.scalar(query.with_for_update() if lock else query)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"case {case_id!r} not found")
    return row


def user_named(s: Session, username: str) -> UserRow:
    row = s.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise NotFound(f"user {username!r} not found")
    return row


def user_info(row: UserRow) -> UserInfo:
    system = row.password_hash == UNUSABLE_PASSWORD
    return UserInfo(
        row.id, row.username, row.display_name, cast(Role, row.role), row.disabled, system,
        row.totp_secret is not None,
    )  # fmt: skip
