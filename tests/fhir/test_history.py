"""Treatment history as feeds send it: MedicationAdministration (PRRT cycles), intents that are
plans, stop reasons coded by mCODE or written as words; and the chart as it stood on a date."""

import datetime as dt
from typing import Any

from netlm.fhir import bundle_to_case
from netlm.fhir import codes as c
from netlm.fhir.mapping.result import AFTER_DATE
from tests.fhir.charts import ON, SUBJECT, bundle, concept, mapped, med, obs, qty, reasons

LUTATHERA = concept(c.ATC, "V10XX04")
OCTREOTIDE = concept(c.ATC, "H01CB02")


def given(rid: str, day: str, status: str = "completed") -> dict[str, Any]:
    return {"resourceType": "MedicationAdministration", "id": rid, "status": status,
            "medicationCodeableConcept": LUTATHERA, "subject": SUBJECT,
            "effectiveDateTime": day}  # fmt: skip


def therapies(result: Any) -> list[tuple[str, str]]:
    return [(t.option, t.outcome) for t in result.case.prior_therapies]


def test_prrt_cycles_are_one_course() -> None:
    result = mapped(*(given(f"c{i}", f"2023-0{2 * i + 1}-10") for i in range(4)))
    assert therapies(result) == [("prrt", "completed")]
    assert (
        result.sources["prior_therapies[0]"] == "MedicationAdministration/c0 and 3 more (4 given)"
    )


def test_a_cycle_in_progress_makes_the_course_ongoing_and_an_error_never_counts() -> None:
    result = mapped(given("c1", "2024-01-10"), given("c2", "2024-03-10", "in-progress"),
                    given("c3", "2024-03-11", "entered-in-error"))  # fmt: skip
    assert therapies(result) == [("prrt", "ongoing")]
    assert any("entered-in-error" in r for r in reasons(result, "prior_therapies"))


def request(rid: str, intent: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": intent,
            "medicationCodeableConcept": OCTREOTIDE, "subject": SUBJECT,
            "authoredOn": "2024-01-01", **fields}  # fmt: skip


def test_a_planned_or_proposed_request_is_not_a_therapy() -> None:
    for intent in ("plan", "proposal", "option"):
        result = mapped(request("r", intent))
        assert therapies(result) == []
        assert f"intent {intent!r}" in reasons(result, "prior_therapies")[0]
    assert therapies(mapped(request("r", "order"))) == [("ssa", "ongoing")]
    assert therapies(mapped(request("r", "order", doNotPerform=True))) == []


def stopped(reason: dict[str, Any], *, extension: bool = False) -> dict[str, Any]:
    out = med("m", OCTREOTIDE, "stopped")
    if extension:
        out["extension"] = [{"url": c.MCODE_TERMINATION_EXT, "valueCodeableConcept": reason}]
    else:
        out["statusReason"] = [reason]
    return out


def test_mcode_termination_reasons() -> None:
    intolerance = concept(c.SNOMED, "407563006")
    assert therapies(mapped(stopped(intolerance))) == [("ssa", "intolerance")]
    completed = stopped(concept(c.SNOMED, "182992009"), extension=True)
    completed["resourceType"] = "MedicationRequest"
    completed |= {"intent": "order", "authoredOn": "2023-01-01"}
    del completed["effectivePeriod"]
    assert therapies(mapped(completed)) == [("ssa", "completed")]


def test_no_response_is_not_read_as_progression() -> None:
    result = mapped(stopped(concept(c.SNOMED, "266721009")))
    assert therapies(result) == []
    assert any("no response to treatment" in r for r in reasons(result, "prior_therapies"))


def test_stop_reasons_in_words() -> None:
    assert therapies(mapped(stopped({"text": "Disease progression"}))) == [("ssa", "progression")]
    assert therapies(mapped(stopped({"text": "stopped: not tolerated"}))) == [
        ("ssa", "intolerance")
    ]
    assert therapies(mapped(stopped({"text": "no progression, patient choice"}))) == []
    late = stopped({"text": "Disease progression; no further benefit expected"})
    assert therapies(mapped(late)) == [("ssa", "progression")]


def test_as_of_a_date_later_resources_are_left_out_and_listed() -> None:
    early = obs("k1", c.LOINC, c.KI67, "2024-01-10", valueQuantity=qty(4, "%"))
    late = obs("k2", c.LOINC, c.KI67, "2024-05-10", valueQuantity=qty(25, "%"))
    issued_late = obs(
        "e", c.LOINC, c.ECOG, "2024-01-10", valueInteger=1, issued="2024-05-01T09:00:00Z"
    )
    data = bundle(early, late, issued_late)
    then = bundle_to_case(data, on=dt.date(2024, 3, 1))
    assert then.case.pathology.ki67_percent == 4
    assert then.case.patient.ecog is None
    after = reasons(then, AFTER_DATE)
    assert any(
        "Observation/k2 has effectiveDateTime 2024-05-10, after 2024-03-01" in r for r in after
    )
    assert any("Observation/e has issued 2024-05-01" in r for r in after)
    assert bundle_to_case(data, on=ON).case.pathology.ki67_percent == 25


def test_as_of_a_date_a_therapy_stopped_later_was_ongoing() -> None:
    ssa = med("m", OCTREOTIDE, "completed", start="2023-01-01")
    ssa["effectivePeriod"]["end"] = "2024-02-01"
    assert therapies(bundle_to_case(bundle(ssa), on=dt.date(2023, 6, 1))) == [("ssa", "ongoing")]
    assert therapies(bundle_to_case(bundle(ssa), on=ON)) == [("ssa", "completed")]
