"""Round trips are exact: a stored case shown as its form and sent back is the same case; a form
re-shown after an error holds what was entered; a what-if with no change is the saved
assessment. Checked for every example case and, as properties, for random valid cases, through
the pages as a browser would submit them."""

import itertools
import string
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlm import parse_case
from netlm.engine import assess
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.model.case import Case
from netlm.web import forms
from tests.app.conftest import login
from tests.conftest import EXAMPLES, Env, load_json, make_env
from tests.strategies import cases
from tests.web.formdata import as_form_data, submitted

PROPERTY = settings(
    max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip
KB = load_knowledge_base()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, TestClient, str]:
    """One app for the module (the properties create many cases), a clinician logged in."""
    env = make_env(tmp_path_factory.mktemp("roundtrip"))
    client = env.client()
    csrf = login(client, "clinician")
    return env, client, csrf


_IDS = itertools.count()


def _store(env: Env, case: Case) -> Case:
    """Store the case under a fresh id through the API, as the seed of a round trip."""
    case = case.model_copy(update={"id": f"{case.id[:50]}-{next(_IDS)}"})
    auth = {"Authorization": f"Bearer {env.tokens['clinician']}"}
    response = env.client().post("/api/v1/cases", json=case.to_json_dict(), headers=auth)
    assert response.status_code == 201, response.text
    return case


# -- as functions: the form mapping itself ----------------------------------------------------


@PROPERTY
@given(document=cases)
def test_case_to_form_to_case_is_exact(document: dict[str, Any]) -> None:
    case = parse_case(document)
    back, _, problems = forms.parse_form(forms.to_form(case), KB)
    assert problems == {}
    assert back == case


@PROPERTY
@given(document=cases)
def test_unchanged_what_if_is_the_case(document: dict[str, Any]) -> None:
    """The panel sends its own fields as the stored case has them: nothing may change."""
    case = parse_case(document)
    stored = forms.to_form(case)
    posted = {"whatif.lists": ["extrahepatic.sites"]}
    for name in forms.whatif_fields():
        value = stored.get(name, [] if name == "extrahepatic.sites" else "")
        posted[name] = value if isinstance(value, list) else [value]
    back, _, problems = forms.parse_form(forms.whatif_form(case, posted), KB)
    assert problems == {}
    assert back == case
    assert assess(back, kb=KB) == assess(case, kb=KB)


def test_no_extrahepatic_disease_survives_the_what_if(kb: KnowledgeBase) -> None:
    """The reported bug: an empty list of sites was dropped, and resection was lost."""
    for path in EXAMPLES:
        case = parse_case(load_json(path))
        if case.extrahepatic is None or case.extrahepatic.sites:
            continue
        posted = {"whatif.lists": ["extrahepatic.sites"], "extrahepatic.sites": ["none"]}
        back, _, _ = forms.parse_form(forms.whatif_form(case, posted), kb)
        assert back is not None, path.name
        assert back.extrahepatic == case.extrahepatic, path.name


# -- through the pages --------------------------------------------------------------------------


def _same(a: Case, b: Case) -> bool:
    """Equal cases; the extrahepatic sites are a set (the form lists them in one order)."""

    def canonical(case: Case) -> dict[str, Any]:
        data = case.to_json_dict()
        extrahepatic: Any = data.get("extrahepatic")
        if isinstance(extrahepatic, dict):
            extrahepatic["sites"] = sorted(extrahepatic.get("sites", []))
        return data

    return canonical(a) == canonical(b)


def _whatif_round_trip(client: TestClient, csrf: str, case: Case) -> str:
    page = client.get(f"/cases/{case.id}").text
    pairs = submitted(page, "class", "whatif-form")
    assert pairs, "no what-if form on the case page"
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    response = client.post(f"/cases/{case.id}/whatif", data=as_form_data(pairs), headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def _edit_round_trip(env: Env, client: TestClient, csrf: str, case: Case) -> Case:
    page = client.get(f"/cases/{case.id}/edit").text
    data = as_form_data(submitted(page, "class", "case-form"))
    data["csrf_token"] = [csrf]
    response = client.post(f"/cases/{case.id}/edit", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    record = env.store.get_case(case.id)
    assert record.version == 2
    return record.case


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem[:3] for p in EXAMPLES])
def test_every_example_round_trips_through_the_pages(
    board: tuple[Env, TestClient, str], path: Path
) -> None:
    env, client, csrf = board
    case = parse_case(load_json(path))
    case = _store(env, case)
    assert 'id="whatif-same"' in _whatif_round_trip(client, csrf, case), path.name
    assert _same(_edit_round_trip(env, client, csrf, case), case)


@PROPERTY
@given(document=cases)
def test_random_cases_round_trip_through_the_pages(
    board: tuple[Env, TestClient, str], document: dict[str, Any]
) -> None:
    env, client, csrf = board
    case = parse_case(document)
    case = _store(env, case)
    assert 'id="whatif-same"' in _whatif_round_trip(client, csrf, case)
    assert _same(_edit_round_trip(env, client, csrf, case), case)


# -- a form re-shown after an error -------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"),
    max_size=8,
)
_FIELDS = [f for s in forms.sections(KB, "en") for f in s.fields]


@st.composite
def entries(draw: st.DrawFn) -> dict[str, list[str]]:
    """Anything a person can put into the form: any text in text boxes, any listed choice."""
    out: dict[str, list[str]] = {}
    for f in _FIELDS:
        if f.kind == "multi":
            boxes = ["none", *(c.value for c in f.choices)]
            ticked = draw(st.sets(st.sampled_from(boxes), max_size=3))
            out[f.name] = [b for b in boxes if b in ticked]  # a browser sends them in page order
        elif f.kind == "enum":
            out[f.name] = [draw(st.sampled_from(["", *(c.value for c in f.choices)]))]
        elif f.kind == "boolean":
            out[f.name] = [draw(st.sampled_from(["", "true", "false"]))]
        else:
            digits = st.text(string.digits + ".-e", min_size=1, max_size=5)
            out[f.name] = [draw(st.one_of(_TEXT, digits))]
    options, outcomes = forms.prior_choices(KB, "en")
    for i in range(forms.PRIOR_ROWS):
        out[f"prior_therapies.{i}.option"] = [
            draw(st.sampled_from(["", *(c.value for c in options)]))
        ]
        out[f"prior_therapies.{i}.outcome"] = [
            draw(st.sampled_from(["", *(c.value for c in outcomes)]))
        ]
    out["pathology.ki67_percent"] = ["101"]  # always an error, so the form comes back
    return out


@PROPERTY
@given(entered=entries(), lang=st.sampled_from(["en", "zh"]))
def test_form_shown_again_holds_exactly_what_was_entered(
    board: tuple[Env, TestClient, str], entered: dict[str, list[str]], lang: str
) -> None:
    _, client, csrf = board
    response = client.post(f"/cases/new?lang={lang}", data={**entered, "csrf_token": [csrf]})
    assert response.status_code == 422
    shown = as_form_data(submitted(response.text, "class", "case-form"))
    shown.pop("csrf_token")
    assert {k: v for k, v in shown.items() if v != [""]} == {
        k: v for k, v in entered.items() if v not in ([], [""])
    }
    assert 'id="form-problems"' in response.text
    assert "f-pathology.ki67_percent" in response.text
