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
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oidc.core.util import create_half_hash
from flask import Flask, Response, request
from joserfc.jwk import RSAKey

from tests.authorization_server import (
    AuthCode,
    IdToken,
    LoopbackClient,
    SigningKey,
    authorization_server,
    code_grant,
    started,
)

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
CLIENT = LoopbackClient(CLIENT_ID, CLIENT_SECRET, ("openid", "profile"), CALLBACK)


@dataclass(kw_only=True)
class Code(AuthCode):
    misbehave: str  # how the ID token for this code is to be wrong, if at all (MODES)


def create_app(issuer: str) -> Flask:
    key, other = SigningKey(), RSAKey.generate_key(2048)
    codes: dict[str, Code] = {}

    def new_code(code: str, req: OAuth2Request) -> Code:
        return Code.issued(code, req, req.user, misbehave=request.args.get("misbehave", ""))

    class MisbehavingIdToken(IdToken):
        def encode_id_token(self, token: dict[str, Any], req: OAuth2Request) -> str:
            code: Code = req.authorization_code
            now = int(time.time())
            claims: dict[str, Any] = {
                "iss": issuer, "aud": [CLIENT_ID], "iat": now, "exp": now + 300,
                "auth_time": code.auth_time, "nonce": code.nonce, "amr": AMR, **code.user,
                "at_hash": create_half_hash(token["access_token"], "RS256").decode(),
            }  # fmt: skip
            signer: RSAKey | None = None
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
            return key.sign(claims, signer)

    app = Flask(__name__)
    server = authorization_server(
        app, CLIENT, code_grant(codes, new_code), MisbehavingIdToken(codes)
    )

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
        return key.jwks()

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
    with started(
        "tests.oidc_provider", "/.well-known/openid-configuration", log_dir / "provider.log",
        "provider",
    ) as issuer:  # fmt: skip
        yield issuer


if __name__ == "__main__":
    port = int(sys.argv[1])
    create_app(f"http://127.0.0.1:{port}").run(host="127.0.0.1", port=port)
