"""Pages: login, the account (API tokens; sign-in locks for admins), and the case pages
(`cases.py`). Every page checks the role; every form carries the session's CSRF token, the login
form a pre-session one."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netlm.store.accounts import MAX_PASSWORD_LENGTH
from netlm.store.errors import InvalidCredentials, NotFound, Throttled, ValidationFailed
from netlm.web import signin, state
from netlm.web.i18n import request_lang, word
from netlm.web.pages import account as own_account
from netlm.web.pages import cases, follow_up, outcomes
from netlm.web.pages.account import finish_password_step, login_refusal
from netlm.web.pages.render import page, render_error
from netlm.web.security import (
    Admin,
    Session,
    Viewer,
    client_address,
    end_session,
    local_path,
    login_allowed,
    login_csrf,
    optional_session,
    set_login_cookie,
)

__all__ = ["render_error", "router"]

router = APIRouter()
router.include_router(cases.router)
router.include_router(follow_up.router)
router.include_router(outcomes.router)
router.include_router(own_account.router)

OptionalSession = Annotated[Session | None, Depends(optional_session)]


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


@router.get("/login")
def login_form(request: Request, current: OptionalSession, next: str = "/cases") -> Response:
    if current is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return _login_page(request, next=local_path(next))


def _login_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    """The login form with its CSRF token, and the pre-session cookie the token is bound to."""
    nonce, token = login_csrf(request)
    response = page(request, "login.html", None, status=status, login_token=token, **context)
    set_login_cookie(request, response, nonce)
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/cases",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    lang = request_lang(request)
    next = local_path(next)
    if not login_allowed(request, csrf_token):  # checked first: no throttling on others' behalf
        return _login_page(request, 403, error=login_refusal(request, lang), next=next)
    device = signin.trusted_device(request, username)
    try:
        user = state.store(request).authenticate(
            username, password, client_address(request), device
        )
    except ValidationFailed:  # the only one: a password too long to be checked
        error = word("login.too_long", lang, max=MAX_PASSWORD_LENGTH)
        return _login_page(request, 422, error=error, next=next)
    except Throttled as exc:
        error = word("login.throttled", lang, seconds=exc.retry_after)
        return _login_page(request, 429, error=error, next=next)
    except InvalidCredentials:
        return _login_page(request, 401, error=word("login.failed", lang), next=next)
    return finish_password_step(request, user, next)


@router.post("/logout")
def logout(request: Request, current: Viewer) -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response, current)
    return response


@router.get("/account")
def account(request: Request, current: Viewer) -> HTMLResponse:
    """The user's API tokens, to revoke; for admins also the sign-in locks, to lift."""
    store = state.store(request)
    locks = store.locked_logins() if current.user.role == "admin" else []
    tokens = store.list_tokens(current.user.username)
    return page(request, "account.html", current, tokens=tokens, locks=locks)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, current: Viewer) -> RedirectResponse:
    try:
        state.store(request).revoke_token(token_id, by=current.user, only_own=True)
    except NotFound:
        raise HTTPException(404, "token not found") from None
    return RedirectResponse("/account", status_code=303)


@router.post("/account/unlock")
def unlock(request: Request, username: Annotated[str, Form()], current: Admin) -> RedirectResponse:
    try:
        state.store(request).unlock_user(username, by=current.user)
    except NotFound:
        raise HTTPException(404, "user not found") from None
    return RedirectResponse("/account#locks", status_code=303)
