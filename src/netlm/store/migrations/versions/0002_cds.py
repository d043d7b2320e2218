"""CDS Hooks: registered EHR clients, seen JWT ids, issued cards and the feedback on them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cds_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jku_urls", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_clients")),
        sa.UniqueConstraint("issuer", name=op.f("uq_cds_clients_issuer")),
    )
    op.create_table(
        "cds_jti",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_jti")),
        sa.UniqueConstraint("issuer", "jti", name=op.f("uq_cds_jti_issuer_jti")),
    )
    op.create_index(op.f("ix_cds_jti_expires_at"), "cds_jti", ["expires_at"])
    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_cds_cards_case_id_cases")),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_cds_cards")),
    )
    op.create_index(op.f("ix_cds_cards_case_id"), "cds_cards", ["case_id"])
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("override_reason", sa.JSON(), nullable=True),
        _time("outcome_timestamp"),
        _time("received_at"),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'overridden')", name=op.f("ck_cds_feedback_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["card_uuid"], ["cds_cards.uuid"], name=op.f("fk_cds_feedback_card_uuid_cds_cards")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_cds_feedback_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_feedback")),
        sa.UniqueConstraint(
            "card_uuid",
            "outcome",
            "outcome_timestamp",
            name=op.f("uq_cds_feedback_card_uuid_outcome_outcome_timestamp"),
        ),
    )
    op.create_index(op.f("ix_cds_feedback_case_id"), "cds_feedback", ["case_id"])


def downgrade() -> None:
    for table in ("cds_feedback", "cds_cards", "cds_jti", "cds_clients"):
        op.drop_table(table)
