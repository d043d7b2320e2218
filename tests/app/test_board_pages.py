"""The board's pages through HTTP: decisions keep every entry, the history filters its audit
trail, versions are pages with their changes, errors are pages (JSON stays for the API)."""

import re

from netlm.fhir.cds.completion import version_comment
from netlm.fhir.mapping.result import FhirImport
from netlm.model.parse import parse_case
from tests.app.conftest import Env, login
from tests.conftest import EXAMPLES, load_json
from tests.web.formdata import as_form_data, submitted


def seed(env: Env) -> None:
    for path in EXAMPLES[:8]:
        env.client().post("/api/v1/cases", json=load_json(path), headers=env.auth("clinician"))


def test_a_decision_outside_the_first_tier_needs_a_reason_and_keeps_every_entry(env: Env) -> None:
    seed(env)
    client = env.client()
    csrf = login(client, "clinician")
    entered = {"csrf_token": csrf, "decided_on": "2026-12-01", "chosen_options": ["tace", "ssa"],
               "participants": "Dr Li\nDr Wang", "notes": "keep these notes"}  # fmt: skip
    refused = client.post("/cases/v03/decisions", data=entered)
    assert refused.status_code == 422
    assert 'id="override-problem"' in refused.text
    shown = as_form_data(submitted(refused.text, "id", "decision-form"))
    assert shown["chosen_options"] == ["tace", "ssa"]  # in the page's order
    assert shown["participants"] == ["Dr Li\nDr Wang"]
    assert shown["notes"] == ["keep these notes"]
    assert shown["decided_on"] == ["2026-12-01"]
    saved = client.post("/cases/v03/decisions", data={**entered, "override_reason": "frailty"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    first = client.post("/cases/v03/decisions", data={**entered, "chosen_options": "prrt",
                                                       "decided_on": "2026-12-08"},
                        follow_redirects=False)  # fmt: skip
    assert first.status_code == 303, "the first tier needs no reason"
    page = client.get("/cases/v03").text
    newest, older = page.index("2026-12-08"), page.index("2026-12-01")
    assert newest < older
    assert "Transarterial chemoembolisation" in page
    history = client.get("/cases/v03/history").text
    for text in ("Dr Wang", "frailty", "keep these notes", "Transarterial chemoembolisation"):
        assert text in history


def test_history_hides_openings_unless_asked_and_filters_by_event(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "clinician")
    for _ in range(3):
        client.get("/cases/v01")
    default = client.get("/cases/v01/history").text
    assert 'data-action="read"' not in default
    assert 'data-action="create"' in default
    with_reads = client.get("/cases/v01/history?reads=1").text
    assert with_reads.count('data-action="read"') >= 3
    only = client.get("/cases/v01/history?action=assess").text
    assert 'data-action="assess"' in only
    assert 'data-action="create"' not in only
    assert "version 1 assessed with knowledge base" in only


def test_a_version_is_a_page_with_its_changes(env: Env) -> None:
    seed(env)
    client = env.client()
    csrf = login(client, "clinician")
    form = as_form_data(submitted(client.get("/cases/v06/edit").text, "class", "case-form"))
    form.update({"csrf_token": [csrf], "liver.lesion_count": ["2"], "comment": ["recount"]})
    assert client.post("/cases/v06/edit", data=form, follow_redirects=False).status_code == 303
    assert 'href="/cases/v06/versions/2"' in client.get("/cases/v06/history").text
    page = client.get("/cases/v06/versions/2")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "Changes from version 1" in page.text
    assert "<del>1</del>" in page.text
    assert "<ins>2</ins>" in page.text
    assert "recount" in page.text
    assert client.get("/cases/v06/versions/9").status_code == 404


def test_errors_are_pages_for_pages_and_json_for_the_api(env: Env) -> None:
    client = env.client()
    login(client, "viewer")
    for path in ("/cases/nope", "/cases/nope/history", "/nothing"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "text/html" in response.headers["content-type"], path
        assert "Not found." in response.text
    forbidden = client.get("/cases/new?lang=zh")
    assert forbidden.status_code == 403
    assert "您的角色无权执行此操作" in forbidden.text
    api = client.get("/api/v1/cases/nope", headers=env.auth("viewer"))
    assert api.status_code == 404
    assert api.json()["errors"][0]["field"] == "(path)"


def test_delete_sits_apart_from_the_frequent_actions(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "clinician")
    page = client.get("/cases/v02").text
    actions = page[
        page.index('class="actions') : page.index("</div>", page.index('class="actions'))
    ]
    assert "delete" not in actions.lower()
    assert page.index('id="delete"') > page.index('id="decision"')
    assert 'name="confirm"' in page


def test_favicon(env: Env) -> None:
    response = env.client().get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_a_form_without_its_token_is_refused_in_words(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "clinician")
    refused = client.post("/cases/v01/decisions?lang=zh", data={"participants": "x"})
    assert refused.status_code == 403
    assert "表单已过期" in refused.text


def test_history_names_people_and_says_where_an_ehr_version_came_from(env: Env) -> None:
    """The audit trail by display name, as versions and decisions are; the EHR's version comment
    in the page's language while the store keeps it as written."""
    case = parse_case(load_json(EXAMPLES[0]))
    imported = FhirImport(case=case, unmapped=[], sources={"patient.age": "Patient/p1"})
    service = env.store.service_account("cds-hooks", "CDS Hooks (EHR integration)", "clinician")
    stored = version_comment("https://ehr.example", "patient-view", imported, [])
    env.store.create_case(case, service, comment=stored)
    client = env.client()
    login(client, "clinician")
    client.get(f"/cases/{case.id}")
    for lang, origin in (
        ("en", "from the EHR (https://ehr.example) via CDS Hooks patient-view"),
        ("zh", "由电子病历（https://ehr.example）经CDS Hooks patient-view写入"),
    ):
        page = client.get(f"/cases/{case.id}/history?lang={lang}&reads=1").text
        audit = page[page.index('id="audit"') :]
        who = re.findall(r'data-label="[^"]*" translate="no">([^<]*)</td>', audit)
        assert set(who) == {"CDS Hooks (EHR integration)", "Clinician User"}, who
        versions = page[page.index('id="h-versions"') : page.index('id="h-decisions"')]
        assert origin in versions
        assert origin in client.get(f"/cases/{case.id}/versions/1?lang={lang}").text
    kept = client.get(f"/api/v1/cases/{case.id}/versions", headers=env.auth("viewer")).json()
    assert kept[0]["comment"] == stored
