"""Follow-up in `netlm db export-registry`, on SQLite and PostgreSQL: outcome columns with exact
numbers, then `netlm registry audit --patients` and `netlm survival km --by concordance` on the
export, as a hospital runs them."""

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from netlm.engine import assess
from netlm.model.case import Case
from netlm.model.decision import DecisionIn
from netlm.registry.export import export_registry
from netlm.registry.outcomes import DAYS_PER_MONTH
from netlm.store import Store, UserInfo
from netlm.store.followup import FollowUpIn
from tests.registry.conftest import NETLM
from tests.store.conftest import alice, all_examples, clock, db_url, store

__all__ = ["alice", "clock", "db_url", "store"]  # fixtures used here


def decide(store: Store, case: Case, by: UserInfo, options: list[str]) -> None:
    assessment_id = store.save_assessment(case.id, 1, assess(case), by)
    made = DecisionIn(decided_on=dt.date(2024, 5, 2), chosen_options=options,
                      participants=["Dr A"], override_reason="board")  # fmt: skip
    store.record_decision(case.id, made, by, assessment_id)


def follow(store: Store, case: Case, by: UserInfo, **fields: Any) -> int:
    return store.add_follow_up(case.id, FollowUpIn.model_validate(fields), by).id


def netlm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(NETLM), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def test_export_fills_the_outcome_columns(store: Store, alice: UserInfo, tmp_path: Path) -> None:
    treated, watched, undecided, unfollowed = all_examples()[:4]
    for case in (treated, watched, undecided, unfollowed):
        store.create_case(case, alice)
    first = assess(treated).recommendations[0].option
    decide(store, treated, alice, [first])
    follow(store, treated, alice, kind="treatment", date="2024-05-16", options=[first, "ssa"])
    follow(store, treated, alice, kind="progression", date="2024-11-16", criteria="recist_1_1")
    wrong = follow(store, treated, alice, kind="death", date="2025-06-01")
    follow(store, treated, alice, kind="last_contact", date="2025-05-16", supersedes=wrong)
    decide(store, watched, alice, ["surveillance"])
    follow(store, watched, alice, kind="death", date="2024-08-01")
    follow(store, undecided, alice, kind="last_contact", date="2025-01-01")
    decide(store, unfollowed, alice, ["surveillance"])

    out = tmp_path / "board.parquet"
    assert export_registry(store, out, center="Board 1") == 4
    rows = {r["id"]: r for r in pq.read_table(out).to_pylist()}
    assert rows[treated.id]["treatment_given"] == f"{first}+ssa"
    assert rows[treated.id]["treatment_date"] == "2024-05-16"
    assert rows[treated.id]["followup_months"] == 365 / DAYS_PER_MONTH
    assert rows[treated.id]["progression_months"] == 184 / DAYS_PER_MONTH
    assert (rows[treated.id]["death"], rows[treated.id]["progressed"]) == (0, 1)
    # no treatment recorded: the decision gives the treatment and starts the clock
    assert (rows[watched.id]["treatment_given"], rows[watched.id]["treatment_date"]) == (
        "surveillance",
        "2024-05-02",
    )
    assert rows[watched.id]["followup_months"] == 91 / DAYS_PER_MONTH
    assert (rows[watched.id]["death"], rows[watched.id]["progressed"]) == (1, 0)
    assert rows[watched.id]["progression_months"] == 91 / DAYS_PER_MONTH
    for empty in (undecided, unfollowed):  # no decision, or no follow-up: empty, never 0
        outcome = ("followup_months", "death", "progression_months", "progressed")
        assert [rows[empty.id][c] for c in outcome] == [None] * 4

    patients = tmp_path / "patients.csv"
    netlm("registry", "audit", out, "--patients", patients, "--format", "json")
    by_patient = {r["id"]: r for r in pacsv.read_csv(patients).to_pylist()}
    assert by_patient[treated.id]["followup_months"] == rows[treated.id]["followup_months"]
    km = json.loads(
        netlm("survival", "km", patients, "--time", "followup_months", "--event", "death",
              "--by", "concordance", "--skip-bad", "--format", "json").stdout
    )  # fmt: skip
    expected: dict[str, int] = {}
    for pid in (treated.id, watched.id):
        group = by_patient[pid]["concordance"]
        expected[group] = expected.get(group, 0) + 1
    assert {g["group"]: g["n_risk"][0] for g in km["groups"]} == expected


def test_export_of_a_store_without_follow_up_is_unchanged(
    store: Store, alice: UserInfo, tmp_path: Path
) -> None:
    case = all_examples()[0]
    store.create_case(case, alice)
    decide(store, case, alice, ["surveillance"])
    out = tmp_path / "board.csv"
    assert export_registry(store, out) == 1
    (row,) = pacsv.read_csv(out).to_pylist()
    assert (row["treatment_given"], row["treatment_date"]) == ("surveillance", dt.date(2024, 5, 2))
    assert row["followup_months"] is None
    assert row["death"] is None
