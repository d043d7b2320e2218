"""Single sign-on identities: which netlm user an OpenID Connect account (issuer + subject) is.

Users are never created from a sign-in: an admin creates the account, with its role, and links
it to the provider's subject. The subject is the provider's stable, never reassigned id; an email
address or a group can be changed or reused at the provider, so neither links nor grants a role.
"""

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError

from netlm.store.errors import Conflict
from netlm.store.identity import StoreBase, UserInfo, user_info, user_named
from netlm.store.models import UserRow

MAX_ISSUER = 500
MAX_SUBJECT = 255  # OpenID Connect Core 1.0, 2: "It MUST NOT exceed 255 ASCII characters"


class SsoStore(StoreBase):
    """Links between users and their provider identities, over the store's engine."""

    def link_sso(
        self, username: str, issuer: str, subject: str, by: UserInfo | None = None
    ) -> UserInfo:
        """Link `username` to the provider's (issuer, subject), replacing an earlier link."""
        if not issuer or len(issuer) > MAX_ISSUER:
            raise ValueError(f"issuer must be 1-{MAX_ISSUER} characters")
        if not subject or len(subject) > MAX_SUBJECT:
            raise ValueError(f"subject must be 1-{MAX_SUBJECT} characters")
        try:
            with self._sessions.begin() as s:
                owner = s.scalar(select(UserRow.username).where(*_identity(issuer, subject)))
                if owner is not None and owner != username:
                    raise Conflict(f"that identity is already linked to user {owner!r}")
                row = user_named(s, username)
                row.oidc_issuer, row.oidc_subject = issuer, subject
                detail = {"issuer": issuer, "subject": subject}
                self._audit(s, by, "sso_linked", "user", username, detail)
                return user_info(row)
        except IntegrityError:  # a concurrent link of the same identity
            raise Conflict("that identity is already linked to another user") from None

    def user_for_sso(self, issuer: str, subject: str) -> UserInfo | None:
        """The active user linked to (issuer, subject); None if unlinked or disabled."""
        with self._reads.begin() as s:
            row = s.scalar(select(UserRow).where(*_identity(issuer, subject)))
            if row is None or row.disabled:
                return None
            return user_info(row)


def _identity(issuer: str, subject: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return UserRow.oidc_issuer == issuer, UserRow.oidc_subject == subject
