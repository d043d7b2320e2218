"""Every page a person sees, in English and Chinese, read as text: no code, JSON path or enum
value anywhere; in Chinese no untranslated English and full-width punctuation."""

import functools
import re

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from netlm.knowledge.load import KnowledgeBase
from netlm.web.i18n import _words
from tests.app.conftest import Env, login
from tests.app.ehr_case import CASE_ID as EHR_CASE
from tests.app.ehr_case import narrative_ki67_chart, store_ehr_case
from tests.conftest import EXAMPLES, load_json
from tests.web.pagetext import (
    LATIN_OK,
    LATIN_WORD,
    half_width_punctuation,
    machine_text,
    untranslated,
    visible_texts,
)

LANGS = ("en", "zh")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """Every kind of page in both languages: (language, what) -> HTML."""
    env = module_env(tmp_path_factory)
    api = env.client()
    for path in EXAMPLES:
        api.post("/api/v1/cases", json=load_json(path), headers=env.auth("clinician"))
    store_ehr_case(env.store, narrative_ki67_chart())
    out: dict[tuple[str, str], str] = {}
    for lang in LANGS:
        anonymous = env.client()
        out[lang, "login"] = anonymous.get(f"/login?lang={lang}").text
        client = env.client()
        csrf = login(client, "clinician")
        get = functools.partial(_get, client, lang)
        out[lang, "cases"] = get("/cases").text
        out[lang, "cases filtered"] = get("/cases?grade=G2&pending=1").text
        out[lang, "new case"] = get("/cases/new").text
        bad = {"csrf_token": csrf, "id": "b d", "pathology.ki67_percent": "140",
               "liver.lesion_count": "12a", "extrahepatic.sites": ["none", "bone"],
               "extrahepatic.resectable": "true", "prior_therapies.1.option": "ssa"}  # fmt: skip
        out[lang, "new case with errors"] = client.post(f"/cases/new?lang={lang}", data=bad).text
        for path in EXAMPLES:
            case_id = load_json(path)["id"]
            out[lang, f"case {case_id}"] = get(f"/cases/{case_id}").text
        out[lang, "edit"] = get("/cases/v06/edit").text
        out[lang, "completion"] = get(f"/cases/{EHR_CASE}/edit?complete=liver.pattern").text
        hx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        for name, data in (("what-if", {"liver.pattern": "III"}), ("what-if same", {}),
                           ("what-if invalid", {"pathology.ki67_percent": "1x"})):  # fmt: skip
            out[lang, name] = client.post(
                f"/cases/v06/whatif?lang={lang}", data=data, headers=hx
            ).text
        decision = {"csrf_token": csrf, "decided_on": "2026-12-01", "chosen_options": "tace",
                    "participants": "Dr Li\nDr Wang", "notes": "n"}  # fmt: skip
        out[lang, "decision error"] = client.post(
            f"/cases/v03/decisions?lang={lang}", data=decision
        ).text
        decision["override_reason"] = "patient preference"
        client.post(f"/cases/v03/decisions?lang={lang}", data=decision)
        out[lang, "case with decision"] = get("/cases/v03").text
        out[lang, "history"] = get("/cases/v03/history?reads=1").text
        out[lang, "history decisions"] = get("/cases/v03/history?action=decide").text
        out[lang, "version 1"] = get("/cases/v03/versions/1").text
        out[lang, "print"] = get("/cases/v03/print").text
        out[lang, "account"] = get("/account").text
        out[lang, "unknown case"] = get("/cases/nope").text
        out[lang, "unknown page"] = get("/nothing-here").text
        viewer = env.client()
        login(viewer, "viewer")
        out[lang, "forbidden"] = viewer.get(f"/cases/new?lang={lang}").text
    edit = env.client()
    csrf = login(edit, "clinician")
    form = {"csrf_token": csrf, "expected_version": "1", "id": "v06", "primary.site": "pancreas",
            "liver.lesion_count": "2", "extrahepatic.sites": "none", "comment": "recount"}  # fmt: skip
    assert edit.post("/cases/v06/edit", data=form, follow_redirects=False).status_code == 303
    for lang in LANGS:
        out[lang, "version 2"] = edit.get(f"/cases/v06/versions/2?lang={lang}").text
    return out


def _get(client: TestClient, lang: str, path: str) -> Response:
    return client.get(path + ("&" if "?" in path else "?") + f"lang={lang}")


def module_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    from tests.conftest import make_env

    return make_env(tmp_path_factory.mktemp("pages"))


def test_every_page_kind_was_rendered(pages: dict[tuple[str, str], str]) -> None:
    assert len(pages) >= 2 * (20 + len(EXAMPLES))
    assert "f-pathology.ki67_percent" in pages["en", "new case with errors"]
    assert 'id="whatif-same"' in pages["en", "what-if same"]
    assert "<table" in pages["zh", "what-if"]


@pytest.mark.parametrize("lang", LANGS)
def test_no_code_path_or_enum_value_on_any_page(
    pages: dict[tuple[str, str], str], lang: str
) -> None:
    found = {what: hits for (lg, what), html in pages.items() if lg == lang
             if (hits := machine_text(visible_texts(html)))}  # fmt: skip
    assert found == {}


def test_no_untranslated_string_on_any_chinese_page(
    pages: dict[tuple[str, str], str], kb: KnowledgeBase
) -> None:
    """Study and document names (NETTER-1, "ASCO 2023 GEP-NET guideline") are proper names."""
    names = {
        w for e in kb.evidence.values() for w in LATIN_WORD.findall(e.short_name + " " + e.citation)
    }
    found = {what: hits for (lg, what), html in pages.items() if lg == "zh"
             if (hits := untranslated(visible_texts(html), names))}  # fmt: skip
    assert found == {}


def test_chinese_text_uses_full_width_punctuation(
    pages: dict[tuple[str, str], str], kb: KnowledgeBase
) -> None:
    names = tuple(e.short_name for e in kb.evidence.values())
    found = {what: hits for (lg, what), html in pages.items() if lg == "zh"
             if (hits := half_width_punctuation(visible_texts(html), names))}  # fmt: skip
    assert found == {}


def test_every_page_word_has_chinese() -> None:
    """The vocabulary itself: each entry has a Chinese text that is Chinese."""
    missing = [key for key, entry in _words().items() if "zh" not in entry]
    assert missing == []
    english = [key for key, entry in _words().items() if key != "nav.language"
               if [w for w in LATIN_WORD.findall(re.sub(r"\{\w+\}", "", entry["zh"]))
                   if w not in LATIN_OK]]  # fmt: skip
    assert english == []
