"""Browser sessions and API tokens: the secrets that sign someone in.

Session ids and API tokens are kept as SHA-256 digests, so neither the database nor the audit
log holds anything that signs someone in. Whether a session or token still works is decided by a
database read on every request, never by a cache or a signed blob: logging out, revoking, a
timeout or disabling a user takes effect at once in every worker.
"""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, bindparam, select, update
from sqlalchemy.orm import Session

from netlm.store.errors import NotFound
from netlm.store.identity import (
    MAX_ID,
    Role,
    StoreBase,
    UserInfo,
    user_info,
    user_named,
)
from netlm.store.models import ApiTokenRow, UserRow, UTCDateTime, WebSessionRow

DEFAULT_TOKEN_DAYS = 90  # the default of NETLM_TOKEN_DAYS, for tokens made outside the web app
# Sessions and tokens are used on every request: their last use is written at most this often.
TOUCH_INTERVAL = dt.timedelta(minutes=1)
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
    """A live browser session: whose it is, the CSRF token its unsafe requests must echo, and
    whether its sign-in carried a second factor (a TOTP code, or SSO with MFA at the provider)."""

    id: int
    user: UserInfo
    csrf: str
    second_factor: bool = False


class Credentials(StoreBase):
    """Browser sessions and API tokens of the store's users."""

    # --- browser sessions ----------------------------------------------------------------------

    def start_web_session(
        self, user: UserInfo, ip: str, lifetime: dt.timedelta, *, second_factor: bool = False
    ) -> tuple[str, WebSession]:
        """A new browser session for `user` that ends after `lifetime` at the latest;
        `second_factor` records that its sign-in carried one.

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
                second_factor=second_factor,
            )
            s.add(row)
            s.flush()
            return secret, WebSession(row.id, user, csrf, second_factor)

    def web_session(self, secret: str, idle: dt.timedelta) -> WebSession | None:
        """The live session whose cookie holds `secret`; None once it has ended.

        A session ends at logout, when its user is disabled, at its absolute expiry or after
        `idle` without a request (a timed-out session is then marked ended). `last_seen_at` is
        written at most once a minute and at least every quarter of `idle`, so a session in use
        never times out (however short `idle` is) and an idle one times out at most that early.
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
            session = WebSession(row.id, user_info(user), row.csrf, row.second_factor)
            last_seen = row.last_seen_at
        if timed_out:
            with self._sessions.begin() as s:
                end_sessions(s, WebSessionRow.id == session.id, now)
            return None
        if now - last_seen >= min(TOUCH_INTERVAL, idle / 4):
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
            end_sessions(s, WebSessionRow.id == session.id, self._clock())
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
                query = query.where(ApiTokenRow.user_id == user_named(s, username).id)
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


def end_sessions(s: Session, which: ColumnElement[bool], now: dt.datetime) -> None:
    s.execute(
        update(WebSessionRow).where(which, WebSessionRow.ended_at.is_(None)).values(ended_at=now)
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token_info(row: ApiTokenRow, owner: str, now: dt.datetime) -> TokenInfo:
    active = not row.revoked and row.expires_at > now
    return TokenInfo(
        row.id, owner, row.label, row.created_at, row.last_used_at, row.expires_at, row.revoked,
        active,
    )  # fmt: skip
