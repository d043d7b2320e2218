"""Follow-up events on SQLite and PostgreSQL: stored append-only and audited, corrected by
superseding, and refused (naming the field) when they contradict the date, the knowledge base or
the case's other events."""

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from netlm.store import NotFound, Store, UserInfo, ValidationFailed
from netlm.store.followup import FollowUpEvent, FollowUpIn, FollowUpKind, ProgressionCriteria
from tests.store.conftest import example


def ev(kind: str, date: str, **fields: Any) -> FollowUpIn:
    return FollowUpIn.model_validate({"kind": kind, "date": date, **fields})


@pytest.fixture
def case(store: Store, alice: UserInfo) -> str:
    return store.create_case(example("01"), alice).case_id


def test_events_are_stored_listed_by_date_and_audited(
    store: Store, alice: UserInfo, case: str
) -> None:
    treated = store.add_follow_up(
        case, ev("treatment", "2025-04-01", options=["ssa"], stopped="2025-09-30"), alice
    )
    progressed = store.add_follow_up(
        case, ev("progression", "2025-09-12", criteria="recist_1_1", note="segment 7"), alice
    )
    contact = store.add_follow_up(case, ev("last_contact", "2025-01-10"), alice)
    assert isinstance(treated, FollowUpEvent)
    assert (treated.kind, treated.options, treated.stopped) == (
        FollowUpKind.TREATMENT,
        ["ssa"],
        dt.date(2025, 9, 30),
    )
    assert (progressed.criteria, progressed.note) == (ProgressionCriteria.RECIST, "segment 7")
    assert (treated.recorded_by, treated.recorded_by_name) == ("alice", "Dr Alice")
    assert treated.superseded_by is None
    assert treated.case_id == case
    assert store.list_follow_up(case) == [contact, treated, progressed]
    rows = [e for e in store.audit_log(entity_id=case) if e.action == "follow_up"]
    assert [(e.username, e.detail["follow_up_id"], e.detail["kind"]) for e in rows] == [
        ("alice", contact.id, "last_contact"),
        ("alice", progressed.id, "progression"),
        ("alice", treated.id, "treatment"),
    ]


def test_a_correction_supersedes_and_the_earlier_event_stays(
    store: Store, alice: UserInfo, case: str
) -> None:
    wrong = store.add_follow_up(case, ev("death", "2025-02-01"), alice)
    right = store.add_follow_up(
        case, ev("death", "2025-03-01", supersedes=wrong.id, note="certificate"), alice
    )
    first, second = store.list_follow_up(case)
    assert (first.id, first.superseded_by, first.date) == (wrong.id, right.id, dt.date(2025, 2, 1))
    assert (second.id, second.supersedes, second.superseded_by) == (right.id, wrong.id, None)
    with pytest.raises(ValidationFailed) as twice:
        store.add_follow_up(case, ev("death", "2025-03-02", supersedes=wrong.id), alice)
    assert twice.value.field == "supersedes"
    assert f"by event {right.id}" in twice.value.message
    audit = [e.detail for e in store.audit_log(entity_id=case) if e.action == "follow_up"]
    assert audit[0]["supersedes"] == wrong.id


