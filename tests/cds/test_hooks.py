"""Discovery, patient-view, order-select and feedback over HTTP, as an EHR would call them."""

import copy
import datetime as dt
import json
import logging
import re
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netlm.engine import assess
from netlm.fhir.cds.prefetch import PREFETCH
from netlm.fhir.cds.routes import cds_store
from netlm.fhir.cds.service import case_id_for
from netlm.model.parse import parse_case_json
from tests.cds.conftest import (
    BASE,
    DISCOVERY,
    ORDER_CHECK,
    STRATEGY,
    Cds,
    check_response,
    make_env,
    medication_order,
    order_select,
    patient_view,
)
from tests.cds.ehr import EHR_ISSUER, FhirServer

ROOT = Path(__file__).resolve().parents[2]
V03 = tuple[str, dict[str, Any]]


def fhir_context(server: FhirServer, patient_id: str) -> dict[str, Any]:
    return {
        "fhirServer": server.base,
        "fhirAuthorization": {
            "access_token": server.token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Condition.read user/Observation.read",
            "subject": "netlm",
        },
    }


def test_discovery_lists_both_services_with_only_spec_members_and_bounded_prefetch(
    env: Cds,
) -> None:
    response = env.client.get(DISCOVERY, headers=env.ehr.auth(DISCOVERY))
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert services["netlm-strategy"]["hook"] == "patient-view"
    assert services["netlm-order-check"]["hook"] == "order-select"
    members = {"hook", "title", "description", "id", "prefetch", "usageRequirements", "extension"}
    for service in services.values():
        assert set(service) <= members
        assert service["extension"] == {"org.netlm.cds-hooks-version": "2.0.1"}
        assert service["title"]
        assert service["description"]
        assert service["prefetch"] == PREFETCH
        for key, query in service["prefetch"].items():
            tokens = re.findall(r"\{\{(.*?)\}\}", query)
            assert tokens == ["context.patientId"], key  # the only token netlm needs
            if "?" in query:
                assert "_count=100" in query, key
    prefetch = services["netlm-strategy"]["prefetch"]
    assert "_include=DiagnosticReport:result" in prefetch["diagnosticReports"]
    assert "_include=MedicationAdministration:medication" in prefetch["medicationAdministrations"]
    assert all("category=" not in q for q in prefetch.values())  # by code: any category or none


def test_patient_view_with_full_prefetch_gives_the_strategy_and_a_review_card(
    env: Cds, v03: V03
) -> None:
    patient_id, prefetch = v03
    cards = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    info, warning = cards
    assert info["indicator"] == "info"
    assert (
        info["summary"]
        == "netlm: NET G2, liver type III (diffuse): first choice PRRT (recommended)"
    )
    assert "NETTER-1 (phase 3 RCT, N=229)" in info["detail"].replace("\\", "")
    assert "1. **177Lu-DOTATATE PRRT" in info["detail"]
    assert "Availability" in info["detail"]
    assert "`labs.albumin_g_dl`" in info["detail"]
    # albumin decides between PRRT and the next options: the card leads with the branches
    assert "Provisional answer" in info["detail"]
    assert "if ≥ 3 g/dL: PRRT (recommended)" in info["detail"]
    assert info["source"]["label"].startswith("netlm ")
    assert info["source"]["topic"]["code"] == "94381002"
    # the functional syndrome is missing and no standard code netlm reads carries it
    case_url = f"{BASE}/cases/{case_id_for(EHR_ISSUER, patient_id)}"
    assert info["links"] == [
        {
            "label": "Complete the case in netlm",
            "url": (
                f"{case_url}/edit?complete=extrahepatic.limited,primary.functional_syndrome,region"
            ),
            "type": "absolute",
        }
    ]
    assert (
        "No EHR code carries limited extrahepatic disease (liver-dominant), functional syndrome, "
        "region of treatment: complete them in netlm." in info["detail"]
    )
    assert warning["indicator"] == "warning"
    assert "controversial" in warning["summary"]
    assert "missing finding" in warning["summary"]
    assert len({info["uuid"], warning["uuid"]}) == 2


