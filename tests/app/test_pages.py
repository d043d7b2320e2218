"""The pages through HTTP: login, list and search, form with inline errors, assessment, what-if,
decision, history, language switch, printable view."""

from urllib.parse import quote

import pytest

from tests.app.conftest import Env, login
from tests.conftest import EXAMPLES, load_json


def seed(env: Env) -> None:
    for path in EXAMPLES:
        env.client().post("/api/v1/cases", json=load_json(path), headers=env.auth("clinician"))


def test_login_required_redirects(env: Env) -> None:
    response = env.client().get("/cases/v03", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/cases/v03"


def test_case_list_and_live_search(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "viewer")
    page = client.get("/cases").text
    assert page.count('href="/cases/v0') == 9
    partial = client.get("/cases?grade=NEC", headers={"HX-Request": "true"}).text
    assert "<html" not in partial
    assert "v05" in partial
    assert "v03" not in partial


def test_new_case_form_shows_every_field_and_inline_errors(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    form = client.get("/cases/new").text
    for name in ("pathology.ki67_percent", "liver.future_liver_remnant_percent", "labs.albumin_g_dl",
                 "sstr_imaging.krenning_score", "history.bilioenteric_anastomosis", "extrahepatic.sites"):  # fmt: skip
        assert f'name="{name}"' in form
    bad = client.post("/cases/new", data={
        "csrf_token": csrf, "id": "web-1", "primary.site": "pancreas", "pathology.ki67_percent": "140",
        "liver.lesion_count": "abc",
    })  # fmt: skip
    assert bad.status_code == 422
    assert "must be a whole number, got &#34;abc&#34;" in bad.text
    good = client.post("/cases/new", data={
        "csrf_token": csrf, "id": "web-1", "primary.site": "pancreas", "pathology.ki67_percent": "14",
        "pathology.differentiation": "well", "liver.lesion_count": "1", "extrahepatic.sites": "none",
        "primary.status": "in_place", "primary.resectable": "true",
        "prior_therapies.0.option": "ssa", "prior_therapies.0.outcome": "ongoing",
    }, follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    stored = env.store.get_case("web-1").case
    assert stored.extrahepatic is not None
    assert stored.extrahepatic.sites == []
    assert stored.prior_therapies[0].option == "ssa"
    page = client.get("/cases/web-1").text
    assert "Curative-intent resection" in page


def test_range_error_message_matches_the_cli(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    bad = client.post("/cases/new", data={"csrf_token": csrf, "id": "w", "primary.site": "pancreas",
                                          "pathology.ki67_percent": "140"})  # fmt: skip
    assert "must be between 0 and 100, got 140" in bad.text


def test_assessment_page_sections(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "clinician")
    page = client.get("/cases/v03").text
    for anchor in ('id="classification"', 'id="recommendations"', 'id="forest"', 'id="excluded"',
                   'id="missing"', 'id="flags"', 'id="whatif"', 'id="decision-form"', "<svg"):  # fmt: skip
        assert anchor in page
    assert "NETTER-1" in page


def test_a_provisional_answer_leads_the_page_with_its_branches(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "clinician")
    page = client.get("/cases/v18").text
    assert page.index('id="provisional"') < page.index('id="recommendations"')
    assert "if type II (complex): SSA" in page
    assert "if type I (simple)" not in page  # eleven lesions in both lobes are not type I
    chinese = client.get("/cases/v18?lang=zh").text
    assert "暂定结论" in chinese
    assert "若为II型（复杂型）" in chinese
    complete = client.get("/cases/v10").text
    assert 'id="provisional"' not in complete


def test_what_if_compares_without_saving(env: Env) -> None:
    seed(env)
    client = env.client()
    csrf = login(client, "viewer")
    partial = client.post("/cases/v03/whatif", data={"sstr_imaging.krenning_score": "1"},
                          headers={"HX-Request": "true", "X-CSRF-Token": csrf})  # fmt: skip
    assert partial.status_code == 200
    before, after = partial.text.split("<td><ol>")[1:3]
    assert "177Lu-DOTATATE" in before
    assert "177Lu-DOTATATE" not in after  # SSTR-negative: no PRRT
    assert env.store.get_case("v03").version == 1


def test_edit_creates_a_version(env: Env) -> None:
    seed(env)
    client = env.client()
    csrf = login(client, "clinician")
    form = client.get("/cases/v06/edit").text
    assert 'value="2.5"' in form
    data = {"csrf_token": csrf, "expected_version": "1", "comment": "pathology review",
            "id": "v06", "primary.site": "pancreas", "primary.status": "in_place",
            "primary.resectable": "true", "pathology.ki67_percent": "2.5",
            "pathology.mitoses_per_2mm2": "1", "liver.lesion_count": "1", "extrahepatic.sites": "none"}  # fmt: skip
    assert client.post("/cases/v06/edit", data=data, follow_redirects=False).status_code == 303
    assert env.store.get_case("v06").version == 2
    assert env.store.get_case("v06", version=1).case.pathology.mitoses_per_2mm2 == 6
    history = client.get("/cases/v06/history").text
    assert "pathology review" in history


def test_chinese_pages(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "clinician")
    page = client.get("/cases/v03?lang=zh").text
    assert "推荐方案" in page
    assert "肽受体放射性核素治疗" in page
    assert client.cookies.get("netlm_lang") == "zh"
    assert "病例列表" in client.get("/cases").text  # the choice sticks
    assert "原发部位" in client.get("/cases/new").text


def test_printable_view(env: Env) -> None:
    seed(env)
    client = env.client()
    login(client, "viewer")
    page = client.get("/cases/v01/print").text
    assert "Curative-intent resection" in page
    assert "no-print" in page


def test_delete_from_the_case_page(env: Env) -> None:
    seed(env)
    client = env.client()
    csrf = login(client, "clinician")
    assert 'id="delete-case"' in client.get("/cases/v02").text
    short = client.post(
        "/cases/v02/delete", data={"csrf_token": csrf, "reason": "", "confirm": "yes"}
    )
    assert short.status_code == 422
    unconfirmed = client.post(
        "/cases/v02/delete", data={"csrf_token": csrf, "reason": "entered twice"}
    )
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    done = client.post("/cases/v02/delete", data={"csrf_token": csrf, "reason": "entered twice",
                                                   "confirm": "yes"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert client.get("/cases/v02").status_code == 404
    assert "v02" not in client.get("/cases").text


def test_edit_form_highlights_the_findings_a_card_asks_to_complete(env: Env) -> None:
    """A CDS Hooks card links here with the findings no EHR holds: they are marked and named."""
    seed(env)
    client = env.client()
    login(client, "clinician")
    page = client.get(
        "/cases/v03/edit?complete=liver.pattern,sstr_imaging.krenning_score,nope"
    ).text
    assert page.count('class="field to-complete"') == 2
    assert 'id="to-complete"' in page
    assert "nope" not in page
    assert "to-complete" not in client.get("/cases/v03/edit").text


def test_login_returns_to_the_whole_address_asked_for(env: Env) -> None:
    """A card's completion link carries its query (`?complete=…`): signing in keeps it."""
    client = env.client()
    asked = "/cases/v03/edit?complete=pathology.ki67_percent,liver.pattern"
    response = client.get(asked, follow_redirects=False)
    assert response.headers["location"] == "/login?next=" + quote(asked)
    form = client.get(response.headers["location"])
    assert f'name="next" value="{asked}"' in form.text


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example"]
)
def test_login_never_sends_the_user_to_another_site(env: Env, target: str) -> None:
    form = env.client().get("/login", params={"next": target})
    assert 'name="next" value="/cases"' in form.text
