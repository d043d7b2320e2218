"""Password policy: a length range, then a strength estimate by zxcvbn (the maintained `zxcvbn`
port of Dropbox's estimator), which knows the common-password lists (its frequency lists come
from leaked-password corpora, Wikipedia and US census names), keyboard walks, dates and repeats.

A length rule alone let `password12`, ten spaces or the user's own name through; zxcvbn rates
each of them 0 or 1, and we require 3 ("safely unguessable: moderate protection from offline
slow-hash scenario", about 10^8 guesses and more). The user name and display name are given to
the estimator as known words, and a password that contains either is refused outright.
"""

import re

from zxcvbn import zxcvbn

from netlm.store.errors import ValidationFailed

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # longer is refused before hashing: no one may make us hash megabytes
MIN_SCORE = 3
# zxcvbn's cost grows with length (0.2 s at 100 characters): it rates the first 64.
_ESTIMATED_CHARS = 64


class WeakPassword(ValidationFailed, ValueError):
    """A new password the policy refuses (a ValueError too, like the other checks of a new user).
    `reason` (short, name, weak) lets a page say it in its own language; `score` is zxcvbn's."""

    def __init__(self, reason: str, message: str, score: int | None = None) -> None:
        super().__init__("password", message)
        self.reason = reason
        self.score = score


def check_password_length(password: str) -> None:
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")


def check_new_password(password: str, username: str, display_name: str = "") -> None:
    """Refuse a password a guesser would try early, naming the problem (WeakPassword)."""
    check_password_length(password)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword("short", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    names = [username, display_name, *re.split(r"[\s._@-]+", display_name)]
    for name in names:
        if len(name) >= 3 and name.casefold() in folded:
            raise WeakPassword("name", "must not contain the user name or display name")
    known = [n for n in names if n]
    result = zxcvbn(password[:_ESTIMATED_CHARS], user_inputs=known, max_length=_ESTIMATED_CHARS)
    score = int(result["score"])
    if score < MIN_SCORE:
        feedback = result["feedback"]
        hint = " ".join([feedback.get("warning") or "", *feedback.get("suggestions", [])]).strip()
        message = f"too easy to guess (strength {score} of 4, at least {MIN_SCORE} needed)"
        raise WeakPassword("weak", message + (f": {hint}" if hint else ""), score)
