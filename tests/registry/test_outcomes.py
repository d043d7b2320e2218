"""Outcome columns from follow-up events: the origin, months, censoring, corrections, and empty
columns (never 0) without follow-up."""

import datetime as dt
from typing import Any

import pytest

from netlm.registry.outcomes import (
    DAYS_PER_MONTH,
    origin,
    outcome_columns,
    treatments_started,
)
from netlm.store.followup import FollowUpEvent

DECIDED = dt.date(2024, 5, 2)
RECORDED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
EMPTY = dict.fromkeys(("followup_months", "death", "progression_months", "progressed"))


def ev(id: int, kind: str, date: str, **fields: Any) -> FollowUpEvent:
    return FollowUpEvent.model_validate(
        {"id": id, "case_id": "v01", "kind": kind, "date": date, "recorded_at": RECORDED,
         "recorded_by": "alice", **fields}
    )  # fmt: skip


def months(start: str, end: str) -> float:
    return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days / DAYS_PER_MONTH


def test_no_follow_up_leaves_the_columns_empty() -> None:
    assert outcome_columns([], DECIDED) == EMPTY
    before = [ev(1, "last_contact", "2024-01-01")]
    assert outcome_columns(before, DECIDED) == EMPTY


def test_origin_is_the_first_treatment_started_after_the_decision() -> None:
    events = [
        ev(1, "treatment", "2024-01-01", options=["surveillance"]),  # before the board
        ev(2, "treatment", "2024-05-16", options=["ssa"]),
        ev(3, "treatment", "2024-05-16", options=["ssa", "prrt"]),
        ev(4, "treatment", "2024-08-01", options=["everolimus"]),
    ]
    assert origin(events, DECIDED) == dt.date(2024, 5, 16)
    assert treatments_started(events, DECIDED) == ["ssa", "prrt"]
    assert origin(events[:1], DECIDED) == DECIDED
    assert treatments_started(events[:1], DECIDED) == []


def test_death_and_first_progression_from_the_origin() -> None:
    events = [
        ev(1, "progression", "2024-03-01", criteria="recist_1_1"),  # what brought it to the board
        ev(2, "progression", "2024-11-16", criteria="recist_1_1"),
        ev(3, "progression", "2025-02-01", criteria="clinical"),
        ev(4, "death", "2025-05-16"),
    ]
    start = dt.date(2024, 5, 16)
    assert outcome_columns(events, start) == {
        "followup_months": pytest.approx(365 / DAYS_PER_MONTH),
        "death": 1,
        "progression_months": pytest.approx(184 / DAYS_PER_MONTH),
        "progressed": 1,
    }


def test_censored_at_the_latest_event_and_corrections_replace() -> None:
    events = [
        ev(1, "death", "2025-01-10", superseded_by=2),
        ev(2, "last_contact", "2025-01-10", supersedes=1),
        ev(3, "treatment", "2024-05-02", options=["ssa"], stopped="2025-03-01"),
        ev(4, "progression", "2024-07-01", criteria="choi", superseded_by=5),
        ev(5, "last_contact", "2024-07-01", supersedes=4),
    ]
    assert outcome_columns(events, DECIDED) == {
        "followup_months": pytest.approx(months("2024-05-02", "2025-03-01")),
        "death": 0,
        "progression_months": pytest.approx(months("2024-05-02", "2025-03-01")),
        "progressed": 0,
    }
