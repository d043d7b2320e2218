"""A small real OpenID provider for the single sign-on tests: Authlib's Flask authorisation
server (authorisation code + PKCE S256 + OpenID Connect), one confidential client, two users and
an RS256 key made at start. Run as its own process: `python -m tests.oidc_provider PORT`.

The authorisation endpoint shows a sign-in form, or approves at once for `?user=NAME`; with
`?misbehave=MODE` the ID token it then issues is wrong in one way (wrong_nonce, wrong_audience,
wrong_issuer, expired, bad_signature, unsigned), for the relying party to refuse. Its ID tokens
say the user signed in with a password and a one-time code (`amr` AMR, RFC 8176); with
`?misbehave=single_factor` with the password alone (NETLM_REQUIRE_MFA refuses that of an admin).
"""

import base64
import html
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from flask import Flask, Response, request
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "netlm-test"
CLIENT_SECRET = "client secret of the test provider"
USERS = {
    "alice": {"sub": "alice-0001", "name": "Alice Li"},  # the tests link her to a netlm user
    "mallory": {"sub": "mallory-0666", "name": "Mallory"},  # known here, linked to nobody
    "carol": {"sub": "carol-0002", "name": "Carol Wu"},  # the tests link her to a netlm admin
}
CALLBACK = "/login/sso/callback"
MODES = ("wrong_nonce", "wrong_audience", "wrong_issuer", "expired", "bad_signature", "unsigned")
AMR = ["pwd", "otp"]  # how every user signs in here, unless `single_factor`
SINGLE_FACTOR_AMR = ["pwd"]


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """The one registered client: netlm on any loopback port."""

    client_id: str = CLIENT_ID

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile"))

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
    nonce: str
    code_challenge: str
    code_challenge_method: str
    misbehave: str
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


def create_app(issuer: str) -> Flask:
    key, other = RSAKey.generate_key(2048), RSAKey.generate_key(2048)
    kid = key.thumbprint()
    codes: dict[str, Code] = {}

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic",)

        def save_authorization_code(self, code: str, req: OAuth2Request) -> None:
            data = req.payload.data
            codes[code] = Code(code, data["redirect_uri"], req.scope, req.user,
                               data.get("nonce", ""), data.get("code_challenge", ""),
                               data.get("code_challenge_method", ""),
                               request.args.get("misbehave", ""))  # fmt: skip

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
            claims: dict[str, Any] = {
                "iss": issuer, "aud": [CLIENT_ID], "iat": now, "exp": now + 300,
                "auth_time": code.auth_time, "nonce": code.nonce, "amr": AMR, **code.user,
                "at_hash": create_half_hash(token["access_token"], "RS256").decode(),
            }  # fmt: skip
            signer = key
            match code.misbehave:
                case "wrong_nonce":
                    claims["nonce"] = "a nonce of another sign-in"
                case "wrong_audience":
                    claims["aud"] = ["another-application"]
                case "wrong_issuer":
                    claims["iss"] = "https://issuer.invalid"
                case "expired":
                    claims["iat"], claims["exp"] = now - 3600, now - 600
                case "bad_signature":
                    signer = other  # same kid, another key
                case "unsigned":
                    return _unsigned(claims)
                case "single_factor":
                    claims["amr"] = SINGLE_FACTOR_AMR
            return jwt.encode({"alg": "RS256", "kid": kid}, claims, signer)

    def query_client(client_id: str) -> Client | None:
        return Client() if client_id == CLIENT_ID else None

    app = Flask(__name__)
    server = AuthorizationServer(app, query_client=query_client, save_token=lambda *_: None)
    server.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False, kid=kid, use="sig", alg="RS256")]}

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        name = request.values.get("user")
        if name is None:
            return _form(request.query_string.decode())
        if name not in USERS:
            return _form(request.query_string.decode(), "Unknown user"), 401
        return server.create_authorization_response(grant_user=USERS[name])

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    return app


def _form(query: str, error: str = "") -> Response:
    """The provider's own sign-in page: a username, no password (this is a test provider)."""
    body = (f'<!doctype html><title>Hospital sign-in</title><h1>Hospital sign-in</h1>'
            f'<p id="error">{html.escape(error)}</p>'
            f'<form method="post" action="/authorize?{html.escape(query)}">'
            f'<label>Username <input name="user" id="user"></label>'
            f'<button type="submit" id="approve">Sign in</button></form>')  # fmt: skip
    return Response(body, mimetype="text/html")


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


@contextmanager
def provider(log_dir: Path) -> Iterator[str]:
    """The provider's issuer URL once its discovery document answers; stopped when done."""
    from tests.app.server import free_port

    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}  # plain HTTP on loopback
    log_path = log_dir / "provider.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    url = f"{issuer}/.well-known/openid-configuration"
                    if httpx2.get(url, timeout=1).status_code == 200:
                        break
                except httpx2.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"provider did not start: {log_path.read_text()!r}"
                        ) from None
                    time.sleep(0.2)
            yield issuer
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    port = int(sys.argv[1])
    create_app(f"http://127.0.0.1:{port}").run(host="127.0.0.1", port=port)
