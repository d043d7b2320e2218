"""Follow-up through the case page and the outcomes page over HTTP: a valid event is stored and
listed, an invalid one comes back with every entry kept and the problems listed, a correction
strikes the old event through; the form needs a clinician and the session's CSRF token, both
pages a session; every text in both languages, Chinese with full-width punctuation."""

import re

import pytest

from netlm.knowledge.load import KnowledgeBase
from netlm.registry.export import _rows
from netlm.store.followup import FollowUpKind
from tests.app.conftest import Env, login
from tests.conftest import EXAMPLES, load_json
from tests.web.pagetext import (
    LATIN_WORD,
    half_width_punctuation,
    machine_text,
    untranslated,
    visible_texts,
)

CASE = load_json(EXAMPLES[1])["id"]


@pytest.fixture
def case_env(env: Env) -> Env:
    response = env.client().post(
        "/api/v1/cases", json=load_json(EXAMPLES[1]), headers=env.auth("clinician")
    )
    assert response.status_code == 201, response.text
    return env


def _summary(html: str) -> str:
    found = re.search(r'id="follow-up-problems".*?</div>', html, re.S)
    assert found, "no error summary"
    return found.group(0)


def test_a_follow_up_is_stored_listed_and_corrected(case_env: Env) -> None:
    client = case_env.client()
    csrf = login(client, "clinician")
    form = {"csrf_token": csrf, "kind": "treatment", "date": "2026-03-01", "options": ["ssa"],
            "criteria": "choi", "note": "lanreotide 120 mg"}  # fmt: skip
    response = client.post(f"/cases/{CASE}/follow-up", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{CASE}#follow-up"
    (event,) = case_env.store.list_follow_up(CASE)
    assert event.kind is FollowUpKind.TREATMENT
    assert event.options == ["ssa"]
    assert event.criteria is None  # criteria belong to a progression: the form drops them
    assert event.recorded_by == "clinician"
    page = client.get(f"/cases/{CASE}").text
    listed = re.search(rf'id="follow-up-{event.id}".*?</li>', page, re.S)
    assert listed
    assert "2026-03-01" in listed.group(0)
    assert "Treatment given" in listed.group(0)
    assert "Somatostatin analogue (lanreotide" in listed.group(0)
    assert "ongoing" in listed.group(0)
    assert "Clinician User" in listed.group(0)

    correcting = client.get(f"/cases/{CASE}?correct={event.id}").text
    assert 'id="follow-up-correcting"' in correcting
    assert f'name="supersedes" value="{event.id}"' in correcting
    assert 'value="ssa" checked' in correcting
    form = {"csrf_token": csrf, "kind": "treatment", "date": "2026-03-02", "options": ["ssa"],
            "stopped": "2026-06-30", "supersedes": str(event.id)}  # fmt: skip
    assert client.post(f"/cases/{CASE}/follow-up", data=form).status_code == 200
    old, new = case_env.store.list_follow_up(CASE)
    assert old.superseded_by == new.id
    assert new.stopped is not None
    page = client.get(f"/cases/{CASE}").text
    old_item = re.search(rf'<li id="follow-up-{old.id}" class="superseded">.*?</li>', page, re.S)
    assert old_item
    assert "Corrected on" in old_item.group(0)
    assert "Correct this event" not in old_item.group(0)
    assert "stopped 2026-06-30" in page


def test_an_invalid_follow_up_keeps_every_entry(case_env: Env) -> None:
    client = case_env.client()
    csrf = login(client, "clinician")
    form = {"csrf_token": csrf, "kind": "progression", "date": "2026-02-30", "criteria": "",
            "note": "new lesions in segment 7"}  # fmt: skip
    response = client.post(f"/cases/{CASE}/follow-up", data=form)
    assert response.status_code == 422
    summary = _summary(response.text)
    assert 'href="#fu-date"' in summary
    assert 'href="#fu-criteria"' in summary
    assert 'value="2026-02-30"' in response.text
    assert "new lesions in segment 7</textarea>" in response.text
    assert '<option value="progression" selected>' in response.text
    assert case_env.store.list_follow_up(CASE) == []


def test_the_stores_own_checks_come_back_on_the_form(case_env: Env) -> None:
    """A second death, and a date in the future, are refused by the store; the form says so."""
    client = case_env.client()
    csrf = login(client, "clinician")
    death = {"csrf_token": csrf, "kind": "death", "date": "2026-01-05"}
    assert client.post(f"/cases/{CASE}/follow-up", data=death).status_code == 200
    again = client.post(f"/cases/{CASE}/follow-up?lang=zh", data=death)
    assert again.status_code == 422
    assert "已记录死亡" in _summary(again.text)
    future = {"csrf_token": csrf, "kind": "last_contact", "date": "2999-01-01"}
    later = client.post(f"/cases/{CASE}/follow-up", data=future)
    assert later.status_code == 422
    assert 'href="#fu-date"' in _summary(later.text)
    assert len(case_env.store.list_follow_up(CASE)) == 1


def test_the_form_needs_the_csrf_token_and_a_clinician(case_env: Env) -> None:
    form = {"kind": "last_contact", "date": "2026-01-05"}
    client = case_env.client()
    login(client, "clinician")
    refused = client.post(f"/cases/{CASE}/follow-up", data={**form, "csrf_token": "forged"})
    assert refused.status_code == 403
    viewer = case_env.client()
    csrf = login(viewer, "viewer")
    assert (
        viewer.post(f"/cases/{CASE}/follow-up", data={**form, "csrf_token": csrf}).status_code
        == 403
    )
    assert 'id="follow-up-form"' not in viewer.get(f"/cases/{CASE}").text
    anonymous = case_env.client().post(
        f"/cases/{CASE}/follow-up", data=form, follow_redirects=False
    )
    assert anonymous.status_code in (303, 403)
    assert case_env.store.list_follow_up(CASE) == []
    for path in ("/outcomes", f"/cases/{CASE}"):
        response = case_env.client().get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_unknown_case_is_not_found(case_env: Env) -> None:
    client = case_env.client()
    csrf = login(client, "clinician")
    form = {"csrf_token": csrf, "kind": "last_contact", "date": "2026-01-05"}
    assert client.post("/cases/nope/follow-up", data=form).status_code == 404


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pages_read_in_both_languages(case_env: Env, kb: KnowledgeBase, lang: str) -> None:
    """The case page's follow-up with events and a failed entry, and the outcomes page counting
    the patient followed: no code on any, Chinese fully translated with full-width punctuation."""
    client = case_env.client()
    csrf = login(client, "clinician")
    decision = {"csrf_token": csrf, "decided_on": "2025-12-01", "chosen_options": "ssa",
                "participants": "Dr Li"}  # fmt: skip
    assert client.post(f"/cases/{CASE}/decisions", data=decision).status_code == 200
    for form in ({"kind": "progression", "date": "2026-01-05", "criteria": "choi"},
                 {"kind": "treatment", "date": "2026-01-06", "options": ["ssa", "prrt"]},
                 {"kind": "last_contact", "date": "2026-02-01", "note": "well"}):  # fmt: skip
        assert (
            client.post(f"/cases/{CASE}/follow-up", data={"csrf_token": csrf, **form}).status_code
            == 200
        )
    pages = {
        "case": client.get(f"/cases/{CASE}?lang={lang}&correct=1").text,
        "error": client.post(f"/cases/{CASE}/follow-up?lang={lang}",
                             data={"csrf_token": csrf, "kind": "treatment", "date": ""}).text,
        "outcomes": client.get(f"/outcomes?lang={lang}").text,
        "history": client.get(f"/cases/{CASE}/history?lang={lang}&action=follow_up").text,
    }  # fmt: skip
    said = {"en": "Last contact (alive) on 2026-02-01", "zh": "2026-02-01：末次联系（存活）"}
    assert said[lang] in pages["history"]
    assert 'id="follow-up-problems"' in pages["error"]
    (row,) = [r for r in _rows(case_env.store, None) if r["id"] == CASE]  # db export-registry's
    assert row["treatment_given"] == "ssa+prrt"
    assert row["followup_months"] > 0
    outcomes = pages["outcomes"]
    assert re.search(r'id="os-followed">[^<]*(?<!\d)1(?!\d)', outcomes)
    assert 'id="os-too-few"' in outcomes
    assert 'id="observational"' in outcomes
    assert 'href="/outcomes"' in pages["case"]
    names = tuple(e.short_name for e in kb.evidence.values())
    proper = {
        w for e in kb.evidence.values() for w in LATIN_WORD.findall(f"{e.short_name} {e.citation}")
    }
    for what, html in pages.items():
        if what in ("case", "error"):  # the rest of the case page is read by test_page_words
            section = re.search(r'<section class="card" id="follow-up".*?</section>', html, re.S)
            assert section, what
            html = section.group(0)
        texts = visible_texts(html)
        assert machine_text(texts) == [], what
        if lang == "zh":
            assert untranslated(texts, proper) == [], what
            assert half_width_punctuation(texts, names) == [], what
