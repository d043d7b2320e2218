"""Single sign-on: each user may be linked to one OpenID Connect identity (issuer + subject).

Linking is done by an admin (`netlm user link-sso`); nobody is linked by this migration, and an
identity can be linked to one user only.

Browser sessions record whether their sign-in carried a second factor (netlm's TOTP code, or an
ID token whose `amr` shows one), so that NETLM_REQUIRE_MFA can accept an admin's single sign-on
with MFA at the provider; sessions started before this migration did not.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("oidc_issuer", sa.String(500), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(255), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_users_oidc_issuer_oidc_subject"), ["oidc_issuer", "oidc_subject"]
        )
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(
            sa.Column("second_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("second_factor")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_oidc_issuer_oidc_subject"), type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
