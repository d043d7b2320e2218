"""Accounts, the first half of `Store`: users, password logins and their throttling, and (from
`Credentials`) browser sessions and API tokens.

Passwords are kept as argon2id hashes; an over-long one is refused before anything is hashed.
"""

import datetime as dt
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import takewhile

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netlm.store.credentials import Credentials, end_sessions
from netlm.store.errors import Conflict, InvalidCredentials, Throttled, ValidationFailed
from netlm.store.identity import (
    ANONYMOUS,
    UNUSABLE_PASSWORD,
    Role,
    UserInfo,
    user_info,
    user_named,
    utcnow,
)
from netlm.store.models import ROLES, LoginAttemptRow, UserRow, WebSessionRow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # longer is refused before hashing: no one may make us hash megabytes
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
FIRST_LOCKOUT = dt.timedelta(minutes=1)
MAX_LOCKOUT = dt.timedelta(hours=1)
# Failures read per (username, address): past this many the lockout is at MAX_LOCKOUT anyway.
_BACKOFF_STEPS = 8


@dataclass(frozen=True)
class LockInfo:
    """A (username, address) pair refused until `until` after `failures` failures in a row."""

    username: str
    ip: str
    failures: int
    until: dt.datetime


class Accounts(Credentials):
    """Users, sessions, tokens and throttling over one engine; `Store` adds the clinical record.

    Login throttling is keyed on the pair (username, address), with exponential back-off: from the
    `max_failures`-th failure in a row a pair is locked for FIRST_LOCKOUT, and each further failure
    (possible only once the lock has passed) doubles it, up to MAX_LOCKOUT. A run of failures ends
    with a success, an admin's unlock, or `window_seconds` without failure after the last failure
    or lock. Guessing someone's password from an address thus slows down exponentially, while the
    real user signing in from elsewhere is never locked out by it.

    There is deliberately no per-address limit. Staff often share one address (NAT, proxy): a
    limit of T failures on the address alone would let one person there lock out all N colleagues
    with T failures, where the pair limit needs N x `max_failures` (one pair per colleague), so it
    would be the faster denial of service as soon as N > T / `max_failures`, as in any hospital.
    Guessing across many usernames from one address is bounded instead by each pair's back-off and
    the cost of argon2, and every failure is audited.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_failures: int = 5,
        window_seconds: int = 900,
        clock: Callable[[], dt.datetime] = utcnow,
        hasher: PasswordHasher | None = None,
    ) -> None:
        super().__init__(engine, clock)
        self._max_failures = max_failures
        self._window = dt.timedelta(seconds=window_seconds)
        self._hasher = hasher or PasswordHasher()

    # --- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        display_name: str | None = None,
        by: UserInfo | None = None,
    ) -> UserInfo:
        if not USERNAME.fullmatch(username):
            raise ValueError("username must be 1-64 letters, digits, '.', '_', '@' or '-'")
        if role not in ROLES:
            raise ValueError(f"role must be one of: {', '.join(ROLES)}; got {role!r}")
        _check_password_length(password)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        name = (display_name or "").strip() or username
        if len(name) > 200:
            raise ValueError("display name must be at most 200 characters")
        row = UserRow(
            username=username,
            display_name=name,
            role=role,
            password_hash=self._hasher.hash(password),
            disabled=False,
            created_at=self._clock(),
        )
        try:
            with self._sessions.begin() as s:
                if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                    raise Conflict(f"user {username!r} already exists")
                s.add(row)
                s.flush()
                self._audit(s, by, "user_added", "user", username, {"role": role})
                return user_info(row)
        except IntegrityError:  # a concurrent add of the same name
            raise Conflict(f"user {username!r} already exists") from None

    def service_account(self, username: str, display_name: str, role: Role) -> UserInfo:
        """The account a service (e.g. the CDS Hooks endpoint) records its changes under.

        Created on first use, disabled and with an unusable password hash, so nobody can log in
        as it or get a token for it; it only names the author in versions and the audit trail.
        """
        for _attempt in range(2):
            with self._reads.begin() as s:
                row = s.scalar(select(UserRow).where(UserRow.username == username))
                if row is not None:
                    return user_info(row)
            try:
                with self._sessions.begin() as s:
                    row = UserRow(
                        username=username,
                        display_name=display_name,
                        role=role,
                        password_hash=UNUSABLE_PASSWORD,
                        disabled=True,
                        created_at=self._clock(),
                    )
                    s.add(row)
                    s.flush()
                    detail = {"role": role, "service_account": True}
                    self._audit(s, None, "user_added", "user", username, detail)
                    return user_info(row)
            except IntegrityError:  # another worker created it meanwhile: read it again
                continue
        raise Conflict(f"service account {username!r} could not be created")

    def list_users(self) -> list[UserInfo]:
        with self._reads.begin() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.username))
            return [user_info(row) for row in rows]

    def get_user(self, user_id: int) -> UserInfo | None:
        with self._reads.begin() as s:
            row = s.get(UserRow, user_id)
            return None if row is None else user_info(row)

    def disable_user(self, username: str, by: UserInfo | None = None) -> None:
        """Disable an account and end its browser sessions; its tokens stop working with it."""
        with self._sessions.begin() as s:
            row = user_named(s, username)
            row.disabled = True
            end_sessions(s, WebSessionRow.user_id == row.id, self._clock())
            self._audit(s, by, "user_disabled", "user", username)

    # --- password login and throttling ---------------------------------------------------------

    def authenticate(self, username: str, password: str, ip: str) -> UserInfo:
        """Check a password login, refusing every attempt while (username, address) is locked.

        The attempt is recorded as failed before the (slow) password check, so parallel guesses
        cannot slip past the limit; it is marked successful afterwards. Unknown, disabled and
        wrong-password logins fail identically, including the time the hash check takes and the
        lockout that follows; an over-long password is refused before anything is hashed.
        """
        _check_password_length(password)
        now = self._clock()
        name, address = username[:200], ip[:64]
        with self._sessions.begin() as s:
            lock = self._lock(s, name, address, now)
            if lock is None:
                attempt = LoginAttemptRow(
                    username=name, ip=address, at=now, success=False, cleared=False
                )
                s.add(attempt)
                s.flush()
                user = s.scalar(select(UserRow).where(UserRow.username == username))
                stored = None if user is None else (user.id, user.password_hash, user.disabled)
            else:
                detail = {"ip": address, "reason": "throttled"}
                self._audit(s, None, "login_failed", "session", name, detail, actor=ANONYMOUS)
        if lock is not None:
            raise Throttled(_seconds_until(lock.until, now))
        valid = self._verify(self._dummy_hash if stored is None else stored[1], password)
        if stored is None or stored[2] or not valid:
            with self._sessions.begin() as s:
                self._audit(
                    s, None, "login_failed", "session", name, {"ip": address}, actor=ANONYMOUS
                )
                locked = self._lock(s, name, address, self._clock())
                if locked is not None:  # this failure locked the pair (it was not locked before)
                    locked_detail = {"ip": address, "failures": locked.failures,
                                     "until": locked.until.isoformat()}  # fmt: skip
                    self._audit(
                        s, None, "login_locked", "user", name, locked_detail, actor=ANONYMOUS
                    )
            raise InvalidCredentials()
        user_id, old_hash, _ = stored
        rehash = self._hasher.check_needs_rehash(old_hash)
        new_hash = self._hasher.hash(password) if rehash else None
        with self._sessions.begin() as s:
            s.execute(
                update(LoginAttemptRow).where(LoginAttemptRow.id == attempt.id).values(success=True)
            )
            row = s.get_one(UserRow, user_id)
            if new_hash is not None:
                row.password_hash = new_hash
            info = user_info(row)
            self._audit(s, info, "login", "session", info.username, {"ip": address})
            return info

    def locked_logins(self, username: str | None = None) -> list[LockInfo]:
        """The (username, address) pairs locked now, optionally of one username only."""
        now = self._clock()
        with self._reads.begin() as s:
            return self._locks(s, now, username)

    def unlock_user(self, username: str, by: UserInfo | None = None) -> list[str]:
        """Lift every lock on a user's logins, from any address; returns the addresses that were
        locked. Audited even when nothing was locked, as a record of the admin's action."""
        now = self._clock()
        with self._sessions.begin() as s:
            user_named(s, username)
            addresses = sorted({lock.ip for lock in self._locks(s, now, username)})
            s.execute(
                update(LoginAttemptRow)
                .where(LoginAttemptRow.username == username, LoginAttemptRow.cleared.is_(False))
                .values(cleared=True)
            )
            self._audit(s, by, "login_unlocked", "user", username, {"addresses": addresses})
        return addresses

    def _locks(self, s: Session, now: dt.datetime, username: str | None) -> list[LockInfo]:
        # A pair locked now failed within MAX_LOCKOUT: only those pairs need a closer look.
        query = select(LoginAttemptRow.username, LoginAttemptRow.ip).where(
            LoginAttemptRow.success.is_(False),
            LoginAttemptRow.cleared.is_(False),
            LoginAttemptRow.at > now - MAX_LOCKOUT,
        )
        if username is not None:
            query = query.where(LoginAttemptRow.username == username)
        pairs = s.execute(query.distinct().limit(500)).all()
        locks = [self._lock(s, name, ip, now) for name, ip in pairs]
        return sorted((lock for lock in locks if lock), key=lambda k: (k.username, k.ip))

    def _lock(self, s: Session, username: str, ip: str, now: dt.datetime) -> LockInfo | None:
        """The pair's lock if it is locked at `now`, from its failures since its last success."""
        recent = s.execute(
            select(LoginAttemptRow.at, LoginAttemptRow.success)
            .where(
                LoginAttemptRow.username == username,
                LoginAttemptRow.ip == ip,
                LoginAttemptRow.cleared.is_(False),
            )
            .order_by(LoginAttemptRow.at.desc(), LoginAttemptRow.id.desc())
            .limit(self._max_failures + _BACKOFF_STEPS)
        ).all()
        failures = [row.at for row in takewhile(lambda row: not row.success, recent)]
        until, count = _locked_until(failures[::-1], self._max_failures, self._window)
        return LockInfo(username, ip, count, until) if until is not None and until > now else None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        """Checked against for unknown users, so they take as long to refuse as known ones."""
        return self._hasher.hash(secrets.token_urlsafe(16))


def _locked_until(
    failures: Sequence[dt.datetime], limit: int, quiet: dt.timedelta
) -> tuple[dt.datetime | None, int]:
    """When the last run of `failures` (oldest first) locks its pair until, and the run's length.

    A run has no gap of `quiet` after a failure or the lock it caused; its `limit`-th failure
    locks for FIRST_LOCKOUT and each further one for twice as long, up to MAX_LOCKOUT.
    """
    count, until, last = 0, None, None
    for at in failures:
        if last is not None and at - max(last, until or last) >= quiet:
            count, until = 0, None
        count, last = count + 1, at
        if count >= limit:
            until = at + min(FIRST_LOCKOUT * 2 ** min(count - limit, 30), MAX_LOCKOUT)
    return until, count


def _check_password_length(password: str) -> None:
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")


def _seconds_until(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))
