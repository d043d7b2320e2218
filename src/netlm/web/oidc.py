"""Single sign-on pages: `/login/sso` sends the browser to the hospital's OpenID provider,
`/login/sso/callback` signs it in. Mounted only when NETLM_OIDC_ISSUER and NETLM_OIDC_CLIENT_ID
are set.

The sign-in's `state`, `nonce` and PKCE verifier are random per attempt and kept in a short-lived
HttpOnly cookie signed with the app's secret (path `/login/sso`, SameSite=Lax so that it comes
back with the provider's top-level redirect). A callback whose `state` does not match that
cookie is refused, so nobody can sign a victim's browser in with a code of their own.

A verified identity signs in only the user an admin linked it to (`netlm user link-sso`): no
account is created from a sign-in and no role is taken from the provider. Such users skip
netlm's password and second factor: the provider authenticated them. With NETLM_REQUIRE_MFA an
admin is signed in only if the ID token's `amr` shows a second factor (RFC 8176; see
`oidc_client.second_factor`), and is refused otherwise; the session records whether the sign-in
carried one, so an admin with MFA at the provider is never asked to enrol netlm's TOTP.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netlm.settings import Settings
from netlm.store.sso import SsoStore
from netlm.web import state
from netlm.web.i18n import request_lang, word
from netlm.web.oidc_client import Identity, Provider, SsoFailed
from netlm.web.pages.render import page
from netlm.web.security import client_address, local_path, start_session

FLOW_COOKIE = "netlm_sso"
SSO_PATH = "/login/sso"
CALLBACK_PATH = SSO_PATH + "/callback"
FLOW_SECONDS = 600  # time allowed at the provider between leaving netlm and coming back

router = APIRouter()


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the SSO pages when configured; the login page shows its button when they are."""
    app.state.sso = enabled(settings)
    if app.state.sso:
        app.state.oidc = Provider(
            str(settings.oidc_issuer), str(settings.oidc_client_id), settings.oidc_client_secret
        )
        app.include_router(router, default_response_class=HTMLResponse, include_in_schema=False)


@router.get(SSO_PATH)
def start(request: Request, next: str = "/cases") -> Response:
    """Leave for the provider with a fresh state, nonce and PKCE verifier."""
    secret, nonce, verifier = (secrets.token_urlsafe(n) for n in (32, 32, 48))
    flow = {"state": secret, "nonce": nonce, "verifier": verifier, "next": local_path(next),
            "exp": int(time.time()) + FLOW_SECONDS}  # fmt: skip
    try:
        target = _provider(request).authorize_url(_redirect_uri(request), secret, nonce, verifier)
    except SsoFailed as exc:
        return _refused(request, 502 if exc.unreachable else 400, "sso.unavailable", exc.reason)
    response = RedirectResponse(target, status_code=303)
    settings = state.settings(request)
    response.set_cookie(
        FLOW_COOKIE, sign_flow(settings, flow), max_age=FLOW_SECONDS, httponly=True,
        samesite="lax", secure=settings.secure_cookies, path=SSO_PATH,
    )  # fmt: skip
    return response


@router.get(CALLBACK_PATH)
def callback(
    request: Request,
    sent_state: Annotated[str, Query(alias="state")] = "",
    code: str = "",
    error: str = "",
) -> Response:
    """Back from the provider: check the state, exchange the code, sign in the linked user."""
    flow = unsign_flow(state.settings(request), request.cookies.get(FLOW_COOKIE, ""))
    if flow is None or not hmac.compare_digest(sent_state, str(flow["state"])):
        return _refused(request, 400, "sso.expired", "state missing, expired or not this browser's")
    if error or not code:
        return _refused(request, 400, "sso.cancelled", f"provider error: {error[:100]}")
    provider = _provider(request)
    try:
        identity = provider.sign_in(
            code, _redirect_uri(request), str(flow["verifier"]), str(flow["nonce"])
        )
    except SsoFailed as exc:
        key = "sso.unavailable" if exc.unreachable else "sso.failed"
        return _refused(request, 502 if exc.unreachable else 400, key, exc.reason)
    user = SsoStore(state.store(request).engine).user_for_sso(identity.issuer, identity.subject)
    if user is None:
        return _refused(request, 403, "sso.unlinked", "no active user linked", identity)
    second_factor = identity.second_factor
    if user.role == "admin" and not second_factor and state.settings(request).require_mfa:
        amr = str(identity.claims.get("amr"))[:100]
        reason = f"admin {user.username} without a second factor at the provider (amr {amr})"
        return _refused(request, 403, "sso.no_second_factor", reason, identity)
    state.store(request).audit(
        user, "login", "session", user.username,
        {"ip": client_address(request), "method": "sso", "issuer": identity.issuer,
         "second_factor": second_factor},
    )  # fmt: skip
    response = RedirectResponse(str(flow["next"]), status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=SSO_PATH)
    start_session(request, response, user, second_factor=second_factor)
    return response


def _refused(
    request: Request, status: int, key: str, reason: str, identity: Identity | None = None
) -> HTMLResponse:
    """The refusal page, in the reader's language; the reason itself goes to the audit trail."""
    audit_refusal(request, "sso", reason, identity)
    message = word(key, request_lang(request))
    response = page(request, "sso_refused.html", None, status=status, message=message)
    response.delete_cookie(FLOW_COOKIE, path=SSO_PATH)
    return response


def audit_refusal(
    request: Request, method: str, reason: str, identity: Identity | None = None
) -> None:
    """A refused sign-in (`method`: sso or smart) in the audit trail, under the identity's
    subject when one was verified, else under `(method)`."""
    detail: dict[str, Any] = {"ip": client_address(request), "method": method, "reason": reason}
    if identity is not None:
        detail |= {"issuer": identity.issuer, "subject": identity.subject}
    who = identity.subject if identity is not None else f"({method})"
    state.store(request).audit(None, "login_failed", "session", who[:200], detail)


def _provider(request: Request) -> Provider:
    provider: Provider = request.app.state.oidc
    return provider


def _redirect_uri(request: Request) -> str:
    """The callback's absolute URL: from NETLM_PUBLIC_URL behind a proxy, else as addressed.
    The provider only redirects to a URL registered for this client, whatever the Host said."""
    public = state.settings(request).public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return base + CALLBACK_PATH


def sign_flow(settings: Settings, flow: dict[str, Any], purpose: str = "netlm-sso") -> str:
    """A sign-in flow for a cookie: its JSON, and a MAC with the app's secret for `purpose`
    (a flow signed for one kind of sign-in is no flow of another)."""
    body = base64.urlsafe_b64encode(json.dumps(flow, separators=(",", ":")).encode()).decode()
    return f"{body}.{_mac(settings, body, purpose)}"


def unsign_flow(
    settings: Settings, cookie: str, purpose: str = "netlm-sso"
) -> dict[str, Any] | None:
    """The flow in a cookie this app signed and that has not expired; None otherwise."""
    body, _, mac = cookie.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(settings, body, purpose)):
        return None
    try:
        flow = json.loads(base64.urlsafe_b64decode(body))
    except ValueError:
        return None
    if not isinstance(flow, dict) or not isinstance(flow.get("exp"), int):
        return None
    return flow if flow["exp"] >= time.time() else None


def _mac(settings: Settings, body: str, purpose: str) -> str:
    key = settings.secret_key.encode()
    return hmac.new(key, f"{purpose}:{body}".encode(), hashlib.sha256).hexdigest()
