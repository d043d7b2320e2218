"""Follow-up: dated events after the board (progression, death, last contact, treatment given),
append-only like the audit trail, so that what a hospital reports on its patients can never be
rewritten: a correction is a new row that supersedes the earlier one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "follow_up_events"
REFUSAL = f"{TABLE} is append-only"
SQLITE_TRIGGERS = {f"{TABLE}_no_update": "UPDATE", f"{TABLE}_no_delete": "DELETE"}
PG_FUNCTION = "netlm_follow_up_append_only"
PG_TRIGGERS = {
    f"{TABLE}_no_change": f"BEFORE UPDATE OR DELETE ON {TABLE} FOR EACH ROW",
    f"{TABLE}_no_truncate": f"BEFORE TRUNCATE ON {TABLE} FOR EACH STATEMENT",
}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("criteria", sa.String(32), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("stopped", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('progression', 'death', 'last_contact', 'treatment')",
            name=op.f("ck_follow_up_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_follow_up_events_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            [f"{TABLE}.id"],
            name=op.f("fk_follow_up_events_supersedes_follow_up_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_events")),
        sa.UniqueConstraint("supersedes", name=op.f("uq_follow_up_events_supersedes")),
    )
    op.create_index(op.f("ix_follow_up_events_case_id"), TABLE, ["case_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP; END $$"
        )
        for name, when in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {PG_FUNCTION}()")
    else:
        for name, event in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_follow_up_events_case_id"), table_name=TABLE)
    op.drop_table(TABLE)  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
