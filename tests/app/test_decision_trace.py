"""Decisions traced to the version they were made on: dissent as its own field, "made on version
N" once the case moves on, what is pending in the case list, wording that cannot contradict
itself, display names, and "What changed" in clinical words for EHR and edited versions."""

import copy
import dataclasses
import datetime as dt
import json

from netlm.engine import assess
from netlm.fhir.cds.completion import version_comment
from netlm.fhir.mapping import bundle_to_case
from netlm.knowledge.load import KnowledgeBase
from netlm.model.decision import Decision
from netlm.model.parse import parse_case
from netlm.web.report.pdf import render_report_html
from tests.app.conftest import Env, login
from tests.app.ehr_case import FEEDS
from tests.conftest import EXAMPLES, load_json

CASE = load_json(next(p for p in EXAMPLES if p.name.startswith("03")))
BASE = {"decided_on": "2026-11-27", "participants": ["Dr A", "Dr B"]}


def _board(env: Env) -> None:
    """v03 with a first-tier decision (a dissent) on version 1, then a version 2 (Krenning 1)."""
    client, auth = env.client(), env.auth("clinician")
    assert client.post("/api/v1/cases", json=CASE, headers=auth).status_code == 201
    decided = client.post("/api/v1/cases/v03/decisions", headers=auth, json={
        **BASE, "chosen_options": ["prrt"], "dissent": "Dr B would have chosen everolimus",
    })  # fmt: skip
    assert decided.status_code == 201, decided.text
    body = decided.json()
    assert (body["case_version"], body["dissent"]) == (1, "Dr B would have chosen everolimus")
    assert body["created_by_name"] == "Clinician User"
    edited = copy.deepcopy(CASE)
    edited["sstr_imaging"]["krenning_score"] = 1
    put = client.put("/api/v1/cases/v03?expected_version=1", json=edited, headers=auth)
    assert put.status_code == 200


def test_a_dissent_is_kept_apart_and_a_decision_names_its_version(env: Env) -> None:
    _board(env)
    client = env.client()
    (listed,) = client.get("/api/v1/cases/v03/decisions", headers=env.auth("viewer")).json()
    assert (listed["case_version"], listed["dissent"], listed["notes"]) == (
        1, "Dr B would have chosen everolimus", "",
    )  # fmt: skip
    assert listed["created_by"] == "clinician"
    assert listed["created_by_name"] == "Clinician User"
    blank = client.post("/api/v1/cases/v03/decisions", headers=env.auth("clinician"),
                        json={**BASE, "chosen_options": ["ssa"], "override_reason": "x",
                              "dissent": "   "})  # fmt: skip
    assert blank.status_code == 201
    assert blank.json()["dissent"] is None  # whitespace is no dissent
    too_long = client.post("/api/v1/cases/v03/decisions", headers=env.auth("clinician"),
                           json={**BASE, "chosen_options": ["ssa"], "override_reason": "x",
                                 "dissent": "d" * 5001})  # fmt: skip
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "dissent"
    audit = client.get("/api/v1/cases/v03/audit", headers=env.auth("clinician")).json()
    decides = [e["detail"] for e in audit if e["action"] == "decide"]
    assert sorted(d["dissent"] for d in decides) == [False, True]


def test_pages_mark_a_decision_made_on_an_older_version(env: Env) -> None:
    _board(env)
    client = env.client()
    login(client, "clinician")
    for lang, made_on, pending, dissent, by in (
        ("en", "made on version 1", "decision pending on version 2", "Dissent", "Clinician User"),
        ("zh", "基于第1版作出", "第2版待决定", "不同意见", "Clinician User"),
    ):
        page = client.get(f"/cases/v03?lang={lang}").text
        decision = page[page.index('id="decision"') :]
        assert made_on in decision
        assert dissent in decision
        assert "Dr B would have chosen everolimus" in decision
        assert by in decision
        assert ">clinician<" not in decision
        assert pending in client.get(f"/cases?lang={lang}").text
        history = client.get(f"/cases/v03/history?lang={lang}").text
        assert made_on in history
        assessments = history[history.index('id="h-assessments"') :]
        assert ">Clinician User<" in assessments  # who assessed it, by display name
        assert dissent in history
        assert client.get(f"/cases/v03/print?lang={lang}").text.count(made_on) == 1
    decided = client.post("/api/v1/cases/v03/decisions", headers=env.auth("clinician"),
                          json={**BASE, "chosen_options": ["ssa"], "override_reason": "x"})  # fmt: skip
    assert decided.status_code == 201
    listed = client.get("/cases?lang=en").text
    assert "decided on version 2" in listed
    assert "pending on version" not in listed