def test_follow_up_rows_are_append_only(store: Store, alice: UserInfo, case: str) -> None:
    store.add_follow_up(case, ev("last_contact", "2025-01-10"), alice)
    for statement in ("UPDATE follow_up_events SET note = 'x'", "DELETE FROM follow_up_events"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as c:
            c.execute(text(statement))
    assert len(store.list_follow_up(case)) == 1


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        (ev("last_contact", "1899-12-31"), "date", "before 1900-01-01"),
        (ev("last_contact", "2999-01-01"), "date", "in the future"),
        (ev("treatment", "2025-01-01", options=["ssa"], stopped="2999-01-01"), "stopped", "future"),
        (ev("treatment", "2025-01-01", options=["ssa", "nonsense"]), "options", "'nonsense'"),
        (ev("last_contact", "2025-01-01", supersedes=999), "supersedes", "no follow-up event 999"),
    ],
)
def test_refusals_name_the_field(
    store: Store, alice: UserInfo, case: str, event: FollowUpIn, field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        store.add_follow_up(case, event, alice)
    assert refused.value.field == field
    assert words in refused.value.message
    assert store.list_follow_up(case) == []
    assert not [e for e in store.audit_log(entity_id=case) if e.action == "follow_up"]


def test_one_death_and_nothing_after_it(store: Store, alice: UserInfo, case: str) -> None:
    store.add_follow_up(case, ev("last_contact", "2025-05-01"), alice)
    with pytest.raises(ValidationFailed) as early:
        store.add_follow_up(case, ev("death", "2025-04-01"), alice)
    assert early.value.field == "date"
    assert "last contact of 2025-05-01" in early.value.message
    death = store.add_follow_up(case, ev("death", "2025-06-01"), alice)
    with pytest.raises(ValidationFailed) as again:
        store.add_follow_up(case, ev("death", "2025-06-02"), alice)
    assert again.value.field == "kind"
    assert f"event {death.id}" in again.value.message
    with pytest.raises(ValidationFailed) as after:
        store.add_follow_up(case, ev("progression", "2025-06-05", criteria="clinical"), alice)
    assert after.value.field == "date"
    assert "after the death" in after.value.message
    with pytest.raises(ValidationFailed) as stopped:
        store.add_follow_up(
            case, ev("treatment", "2025-05-01", options=["ssa"], stopped="2025-07-01"), alice
        )
    assert stopped.value.field == "stopped"
    on_the_day = store.add_follow_up(case, ev("progression", "2025-06-01", criteria="choi"), alice)
    assert on_the_day.date == death.date
    moved = store.add_follow_up(case, ev("death", "2025-08-01", supersedes=death.id), alice)
    assert store.add_follow_up(case, ev("last_contact", "2025-07-01"), alice).date < moved.date


def test_unknown_or_deleted_case_is_not_found(store: Store, alice: UserInfo, case: str) -> None:
    with pytest.raises(NotFound):
        store.add_follow_up("nobody", ev("last_contact", "2025-01-01"), alice)
    other = store.create_case(example("02"), alice).case_id
    first = store.add_follow_up(other, ev("last_contact", "2025-01-01"), alice)
    with pytest.raises(ValidationFailed, match="supersedes"):  # an event of another case
        store.add_follow_up(case, ev("last_contact", "2025-01-02", supersedes=first.id), alice)
    store.delete_case(case, alice, "entered twice")
    with pytest.raises(NotFound):
        store.add_follow_up(case, ev("last_contact", "2025-01-01"), alice)
    with pytest.raises(NotFound):
        store.list_follow_up(case)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "progression", "date": "2025-01-01"}, "criteria"),
        ({"kind": "death", "date": "2025-01-01", "criteria": "choi"}, "criteria"),
        ({"kind": "treatment", "date": "2025-01-01"}, "options"),
        ({"kind": "death", "date": "2025-01-01", "options": ["ssa"]}, "options"),
        ({"kind": "treatment", "date": "2025-01-01", "options": ["ssa", "ssa"]}, "options"),
        ({"kind": "death", "date": "2025-01-01", "stopped": "2025-02-01"}, "stopped"),
        (
            {
                "kind": "treatment",
                "date": "2025-02-01",
                "options": ["ssa"],
                "stopped": "2025-01-01",
            },
            "stopped",
        ),
        ({"kind": "death", "date": "2025-01-01", "note": "a\u202eb"}, "note"),
        ({"kind": "death", "date": "2025-01-01", "note": "x" * 5001}, "note"),
        ({"kind": "death", "date": "2025-01-01", "extra": 1}, "extra"),
        ({"kind": "birth", "date": "2025-01-01"}, "kind"),
    ],
)
def test_the_model_names_the_field_of_an_inconsistent_event(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        FollowUpIn.model_validate(fields)
    assert [e["loc"][0] for e in refused.value.errors()] == [field]
