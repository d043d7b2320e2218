"""A small SMART on FHIR EHR for the launch tests, in its own process: an authorisation server
(Authlib's, on Flask: authorisation code + PKCE S256 + OpenID Connect, one confidential client),
a FHIR R4 server holding the bundled example charts (examples/fhir), and the EHR's own page that
frames an app. Run as `python -m tests.smart_server PORT`.

- `GET /launch?user=NAME&patient=ID` makes a launch context (as an EHR does when a clinician
  opens an app in a patient's chart) and answers `{"launch": ..., "iss": ...}`;
  `GET /ehr?user=&patient=&app=URL` does the same and shows a page that frames
  `URL?iss=...&launch=...`.
- `/fhir/.well-known/smart-configuration`, `/.well-known/openid-configuration`, `/jwks`.
- `/auth/authorize` approves at once for the launch's user (an EHR launch: the clinician is
  signed in to the EHR already) if `launch` is known and `aud` is the FHIR base; `/auth/token`
  adds the launch's `patient` and an ID token with `fhirUser`.
- `/fhir/...` answers reads and searches of the launch's patient only, with a token it issued.
  `GET /issued` lists the access tokens issued, for the tests to look for them where they must
  never be.
"""

import json
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from authlib.oauth2.rfc6749 import OAuth2Request, grants
from flask import Flask, Response, jsonify, request

from netlm.fhir.cds import searchset
from netlm.fhir.cds.store import CdsStore
from netlm.store.repository import Store
from netlm.store.sso import SsoStore
from tests.authorization_server import (
    AuthCode,
    IdToken,
    LoopbackClient,
    SigningKey,
    authorization_server,
    code_grant,
    started,
)
from tests.cds.ehr import EHR_ISSUER, Ehr

ROOT = Path(__file__).resolve().parents[1]
CHARTS = sorted((ROOT / "examples" / "fhir").glob("*.json"))
CLIENT_ID = "netlm-smart"
CLIENT_SECRET = "secret of netlm at the test EHR"
CALLBACK = "/smart/callback"
SCOPES = ("launch", "openid", "fhirUser", "patient/*.rs")
USERS = {
    "alice": {"sub": "alice-0001", "name": "Alice Li", "fhirUser": "Practitioner/alice"},
    "mallory": {"sub": "mallory-0666", "name": "Mallory", "fhirUser": "Practitioner/mallory"},
}
PAGE_SIZE = 50
# A patient whose chart holds no neuroendocrine tumour: netlm keeps no case for it.
NO_NET = "no-net"
OTHER_CHART = [
    {"resourceType": "Patient", "id": NO_NET, "gender": "female", "birthDate": "1960-02-01"},
    {"resourceType": "Condition", "id": "no-net-htn", "subject": {"reference": f"Patient/{NO_NET}"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                          "display": "Hypertensive disorder"}]}},
]  # fmt: skip


def chart_resources() -> list[dict[str, Any]]:
    """Every resource of the example charts (their ids do not collide)."""
    return [
        entry["resource"]
        for path in CHARTS
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]
    ]


CLIENT = LoopbackClient(CLIENT_ID, CLIENT_SECRET, SCOPES, CALLBACK)


@dataclass(kw_only=True)
class Code(AuthCode):
    patient: str  # the launch's patient, for the token response


