"""What the test OpenID provider (tests/oidc_provider.py) and the test SMART EHR
(tests/smart_server.py) share: Authlib's authorisation server (authorisation code + PKCE S256 +
OpenID Connect) for one confidential client on loopback, an RS256 key made at start, and the
start of either in its own process."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask
from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class LoopbackClient(ClientMixin):  # type: ignore[misc]
    """The one registered client: netlm, with its callback path on any loopback port."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]  # what it may be granted
    callback: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return (
            parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.path == self.callback
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthCode:
    """An authorisation code and what the token request is checked against."""

    code: str
    redirect_uri: str
    scope: str
    user: dict[str, str]  # the ID token's claims about the user
    nonce: str
    code_challenge: str
    code_challenge_method: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def issued(cls, code: str, req: OAuth2Request, user: dict[str, str], **context: Any) -> Self:
        """The code issued for the authorisation request `req`; `context` fills a subclass's
        own fields."""
        data = req.payload.data
        return cls(code, data["redirect_uri"], req.scope, user, data.get("nonce", ""),
                   data.get("code_challenge", ""), data.get("code_challenge_method", ""),
                   **context)  # fmt: skip

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


C = TypeVar("C", bound=AuthCode)


def code_grant(
    codes: dict[str, C], new_code: Callable[[str, OAuth2Request], C]
) -> type[grants.AuthorizationCodeGrant]:
    """The authorisation code grant, its codes kept in `codes` (made by `new_code`) for a
    minute, the client authenticated with HTTP Basic."""

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic",)

        def save_authorization_code(self, code: str, req: OAuth2Request) -> None:
            codes[code] = new_code(code, req)

        def query_authorization_code(self, code: str, client: LoopbackClient) -> C | None:
            found = codes.get(code)
            return found if found and time.time() - found.auth_time < 60 else None

        def delete_authorization_code(self, code: C) -> None:
            codes.pop(code.code, None)

        def authenticate_user(self, code: C) -> dict[str, str]:
            return code.user

    return CodeGrant


class IdToken(OpenIDCode):  # type: ignore[misc]
    """OpenID Connect on the code grant, a nonce required; a subclass says how the ID token
    is encoded (`encode_id_token`)."""

    def __init__(self, codes: dict[str, Any]) -> None:
        super().__init__(require_nonce=True)
        self.codes = codes

    def exists_nonce(self, nonce: str, req: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self.codes.values())

    def generate_user_info(self, user: dict[str, str], scope: str) -> dict[str, str]:
        return dict(user)


def authorization_server(
    app: Flask, client: LoopbackClient, grant: type, *extensions: Any
) -> AuthorizationServer:
    """Authlib's server on `app` for `client` alone, PKCE required; tokens are not kept."""
    server = AuthorizationServer(
        app, query_client=lambda cid: client if cid == client.client_id else None,
        save_token=lambda *_: None,
    )  # fmt: skip
    server.register_grant(grant, [CodeChallenge(required=True), *extensions])
    return server


class SigningKey:
    """An RS256 key made at start, published under its thumbprint."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048)
        self.kid = self.key.thumbprint()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False, kid=self.kid, use="sig", alg="RS256")]}

    def sign(self, claims: dict[str, Any], signer: RSAKey | None = None) -> str:
        """`claims` as a JWT under this key's kid, signed by this key unless `signer` is given."""
        return jwt.encode({"alg": "RS256", "kid": self.kid}, claims, signer or self.key)


@contextmanager
def started(module: str, ready: str, log_path: Path, what: str) -> Iterator[str]:
    """`python -m MODULE PORT` on a free loopback port: its base URL once `<base><ready>`
    answers 200; stopped when the block ends. Plain HTTP on loopback is allowed to Authlib."""
    from tests.app.server import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx2.get(f"{base}{ready}", timeout=1).status_code == 200:
                        break
                except httpx2.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{what} did not start: {log_path.read_text()!r}"
                        ) from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
