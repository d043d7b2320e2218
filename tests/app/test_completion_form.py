"""The completion form of an EHR case through HTTP: report-text proposals are shown on their
fields, prefilled and marked, and enter the case only when confirmed; an incomplete treatment
history is asked for."""

import copy
import re
from typing import Any

from fastapi.testclient import TestClient

from netlm.model.case import Case
from tests.app.conftest import Env, login
from tests.app.ehr_case import CASE_ID, narrative_ki67_chart, store_ehr_case
from tests.web.formdata import as_form_data, submitted

KI67 = "pathology.ki67_percent"
QUOTE = "Ki-67 8%; mitoses 2/2 mm2."


def opened(env: Env, chart: dict[str, Any] | None = None) -> tuple[TestClient, str]:
    store_ehr_case(env.store, chart or narrative_ki67_chart())
    client = env.client()
    return client, login(client, "clinician")


def form_of(client: TestClient, lang: str = "en") -> tuple[str, dict[str, list[str]]]:
    page = client.get(f"/cases/{CASE_ID}/edit?complete=liver.pattern&lang={lang}").text
    return page, as_form_data(submitted(page, "class", "case-form"))


def field_block(page: str, name: str) -> str:
    found = re.search(rf'<div class="field[^"]*">\s*<label for="f-{re.escape(name)}">.*?'
                      r'(?=<div class="field|</fieldset)', page, re.S)  # fmt: skip
    assert found, f"no field {name}"
    return found.group(0)


def stored(env: Env) -> Case:
    return env.store.get_case(CASE_ID).case


def test_a_proposal_is_shown_on_its_field_prefilled_and_marked_with_its_sentence(
    env: Env,
) -> None:
    client, _ = opened(env)
    page, form = form_of(client)
    block = field_block(page, KI67)
    assert "From the report text — confirm" in block
    assert QUOTE in block
    assert "DiagnosticReport/ePath1" in block
    assert 'name="confirm" value="pathology.ki67_percent"' in block
    assert form[KI67] == ["8"]
    assert "confirm" not in form, "no proposal is confirmed before the clinician ticks it"
    assert 'id="proposals"' in page
    assert "The report text states WHO grade G2" in page  # for comparison, never a field
    assert 'class="field"' in field_block(page, "pathology.differentiation")  # held, agreed
    assert stored(env).pathology.ki67_percent is None
    assert "proposal" not in client.get("/cases/new").text
    plain = client.get(f"/cases/{CASE_ID}/edit").text  # the EHR case's plain edit page too
    assert 'id="confirm-pathology.ki67_percent"' in plain


