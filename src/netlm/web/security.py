"""Who is asking: session cookies for the pages, bearer tokens for the API, CSRF, roles.

The session cookie is signed (itsdangerous), HttpOnly and SameSite=Lax, and carries only the
user id, a CSRF token and its issue time; the user is looked up on every request, so disabling
an account takes effect at once. Unsafe requests authenticated by cookie must echo the CSRF
token (form field `csrf_token` or header `X-CSRF-Token`).
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from netlm.settings import Settings
from netlm.store.repository import UserInfo
from netlm.web import state

SESSION_COOKIE = "netlm_session"
ROLES = {"viewer": 0, "clinician": 1, "admin": 2}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Session:
    user: UserInfo
    csrf: str
    via_cookie: bool


def serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="netlm-session")


def new_session_cookie(settings: Settings, user: UserInfo) -> tuple[str, str]:
    """A signed cookie value for `user` and the CSRF token it carries."""
    csrf = secrets.token_urlsafe(32)
    return serializer(settings).dumps({"uid": user.id, "csrf": csrf}), csrf


def _from_cookie(request: Request) -> Session | None:
    settings = state.settings(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = serializer(settings).loads(raw, max_age=settings.session_max_age_seconds)
    except BadSignature:
        return None
    user = state.store(request).get_user(int(data["uid"]))
    if user is None or user.disabled:
        return None
    return Session(user, str(data["csrf"]), via_cookie=True)


def _from_bearer(request: Request) -> Session | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    user = state.store(request).user_for_token(token.strip())
    return Session(user, "", via_cookie=False) if user else None


async def optional_session(request: Request) -> Session | None:
    return _from_bearer(request) or _from_cookie(request)


async def session(request: Request) -> Session:
    current = _from_bearer(request) or _from_cookie(request)
    if current is None:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    if current.via_cookie and request.method in UNSAFE:
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = str((await request.form()).get("csrf_token", ""))
        if not sent or not hmac.compare_digest(sent, current.csrf):
            raise HTTPException(403, "missing or invalid CSRF token")
    return current


def require(role: str) -> Callable[..., Awaitable[Session]]:
    """A dependency admitting users with at least `role` (viewer < clinician < admin)."""

    async def check(current: Annotated[Session, Depends(session)]) -> Session:
        if ROLES[current.user.role] < ROLES[role]:
            raise HTTPException(403, f"requires the {role} role")
        return current

    return check


Viewer = Annotated[Session, Depends(require("viewer"))]
Clinician = Annotated[Session, Depends(require("clinician"))]
Admin = Annotated[Session, Depends(require("admin"))]
