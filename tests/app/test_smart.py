"""SMART App Launch (EHR launch) end to end over HTTP: netlm's server and a test EHR
(tests/smart_server.py: authorisation server, FHIR server and EHR page), each in its own process,
started once for this module; a client follows the redirects between them as a browser would."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from netlm.cli.app import app as cli
from netlm.fhir.cds.service import case_id_for
from netlm.fhir.cds.store import CdsStore
from netlm.model.parse import parse_case
from netlm.settings import Settings
from netlm.store.errors import NotFound
from netlm.store.repository import Store
from netlm.web.i18n import word
from netlm.web.smart_client import SmartConfiguration
from tests.app.server import database_with_dr_li, free_port, served
from tests.cds.ehr import EHR_ISSUER, Ehr
from tests.smart_server import (
    CHARTS,
    CLIENT_ID,
    CLIENT_SECRET,
    NO_NET,
    USERS,
    register_smart_ehr,
    smart_ehr,
)
from tests.web.pagetext import visible_texts


@dataclass(frozen=True)
class Sites:
    netlm: str
    ehr: str
    store: Store

    @property
    def fhir(self) -> str:
        return f"{self.ehr}/fhir"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    data = tmp_path_factory.mktemp("smart")
    url, store = database_with_dr_li(data)
    with smart_ehr(data) as ehr:
        register_smart_ehr(store, ehr)
        extra = {"NETLM_SMART_CLIENT_ID": CLIENT_ID, "NETLM_SMART_CLIENT_SECRET": CLIENT_SECRET}
        with served(data, url, extra) as base:
            yield Sites(base, ehr, store)


def browser(sites: Sites) -> httpx2.Client:
    return httpx2.Client(base_url=sites.netlm, timeout=20)


def new_launch(sites: Sites, patient: str, user: str = "alice") -> dict[str, str]:
    """What the EHR sends when a clinician opens netlm in a patient's chart."""
    answer = httpx2.get(f"{sites.ehr}/launch", params={"user": user, "patient": patient})
    assert answer.status_code == 200, answer.text
    launch: dict[str, str] = answer.json()
    return launch


def launched(client: httpx2.Client, sites: Sites, patient: str, user: str = "alice") -> str:
    """Launch, authorise at the EHR; the netlm callback URL it redirects back to."""
    started = client.get("/smart/launch", params=new_launch(sites, patient, user))
    assert started.status_code == 303, started.text
    approved = client.get(started.headers["location"])
    assert approved.status_code == 302, approved.text
    callback = approved.headers["location"]
    assert callback.startswith(f"{sites.netlm}/smart/callback?")
    return callback


def says(response: httpx2.Response, key: str) -> bool:
    return any(word(key, "en") in t.text for t in visible_texts(response.text))


def signed_in(client: httpx2.Client) -> bool:
    return client.get("/cases").status_code == 200


def test_the_launch_asks_for_the_ehr_context_with_pkce(sites: Sites) -> None:
    with browser(sites) as client:
        started = client.get("/smart/launch", params=new_launch(sites, "v03"))
        assert started.status_code == 303
        target = started.headers["location"]
        query = parse_qs(urlsplit(target).query)
        assert target.startswith(f"{sites.ehr}/auth/authorize?")  # from smart-configuration
        assert query["scope"] == ["launch openid fhirUser patient/*.rs"]
        assert query["aud"] == [sites.fhir]
        assert query["client_id"] == [CLIENT_ID]
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"{sites.netlm}/smart/callback"]
        assert len(query["state"][0]) >= 43
        assert len(query["launch"][0]) > 0
        cookie = started.headers["set-cookie"]
        assert "netlm_smart=" in cookie
        assert "HttpOnly" in cookie
        assert "Path=/smart" in cookie


