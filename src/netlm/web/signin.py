"""Sign-in cookies besides the session's: the trusted browser, and the password step passed.

Trusted browser (`netlm_device`): after a full sign-in the browser gets a random id signed with
the installation's secret and bound to the username. Its later sign-ins as that user are
throttled on their own (netlm.store.throttle), so guesses from elsewhere, or from behind the
same NAT address, never make the real user wait in a browser they have used before.

Second-factor step (`netlm_mfa`): after a correct password of a user with TOTP, the browser holds
the user's id and an expiry five minutes on, signed; nobody is signed in until the code passes.
Both cookies are HttpOnly, SameSite=Lax and sent to the sign-in pages only.
"""

import hashlib
import hmac
import re
import secrets
import time

from fastapi import Request, Response

from netlm.web import state

DEVICE_COOKIE = "netlm_device"
PENDING_COOKIE = "netlm_mfa"
COOKIE_PATH = "/login"
DEVICE_DAYS = 180
PENDING_SECONDS = 300
_NUMBER = re.compile(r"[0-9]{1,12}")


def _mac(request: Request, *parts: str) -> str:
    key = state.settings(request).secret_key.encode()
    return hmac.new(key, ":".join(parts).encode(), hashlib.sha256).hexdigest()


def _name(request: Request, name: str) -> str:
    """Over HTTPS `__Secure-` prefixed, like the login form's cookie: browsers then refuse one
    set without Secure, so a plain-HTTP page cannot plant it."""
    return f"__Secure-{name}" if state.settings(request).secure_cookies else name


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        _name(request, name), value, max_age=max_age, httponly=True, samesite="lax",
        secure=state.settings(request).secure_cookies, path=COOKIE_PATH,
    )  # fmt: skip


def trusted_device(request: Request, username: str) -> str | None:
    """The digest naming this browser if `username` signed in from it before, else None."""
    nonce, _, mac = request.cookies.get(_name(request, DEVICE_COOKIE), "").partition(".")
    if not nonce or not hmac.compare_digest(mac, _mac(request, "netlm-device", username, nonce)):
        return None
    return hashlib.sha256(nonce.encode()).hexdigest()


def trust_device(request: Request, response: Response, username: str) -> None:
    nonce = secrets.token_urlsafe(32)
    value = f"{nonce}.{_mac(request, 'netlm-device', username, nonce)}"
    _set(request, response, DEVICE_COOKIE, value, DEVICE_DAYS * 86400)


def start_second_step(request: Request, response: Response, user_id: int) -> None:
    expires = str(int(time.time()) + PENDING_SECONDS)
    value = f"{user_id}.{expires}.{_mac(request, 'netlm-mfa', str(user_id), expires)}"
    _set(request, response, PENDING_COOKIE, value, PENDING_SECONDS)


def second_step_user(request: Request) -> int | None:
    """The id of the user whose password passed in this browser in the last five minutes."""
    user_id, _, rest = request.cookies.get(_name(request, PENDING_COOKIE), "").partition(".")
    expires, _, mac = rest.partition(".")
    if not (_NUMBER.fullmatch(user_id) and _NUMBER.fullmatch(expires)):
        return None
    fresh = int(expires) >= time.time()
    if not fresh or not hmac.compare_digest(mac, _mac(request, "netlm-mfa", user_id, expires)):
        return None
    return int(user_id)


def end_second_step(request: Request, response: Response) -> None:
    response.delete_cookie(
        _name(request, PENDING_COOKIE), path=COOKIE_PATH, httponly=True, samesite="lax",
        secure=state.settings(request).secure_cookies,
    )  # fmt: skip