def test_saving_without_confirming_leaves_the_case_as_it_was(env: Env) -> None:
    client, csrf = opened(env)
    before = stored(env).to_json_dict()
    _, form = form_of(client)
    form["csrf_token"] = [csrf]
    saved = client.post(f"/cases/{CASE_ID}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert stored(env).to_json_dict() == before
    assert stored(env).pathology.mitoses_per_2mm2 is None


def test_saving_with_confirm_writes_the_value_and_names_its_report(env: Env) -> None:
    client, csrf = opened(env)
    _, form = form_of(client)
    form.update({"csrf_token": [csrf], "confirm": [KI67], "comment": ["MDT 12 March"]})
    assert (
        client.post(f"/cases/{CASE_ID}/edit", data=form, follow_redirects=False).status_code == 303
    )
    case = stored(env)
    assert case.pathology.ki67_percent == 8
    assert case.pathology.mitoses_per_2mm2 is None, "not confirmed: left as it was"
    comment = env.store.case_versions(CASE_ID)[-1].comment
    assert comment.splitlines() == [
        "MDT 12 March",
        "confirmed from the report text (DiagnosticReport/ePath1): Ki-67 index 8 %",
    ]
    page, form = form_of(client)
    assert "proposal-pathology.ki67_percent" not in page, "the case now holds it"
    assert "proposal-pathology.mitoses_per_2mm2" in page


def test_a_value_typed_over_the_prefill_is_the_clinicians_own(env: Env) -> None:
    client, csrf = opened(env)
    _, form = form_of(client)
    form.update({"csrf_token": [csrf], KI67: ["9"]})
    client.post(f"/cases/{CASE_ID}/edit", data=form, follow_redirects=False)
    assert stored(env).pathology.ki67_percent == 9


def test_a_refused_save_shows_the_prefill_and_the_box_as_they_were(env: Env) -> None:
    client, csrf = opened(env)
    _, form = form_of(client)
    form.update({"csrf_token": [csrf], "confirm": [KI67], "liver.lesion_count": ["12a"]})
    refused = client.post(f"/cases/{CASE_ID}/edit", data=form)
    assert refused.status_code == 422
    again = as_form_data(submitted(refused.text, "class", "case-form"))
    assert again[KI67] == ["8"]
    assert again["confirm"] == [KI67]
    assert again["pathology.mitoses_per_2mm2"] == ["2"]


def test_a_bound_is_shown_not_prefilled_and_a_different_held_value_is_shown_beside_it(
    env: Env,
) -> None:
    chart = copy.deepcopy(narrative_ki67_chart())
    for entry in chart["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DiagnosticReport":
            resource["conclusion"] = resource["conclusion"].replace("Ki-67 8%", "Ki-67 <3%")
            resource["conclusion"] = resource["conclusion"].replace("mitoses 2/2", "mitoses 4/2")
    client, csrf = opened(env, chart)
    _, form = form_of(client)
    form.update({"csrf_token": [csrf], "pathology.mitoses_per_2mm2": ["1"]})  # the board's count
    client.post(f"/cases/{CASE_ID}/edit", data=form, follow_redirects=False)
    page, form = form_of(client)
    ki67 = field_block(page, KI67)
    assert "only a bound (&lt;3 %)" in ki67
    assert 'name="confirm"' not in ki67
    assert form[KI67] == [""]
    mitoses = field_block(page, "pathology.mitoses_per_2mm2")
    assert "The case holds 1/2 mm²; the report text says 4/2 mm²." in mitoses
    assert form["pathology.mitoses_per_2mm2"] == ["4"]
    form["csrf_token"] = [csrf]
    client.post(f"/cases/{CASE_ID}/edit", data=form, follow_redirects=False)
    assert stored(env).pathology.mitoses_per_2mm2 == 1, "unconfirmed: the held value stays"
    assert stored(env).pathology.ki67_percent is None


def test_the_form_asks_for_the_treatment_history_the_chart_left_incomplete(env: Env) -> None:
    client, csrf = opened(env)
    page, form = form_of(client)
    assert 'class="priors to-complete"' in page
    assert "treatment history is incomplete" in page
    assert "lanreotide (MedicationStatement/eMs1) has status &#39;stopped&#39;" in page
    form.update({"csrf_token": [csrf], "prior_therapies.0.option": ["ssa"],
                 "prior_therapies.0.outcome": ["progression"]})  # fmt: skip
    assert (
        client.post(f"/cases/{CASE_ID}/edit", data=form, follow_redirects=False).status_code == 303
    )
    assert [(t.option, t.outcome) for t in stored(env).prior_therapies] == [("ssa", "progression")]
    assert "treatment history is incomplete" in form_of(client)[0], "the chart still lacks it"
    case_page = client.get(f"/cases/{CASE_ID}").text
    assert "SSA: progression" in case_page


def test_the_completion_form_in_chinese(env: Env) -> None:
    client, _ = opened(env)
    page, _ = form_of(client, "zh")
    block = field_block(page, KI67)
    assert "来自报告原文——请确认" in block
    assert "确认报告原文中的8 %" in block
    assert "病历中的治疗史不完整" in page


def test_reports_that_disagree_are_shown_and_none_is_prefilled(env: Env) -> None:
    chart = narrative_ki67_chart()
    report = next(e for e in chart["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    second = copy.deepcopy(report)
    second["resource"]["id"] = "ePath2"
    second["resource"]["conclusion"] = "Primary resection: Ki-67 12%."
    second.pop("fullUrl", None)
    chart["entry"].append(second)
    client, _ = opened(env, chart)
    page, form = form_of(client)
    block = field_block(page, KI67)
    assert block.count("The reports disagree") == 2
    assert "DiagnosticReport/ePath2" in block
    assert 'name="confirm"' not in block
    assert form[KI67] == [""]