def test_launch_opens_the_patients_case_signed_in_and_keeps_no_token(sites: Sites) -> None:
    seen: list[httpx2.Response] = []

    def keep(response: httpx2.Response) -> None:
        response.read()
        seen.append(response)

    hooks = {"response": [keep]}
    with httpx2.Client(base_url=sites.netlm, timeout=20, event_hooks=hooks) as client:
        callback = launched(client, sites, "v03")
        opened = client.get(callback)
        case_id = case_id_for(EHR_ISSUER, "v03")  # the case CDS Hooks keeps for this patient
        assert opened.status_code == 303, opened.text
        target = opened.headers["location"]
        assert target.startswith(f"/cases/{case_id}/edit?complete=")  # findings to complete
        page = client.get(target)
        assert page.status_code == 200
        assert "Dr Li" in page.text
        assert signed_in(client)
        assert client.get(f"/cases/{case_id}").status_code == 200
        assert not client.cookies.get("netlm_smart")  # the flow is used once
    issued = httpx2.get(f"{sites.ehr}/issued").json()
    assert issued
    for response in seen:  # never in a page, a header or a cookie netlm sends
        sent = response.text + json.dumps(dict(response.headers))
        assert not any(token in sent for token in issued)
    login = sites.store.audit_log("dr.li", limit=5)[0]
    assert (login.action, login.detail["method"], login.detail["case"]) == (
        "login", "smart", case_id
    )  # fmt: skip
    assert login.detail["fhir_user"] == USERS["alice"]["fhirUser"]


def test_a_tampered_state_is_refused(sites: Sites) -> None:
    with browser(sites) as client:
        callback = launched(client, sites, "v01")
        refused = client.get(callback.replace("state=", "state=X"))
        assert refused.status_code == 400
        assert says(refused, "smart.expired")
        assert not signed_in(client)


def test_a_callback_in_another_browser_is_refused(sites: Sites) -> None:
    with browser(sites) as attacker, browser(sites) as victim:
        refused = victim.get(launched(attacker, sites, "v01"))
        assert refused.status_code == 400
        assert says(refused, "smart.expired")
        assert not signed_in(victim)


def test_an_unregistered_fhir_server_is_refused_before_any_request(sites: Sites) -> None:
    with browser(sites) as client:
        for iss in (
            "https://fhir.elsewhere.example/r4",
            f"{sites.ehr}/other",
            f"{sites.fhir}?x=1",  # a query: no FHIR base
            f"{sites.fhir}#x",
            sites.fhir.replace("http://", "http://user:pw@"),
        ):
            refused = client.get("/smart/launch", params={"iss": iss, "launch": "x"})
            assert refused.status_code == 403
            assert says(refused, "smart.unknown_server")
            assert "x-frame-options" in refused.headers  # no frame origins configured here


def test_missing_launch_parameters_are_named(sites: Sites) -> None:
    with browser(sites) as client:
        for missing in ("iss", "launch"):
            params = {"iss": sites.fhir, "launch": "x"}
            del params[missing]
            refused = client.get("/smart/launch", params=params)
            assert refused.status_code == 422
            assert missing in refused.text


def test_an_unlinked_clinician_is_refused_and_the_chart_not_read(sites: Sites) -> None:
    with browser(sites) as client:
        refused = client.get(launched(client, sites, "v05", user="mallory"))
        assert refused.status_code == 403
        assert says(refused, "smart.unlinked")
        assert not signed_in(client)
    with pytest.raises(NotFound):
        sites.store.get_case(case_id_for(EHR_ISSUER, "v05"))
    entry = sites.store.audit_log(USERS["mallory"]["sub"], limit=1)[0]
    assert (entry.action, entry.detail["method"]) == ("login_failed", "smart")


def test_a_chart_without_a_net_opens_no_case_and_says_so(sites: Sites) -> None:
    with browser(sites) as client:
        answer = client.get(launched(client, sites, NO_NET))
        assert answer.status_code == 200
        assert says(answer, "smart.no_case")
        assert signed_in(client)  # a clinician of this service, in a chart netlm has nothing on
    with pytest.raises(NotFound):
        sites.store.get_case(case_id_for(EHR_ISSUER, NO_NET))


def test_a_refusal_by_the_authorisation_server_is_shown(sites: Sites) -> None:
    with browser(sites) as client:
        callback = urlsplit(launched(client, sites, "v01"))
        sent_state = parse_qs(callback.query)["state"][0]
        refused = client.get(callback.path, params={"state": sent_state, "error": "access_denied"})
        assert refused.status_code == 400
        assert says(refused, "smart.cancelled")
        assert not signed_in(client)


