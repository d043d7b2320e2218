"""Follow-up events read from the charts in examples/fhir/feeds (standard codes only): treatments
with their dates and regimens, progression from mCODE disease status, death from the Patient;
stored once, a treatment that has since stopped correcting the one recorded while it ran."""

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from netlm.fhir.mapping.followup import follow_up_from_bundle, save_follow_up
from netlm.store import Store, UserInfo
from tests.store.conftest import alice, clock, db_url, example, store

__all__ = ["alice", "clock", "db_url", "store"]  # fixtures used here

FEEDS = Path(__file__).resolve().parents[2] / "examples" / "fhir" / "feeds"
TODAY = dt.date(2026, 12, 1)


def feed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FEEDS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def read(name: str, on: dt.date = TODAY, bundle: dict[str, Any] | None = None) -> list[Any]:
    found = follow_up_from_bundle(bundle or feed(name), on=on)
    return [
        (f.event.kind.value, str(f.event.date), f.event.options, f.event.criteria, f.event.stopped)
        for f in found.events
    ]


@pytest.mark.parametrize(
    ("name", "events"),
    [
        ("cerner-01-rectal-nec-after-platinum", [
            ("treatment", "2023-07-01", ["platinum_etoposide"], None, dt.date(2023, 10, 15)),
            ("progression", "2024-01-20", [], "other", None),
        ]),
        ("cerner-02-jejunal-net-as-of-date", [
            ("treatment", "2023-10-01", ["ssa"], None, dt.date(2024, 6, 1)),
        ]),
        ("epic-01-ileal-net-c7a", [("treatment", "2024-02-05", ["ssa"], None, None)]),
        ("epic-02-pnet-pathology-report", [
            ("treatment", "2022-05-01", ["ssa"], None, dt.date(2023, 11, 20)),
        ]),
        ("mcode-01-pnet-after-prrt", [
            ("treatment", "2023-01-10", ["prrt"], None, dt.date(2023, 6, 27)),
            ("treatment", "2023-09-01", ["everolimus"], None, None),
        ]),
        ("mcode-02-ileal-net-progressing-on-ssa", [
            ("treatment", "2021-06-01", ["ssa"], None, None),
            ("progression", "2024-01-30", [], "other", None),
        ]),
    ],
)  # fmt: skip
def test_each_feed_gives_its_events(name: str, events: list[Any]) -> None:
    assert read(name) == events


def test_a_plan_is_listed_not_read() -> None:
    found = follow_up_from_bundle(feed("epic-01-ileal-net-c7a"), on=TODAY)
    assert any("intent 'plan'" in reason for reason in found.not_used)


def test_dates_after_on_are_left_out_and_a_running_treatment_has_no_stop() -> None:
    assert read("cerner-02-jejunal-net-as-of-date", on=dt.date(2024, 3, 1)) == [
        ("treatment", "2023-10-01", ["ssa"], None, None)
    ]
    assert read("cerner-01-rectal-nec-after-platinum", on=dt.date(2023, 6, 30)) == []


def test_death_and_criteria_from_the_chart() -> None:
    bundle = copy.deepcopy(feed("mcode-02-ileal-net-progressing-on-ssa"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["deceasedDateTime"] = "2024-06-03T10:00:00Z"
        if resource.get("id") == "status":
            resource["method"] = {"text": "RECIST 1.1"}
    events = read("", bundle=bundle)
    assert ("death", "2024-06-03", [], None, None) in events
    assert ("progression", "2024-01-30", [], "recist_1_1", None) in events
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            del resource["deceasedDateTime"]
            resource["deceasedBoolean"] = True
    found = follow_up_from_bundle(bundle, on=TODAY)
    assert any("without a date" in reason for reason in found.not_used)


def test_saved_once_and_a_stop_corrects_the_running_treatment(
    store: Store, alice: UserInfo
) -> None:
    store.create_case(example("01"), alice)
    running = follow_up_from_bundle(
        feed("cerner-02-jejunal-net-as-of-date"), on=dt.date(2024, 3, 1)
    )
    (first,) = save_follow_up(store, "v01", running, alice)
    assert first.stored is not None
    assert first.stored.stopped is None
    (again,) = save_follow_up(store, "v01", running, alice)
    assert (again.stored, again.reason) == (None, "already recorded")
    stopped = follow_up_from_bundle(feed("cerner-02-jejunal-net-as-of-date"), on=TODAY)
    (corrected,) = save_follow_up(store, "v01", stopped, alice)
    assert corrected.stored is not None
    assert corrected.stored.supersedes == first.stored.id
    listed = store.list_follow_up("v01")
    assert [(e.stopped, e.superseded_by) for e in listed] == [
        (None, corrected.stored.id),
        (dt.date(2024, 6, 1), None),
    ]


def test_a_refused_event_is_reported_with_the_reason(store: Store, alice: UserInfo) -> None:
    store.create_case(example("01"), alice)
    bundle = copy.deepcopy(feed("cerner-01-rectal-nec-after-platinum"))
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["deceasedDateTime"] = "2023-12-01"
    results = save_follow_up(store, "v01", follow_up_from_bundle(bundle, on=TODAY), alice)
    refused = [r for r in results if r.stored is None]
    assert [r.found.event.kind.value for r in refused] == ["progression"]
    assert refused[0].reason.startswith("date: is after the death recorded on 2023-12-01")
