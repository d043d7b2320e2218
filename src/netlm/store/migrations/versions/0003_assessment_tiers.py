"""Assessments gain `tier` and `order_basis` per recommendation (netlm.assessment/1, KB 2.0.0).

Stored assessments made before tiers keep their ranking; each option is given the tier of its
rank (no ties were declared then) and an order basis saying so. Nothing else is changed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE_TIERS = {
    "en": "Assessed by knowledge base {version}, before tiers: rank order only.",
    "zh": "由知识库{version}评估，早于分层排序：仅有排序。",
}

_assessments = sa.table("assessments", sa.column("id", sa.Integer), sa.column("data", sa.JSON))


def _with_tiers(data: dict[str, Any]) -> dict[str, Any] | None:
    recommendations = data.get("recommendations") or []
    if all("tier" in r for r in recommendations):
        return None
    version = (data.get("knowledge_base") or {}).get("version", "?")
    text = BEFORE_TIERS.get(data.get("language", "en"), BEFORE_TIERS["en"])
    for r in recommendations:
        r.setdefault("tier", r.get("rank", 1))
        r.setdefault("order_basis", text.format(version=version))
    return data


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_assessments.c.id, _assessments.c.data)).all()
    for row_id, data in rows:
        updated = _with_tiers(dict(data))
        if updated is not None:
            bind.execute(
                _assessments.update().where(_assessments.c.id == row_id).values(data=updated)
            )


def downgrade() -> None:
    """Tiers are derived data: dropping them restores the earlier shape."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(_assessments.c.id, _assessments.c.data)).all()
    for row_id, data in rows:
        data = dict(data)
        for r in data.get("recommendations") or []:
            r.pop("tier", None)
            r.pop("order_basis", None)
        data.get("classification", {}).pop("net_or_nec_undecided", None)
        bind.execute(_assessments.update().where(_assessments.c.id == row_id).values(data=data))