def test_an_unreachable_smart_server_is_a_502_page(sites: Sites) -> None:
    gone = f"http://127.0.0.1:{free_port()}/fhir"
    CdsStore(sites.store.engine).add_client(
        "https://gone.example.org",
        "Gone EHR",
        Ehr().jwks(),
        [],
        fhir_servers=[gone],
        allow_http=True,
    )
    with browser(sites) as client:
        refused = client.get("/smart/launch", params={"iss": gone, "launch": "x"})
        assert refused.status_code == 502
        assert says(refused, "smart.unavailable")


@pytest.mark.parametrize("chart", CHARTS, ids=[c.stem[:2] for c in CHARTS])
def test_the_smart_case_is_the_cli_import_of_the_same_chart(sites: Sites, chart: Path) -> None:
    """Issue 18 item 5, SMART leg: the chart read over SMART is the case `netlm fhir import`
    prints for the same chart (but for its id, `ehr-<tag>-<patient id>`)."""
    patient = next(
        e["resource"]["id"]
        for e in json.loads(chart.read_text())["entry"]
        if e["resource"]["resourceType"] == "Patient"
    )
    with browser(sites) as client:
        assert client.get(launched(client, sites, patient)).status_code == 303
    stored = sites.store.get_case(case_id_for(EHR_ISSUER, patient)).case.to_json_dict()
    printed = CliRunner().invoke(cli, ["fhir", "import", str(chart)])
    assert printed.exit_code == 0, printed.output
    imported = parse_case(json.loads(printed.stdout)).to_json_dict()  # the CLI omits empty sections
    assert {**stored, "id": None} == {**imported, "id": None}


def test_the_case_page_opens_once_the_board_has_completed_the_case(sites: Sites) -> None:
    """Last in this module: the board's answers make v02's case differ from the import."""
    case_id = case_id_for(EHR_ISSUER, "v02")
    with browser(sites) as client:
        first = client.get(launched(client, sites, "v02")).headers["location"]
        assert first.startswith(f"/cases/{case_id}/edit?complete=")
        record = sites.store.get_case(case_id)
        data = record.case.to_json_dict()
        data["primary"]["functional_syndrome"] = "none"
        data["symptoms"] |= {"bulky_symptomatic": False, "hormonal_refractory": False}
        (li,) = (u for u in sites.store.list_users() if u.username == "dr.li")
        sites.store.update_case(
            case_id, parse_case(data), li, expected_version=record.current_version
        )
        again = client.get(launched(client, sites, "v02"))
        assert again.headers["location"] == f"/cases/{case_id}"  # the board's answers are kept


def test_smart_settings_are_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETLM_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("NETLM_SMART_CLIENT_ID", "netlm")
    with pytest.raises(ValueError, match="NETLM_SMART_CLIENT_SECRET"):
        Settings.from_env()  # a confidential client, or none
    monkeypatch.setenv("NETLM_SMART_CLIENT_SECRET", "s")
    for origin in ("http://ehr.example.org", "https://ehr.example.org/app", "ehr.example.org"):
        monkeypatch.setenv("NETLM_SMART_FRAME_ORIGINS", origin)
        with pytest.raises(ValueError, match="NETLM_SMART_FRAME_ORIGINS"):
            Settings.from_env()
    monkeypatch.setenv(
        "NETLM_SMART_FRAME_ORIGINS", "https://ehr.example.org/, http://localhost:8080"
    )
    assert Settings.from_env().smart_frame_origins == (
        "https://ehr.example.org", "http://localhost:8080"
    )  # fmt: skip


def test_a_smart_configuration_netlm_cannot_use_is_refused() -> None:
    good = {"authorization_endpoint": "https://ehr.example/authorize",
            "token_endpoint": "https://ehr.example/token", "issuer": "https://ehr.example",
            "jwks_uri": "https://ehr.example/jwks", "code_challenge_methods_supported": ["S256"]}  # fmt: skip
    SmartConfiguration.model_validate(good)
    for bad in (
        {**good, "code_challenge_methods_supported": ["plain"]},  # no PKCE S256
        {**good, "token_endpoint": "http://ehr.example/token"},  # the secret over plain http
        {k: v for k, v in good.items() if k != "issuer"},  # no OpenID Connect: nobody to sign in
        {**good, "jwks_uri": "https://ehr.example/" + "x" * 500},  # too long for the flow cookie
    ):
        with pytest.raises(ValidationError):
            SmartConfiguration.model_validate(bad)