def test_patient_view_stores_the_case_under_a_disabled_service_account(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    record = env.store.get_case(case_id_for(EHR_ISSUER, patient_id))
    expected = parse_case_json(
        (ROOT / "examples" / "03-midgut-progressive-on-ssa-sstr4.json").read_text()
    )
    # the age is computed on the day of the call
    same: dict[str, bool | set[str]] = {"id": True, "patient": {"age_years"}}
    assert record.case.model_dump(exclude=same) == expected.model_dump(exclude=same)
    assert record.created_by == "cds-hooks"
    latest = env.store.latest_assessment(record.case_id)
    assert latest is not None
    assert latest[1] == assess(record.case)
    (account,) = [u for u in env.store.list_users() if u.username == "cds-hooks"]
    assert (account.role, account.disabled) == ("clinician", True)
    # the web app shows it (read through the API as a clinician of the board)
    user = env.store.add_user("dr-b", "correct horse battery", "clinician")
    token = env.store.create_token(user, "t")
    shown = env.client.get(
        f"/api/v1/cases/{case_id_for(EHR_ISSUER, patient_id)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert shown.status_code == 200


def test_a_repeated_view_adds_nothing_and_a_change_adds_a_version(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    before = env.counts()
    assert (before["case_versions"], before["assessments"]) == (1, 1)
    for entry in prefetch["observationsFindings"]["entry"]:
        if entry["resource"]["code"]["coding"][0]["code"] == "29593-1":  # Ki-67 4 % -> 25 %
            entry["resource"]["valueQuantity"]["value"] = 25
    cards = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert cards[0]["summary"].startswith("netlm: NET G3")
    after = env.counts()
    assert (after["case_versions"], after["assessments"]) == (2, 2)
    assert env.store.get_case(case_id_for(EHR_ISSUER, patient_id)).version == 2


def test_patient_view_without_prefetch_reads_the_fhir_server_with_the_token(
    env: Cds, fhir_v03: FhirServer
) -> None:
    body = patient_view("v03", None, **fhir_context(fhir_v03, "v03"))
    cards = check_response(env.hook(STRATEGY, body))
    assert cards[0]["summary"].startswith("netlm: NET G2, liver type III")
    assert fhir_v03.seen_tokens
    assert set(fhir_v03.seen_tokens) == {f"Bearer {fhir_v03.token}"}
    assert any("_page=2" in path for path in fhir_v03.requests)  # followed the next link
    assert any(path.startswith("/fhir/Patient/v03") for path in fhir_v03.requests)
    stored = env.store.get_case(case_id_for(EHR_ISSUER, "v03")).case
    assert stored.pathology.ki67_percent == 4
    assert stored.labs.neutrophils_10e9_per_l == 4


def test_partial_prefetch_is_completed_from_the_fhir_server(
    env: Cds, v03: V03, fhir_v03: FhirServer
) -> None:
    patient_id, prefetch = v03
    del prefetch["observationsLabs"]
    prefetch["procedures"] = None
    body = patient_view(patient_id, prefetch, **fhir_context(fhir_v03, patient_id))
    cards = check_response(env.hook(STRATEGY, body))
    assert cards[0]["summary"].startswith("netlm: NET G2, liver type III")
    fetched = {p.split("?")[0] for p in fhir_v03.requests}
    assert fetched == {"/fhir/Observation", "/fhir/Procedure"}


def test_no_prefetch_and_an_unreachable_fhir_server_is_412_with_an_operation_outcome(
    env: Cds,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env.allow(f"http://127.0.0.1:{port}/fhir")
    body = patient_view("v03", None, fhirServer=f"http://127.0.0.1:{port}/fhir")
    response = env.hook(STRATEGY, body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    no_server = env.hook(STRATEGY, patient_view("v03"))
    assert no_server.status_code == 412
    assert no_server.json()["resourceType"] == "OperationOutcome"
    assert env.counts()["case_versions"] == 0


def test_a_next_link_off_the_fhir_server_is_not_followed(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    prefetch["observationsNetlm"]["link"] = [
        {"relation": "next", "url": "https://elsewhere.example/x"}
    ]
    env.allow("https://fhir.example.org/r4")
    body = patient_view(patient_id, prefetch, fhirServer="https://fhir.example.org/r4")
    response = env.hook(STRATEGY, body)
    assert response.status_code == 412
    assert "off fhirServer" in response.json()["issue"][0]["diagnostics"]


def test_a_patient_without_nets_gets_a_card_saying_why_and_no_case(
    env: Cds, caplog: pytest.LogCaptureFixture
) -> None:
    prefetch: dict[str, Any] = {
        "patient": {"resourceType": "Patient", "id": "p9", "gender": "female"},
    }
    for key in set(PREFETCH) - {"patient"}:
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    with caplog.at_level(logging.WARNING, "netlm.cds"):
        (card,) = check_response(env.hook(STRATEGY, patient_view("p9", prefetch)))
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "netlm: not assessed: no primary NET with a site netlm reads in the chart"
    )
    assert "primary.site" in card["detail"]
    assert "links" not in card
    assert env.counts()["case_versions"] == 0
    assert any("no netlm case for patient p9 (no_primary)" in r.message for r in caplog.records)


def test_a_wrong_patient_prefetch_and_a_wrong_hook_are_refused(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    wrong = env.hook(STRATEGY, patient_view("someone-else", prefetch))
    assert wrong.status_code == 400
    assert wrong.json()["resourceType"] == "OperationOutcome"
    body = patient_view(patient_id, prefetch)
    body["hook"] = "order-sign"
    assert env.hook(STRATEGY, body).status_code == 400
    assert env.hook(f"{BASE}/cds-services/nope", body).status_code == 404
    invalid = env.hook(STRATEGY, {"hook": "patient-view"})
    assert invalid.status_code == 400
    assert "hookInstance" in invalid.json()["issue"][0]["diagnostics"]


MALFORMED_PREFETCH = {
    "entry not an array": ("conditions", {"resourceType": "Bundle", "entry": 5}, ".entry"),
    "entry not an object": ("conditions", {"resourceType": "Bundle", "entry": [5]}, ".entry.0"),
    "resource not an object": (
        "procedures",
        {"resourceType": "Bundle", "entry": [{"resource": "Procedure/p1"}]},
        ".entry.0.resource",
    ),
    "link not an array": ("observationsNetlm", {"resourceType": "Bundle", "link": 5}, ".link"),
    "link url not a string": (
        "observationsFindings",
        {"resourceType": "Bundle", "link": [{"relation": "next", "url": 5}]},
        ".link.0.url",
    ),
    "not a resource": ("patient", "Patient/v03", ""),
    "no resourceType": ("patient", {"id": "v03"}, ""),
}


@pytest.mark.parametrize(
    ("key", "value", "where"), MALFORMED_PREFETCH.values(), ids=MALFORMED_PREFETCH.keys()
)
def test_a_malformed_prefetch_is_400_naming_the_element(
    env: Cds, v03: V03, key: str, value: Any, where: str
) -> None:
    patient_id, prefetch = v03
    prefetch[key] = value
    response = env.hook(STRATEGY, patient_view(patient_id, prefetch))
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"].startswith(f"prefetch.{key}{where}")
    assert env.counts()["case_versions"] == 0


def test_an_access_token_that_cannot_be_a_header_is_400_before_any_read(
    env: Cds, fhir_v03: FhirServer
) -> None:
    body = patient_view("v03", None, **fhir_context(fhir_v03, "v03"))
    body["fhirAuthorization"]["access_token"] = "tokén\r\nX-Injected: 1"
    response = env.hook(STRATEGY, body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"].startswith("fhirAuthorization.access_token")
    assert fhir_v03.requests == []


def _v03_cards(tmp_path: Path, ehr: Any, v03: V03, **settings: Any) -> list[Any]:
    """The cards of a patient-view for v03 with full prefetch, on an app with `settings`."""
    app, _, _ = make_env(tmp_path, **settings)
    cds_store(app).add_client(ehr.issuer, "EHR", ehr.jwks(), [])
    patient_id, prefetch = v03
    with TestClient(app, base_url=BASE) as client:
        response = client.post(
            STRATEGY, json=patient_view(patient_id, prefetch), headers=ehr.auth(STRATEGY)
        )
    return check_response(response)


def test_cards_in_chinese(tmp_path: Path, ehr: Any, v03: V03) -> None:
    cards = _v03_cards(tmp_path, ehr, v03, cds_lang="zh")
    assert cards[0]["summary"] == "netlm：NET G2，肝转移III型（弥漫型）：首选PRRT（推荐）"
    assert "证据" in cards[0]["detail"]
    assert "暂定结论" in cards[0]["detail"]
    assert cards[0]["links"][0]["label"] == "在netlm中补全病例"
    assert (
        "EHR中没有承载肝外病灶局限（以肝脏为主）、功能性综合征、治疗地区的编码"
        in cards[0]["detail"]
    )


# --- feedback --------------------------------------------------------------------------------

FEEDBACK = f"{STRATEGY}/feedback"


def overridden(card_id: str, when: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    return {
        "card": card_id,
        "outcome": "overridden",
        "overrideReason": {
            "reason": {
                "system": "https://ehr.example.org/override",
                "code": "mdt",
                "display": "MDT decided otherwise",
            },
            "userComment": "Board chose everolimus",
        },
        "outcomeTimestamp": when,
    }


def test_feedback_is_stored_once_and_listed_for_the_case(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    info, warning = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    batch = {"feedback": [overridden(info["uuid"]), overridden(info["uuid"])]}
    assert env.hook(FEEDBACK, batch).status_code == 200
    assert env.hook(FEEDBACK, batch).status_code == 200  # redelivered
    later = {"feedback": [overridden(warning["uuid"], "2026-12-01T10:30:00+01:00")]}
    assert env.hook(FEEDBACK, later).status_code == 200
    stored = env.cds.list_feedback(case_id_for(EHR_ISSUER, patient_id))
    assert [(f.card_uuid, f.outcome) for f in stored] == [
        (warning["uuid"], "overridden"),  # 09:30 UTC: listed by outcome time
        (info["uuid"], "overridden"),
    ]
    first = stored[1]
    assert (first.override_code, first.override_display, first.override_comment) == (
        "mdt", "MDT decided otherwise", "Board chose everolimus",
    )  # fmt: skip
    assert first.outcome_timestamp == dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    assert first.card_summary == info["summary"]
    assert first.service == "netlm-strategy"
    audit = [e.action for e in env.store.audit_log(case_id_for(EHR_ISSUER, patient_id))]
    assert audit.count("cds_feedback") == 2


def test_accepted_suggestion_feedback_on_an_order_card(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    order = medication_order("mr-7", patient_id, "L01EX01", "sunitinib")
    (card,) = check_response(env.hook(ORDER_CHECK, order_select(patient_id, [order], prefetch)))
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-12-01T10:00:00Z",
    }
    assert env.hook(f"{ORDER_CHECK}/feedback", {"feedback": [item]}).status_code == 200
    (stored,) = env.cds.list_feedback(case_id_for(EHR_ISSUER, patient_id))
    assert stored.accepted_suggestions == (card["suggestions"][0]["uuid"],)


def test_feedback_on_unknown_cards_or_the_wrong_service_stores_nothing(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    info, _ = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    unknown = {"feedback": [overridden(info["uuid"]), overridden(str(uuid.uuid4()))]}
    response = env.hook(FEEDBACK, unknown)
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (
        env.hook(f"{ORDER_CHECK}/feedback", {"feedback": [overridden(info["uuid"])]}).status_code
        == 422
    )
    assert env.hook(FEEDBACK, {"feedback": [{"card": info["uuid"]}]}).status_code == 400
    assert env.cds.list_feedback(case_id_for(EHR_ISSUER, patient_id)) == []


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_feedback_with_a_time_out_of_range_is_400(env: Cds, v03: V03, when: str) -> None:
    patient_id, prefetch = v03
    info, _ = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    response = env.hook(FEEDBACK, {"feedback": [overridden(info["uuid"], when)]})
    assert response.status_code == 400
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert diagnostics == "feedback.0.outcomeTimestamp: outcomeTimestamp is out of range"


MALFORMED_FEEDBACK: dict[str, tuple[Any, str]] = {
    "not an object": ([1], "(body)"),
    "feedback not an array": ({"feedback": 5}, "feedback"),
    "card not a string": ({"feedback": [{**overridden("c"), "card": 5}]}, "feedback.0.card"),
    "accepted suggestion not an object": (
        {"feedback": [{**overridden("c"), "outcome": "accepted", "acceptedSuggestions": [5]}]},
        "feedback.0.acceptedSuggestions.0",
    ),
    "override reason not a coding": (
        {"feedback": [{**overridden("c"), "overrideReason": {"reason": "mdt"}}]},
        "feedback.0.overrideReason.reason",
    ),
}


@pytest.mark.parametrize(
    ("body", "where"), MALFORMED_FEEDBACK.values(), ids=MALFORMED_FEEDBACK.keys()
)
def test_malformed_feedback_is_400_naming_the_element(env: Cds, body: Any, where: str) -> None:
    response = env.hook(FEEDBACK, body)
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["diagnostics"].startswith(f"{where}:")


def test_a_body_too_deep_for_the_json_parser_is_400(env: Cds) -> None:
    response = env.client.post(
        STRATEGY,
        content="[" * 100_000,
        headers={**env.ehr.auth(STRATEGY), "Content-Type": "text/plain"},
    )
    assert response.status_code == 400  # the guard reads every body but a form as JSON
    assert response.json()["issue"][0]["diagnostics"] == "nested deeper than 64 levels"


def test_cors_is_limited_to_listed_origins_and_to_cds_services(tmp_path: Path) -> None:
    from netlm.fhir.cds.routes import add_cors

    app, _, settings = make_env(tmp_path, cds_cors_origins=("https://ehr.example.org",))
    add_cors(app, settings)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with TestClient(app, base_url=BASE) as client:
        ok = client.options(STRATEGY, headers={"Origin": "https://ehr.example.org", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://ehr.example.org"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        bad = client.options(STRATEGY, headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in bad.headers
        api = client.options(
            "/api/v1/assess", headers={"Origin": "https://ehr.example.org", **preflight}
        )
        assert "access-control-allow-origin" not in api.headers


def test_the_hospital_region_completes_charts_that_carry_none(
    tmp_path: Path, ehr: Any, v03: V03
) -> None:
    """NETLM_CDS_REGION: approval-dependent options are judged for the hospital's region and
    the card stops asking for it."""
    cards = _v03_cards(tmp_path, ehr, v03, cds_region="EU")
    assert "region" not in cards[0]["links"][0]["url"]
    assert "surufatinib" not in cards[0]["detail"].lower().split("not proposed")[0]


def test_another_fhir_version_and_a_chart_without_liver_metastases_get_cards_saying_so(
    env: Cds, v03: V03
) -> None:
    patient_id, prefetch = v03
    dstu2 = copy.deepcopy(prefetch)
    dstu2["patient"]["name"] = [{"family": ["Doe"]}]  # DSTU2: family is a list
    (card,) = check_response(env.hook(STRATEGY, patient_view(patient_id, dstu2)))
    assert card["summary"] == "netlm: not assessed: the chart is not FHIR R4"
    assert "DSTU2" in card["detail"]
    for key in ("conditions", "observationsNetlm"):
        prefetch[key]["entry"] = [
            e for e in prefetch[key]["entry"] if "liver" not in json.dumps(e["resource"]).lower()
        ]
    (card,) = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert card["summary"] == "netlm: not assessed: no liver metastases recorded in the chart"
    assert env.counts()["case_versions"] == 0
