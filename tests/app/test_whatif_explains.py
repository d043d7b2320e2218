"""What-if explains itself: every finding (laboratory values included) can be asked about, the
changed inputs are shown, and each option that moved says why, in both languages."""

import re

from tests.app.conftest import Env, login
from tests.conftest import EXAMPLES, load_json
from tests.web.formdata import as_form_data, submitted

CASE = load_json(next(p for p in EXAMPLES if p.name.startswith("03")))
LABS = (
    "labs.creatinine_clearance_ml_min", "labs.bilirubin_x_uln", "labs.albumin_g_dl",
    "labs.platelets_10e9_per_l", "labs.hemoglobin_g_dl", "labs.neutrophils_10e9_per_l",
)  # fmt: skip


def _row(html: str, option: str) -> str:
    found = re.search(rf'<tr data-option="{option}">(.*?)</tr>', html, re.S)
    assert found, f"{option} did not move"
    return found.group(1)


def test_a_changed_laboratory_value_explains_each_moved_option(env: Env) -> None:
    client = env.client()
    assert client.post("/api/v1/cases", json=CASE, headers=env.auth("clinician")).status_code == 201
    csrf = login(client, "viewer")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    for lang, label, excluded, reason, why, up in (
        ("en", "Creatinine clearance", "excluded", "Creatinine clearance below 30 mL/min",
         "Options that moved, and why", "moves up: PRRT no longer ranked above it"),
        ("zh", "肌酐清除率", "已排除", "肌酐清除率低于30 mL/min", "位置变化的方案及原因",
         "位置上移：PRRT不再排在其前"),
    ):  # fmt: skip
        page = client.get(f"/cases/v03?lang={lang}").text
        panel = page[page.index('id="whatif"') :]
        pairs = submitted(page, "class", "whatif-form")
        names = {name for name, _ in pairs}
        assert set(LABS) <= names, "every laboratory value is in the what-if"
        assert {"patient.age_years", "primary.site", "liver.largest_lesion_cm"} <= names
        assert "<script" not in panel.split("</section>")[0]  # strict CSP: no inline script
        data = as_form_data(pairs)
        data["labs.creatinine_clearance_ml_min"] = ["25"]
        result = client.post(f"/cases/v03/whatif?lang={lang}", data=data, headers=headers)
        assert result.status_code == 200, result.text
        html = result.text
        inputs = html[html.index('id="whatif-inputs"') : html.index('id="whatif-moved"')]
        assert label in inputs
        assert "<ins>25" in inputs
        assert inputs.count('scope="row"') == 1, "only the changed finding is listed"
        assert why in html
        prrt = _row(html, "prrt")
        assert excluded in prrt
        assert reason in prrt
        assert up in _row(html, "everolimus")  # moved into the first tier because PRRT left it
        for option_row in re.findall(r'<tr data-option="[a-z_]+">(.*?)</tr>', html, re.S):
            assert "<li>" in option_row, "each moved option says why"
    assert env.store.get_case("v03").version == 1  # nothing saved


def test_an_unchanged_what_if_says_nothing_moved(env: Env) -> None:
    client = env.client()
    assert client.post("/api/v1/cases", json=CASE, headers=env.auth("clinician")).status_code == 201
    csrf = login(client, "viewer")
    page = client.get("/cases/v03").text
    data = as_form_data(submitted(page, "class", "whatif-form"))
    html = client.post("/cases/v03/whatif", data=data,
                       headers={"HX-Request": "true", "X-CSRF-Token": csrf}).text  # fmt: skip
    assert 'id="whatif-same"' in html
    assert "No finding changed" in html
    assert "No option changed its tier or strength." in html
