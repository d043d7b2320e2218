"""Audit trail: append-only and hash-chained, with the client's address, role and outcome.

Adds `role`, `address`, `via` and `outcome` (existing rows: unknown, "ok") and the chain
(`seq`, `prev_hash`, `row_hash`; existing rows are chained in id order here), then triggers that
refuse UPDATE and DELETE on `audit_log` (PostgreSQL: TRUNCATE too) for the app's own role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from netlm.store.audit import GENESIS, row_hash
from netlm.store.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "audit_log is append-only"
SQLITE_TRIGGERS = {
    "audit_log_no_update": "UPDATE",
    "audit_log_no_delete": "DELETE",
}
PG_FUNCTION = "netlm_audit_append_only"
PG_TRIGGERS = {
    "audit_log_no_change": "BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW",
    "audit_log_no_truncate": "BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT",
}


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("address", sa.String(64), nullable=True))
        batch.add_column(sa.Column("via", sa.String(200), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table("audit_log") as batch:
        for name in ("seq", "prev_hash", "row_hash"):
            width = sa.Integer() if name == "seq" else sa.String(64)
            batch.alter_column(name, existing_type=width, nullable=False)
        batch.create_unique_constraint(op.f("uq_audit_log_seq"), ["seq"])
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
                f"CREATE TRIGGER {name} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def _chain_existing_rows() -> None:
    """Chain the rows an earlier netlm wrote, oldest first, as `netlm.store.audit` would have."""
    table = sa.table(
        "audit_log",
        *(sa.column(name) for name in ("id", "user_id", "username", "role", "address", "via",
                                       "action", "entity", "entity_id", "outcome", "seq",
                                       "prev_hash", "row_hash")),
        sa.column("at", UTCDateTime()),
        sa.column("detail", sa.JSON()),
    )  # fmt: skip
    bind = op.get_bind()
    previous = GENESIS
    rows = bind.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    for seq, found in enumerate(rows, start=1):
        fields = {**found, "seq": seq, "prev_hash": previous, "outcome": found["outcome"] or "ok"}
        fields["detail"] = found["detail"] or {}
        previous = row_hash(fields)
        bind.execute(
            table.update()
            .where(table.c.id == found["id"])
            .values(seq=seq, prev_hash=fields["prev_hash"], row_hash=previous)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON audit_log")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("uq_audit_log_seq"), type_="unique")
        for name in ("row_hash", "prev_hash", "seq", "outcome", "via", "address", "role"):
            batch.drop_column(name)