def test_concordance_wording_cannot_contradict_itself(env: Env) -> None:
    """A proposed option below the first tier is concordant and needs a reason: the reason is
    then "Reason given", never "Reason for departing" beside "concordant"."""
    client, auth = env.client(), env.auth("clinician")
    assert client.post("/api/v1/cases", json=CASE, headers=auth).status_code == 201
    for options, reason in ((["everolimus"], "no PRRT centre"), (["sunitinib"], "trial")):
        made = client.post("/api/v1/cases/v03/decisions", headers=auth,
                           json={**BASE, "chosen_options": options, "override_reason": reason})  # fmt: skip
        assert made.status_code == 201
    login(client, "clinician")
    for path in ("/cases/v03", "/cases/v03/history", "/cases/v03/print"):
        page = client.get(path).text
        cards = page.split('class="decision ')[1:] or page.split('class="decision"')[1:]
        assert len(cards) == 2, path
        for card in cards:
            card = card.split("</div>")[0]
            assert not ("concordant" in card and "departing" in card), (path, card)
        assert "Reason given" in page
        assert "Reason for departing" in page


def test_what_changed_in_clinical_words_for_ehr_and_edited_versions(env: Env) -> None:
    chart = json.loads((FEEDS / "epic-02-pnet-pathology-report.json").read_text("utf-8"))
    imported = bundle_to_case(chart, on=dt.date(2024, 3, 15), case_id="n18")
    service = env.store.service_account("cds-hooks", "CDS Hooks (EHR integration)", "clinician")
    comment = version_comment("https://ehr.example", "patient-view", imported, [])
    env.store.create_case(imported.case, service, comment=comment)
    document = imported.case.to_json_dict()
    document["patient"]["ecog"] = 2
    refreshed = dataclasses.replace(imported, case=parse_case(document))
    env.store.update_case("n18", refreshed.case, service,
                          comment=version_comment("https://ehr.example", "patient-view",
                                                  refreshed, []))  # fmt: skip
    document["liver"]["lesion_count"] = 7
    clinician = next(u for u in env.store.list_users() if u.username == "clinician")
    env.store.update_case("n18", parse_case(document), clinician, comment="recount")
    client = env.client()
    login(client, "clinician")
    for lang, label, first in (("en", "ECOG", "first version"), ("zh", "ECOG", "第一版")):
        history = client.get(f"/cases/n18/history?lang={lang}").text
        rows = history[history.index('id="h-versions"') : history.index('id="h-decisions"')]
        for line in ("EHR facts", "EHR therapies", "EHR proposals", "EHR therapy gaps"):
            assert line not in rows  # the provenance lines are bookkeeping, not words
        assert "{&#34;" not in rows
        assert '{"' not in rows
        assert first in rows
        assert label in rows  # the EHR version names the finding it changed
        assert "<ins>2</ins>" in rows
        assert "<ins>7</ins>" in rows  # and so does the edited one
        assert "recount" in rows
        assert "Clinician User" in rows  # who saved it, by display name
        assert "CDS Hooks (EHR integration)" in rows
        version = client.get(f"/cases/n18/versions/2?lang={lang}").text
        assert "EHR facts" not in version


def test_the_report_ties_each_decision_to_its_version(kb: KnowledgeBase) -> None:
    """The PDF's decision section: "made on version N" once the case moved on, the dissent as
    its own row, the recorder's display name, and "Reason given" beside a concordant decision."""
    case = parse_case(CASE)
    made = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    decision = Decision(
        id=1, case_id="v03", case_version=1, assessment_id=1, concordant=True, created_at=made,
        created_by="li", created_by_name="Dr Li", decided_on=dt.date(2026, 12, 1),
        chosen_options=["everolimus"], participants=["Dr A"], override_reason="no PRRT centre",
        dissent="Dr A preferred PRRT elsewhere",
    )  # fmt: skip
    for lang, made_on, dissent, reason in (
        ("en", "made on version 1", "Dissent", "Reason given"),
        ("zh", "基于第1版作出", "不同意见", "所述理由"),
    ):
        html = render_report_html(case, assess(case, lang=lang), [decision], kb, lang, made, 2)
        section = html[html.index('class="decision"') :]
        for text in (made_on, dissent, "Dr A preferred PRRT elsewhere", "Dr Li", reason):
            assert text in section, (lang, text)
        assert "departing" not in section
        assert ">li<" not in section
        assert (f"（{made_on}）" if lang == "zh" else f"({made_on})") in html  # page 1
        same = render_report_html(case, assess(case, lang=lang), [decision], kb, lang, made, 1)
        assert made_on not in same  # a decision on the current version needs no mark
