"""Accounts, the first half of `Store`: users, password logins and their throttling, password
changes, and (from `SecondFactor` and `Credentials`) TOTP, browser sessions and API tokens.

Passwords are kept as argon2id hashes; an over-long one is refused before anything is hashed, and a
new one must pass the policy of `passwords.py`. Throttling follows `throttle.py`.
"""

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from itertools import takewhile
from typing import Never

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netlm.store.credentials import end_sessions
from netlm.store.errors import Conflict, InvalidCredentials, Throttled
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
from netlm.store.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_new_password,
    check_password_length,
)
from netlm.store.throttle import (
    ACCOUNT_CEILING,
    ACCOUNT_FIRST_WAIT,
    ACCOUNT_MAX_WAIT,
    ALL_ADDRESSES,
    BACKOFF_STEPS,
    PAIR_MAX_WAIT,
    LockInfo,
    locked_until,
    seconds_until,
)
from netlm.store.totp import SecondFactor, matching_step

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "Accounts", "LockInfo"]

USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


@dataclass(frozen=True)
class _Stored:
    """What a sign-in attempt reads of the user it names."""

    id: int
    password_hash: str
    disabled: bool
    totp_secret: str | None
    totp_last_step: int | None


class Accounts(SecondFactor):
    """Users, sessions, tokens, second factors and throttling over one engine; `Store` adds the
    clinical record.

    Every sign-in step (password, TOTP code, the current password of a password change) is one
    attempt of its username, refused while `throttle.py`'s rules make it wait: per (username,
    address) or per (username, trusted browser) from the `max_failures`-th failure in a row, and
    per account over all untrusted addresses from the ACCOUNT_CEILING-th, when an admin alert
    (`login_ceiling`) is written to the audit trail. A run of failures ends with a success, an
    admin's unlock, or `window_seconds` without failure after the last failure or wait.

    There is deliberately no per-address limit. Staff often share one address (NAT, proxy): a
    limit of T failures on the address alone would let one person there lock out all N colleagues
    with T failures, where the pair limit needs N x `max_failures` (one pair per colleague), so it
    would be the faster denial of service as soon as N > T / `max_failures`, as in any hospital.
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
        name = (display_name or "").strip() or username
        if len(name) > 200:
            raise ValueError("display name must be at most 200 characters")
        check_new_password(password, username, name)
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

    # --- password login, second factor, password change ----------------------------------------

    def authenticate(
        self, username: str, password: str, ip: str, device: str | None = None
    ) -> UserInfo:
        """Check a password, refusing every attempt while throttling makes it wait.

        `device` names a trusted browser (a digest from its signed cookie). The attempt is
        recorded as failed before the (slow) password check, so parallel guesses cannot slip past
        the limit. Unknown, disabled and wrong-password logins fail identically, including the
        time the hash check takes and the back-off that follows; an over-long password is refused
        before anything is hashed. A user with a second factor is returned with `mfa` set and is
        not signed in yet: the attempt stays counted as failed until `verify_totp` passes, so
        knowing the password does not reset the count for guessing codes.
        """
        check_password_length(password)
        name, address = username[:200], ip[:64]
        attempt, stored = self._begin_attempt(name, address, device)
        valid = self._verify(self._dummy_hash if stored is None else stored.password_hash, password)
        if stored is None or stored.disabled or not valid:
            self._failed(name, address, device)
        rehash = self._hasher.check_needs_rehash(stored.password_hash)
        new_hash = self._hasher.hash(password) if rehash else None
        with self._sessions.begin() as s:
            row = s.get_one(UserRow, stored.id)
            if new_hash is not None:
                row.password_hash = new_hash
            info = user_info(row)
            if info.mfa:
                self._audit(s, info, "login_password", "session", name, {"ip": address})
            else:
                _succeeded(s, attempt)
                self._audit(s, info, "login", "session", name, {"ip": address})
            return info

    def verify_totp(
        self, user: UserInfo, code: str, ip: str, device: str | None = None
    ) -> UserInfo:
        """The second sign-in step: a code of the user's TOTP, each code accepted once, throttled
        with the password attempts of the same username."""
        name, address = user.username, ip[:64]
        attempt, stored = self._begin_attempt(name, address, device)
        step = None
        if stored is not None and not stored.disabled and stored.totp_secret is not None:
            step = matching_step(stored.totp_secret, code, self._clock(), stored.totp_last_step)
        if stored is None or step is None:
            self._failed(name, address, device, "code")
        with self._sessions.begin() as s:
            claimed = s.execute(
                update(UserRow)
                .where(
                    UserRow.id == stored.id,
                    or_(UserRow.totp_last_step.is_(None), UserRow.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                _succeeded(s, attempt)
                info = user_info(s.get_one(UserRow, stored.id))
                detail = {"ip": address, "second_factor": "totp"}
                self._audit(s, info, "login", "session", name, detail)
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            self._failed(name, address, device, "code")  # the same code, used meanwhile
        return info

    def change_password(
        self, user: UserInfo, current: str, new: str, ip: str, keep_session: int | None = None
    ) -> None:
        """Change one's own password: the current one is checked like a sign-in (throttled), the
        new one against the policy; every browser session but `keep_session` ends."""
        check_password_length(current)
        check_new_password(new, user.username, user.display_name)
        attempt, stored = self._begin_attempt(user.username, ip[:64], None)
        if stored is None or stored.disabled or not self._verify(stored.password_hash, current):
            self._failed(user.username, ip[:64], None, "current_password")
        new_hash = self._hasher.hash(new)
        with self._sessions.begin() as s:
            _succeeded(s, attempt)
            s.get_one(UserRow, stored.id).password_hash = new_hash
            others = WebSessionRow.user_id == stored.id
            if keep_session is not None:
                others = and_(others, WebSessionRow.id != keep_session)
            end_sessions(s, others, self._clock())
            self._audit(s, user, "password_changed", "user", user.username, {"ip": ip[:64]})

    def _begin_attempt(
        self, name: str, address: str, device: str | None
    ) -> tuple[int, _Stored | None]:
        """Record an attempt as failed (or refuse it while it must wait); read its user."""
        now = self._clock()
        with self._sessions.begin() as s:
            lock = self._refusal(s, name, address, device, now)
            if lock is None:
                attempt = LoginAttemptRow(
                    username=name, ip=address, at=now, success=False, cleared=False, device=device
                )
                s.add(attempt)
                s.flush()
                row = s.scalar(select(UserRow).where(UserRow.username == name))
                stored = None if row is None else _Stored(
                    row.id, row.password_hash, row.disabled, row.totp_secret, row.totp_last_step
                )  # fmt: skip
                return attempt.id, stored
            detail = {"ip": address, "reason": "throttled"}
            self._audit(s, None, "login_failed", "session", name, detail, actor=ANONYMOUS)
        raise Throttled(seconds_until(lock.until, now))

    def _failed(self, name: str, address: str, device: str | None, step: str = "password") -> Never:
        """Audit a failed attempt, and the waits it starts (the account's with an admin alert)."""
        detail = {"ip": address, "step": step}
        with self._sessions.begin() as s:
            self._audit(s, None, "login_failed", "session", name, detail, actor=ANONYMOUS)
            now = self._clock()
            pair = self._pair_lock(s, name, address, device, now)
            if pair is not None:  # this failure started it: attempts were not refused before
                locked = {"ip": address, "failures": pair.failures, "until": pair.until.isoformat()}
                self._audit(s, None, "login_locked", "user", name, locked, actor=ANONYMOUS)
            account = None if device is not None else self._account_lock(s, name, now)
            if account is not None and account.failures == ACCOUNT_CEILING:
                alert = {"failures": account.failures, "until": account.until.isoformat(),
                         "addresses": self._run_addresses(s, name)}  # fmt: skip
                self._audit(s, None, "login_ceiling", "user", name, alert, actor=ANONYMOUS)
        raise InvalidCredentials()

    # --- throttling ----------------------------------------------------------------------------

    def locked_logins(self, username: str | None = None) -> list[LockInfo]:
        """The waits in force now (per address, and ALL_ADDRESSES for the account rule)."""
        now = self._clock()
        with self._reads.begin() as s:
            return self._locks(s, now, username)

    def unlock_user(self, username: str, by: UserInfo | None = None) -> list[str]:
        """Lift every wait on a user's logins, from any address; returns the addresses that had
        one. Audited even when nothing was locked, as a record of the admin's action."""
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
        # A pair waiting now failed within PAIR_MAX_WAIT: only those pairs need a closer look.
        query = select(LoginAttemptRow.username, LoginAttemptRow.ip, LoginAttemptRow.device).where(
            LoginAttemptRow.success.is_(False),
            LoginAttemptRow.cleared.is_(False),
            LoginAttemptRow.at > now - PAIR_MAX_WAIT,
        )
        if username is not None:
            query = query.where(LoginAttemptRow.username == username)
        found = s.execute(query.distinct().limit(500)).all()
        locks = [self._pair_lock(s, name, ip, device, now) for name, ip, device in found]
        locks += [self._account_lock(s, name, now) for name in {row[0] for row in found}]
        return sorted((lock for lock in locks if lock), key=lambda k: (k.username, k.ip))

    def _refusal(
        self, s: Session, name: str, address: str, device: str | None, now: dt.datetime
    ) -> LockInfo | None:
        """The wait an attempt must respect now, if any: its pair's, or else the account's."""
        pair = self._pair_lock(s, name, address, device, now)
        account = None if device is not None else self._account_lock(s, name, now)
        waits = [lock for lock in (pair, account) if lock is not None and lock.until > now]
        return max(waits, key=lambda lock: lock.until, default=None)

    def _pair_lock(
        self, s: Session, name: str, ip: str, device: str | None, now: dt.datetime
    ) -> LockInfo | None:
        """The wait of (username, address), or (username, trusted browser), if any now."""
        which = LoginAttemptRow.device == device if device else and_(
            LoginAttemptRow.ip == ip, LoginAttemptRow.device.is_(None)
        )  # fmt: skip
        failures = self._run(s, name, which, self._max_failures)
        until, count = locked_until(failures, self._max_failures, self._window)
        return LockInfo(name, ip, count, until) if until is not None and until > now else None

    def _account_lock(self, s: Session, name: str, now: dt.datetime) -> LockInfo | None:
        """The account's wait over every address without a trusted browser, if any now."""
        failures = self._run(s, name, LoginAttemptRow.device.is_(None), ACCOUNT_CEILING)
        until, count = locked_until(
            failures, ACCOUNT_CEILING, self._window, ACCOUNT_FIRST_WAIT, ACCOUNT_MAX_WAIT
        )
        if until is None or until <= now:
            return None
        return LockInfo(name, ALL_ADDRESSES, count, until)

    def _run(
        self, s: Session, name: str, which: ColumnElement[bool], limit: int
    ) -> list[dt.datetime]:
        """The times of the last failures in a row (oldest first) of `name`'s attempts `which`."""
        recent = s.execute(
            select(LoginAttemptRow.at, LoginAttemptRow.success)
            .where(LoginAttemptRow.username == name, LoginAttemptRow.cleared.is_(False), which)
            .order_by(LoginAttemptRow.at.desc(), LoginAttemptRow.id.desc())
            .limit(limit + BACKOFF_STEPS)
        ).all()
        return [row.at for row in takewhile(lambda row: not row.success, recent)][::-1]

    def _run_addresses(self, s: Session, name: str) -> int:
        """How many addresses the account's current run of failures came from (for the alert)."""
        since = self._clock() - self._window * 2
        query = select(LoginAttemptRow.ip).where(
            LoginAttemptRow.username == name,
            LoginAttemptRow.success.is_(False),
            LoginAttemptRow.cleared.is_(False),
            LoginAttemptRow.at > since,
        )
        return len(set(s.scalars(query.distinct().limit(1000))))

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        """Checked against for unknown users, so they take as long to refuse as known ones."""
        return self._hasher.hash(secrets.token_urlsafe(16))


def _succeeded(s: Session, attempt: int) -> None:
    s.execute(update(LoginAttemptRow).where(LoginAttemptRow.id == attempt).values(success=True))
