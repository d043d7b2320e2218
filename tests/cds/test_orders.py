"""order-select over HTTP: draft orders checked against netlm's assessment of the patient."""

from typing import Any

import pytest

from tests.cds.conftest import (
    ORDER_CHECK,
    Cds,
    check_response,
    medication_order,
    order_select,
)
from tests.cds.ehr import load_bundle, prefetch_for

V03 = tuple[str, dict[str, Any]]


def test_an_excluded_order_gets_a_warning_with_the_reasons(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    order = medication_order("mr-1", patient_id, "L01EX01", "sunitinib 37.5 mg")
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("netlm: sunitinib is not proposed for this patient")
    assert "pancreatic NET only" in card["detail"]
    assert "177Lu-DOTATATE PRRT" in card["detail"]  # what is proposed instead
    (suggestion,) = card["suggestions"]
    assert card["selectionBehavior"] == "at-most-one"
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": suggestion["label"],
            "resourceId": "MedicationRequest/mr-1",
        }
    ]


def test_a_proposed_order_gets_an_info_card_with_its_rank(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    order = {
        "resourceType": "MedicationRequest",
        "id": "mr-2",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {"text": "Lutathera (lutetium Lu 177 dotatate) 7.4 GBq"},
    }
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    assert card["indicator"] == "info"
    assert (
        card["summary"] == "netlm: PRRT is proposed for this patient (rank 1, tier 1, recommended)"
    )
    assert "NETTER-1" in card["detail"]


def test_an_order_against_a_nec_is_critical(env: Cds) -> None:
    patient_id, prefetch = prefetch_for(load_bundle("05"))
    order = medication_order("mr-3", patient_id, "H01CB02", "octreotide LAR 30 mg")
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    assert card["indicator"] == "critical"
    assert "NEC" in card["summary"]


def test_unknown_and_diagnostic_orders_get_no_card_and_no_chart_read(env: Cds) -> None:
    orders = [
        medication_order("mr-4", "v03", "N02BE01", "paracetamol 1 g"),
        {
            "resourceType": "ServiceRequest",
            "id": "sr-1",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": "Patient/v03"},
            "code": {"text": "Ga-68 DOTATATE PET/CT"},
        },
    ]
    # no prefetch and no FHIR server: a chart read would be a 412
    assert check_response(env.hook(ORDER_CHECK, order_select("v03", orders))) == []


def test_only_selected_orders_are_checked(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    orders = [
        medication_order("mr-5", patient_id, "L01EX01", "sunitinib"),
        medication_order("mr-6", patient_id, "L01EG02", "everolimus 10 mg"),
    ]
    body = order_select(patient_id, orders, prefetch)
    body["context"]["selections"] = ["MedicationRequest/mr-6"]
    (card,) = check_response(env.hook(ORDER_CHECK, body))
    assert (
        card["summary"]
        == "netlm: everolimus is proposed for this patient (rank 2, tier 2, recommended)"
    )


def test_a_liver_directed_service_request_is_checked(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    order = {
        "resourceType": "ServiceRequest",
        "id": "sr-2",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {"text": "Transarterial chemoembolization of liver"},
    }
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    assert card["indicator"] == "warning"
    assert "TACE" in card["summary"]


def draft(*resources: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def medication(**changes: Any) -> dict[str, Any]:
    return {**medication_order("mr-9", "v03", "L01EX01", "sunitinib"), **changes}


ORDER = "context.draftOrders.entry.0.resource"
MALFORMED_ORDERS: dict[str, tuple[dict[str, Any], str]] = {
    "entry not an array": (
        {"draftOrders": {"resourceType": "Bundle", "entry": 5}},
        "context.draftOrders.entry",
    ),
    "draftOrders missing": ({"draftOrders": None}, "context.draftOrders"),
    "entry without a resource": ({"draftOrders": {"entry": [{"fullUrl": "urn:x"}]}}, ORDER),
    "resource not an object": ({"draftOrders": {"entry": [{"resource": 5}]}}, ORDER),
    "coding not an array": (
        {"draftOrders": draft(medication(medicationCodeableConcept={"coding": 5}))},
        f"{ORDER}.medicationCodeableConcept.coding",
    ),
    "coding not an object": (
        {"draftOrders": draft(medication(medicationCodeableConcept={"coding": [5]}))},
        f"{ORDER}.medicationCodeableConcept.coding.0",
    ),
    "code not a string": (
        {
            "draftOrders": draft(
                medication(
                    medicationCodeableConcept={
                        "coding": [{"system": "http://www.whocc.no/atc", "code": ["L01EX01"]}]
                    }
                )
            )
        },
        f"{ORDER}.medicationCodeableConcept.coding.0.code",
    ),
    "system not a string": (
        {
            "draftOrders": draft(
                medication(medicationCodeableConcept={"coding": [{"system": 5, "code": "L01EX01"}]})
            )
        },
        f"{ORDER}.medicationCodeableConcept.coding.0.system",
    ),
    "service request code not a concept": (
        {"draftOrders": draft({"resourceType": "ServiceRequest", "id": "sr-9", "code": "TACE"})},
        f"{ORDER}.code",
    ),
    "contained not an array": (
        {
            "draftOrders": draft(
                medication(
                    medicationCodeableConcept=None,
                    medicationReference={"reference": "#m"},
                    contained=5,
                )
            )
        },
        f"{ORDER}.contained",
    ),
    "contained medication code not a concept": (
        {
            "draftOrders": draft(
                medication(
                    medicationCodeableConcept=None,
                    medicationReference={"reference": "#m"},
                    contained=[
                        {"resourceType": "Medication", "id": "m", "code": {"coding": [{"code": 1}]}}
                    ],
                )
            )
        },
        f"{ORDER}.contained.0.code.coding.0.code",
    ),
    "selections not strings": ({"selections": [5]}, "context.selections.0"),
}


@pytest.mark.parametrize(
    ("context", "where"), MALFORMED_ORDERS.values(), ids=MALFORMED_ORDERS.keys()
)
def test_malformed_draft_orders_are_400_naming_the_element(
    env: Cds, v03: V03, context: dict[str, Any], where: str
) -> None:
    patient_id, prefetch = v03
    body = order_select(patient_id, [medication()], prefetch)
    body["context"].update(context)
    response = env.hook(ORDER_CHECK, body)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "invalid"
    assert outcome["issue"][0]["diagnostics"].startswith(f"{where}:")
    assert env.counts()["case_versions"] == 0


def test_a_contained_medication_is_checked_and_other_contained_codes_are_ignored(
    env: Cds, v03: V03
) -> None:
    patient_id, prefetch = v03
    order = medication(
        medicationCodeableConcept=None,
        medicationReference={"reference": "#m"},
        contained=[
            {"resourceType": "Questionnaire", "id": "q", "code": [{"code": "a"}]},
            {"resourceType": "Medication", "id": "m", "code": {"text": "Sunitinib 37.5 mg"}},
        ],
    )
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    assert card["summary"].startswith("netlm: sunitinib is not proposed for this patient")


def test_a_draft_order_coded_as_an_rxnorm_product_is_checked(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    order = medication_order("mr-9", patient_id, "L01EX01", "Sutent")
    order["medicationCodeableConcept"]["coding"] = [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "616279"}
    ]
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    assert card["summary"].startswith("netlm: sunitinib is not proposed for this patient")
