"""Security: server-side sessions, expiring tokens, per-(user, address) throttling with admin
unlock, and the FHIR server base URLs each CDS client may send netlm to.

Existing API tokens get an expiry 30 days after this migration (they had none); existing CDS
clients get no allowed FHIR server (fetches are refused until one is registered).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_TOKEN_GRACE = dt.timedelta(days=30)


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        _time("created_at"),
        _time("last_seen_at"),
        _time("expires_at"),
        _time("ended_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_web_sessions_session_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(_time("expires_at", nullable=True))
    with op.batch_alter_table("login_attempts") as batch:
        batch.add_column(
            sa.Column("cleared", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("cds_clients") as batch:
        batch.add_column(
            sa.Column("fhir_servers", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    grace = dt.datetime.now(dt.UTC) + EXISTING_TOKEN_GRACE
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=grace))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("cds_clients") as batch:
        batch.drop_column("fhir_servers")
    with op.batch_alter_table("login_attempts") as batch:
        batch.drop_column("cleared")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    op.drop_index(op.f("ix_web_sessions_user_id"), "web_sessions")
    op.drop_table("web_sessions")
