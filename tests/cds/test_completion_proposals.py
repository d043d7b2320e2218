"""Report-text proposals and the treatment history through CDS Hooks and the completion form:
the patient-view keeps them with the case version, the board confirms one on the form, and the
next patient-view keeps what the board confirmed or entered."""

import copy
import re
from typing import Any

from fastapi.testclient import TestClient

from netlm.fhir.cds.completion import ehr_facts, ehr_proposals, ehr_therapy_gaps
from netlm.fhir.cds.service import case_id_for
from netlm.fhir.mapping.result import STATED_GRADE
from tests.app.conftest import login
from tests.app.ehr_case import narrative_ki67_chart
from tests.cds.conftest import BASE, STRATEGY, Cds, check_response, patient_view
from tests.cds.ehr import EHR_ISSUER, load_bundle, prefetch_for
from tests.web.formdata import as_form_data, submitted

KI67 = "pathology.ki67_percent"


def board(env: Cds) -> tuple[TestClient, str]:
    """A clinician signed in to the pages of the CDS app, as a browser (same origin)."""
    env.store.add_user("dr-board", "correct horse battery", "clinician")
    client = TestClient(env.app, base_url=BASE, headers={"Origin": BASE})
    return client, login(client, "dr-board")


def viewed(env: Cds, chart: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """(case id, prefetch, the completion link) after a patient-view of `chart`."""
    patient_id, prefetch = prefetch_for(chart)
    cards = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    link = cards[0]["links"][0]["url"]
    return case_id_for(EHR_ISSUER, patient_id), prefetch, link.removeprefix(BASE)


def save_as_shown(client: TestClient, csrf: str, link: str, **changes: list[str]) -> None:
    form = as_form_data(submitted(client.get(link).text, "class", "case-form"))
    form.update({"csrf_token": [csrf], **changes})
    case_id = link.split("/")[2]
    assert (
        client.post(f"/cases/{case_id}/edit", data=form, follow_redirects=False).status_code == 303
    )


def priors_on_case_page(client: TestClient, case_id: str) -> str:
    page = client.get(f"/cases/{case_id}").text
    found = re.search(r"<dt[^>]*>Prior therapies</dt><dd[^>]*>([^<]*)</dd>", page)
    assert found, "no prior therapies on the case page"
    return found.group(1)


def test_the_patient_view_keeps_proposals_with_the_version_never_in_the_case(env: Cds) -> None:
    case_id, _, _ = viewed(env, narrative_ki67_chart())
    (version,) = env.store.case_versions(case_id)
    proposals = {p.field: p for p in ehr_proposals(version.comment)}
    assert proposals[KI67].value == 8
    assert proposals[KI67].source == "DiagnosticReport/ePath1"
    assert "Ki-67 8%" in proposals[KI67].quote
    assert proposals[STATED_GRADE].value == "G2"
    assert env.store.get_case(case_id).case.pathology.ki67_percent is None
    assert KI67 not in (ehr_facts(version.comment) or {})
    assert any("eMs1" in gap for gap in ehr_therapy_gaps(version.comment))


def test_a_confirmed_proposal_is_a_board_fact_the_next_patient_view_keeps(env: Cds) -> None:
    case_id, prefetch, link = viewed(env, narrative_ki67_chart())
    client, csrf = board(env)
    save_as_shown(client, csrf, link, confirm=[KI67], **{"prior_therapies.0.option": ["ssa"],
                  "prior_therapies.0.outcome": ["progression"]})  # fmt: skip
    assert env.store.get_case(case_id).case.pathology.ki67_percent == 8
    patient_id = prefetch["patient"]["id"]
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    case = env.store.get_case(case_id).case
    assert case.pathology.ki67_percent == 8
    assert [(t.option, t.outcome) for t in case.prior_therapies] == [("ssa", "progression")]
    assert priors_on_case_page(client, case_id) == "SSA: progression"


def test_saving_the_completion_keeps_the_therapy_the_chart_gave(env: Cds) -> None:
    """The chart said "stopped: progression on octreotide LAR"; the completed case must not say
    "Prior therapies: none"."""
    chart = load_bundle("standard-03")
    (statement,) = (e["resource"] for e in chart["entry"]
                    if e["resource"]["resourceType"] == "MedicationStatement")  # fmt: skip
    assert statement["status"] == "stopped"
    assert statement["statusReason"] == [{"text": "progression on octreotide LAR"}]
    case_id, prefetch, link = viewed(env, chart)
    assert "/edit?complete=" in link
    client, csrf = board(env)
    page = client.get(link).text
    assert "treatment history is incomplete" not in page, "the chart gave the history"
    save_as_shown(client, csrf, link, **{"liver.pattern": ["III"]})
    assert priors_on_case_page(client, case_id) == "SSA: progression"
    check_response(env.hook(STRATEGY, patient_view(prefetch["patient"]["id"], prefetch)))
    assert priors_on_case_page(client, case_id) == "SSA: progression"
    assert env.store.get_case(case_id).case.liver.pattern == "III"


def test_a_therapy_without_a_stop_reason_is_asked_for_and_the_answer_kept(env: Cds) -> None:
    chart = load_bundle("standard-03")
    for entry in chart["entry"]:
        entry["resource"].pop("statusReason", None)
    case_id, prefetch, link = viewed(env, chart)
    client, csrf = board(env)
    page = client.get(link).text
    assert 'class="priors to-complete"' in page
    assert "MedicationStatement/v03-med17" in page
    assert priors_on_case_page(client, case_id) == "none"
    save_as_shown(client, csrf, link, **{"prior_therapies.0.option": ["ssa"],
                                         "prior_therapies.0.outcome": ["progression"]})  # fmt: skip
    check_response(env.hook(STRATEGY, patient_view(prefetch["patient"]["id"], prefetch)))
    assert priors_on_case_page(client, case_id) == "SSA: progression"


def test_a_therapy_the_board_adds_to_an_incomplete_history_stays_beside_the_ehrs(
    env: Cds,
) -> None:
    chart = load_bundle("standard-03")
    (ssa,) = (e for e in chart["entry"] if e["resource"]["resourceType"] == "MedicationStatement")
    everolimus = copy.deepcopy(ssa)
    everolimus.pop("fullUrl", None)
    resource = everolimus["resource"]
    resource.update(id="v03-evero", effectivePeriod={"start": "2024-04-01", "end": "2024-09-01"})
    resource.pop("statusReason")
    resource["medicationCodeableConcept"] = {"coding": [
        {"system": "http://www.whocc.no/atc", "code": "L01EG02", "display": "everolimus"}]}  # fmt: skip
    chart["entry"].append(everolimus)
    case_id, prefetch, link = viewed(env, chart)
    client, csrf = board(env)
    assert "MedicationStatement/v03-evero" in client.get(link).text
    save_as_shown(client, csrf, link, **{"prior_therapies.1.option": ["everolimus"],
                                         "prior_therapies.1.outcome": ["progression"]})  # fmt: skip
    patient_id = prefetch["patient"]["id"]
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert priors_on_case_page(client, case_id) == "SSA: progression, everolimus: progression"
    # the EHR withdraws its SSA row: it goes, the board's row stays
    statements = prefetch["medicationStatements"]["entry"]
    next(e for e in statements if e["resource"]["id"] == ssa["resource"]["id"])["resource"][
        "status"
    ] = "entered-in-error"
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    case = env.store.get_case(case_id).case
    assert [(t.option, t.outcome) for t in case.prior_therapies] == [("everolimus", "progression")]


def test_a_changed_report_text_alone_makes_a_new_version_with_its_proposals(env: Cds) -> None:
    """The coded chart is unchanged; only the pathology report's conclusion was amended. The
    completion form must show the new sentence, so the patient-view writes a new version (with
    its assessment in the same transaction) instead of keeping the stale proposal."""
    chart = narrative_ki67_chart()
    case_id, _, _ = viewed(env, chart)
    amended = copy.deepcopy(chart)
    for entry in amended["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DiagnosticReport":
            resource["conclusion"] = resource["conclusion"].replace("Ki-67 8%", "Ki-67 12%")
    viewed(env, amended)
    versions = env.store.case_versions(case_id)
    assert len(versions) == 2
    latest = {p.field: p.value for p in ehr_proposals(versions[-1].comment)}
    assert latest[KI67] == 12
    assert [a.case_version for a in env.store.list_assessments(case_id)] == [1, 2]
    viewed(env, amended)  # the same chart again: nothing new
    assert len(env.store.case_versions(case_id)) == 2
