"""TOTP second factor (RFC 6238, by pyotp): enrolment, confirmation and an admin's reset.

The secret is generated here and shown once on the enrolment page (as an otpauth:// URI and its
QR code); it becomes the user's second factor only when a first code from it is confirmed, so a
mistyped or unscanned secret never locks anyone out. Codes are accepted one 30-second step either
side of now (clock drift) and each only once: the last step used is kept with the user.
"""

import datetime as dt
import hmac

import pyotp
from sqlalchemy import update

from netlm.store.credentials import Credentials
from netlm.store.errors import ValidationFailed
from netlm.store.identity import UserInfo, user_named
from netlm.store.models import UserRow

ISSUER = "netlm"
DRIFT_STEPS = 1


def matching_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, within DRIFT_STEPS of now and after `last_step`."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(
            totp.generate_otp(step), code
        ):
            return step
    return None


class SecondFactor(Credentials):
    """Enrolling and resetting the TOTP second factor of the store's users."""

    def begin_totp(self, user: UserInfo) -> str:
        """The otpauth:// URI of the secret being enrolled (made on first call, kept until
        confirmed or replaced), for the user's authenticator app."""
        with self._sessions.begin() as s:
            row = s.get_one(UserRow, user.id)
            if row.totp_pending is None:
                row.totp_pending = pyotp.random_base32()
            secret = row.totp_pending
        return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)

    def confirm_totp(self, user: UserInfo, code: str) -> None:
        """Make the secret being enrolled the user's second factor, given a code from it."""
        with self._sessions.begin() as s:
            row = s.get_one(UserRow, user.id)
            if row.totp_pending is None:
                raise ValidationFailed("code", "no second factor is being enrolled; start again")
            step = matching_step(row.totp_pending, code, self._clock(), None)
            if step is None:
                raise ValidationFailed("code", "does not match the code of the new secret now")
            row.totp_secret, row.totp_pending, row.totp_last_step = row.totp_pending, None, step
            self._audit(s, user, "mfa_enrolled", "user", user.username)

    def reset_totp(self, username: str, by: UserInfo | None = None) -> bool:
        """Remove a user's second factor (a lost phone); returns whether they had one."""
        with self._sessions.begin() as s:
            row = user_named(s, username)
            had = row.totp_secret is not None
            s.execute(
                update(UserRow)
                .where(UserRow.id == row.id)
                .values(totp_secret=None, totp_pending=None, totp_last_step=None)
            )
            self._audit(s, by, "mfa_reset", "user", username, {"had_second_factor": had})
        return had
