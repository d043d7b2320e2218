"""Who is asking: server-side sessions for the pages, bearer tokens for the API, CSRF, roles.

The session cookie (HttpOnly, SameSite=Lax, `Secure` with NETLM_SECURE_COOKIES=1) carries only a
random session id. The store keeps its digest with the user, the CSRF token and the timeouts and
is asked on every request, so logging out, an idle or absolute timeout or disabling the user ends
the session at once in every worker.

Unsafe requests authenticated by cookie must come from a page of this app (their Origin, or else
their Referer, is its own origin) and echo the session's CSRF token (form field `csrf_token` or
header `X-CSRF-Token`). The login form gets both checks too, although there is no session yet:
its token is an HMAC of a random pre-session cookie, so a page elsewhere can neither read it nor
make one up (login CSRF would sign the victim in to the attacker's account).
"""

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response

from netlm.settings import Settings
from netlm.store import audit
from netlm.store.credentials import WebSession
from netlm.store.identity import UserInfo
from netlm.web import state

SESSION_COOKIE = "netlm_session"
LOGIN_COOKIE = "netlm_login"


def session_cookie(settings: Settings) -> str:
    """Over HTTPS the session cookie is `__Host-` prefixed: browsers then refuse it unless it is
    Secure, for path / and without a Domain, so a sibling subdomain cannot plant or shadow it."""
    return f"__Host-{SESSION_COOKIE}" if settings.secure_cookies else SESSION_COOKIE


def set_framed_cookie(
    response: Response, settings: Settings, key: str, value: str, *, max_age: int, path: str
) -> None:
    """Set (max_age 0: delete) an HttpOnly cookie that must also work inside an EHR's frame.

    With NETLM_SMART_FRAME_ORIGINS it is `SameSite=None; Secure; Partitioned`: a framed page is
    a cross-site context, where browsers send only SameSite=None cookies, those only Secure, and
    where they block third-party cookies only a partitioned one (CHIPS), kept apart for each
    top-level site, the EHR's. CSRF is still stopped by the Origin check and the session's
    token. Otherwise `SameSite=Lax`, Secure with NETLM_SECURE_COOKIES.
    """
    framed = bool(settings.smart_frame_origins)
    response.set_cookie(
        key, value, max_age=max_age, httponly=True, samesite="none" if framed else "lax",
        secure=framed or settings.secure_cookies, path=path,
    )  # fmt: skip
    if framed:  # Starlette writes the attribute itself only on Python 3.14 and later
        name, header = response.raw_headers[-1]
        response.raw_headers[-1] = (name, header + b"; Partitioned")


def login_cookie(settings: Settings) -> str:
    """The pre-session cookie lives on /login only, so it takes the `__Secure-` prefix."""
    return f"__Secure-{LOGIN_COOKIE}" if settings.secure_cookies else LOGIN_COOKIE


LOGIN_PATH = "/login"
ROLES = {"viewer": 0, "clinician": 1, "admin": 2}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) makes


@dataclass(frozen=True)
class Session:
    user: UserInfo
    csrf: str
    via_cookie: bool
    web_session: WebSession | None = None  # None for bearer tokens


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def local_path(target: str) -> str:
    """Only local paths, so a sign-in form cannot redirect to another site: browsers read
    `//host` and `/\\host` as another host, so no second slash or backslash anywhere."""
    local = target.startswith("/") and not target.startswith("//")
    return target if local and "\\" not in target and target.isprintable() else "/cases"


def start_session(
    request: Request, response: Response, user: UserInfo, *, second_factor: bool
) -> None:
    """Sign `user` in: a new server-side session, and its id in a cookie on `response`.
    `second_factor`: the sign-in carried one (a TOTP code, or SSO with MFA at the provider)."""
    settings = state.settings(request)
    lifetime = dt.timedelta(hours=settings.session_max_hours)
    secret, _ = state.store(request).start_web_session(
        user, client_address(request), lifetime, second_factor=second_factor
    )
    name, max_age = session_cookie(settings), int(lifetime.total_seconds())
    set_framed_cookie(response, settings, name, secret, max_age=max_age, path="/")


def end_session(request: Request, response: Response, current: Session) -> None:
    """Log out: end the session in the store (the cookie is dead even if a copy survives)."""
    if current.web_session is not None:
        state.store(request).end_web_session(current.web_session)
    settings = state.settings(request)
    set_framed_cookie(response, settings, session_cookie(settings), "", max_age=0, path="/")


