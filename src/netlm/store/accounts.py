"""Accounts, the first half of `Store`: users, browser sessions, API tokens, login throttling.

Passwords are kept as argon2id hashes, session ids and API tokens as SHA-256 digests, so neither
the database nor the audit log holds anything that signs someone in. Whether a session or token
still works is decided by a database read on every request, never by a cache or a signed blob:
logging out, revoking, a timeout or disabling a user takes effect at once in every worker.
"""

import datetime as dt
import hashlib
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import takewhile
from typing import Any, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from netlm.store.db import READ_ONLY
from netlm.store.errors import Conflict, InvalidCredentials, NotFound, Throttled, ValidationFailed
from netlm.store.models import (
    ROLES,
    ApiTokenRow,
    AuditRow,
    LoginAttemptRow,
    UserRow,
    UTCDateTime,
    WebSessionRow,
)

Role = Literal["admin", "clinician", "viewer"]
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # longer is refused before hashing: no one may make us hash megabytes
SYSTEM = "(system)"  # actor of changes made without a signed-in user, e.g. from the CLI
ANONYMOUS = "(anonymous)"  # actor of failed logins; parentheses cannot occur in a username
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
UNUSABLE_PASSWORD = "!"  # not an argon2 hash: every password check against it fails
DEFAULT_TOKEN_DAYS = 90  # the default of NETLM_TOKEN_DAYS, for tokens made outside the web app
# Sessions and tokens are used on every request: their last use is written at most this often.
TOUCH_INTERVAL = dt.timedelta(minutes=1)
FIRST_LOCKOUT = dt.timedelta(minutes=1)
MAX_LOCKOUT = dt.timedelta(hours=1)
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns: a larger one names no row
# Failures read per (username, address): past this many the lockout is at MAX_LOCKOUT anyway.
_BACKOFF_STEPS = 8
# The owner of a live token, built once: every API request runs it.
_TOKEN_OWNER = (
    select(
        ApiTokenRow.id,
        ApiTokenRow.last_used_at,
        UserRow.id,
        UserRow.username,
        UserRow.display_name,
        UserRow.role,
    )
    .join(UserRow, UserRow.id == ApiTokenRow.user_id)
    .where(
        ApiTokenRow.token_hash == bindparam("digest"),
        ApiTokenRow.revoked.is_(False),
        ApiTokenRow.expires_at > bindparam("now", type_=UTCDateTime()),
        UserRow.disabled.is_(False),
    )
)


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


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime
    revoked: bool
    active: bool  # neither revoked nor expired when it was listed


@dataclass(frozen=True)
class WebSession:
    """A live browser session: whose it is and the CSRF token its unsafe requests must echo."""

    id: int
    user: UserInfo
    csrf: str


@dataclass(frozen=True)
class LockInfo:
    """A (username, address) pair refused until `until` after `failures` failures in a row."""

    username: str
    ip: str
    failures: int
    until: dt.datetime


