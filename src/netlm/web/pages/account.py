"""Pages of one's own sign-in: the second-factor step of the login, TOTP enrolment and the
password change. The login's code step has the login form's pre-session CSRF token; the others
are forms of a session, with its token like every form."""

from typing import Annotated, Any
from urllib.parse import quote

import pyotp
import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netlm.store.errors import InvalidCredentials, Throttled, ValidationFailed
from netlm.store.identity import UserInfo
from netlm.store.passwords import MIN_PASSWORD_LENGTH, MIN_SCORE, WeakPassword
from netlm.web import signin, state
from netlm.web.i18n import request_lang, word
from netlm.web.pages.render import page
from netlm.web.security import (
    Viewer,
    client_address,
    local_path,
    login_allowed,
    login_csrf,
    own_origin,
    sends_origin,
    set_login_cookie,
    start_session,
)

router = APIRouter()
CODE_PATH = "/login/code"
ENROL_PATH = "/account/totp"


def login_refusal(request: Request, lang: str) -> str:
    """Why a sign-in form post was refused: a script that sent no Origin is told what to send;
    otherwise the form expired or came from another site."""
    if sends_origin(request):
        return word("login.expired", lang)
    return word("login.no_origin", lang, origin=own_origin(request))


def finish_password_step(request: Request, user: UserInfo, next: str) -> RedirectResponse:
    """After a correct password: sign in, or with a second factor ask for its code first."""
    if user.mfa:
        response = RedirectResponse(f"{CODE_PATH}?next={quote(next)}", status_code=303)
        signin.start_second_step(request, response, user.id)
        return response
    return _signed_in(request, user, next, second_factor=False)


def _signed_in(
    request: Request, user: UserInfo, next: str, *, second_factor: bool
) -> RedirectResponse:
    response = RedirectResponse(next, status_code=303)
    start_session(request, response, user, second_factor=second_factor)
    signin.trust_device(request, response, user.username)
    return response


# --- the login's second step ---------------------------------------------------------------------


def _code_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    nonce, token = login_csrf(request)
    response = page(request, "login_code.html", None, status=status, login_token=token, **context)
    set_login_cookie(request, response, nonce)
    return response


@router.get(CODE_PATH)
def code_form(request: Request, next: str = "/cases") -> Response:
    if signin.second_step_user(request) is None:
        return RedirectResponse("/login", status_code=303)
    return _code_page(request, next=local_path(next))


@router.post(CODE_PATH)
def code_step(
    request: Request,
    code: Annotated[str, Form(max_length=32)],
    next: Annotated[str, Form(max_length=2000)] = "/cases",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    lang, next = request_lang(request), local_path(next)
    if not login_allowed(request, csrf_token):
        return _code_page(request, 403, error=login_refusal(request, lang), next=next)
    store, user_id = state.store(request), signin.second_step_user(request)
    user = None if user_id is None else store.get_user(user_id)
    if user is None:
        return _code_page(request, 401, error=word("login.code_expired", lang), next=next)
    device = signin.trusted_device(request, user.username)
    try:
        user = store.verify_totp(user, code, client_address(request), device)
    except Throttled as exc:
        error = word("login.throttled", lang, seconds=exc.retry_after)
        return _code_page(request, 429, error=error, next=next)
    except InvalidCredentials:
        return _code_page(request, 401, error=word("login.code_failed", lang), next=next)
    response = _signed_in(request, user, next, second_factor=True)
    signin.end_second_step(request, response)
    return response


# --- TOTP enrolment ------------------------------------------------------------------------------


def _enrol_page(request: Request, current: Viewer, status: int = 200, **context: Any) -> Response:
    uri = state.store(request).begin_totp(current.user)
    qr = segno.make(uri, error="m").svg_inline(scale=4, title="otpauth")
    secret = pyotp.parse_uri(uri).secret
    required = state.settings(request).require_mfa and current.user.role == "admin"
    return page(
        request, "totp.html", current, status=status, uri=uri, qr=qr, secret=secret,
        required=required, **context,
    )  # fmt: skip


@router.get(ENROL_PATH)
def enrol_form(request: Request, current: Viewer) -> Response:
    if current.user.mfa:
        return RedirectResponse("/account#mfa", status_code=303)
    return _enrol_page(request, current)


@router.post(ENROL_PATH)
def enrol(request: Request, current: Viewer, code: Annotated[str, Form(max_length=32)]) -> Response:
    try:
        state.store(request).confirm_totp(current.user, code)
    except ValidationFailed:
        error = word("mfa.failed", request_lang(request))
        return _enrol_page(request, current, 422, error=error)
    return RedirectResponse("/account#mfa", status_code=303)


# --- password change -----------------------------------------------------------------------------


@router.get("/account/password")
def password_form(request: Request, current: Viewer, done: bool = False) -> HTMLResponse:
    return page(request, "password.html", current, done=done)


@router.post("/account/password")
def change_password(
    request: Request,
    current: Viewer,
    current_password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
    confirmation: Annotated[str, Form(max_length=1024)],
) -> Response:
    lang = request_lang(request)
    if new_password != confirmation:
        return page(request, "password.html", current, 422, error=word("password.mismatch", lang))
    keep = current.web_session.id if current.web_session else None
    try:
        state.store(request).change_password(
            current.user, current_password, new_password, client_address(request), keep
        )
    except WeakPassword as exc:
        error = password_problem(exc, lang)
        return page(request, "password.html", current, 422, error=error)
    except Throttled as exc:
        error = word("login.throttled", lang, seconds=exc.retry_after)
        return page(request, "password.html", current, 429, error=error)
    except InvalidCredentials:
        return page(request, "password.html", current, 401, error=word("password.wrong", lang))
    return RedirectResponse("/account/password?done=true", status_code=303)


def password_problem(exc: WeakPassword, lang: str) -> str:
    """The policy's refusal in the page's language."""
    if exc.reason == "short":
        return word("password.short", lang, min=MIN_PASSWORD_LENGTH)
    if exc.reason == "name":
        return word("password.has_name", lang)
    return word("password.weak", lang, score=exc.score, min=MIN_SCORE)