def _from_cookie(request: Request) -> Session | None:
    raw = request.cookies.get(session_cookie(state.settings(request)))
    if not raw:
        return None
    idle = dt.timedelta(minutes=state.settings(request).session_idle_minutes)
    found = state.store(request).web_session(raw, idle)
    return None if found is None else Session(found.user, found.csrf, True, found)


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
        audit.attribute(refused=401)  # pages answer it with a redirect to the login form
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    audit.attribute(current.user)
    if current.via_cookie and request.method in UNSAFE:
        if not same_origin(request):
            detail = "cross-origin request refused"
            if not sends_origin(request):
                detail += (
                    f": no Origin (or Referer) header; send Origin: {own_origin(request)} (this "
                    "app's own URL), or use an API token (Authorization: Bearer)"
                )
            raise HTTPException(403, detail)
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = str((await request.form()).get("csrf_token", ""))
        if not sent or not hmac.compare_digest(sent, current.csrf):
            raise HTTPException(403, "missing or invalid CSRF token")
    return current


def same_origin(request: Request) -> bool:
    """Whether the request was sent by a page of this app.

    Its Origin header, or without one its Referer, must name the app's own origin: the one the
    request was addressed to, or NETLM_PUBLIC_URL's. Browsers send Origin with every POST, so a
    request with neither header, or with `Origin: null` (sandboxed or privacy-stripped), is
    refused rather than trusted.
    """
    sent = request.headers.get("origin") or _origin(request.headers.get("referer", ""))
    if not sent or sent == "null":
        return False
    public = state.settings(request).public_url
    own = {_origin(str(request.base_url)), _origin(public) if public else ""}
    return sent.lower() in own


def sends_origin(request: Request) -> bool:
    """Whether the request says where it comes from at all: browsers do; scripts often do not,
    and are then told what to send rather than that they came from another site."""
    return bool(request.headers.get("origin") or request.headers.get("referer"))


def own_origin(request: Request) -> str:
    """The origin a request must name: NETLM_PUBLIC_URL's, else the one it was addressed to."""
    public = state.settings(request).public_url
    return _origin(public) if public else _origin(str(request.base_url))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def login_csrf(request: Request) -> tuple[str, str]:
    """The pre-session nonce (kept, or new) and the login form's token bound to it."""
    nonce = request.cookies.get(login_cookie(state.settings(request)), "")
    if not _NONCE.fullmatch(nonce):
        nonce = secrets.token_urlsafe(32)
    return nonce, _login_token(state.settings(request), nonce)


def set_login_cookie(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        login_cookie(state.settings(request)), nonce, httponly=True, samesite="lax",
        secure=state.settings(request).secure_cookies, path=LOGIN_PATH,
    )  # fmt: skip


def login_allowed(request: Request, token: str) -> bool:
    """Whether a login POST comes from our login form: same origin, and its token matches the
    pre-session cookie."""
    nonce = request.cookies.get(login_cookie(state.settings(request)), "")
    if not same_origin(request) or not _NONCE.fullmatch(nonce) or not token:
        return False
    return hmac.compare_digest(token, _login_token(state.settings(request), nonce))


def _login_token(settings: Settings, nonce: str) -> str:
    key = settings.secret_key.encode()
    return hmac.new(key, b"netlm-login:" + nonce.encode(), hashlib.sha256).hexdigest()


# With NETLM_REQUIRE_MFA an admin signed in by password alone may only enrol or log out; an
# admin's single sign-on needs MFA at the provider (netlm.web.oidc) and its session is marked so,
# like one whose sign-in took a TOTP code. API tokens are unaffected: issuing one takes the code,
# and a token is then a revocable, expiring 256-bit secret that a program cannot pair with a code
# typed by a person.
MFA_REQUIRED = "enrol a second factor first (NETLM_REQUIRE_MFA)"
ENROL_PATHS = ("/account/totp", "/logout")


def must_enrol(request: Request, current: Session) -> bool:
    """Whether a browser session is an admin's without the second factor the settings require:
    the user has no TOTP, and the session's sign-in carried none (SSO with MFA at the provider)."""
    signed_in_with_two = current.web_session is not None and current.web_session.second_factor
    return (
        current.via_cookie
        and current.user.role == "admin"
        and not (current.user.mfa or signed_in_with_two)
        and state.settings(request).require_mfa
    )


def require(role: str) -> Callable[..., Awaitable[Session]]:
    """A dependency admitting users with at least `role` (viewer < clinician < admin)."""

    async def check(request: Request, current: Annotated[Session, Depends(session)]) -> Session:
        if ROLES[current.user.role] < ROLES[role]:
            raise HTTPException(403, f"requires the {role} role")
        if must_enrol(request, current) and request.url.path not in ENROL_PATHS:
            raise HTTPException(403, MFA_REQUIRED, {"Location": ENROL_PATHS[0]})
        return current

    return check


Viewer = Annotated[Session, Depends(require("viewer"))]
Clinician = Annotated[Session, Depends(require("clinician"))]
Admin = Annotated[Session, Depends(require("admin"))]