class Accounts:
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
        self.engine = engine  # shared with the repositories beside this one (CDS Hooks)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._max_failures = max_failures
        self._window = dt.timedelta(seconds=window_seconds)
        self._clock = clock
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
                return _user_info(row)
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
                    return _user_info(row)
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
                    return _user_info(row)
            except IntegrityError:  # another worker created it meanwhile: read it again
                continue
        raise Conflict(f"service account {username!r} could not be created")

    def list_users(self) -> list[UserInfo]:
        with self._reads.begin() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.username))
            return [_user_info(row) for row in rows]

    def get_user(self, user_id: int) -> UserInfo | None:
        with self._reads.begin() as s:
            row = s.get(UserRow, user_id)
            return None if row is None else _user_info(row)

    def disable_user(self, username: str, by: UserInfo | None = None) -> None:
        """Disable an account and end its browser sessions; its tokens stop working with it."""
        with self._sessions.begin() as s:
            row = _user_named(s, username)
            row.disabled = True
            _end_sessions(s, WebSessionRow.user_id == row.id, self._clock())
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
            info = _user_info(row)
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
            _user_named(s, username)
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

    # --- browser sessions ----------------------------------------------------------------------

    def start_web_session(
        self, user: UserInfo, ip: str, lifetime: dt.timedelta
    ) -> tuple[str, WebSession]:
        """A new browser session for `user` that ends after `lifetime` at the latest.

        Returns the secret for the cookie, shown only this once (the database keeps its digest),
        and the session with its CSRF token.
        """
        secret, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock()
        with self._sessions.begin() as s:
            row = WebSessionRow(
                session_hash=_digest(secret),
                user_id=user.id,
                csrf=csrf,
                ip=ip[:64],
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
            s.add(row)
            s.flush()
            return secret, WebSession(row.id, user, csrf)

    def web_session(self, secret: str, idle: dt.timedelta) -> WebSession | None:
        """The live session whose cookie holds `secret`; None once it has ended.

        A session ends at logout, when its user is disabled, at its absolute expiry or after
        `idle` without a request (a timed-out session is then marked ended). `last_seen_at` is
        written at most once a minute, so a session may time out up to a minute early, never late.
        """
        now = self._clock()
        with self._reads.begin() as s:
            found = s.execute(
                select(WebSessionRow, UserRow)
                .join(UserRow, UserRow.id == WebSessionRow.user_id)
                .where(WebSessionRow.session_hash == _digest(secret))
            ).first()
            if found is None:
                return None
            row, user = found
            if row.ended_at is not None or user.disabled:
                return None
            timed_out = now >= row.expires_at or now - row.last_seen_at >= idle
            session, last_seen = WebSession(row.id, _user_info(user), row.csrf), row.last_seen_at
        if timed_out:
            with self._sessions.begin() as s:
                _end_sessions(s, WebSessionRow.id == session.id, now)
            return None
        if now - last_seen >= TOUCH_INTERVAL:
            with self._sessions.begin() as s:
                s.execute(
                    update(WebSessionRow)
                    .where(WebSessionRow.id == session.id)
                    .values(last_seen_at=now)
                )
        return session

    def end_web_session(self, session: WebSession) -> None:
        """Log out: the session's cookie no longer works, here or in any other worker."""
        with self._sessions.begin() as s:
            _end_sessions(s, WebSessionRow.id == session.id, self._clock())
            self._audit(s, session.user, "logout", "session", session.user.username)

    # --- API tokens ----------------------------------------------------------------------------

    def create_token(self, user: UserInfo, label: str, days: int = DEFAULT_TOKEN_DAYS) -> str:
        """A new API token for `user`, valid for `days`; only its digest is kept (shown once)."""
        label = label.strip()
        if len(label) > 200:
            raise ValueError("token label must be at most 200 characters")
        if days < 1:
            raise ValueError("a token must be valid for at least one day")
        token, now = secrets.token_urlsafe(32), self._clock()
        with self._sessions.begin() as s:
            owner = s.get(UserRow, user.id)
            if owner is None or owner.disabled:
                raise NotFound(f"user {user.username!r} not found or disabled")
            row = ApiTokenRow(
                user_id=user.id,
                token_hash=_digest(token),
                label=label,
                created_at=now,
                revoked=False,
                expires_at=now + dt.timedelta(days=days),
            )
            s.add(row)
            s.flush()
            detail = {"label": label, "expires_at": row.expires_at.isoformat()}
            self._audit(s, user, "token_created", "token", str(row.id), detail)
        return token

    def user_for_token(self, token: str) -> UserInfo | None:
        """The owner of a live token: None if unknown, revoked, expired or the owner is disabled.

        Every API call asks this, in every worker, and a revocation must hold at once everywhere,
        so nothing is cached: one indexed read on a plain connection (an ORM session would cost
        four times as much), and `last_used_at` written at most once a minute per token.
        """
        now = self._clock()
        with self._read_engine.connect() as connection:
            found = connection.execute(_TOKEN_OWNER, {"digest": _digest(token), "now": now}).first()
        if found is None:
            return None
        token_id, last_used, user_id, username, display_name, role = found
        if last_used is None or now - last_used >= TOUCH_INTERVAL:
            with self._sessions.begin() as s:
                s.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now)
                )
        return UserInfo(user_id, username, display_name, cast(Role, role), False)

    def list_tokens(self, username: str | None = None) -> list[TokenInfo]:
        """Every token (revoked and expired ones too) of one user, or of everyone."""
        now = self._clock()
        query = select(ApiTokenRow, UserRow.username).join(
            UserRow, UserRow.id == ApiTokenRow.user_id
        )
        with self._reads.begin() as s:
            if username is not None:
                query = query.where(ApiTokenRow.user_id == _user_named(s, username).id)
            rows = s.execute(query.order_by(ApiTokenRow.id)).all()
            return [_token_info(row, owner, now) for row, owner in rows]

    def revoke_token(
        self, token_id: int, by: UserInfo | None = None, *, only_own: bool = False
    ) -> None:
        """Revoke a token at once; with `only_own`, another user's token is NotFound for `by`
        (so nobody learns which token ids exist)."""
        with self._sessions.begin() as s:
            row = s.get(ApiTokenRow, token_id) if 0 < token_id <= MAX_ID else None
            if row is None or (only_own and (by is None or row.user_id != by.id)):
                raise NotFound(f"token {token_id} not found")
            row.revoked = True
            owner = s.get_one(UserRow, row.user_id).username
            self._audit(s, by, "token_revoked", "token", str(token_id), {"owner": owner})

    # --- audit ---------------------------------------------------------------------------------

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
                action=action,
                entity=entity,
                entity_id=entity_id,
                detail=detail or {},
            )
        )


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


def _end_sessions(s: Session, which: ColumnElement[bool], now: dt.datetime) -> None:
    s.execute(
        update(WebSessionRow).where(which, WebSessionRow.ended_at.is_(None)).values(ended_at=now)
    )


def _user_named(s: Session, username: str) -> UserRow:
    row = s.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise NotFound(f"user {username!r} not found")
    return row


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token_info(row: ApiTokenRow, owner: str, now: dt.datetime) -> TokenInfo:
    active = not row.revoked and row.expires_at > now
    return TokenInfo(
        row.id, owner, row.label, row.created_at, row.last_used_at, row.expires_at, row.revoked,
        active,
    )  # fmt: skip


def _user_info(row: UserRow) -> UserInfo:
    system = row.password_hash == UNUSABLE_PASSWORD
    return UserInfo(
        row.id, row.username, row.display_name, cast(Role, row.role), row.disabled, system
    )
