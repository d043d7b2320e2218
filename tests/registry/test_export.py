"""`netlm db export-registry`: the store's cases and latest decisions as a registry, on SQLite
and PostgreSQL, then assessed like any registry."""

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from netlm.engine import assess
from netlm.model.decision import DecisionIn
from netlm.registry import batch
from netlm.registry.engines import DuckDBEngine
from netlm.registry.export import export_registry
from netlm.registry.format import case_from_row
from netlm.store import Store, UserInfo
from tests.store.conftest import alice, all_examples, clock, db_url, store

__all__ = ["alice", "clock", "db_url", "store"]  # fixtures used here


def test_export_has_every_case_and_the_latest_decision(
    store: Store, alice: UserInfo, tmp_path: Path
) -> None:
    cases = all_examples()[:4]
    for case in cases:
        store.create_case(case, alice)
    first = cases[0]
    assessment_id = store.save_assessment(first.id, 1, assess(first), alice)
    chosen = assess(first).recommendations[0].option
    for day, options in ((1, ["surveillance"]), (2, [chosen])):
        store.record_decision(
            first.id,
            DecisionIn(decided_on=dt.date(2024, 5, day), chosen_options=options,
                       participants=["Dr A"], override_reason="board"),
            alice,
            assessment_id,
        )  # fmt: skip
    out = tmp_path / "board.parquet"
    assert export_registry(store, out, center="Board 1") == 4
    rows = {r["id"]: r for r in pq.read_table(out).to_pylist()}
    assert set(rows) == {c.id for c in cases}
    for case in cases:
        assert case_from_row(rows[case.id]) == case
    assert rows[first.id]["treatment_given"] == chosen
    assert rows[first.id]["treatment_date"] == "2024-05-02"
    assert rows[cases[1].id]["treatment_given"] is None
    assert {r["center"] for r in rows.values()} == {"Board 1"}
    checked = batch.assess(DuckDBEngine(out), tmp_path / "assessed.parquet")
    assert checked.rows == 4
