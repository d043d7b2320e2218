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
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, Response, jsonify, request
from joserfc import jwt
from joserfc.jwk import RSAKey

from netlm.fhir.cds import searchset

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


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """netlm, registered with its callback on any loopback port."""

    client_id: str = CLIENT_ID

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.path == CALLBACK

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == CLIENT_SECRET

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    redirect_uri: str
    scope: str
    user: dict[str, str]
    patient: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


def create_app(base: str) -> Flask:
    fhir = f"{base}/fhir"
    key = RSAKey.generate_key(2048)
    kid = key.thumbprint()
    codes: dict[str, Code] = {}
    launches: dict[str, tuple[str, str]] = {}  # launch id -> (user, patient)
    tokens: dict[str, str] = {}  # access token -> patient
    resources = chart_resources() + OTHER_CHART
    patients = {r["id"] for r in resources if r["resourceType"] == "Patient"}

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic",)

        def save_authorization_code(self, code: str, req: OAuth2Request) -> None:
            data = req.payload.data
            codes[code] = Code(code, data["redirect_uri"], req.scope, req.user["claims"],
                               req.user["patient"], data.get("nonce", ""),
                               data.get("code_challenge", ""),
                               data.get("code_challenge_method", ""))  # fmt: skip

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = codes.get(code)
            return found if found and time.time() - found.auth_time < 60 else None

        def delete_authorization_code(self, code: Code) -> None:
            codes.pop(code.code, None)

        def authenticate_user(self, code: Code) -> dict[str, str]:
            return code.user

    class IdToken(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, req: OAuth2Request) -> bool:
            return any(c.nonce == nonce for c in codes.values())

        def generate_user_info(self, user: dict[str, str], scope: str) -> dict[str, str]:
            return dict(user)

        def encode_id_token(self, token: dict[str, Any], req: OAuth2Request) -> str:
            code: Code = req.authorization_code
            now = int(time.time())
            claims = {"iss": base, "aud": [CLIENT_ID], "iat": now, "exp": now + 300,
                      "auth_time": code.auth_time, "nonce": code.nonce, **code.user}  # fmt: skip
            return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)

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
    server = AuthorizationServer(
        app, query_client=lambda cid: Client() if cid == CLIENT_ID else None,
        save_token=lambda *_: None,
    )  # fmt: skip
    server.register_grant(
        CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True), LaunchContext()]
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
        return {"keys": [key.as_dict(private=False, kid=kid, use="sig", alg="RS256")]}

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
    from tests.app.server import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}  # plain HTTP on loopback
    log_path = log_dir / "smart-ehr.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.smart_server", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    url = f"{base}/fhir/.well-known/smart-configuration"
                    if httpx2.get(url, timeout=1).status_code == 200:
                        break
                except httpx2.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"EHR did not start: {log_path.read_text()!r}") from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    port = int(sys.argv[1])
    create_app(f"http://127.0.0.1:{port}").run(host="127.0.0.1", port=port, threaded=True)