def create_app(base: str) -> Flask:
    fhir = f"{base}/fhir"
    key = SigningKey()
    codes: dict[str, Code] = {}
    launches: dict[str, tuple[str, str]] = {}  # launch id -> (user, patient)
    tokens: dict[str, str] = {}  # access token -> patient
    resources = chart_resources() + OTHER_CHART
    patients = {r["id"] for r in resources if r["resourceType"] == "Patient"}

    def new_code(code: str, req: OAuth2Request) -> Code:
        return Code.issued(code, req, req.user["claims"], patient=req.user["patient"])

    class EhrIdToken(IdToken):
        def encode_id_token(self, token: dict[str, Any], req: OAuth2Request) -> str:
            code: Code = req.authorization_code
            now = int(time.time())
            claims = {"iss": base, "aud": [CLIENT_ID], "iat": now, "exp": now + 300,
                      "auth_time": code.auth_time, "nonce": code.nonce, **code.user}  # fmt: skip
            return key.sign(claims)

    class LaunchContext:
        """SMART's launch context in the token response: the patient the EHR had open."""

        def __call__(self, grant: grants.AuthorizationCodeGrant) -> None:
            grant.register_hook("after_create_token_response", self.add_patient)

        def add_patient(self, grant: grants.AuthorizationCodeGrant, response: Any) -> None:
            _, token, _ = response
            code: Code = grant.request.authorization_code
            token["patient"] = code.patient
            tokens[token["access_token"]] = code.patient

    app = Flask(__name__)
    server = authorization_server(
        app, CLIENT, code_grant(codes, new_code), EhrIdToken(codes), LaunchContext()
    )

    def new_launch() -> tuple[str, str] | None:
        user, patient = request.args.get("user", ""), request.args.get("patient", "")
        if user not in USERS or patient not in patients:
            return None
        launch = secrets.token_urlsafe(16)
        launches[launch] = (user, patient)
        return launch, fhir

    @app.get("/launch")
    def launch() -> Any:
        made = new_launch()
        return ({"error": "unknown user or patient"}, 400) if made is None else {
            "launch": made[0], "iss": made[1]}  # fmt: skip

    @app.get("/ehr")
    def ehr() -> Any:
        made = new_launch()
        app_url = request.args.get("app", "")
        if made is None or not app_url.startswith("http"):
            return "unknown user, patient or app", 400
        src = f"{app_url}?{urlencode({'iss': made[1], 'launch': made[0]})}"
        body = (f'<!doctype html><title>Test EHR</title><h1 id="ehr">Test EHR: patient '
                f'{escape(request.args["patient"])}</h1>'
                f'<iframe id="app" name="app" src="{escape(src)}" width="1200" height="900">'
                f'</iframe>')  # fmt: skip
        return Response(body, mimetype="text/html")

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> dict[str, Any]:
        return {
            "issuer": base,
            "jwks_uri": f"{base}/jwks",
            "authorization_endpoint": f"{base}/auth/authorize",
            "token_endpoint": f"{base}/auth/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "grant_types_supported": ["authorization_code"],
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": ["launch-ehr", "client-confidential-symmetric", "context-ehr-patient",
                             "sso-openid-connect", "permission-v2", "permission-patient"],
        }  # fmt: skip

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": base, "authorization_endpoint": f"{base}/auth/authorize",
            "token_endpoint": f"{base}/auth/token", "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }  # fmt: skip

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return key.jwks()

    @app.get("/auth/authorize")
    def authorize() -> Any:
        context = launches.pop(request.args.get("launch", ""), None)
        if context is None or request.args.get("aud") != fhir:
            return "unknown launch, or aud is not this FHIR server", 400
        user, patient = context
        return server.create_authorization_response(
            grant_user={"claims": USERS[user], "patient": patient}
        )

    @app.post("/auth/token")
    def token() -> Any:
        return server.create_token_response()

    @app.get("/issued")
    def issued() -> Any:
        return jsonify(sorted(tokens))

    @app.get("/fhir/<path:path>")
    def read(path: str) -> Any:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        patient = tokens.get(sent) if scheme == "Bearer" else None
        if patient is None:
            return _outcome("login"), 401
        parts = path.split("/")
        if len(parts) == 2:
            if parts != ["Patient", patient]:
                return _outcome("forbidden"), 403
            found = [r for r in resources if [r["resourceType"], r["id"]] == parts]
            return _fhir(found[0])
        query = parse_qs(request.query_string.decode())
        if query.get("patient") != [patient]:
            return _outcome("forbidden"), 403
        search = f"{parts[0]}?{request.query_string.decode()}"
        matched = searchset.matches(resources, search)
        size = int((query.get("_count") or [str(PAGE_SIZE)])[0])
        page = int((query.get("_page") or ["1"])[0])
        chunk = matched[(page - 1) * size : page * size]
        rest = {k: v for k, v in query.items() if k != "_page"}
        following = (
            f"{fhir}/{parts[0]}?{urlencode({**rest, '_page': page + 1}, doseq=True)}"
            if len(matched) > page * size
            else None
        )
        includes = searchset.included(resources, chunk, search)
        return _fhir(searchset.searchset(chunk, includes, following))

    return app


def _fhir(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), mimetype="application/fhir+json")


def _outcome(code: str) -> Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code}]}
    return _fhir(body)


@contextmanager
def smart_ehr(log_dir: Path) -> Iterator[str]:
    """The test EHR's base URL once it answers (FHIR base: `<base>/fhir`); stopped when done."""
    with started(
        "tests.smart_server", "/fhir/.well-known/smart-configuration", log_dir / "smart-ehr.log",
        "EHR",
    ) as base:  # fmt: skip
        yield base


def register_smart_ehr(store: Store, ehr: str) -> None:
    """netlm's side of the test EHR at `ehr`: a CDS Hooks client (EHR_ISSUER, the tag of its
    case ids) vouching for its FHIR server, and Dr Li linked to its user alice."""
    CdsStore(store.engine).add_client(
        EHR_ISSUER, "Test EHR", Ehr().jwks(), [], fhir_servers=[f"{ehr}/fhir"], allow_http=True
    )
    SsoStore(store.engine).link_sso("dr.li", ehr, USERS["alice"]["sub"])


if __name__ == "__main__":
    port = int(sys.argv[1])
    create_app(f"http://127.0.0.1:{port}").run(host="127.0.0.1", port=port, threaded=True)
