"""The relying-party side of OpenID Connect: discovery, the authorisation request with PKCE, the
code exchange, and the ID token's signature and claims, checked with Authlib and joserfc.

Only asymmetric signatures are accepted (never `none` nor an HMAC keyed with the client secret),
with keys from the provider's JWKS; `iss` must be the configured issuer, `aud` must contain the
client id (and `azp` be it when present), `exp` must lie ahead, `nonce` must be the one this
browser's sign-in sent, and `at_hash`, when present, must match the access token.
"""

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 60  # clock difference tolerated between netlm and the provider
METADATA_SECONDS = 3600  # discovery document and keys are fetched again after this long
TIMEOUT_SECONDS = 5.0
MAX_SUBJECT = 255

# RFC 8176 (Authentication Method Reference Values), section 2, by authentication factor. Values
# that are no factor of their own are left out: `mca` (several channels, not factors), `geo`,
# `rba` (risk-based), `user` (presence test) and `wia` (whatever Windows signed in with).
KNOWLEDGE = frozenset({"pwd", "pin", "kba"})
POSSESSION = frozenset({"otp", "hwk", "swk", "sms", "tel", "sc", "pop"})
INHERENCE = frozenset({"fpt", "face", "iris", "retina", "vbm"})
FACTORS = (KNOWLEDGE, POSSESSION, INHERENCE)


class SsoFailed(Exception):
    """A sign-in that cannot be completed; `reason` is for the audit trail, never the page."""

    def __init__(self, reason: str, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable  # the provider did not answer (not an attack)


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: its issuer and the account's stable subject."""

    issuer: str
    subject: str
    claims: dict[str, Any]

    @property
    def second_factor(self) -> bool:
        """Whether the provider says this sign-in took more than one factor (`amr`)."""
        return second_factor(self.claims.get("amr"))


def second_factor(amr: object) -> bool:
    """Whether an ID token's `amr` claim shows multi-factor authentication (RFC 8176).

    Accepted: `mfa` ("multiple-factor authentication", RFC 8176 section 2), or methods of at
    least two different factors among knowledge (`pwd`, `pin`, `kba`), possession (`otp`, `hwk`,
    `swk`, `sms`, `tel`, `sc`, `pop`) and inherence (`fpt`, `face`, `iris`, `retina`, `vbm`):
    `["pwd", "otp"]` or `["hwk", "pin"]` or `["swk", "fpt"]` pass; `["pwd"]`, `["otp"]`,
    `["sms", "tel"]` (both possession) or `["pwd", "mca"]` do not. A missing `amr`, or one that is
    not a list of strings (OpenID Connect Core 1.0, section 2), shows none.
    """
    if not isinstance(amr, list) or not all(isinstance(value, str) for value in amr):
        return False
    methods = set(amr)
    return "mfa" in methods or sum(bool(methods & factor) for factor in FACTORS) >= 2


@dataclass
class Provider:
    """One OpenID provider, its discovery document and keys cached for METADATA_SECONDS."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    transport: httpx2.BaseTransport | None = None
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _keys: KeySet | None = field(default=None, repr=False)
    _fetched_at: float = 0.0

    def authorize_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser: the authorisation endpoint with a code request, PKCE S256."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid",
                "state": state,
                "nonce": nonce,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{self._endpoint('authorization_endpoint')}?{query}"

    def sign_in(self, code: str, redirect_uri: str, verifier: str, nonce: str) -> Identity:
        """Exchange the code (with the PKCE verifier) and check the ID token it returns."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier, "client_id": self.client_id}  # fmt: skip
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        answer = self._call("POST", self._endpoint("token_endpoint"), data=form, auth=auth)
        id_token, access_token = answer.get("id_token"), answer.get("access_token")
        if not isinstance(id_token, str):
            raise SsoFailed("token response without an ID token")
        return self.identity(
            id_token, nonce, access_token if isinstance(access_token, str) else None
        )

    @classmethod
    def from_metadata(
        cls, metadata: dict[str, Any], client_id: str, client_secret: str | None = None
    ) -> "Provider":
        """A provider described by metadata read elsewhere, e.g. a FHIR server's SMART
        configuration (its `issuer` and `jwks_uri`), trusted as if discovered now."""
        return cls(str(metadata.get("issuer")), client_id, client_secret, _metadata=metadata,
                   _fetched_at=time.monotonic())  # fmt: skip

    def identity(self, id_token: str, nonce: str, access_token: str | None) -> Identity:
        """The identity in an ID token, after checking its signature and claims."""
        registry = JWSRegistry(algorithms=self._algorithms(), strict_check_header=False)
        try:
            try:
                token = jwt.decode(id_token, self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider may have rotated its keys: fetch them again
                token = jwt.decode(id_token, self._key_set(refresh=True), registry=registry)
            options = {"iss": {"essential": True, "value": self.issuer},
                       "aud": {"essential": True, "value": self.client_id},
                       "sub": {"essential": True}, "exp": {"essential": True},
                       "nonce": {"essential": True, "value": nonce}}  # fmt: skip
            params = {"nonce": nonce, "client_id": self.client_id, "access_token": access_token}
            claims = CodeIDToken(token.claims, token.header, options, params)
            claims.validate(now=int(time.time()), leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise SsoFailed(f"ID token refused: {type(exc).__name__}: {exc}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
            raise SsoFailed("ID token refused: subject must be 1-255 characters")
        return Identity(self.issuer, subject, dict(claims))

    def _algorithms(self) -> list[str]:
        offered = self._discovery().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in ASYMMETRIC if alg in offered]

    def _endpoint(self, name: str) -> str:
        value = self._discovery().get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise SsoFailed(f"discovery document has no {name}")
        return value

    def _discovery(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._fetched_at > METADATA_SECONDS:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            metadata = self._call("GET", url)
            if metadata.get("issuer") != self.issuer:  # OpenID Connect Discovery 1.0, 4.3
                raise SsoFailed(f"discovery document names issuer {metadata.get('issuer')!r}")
            self._metadata, self._keys, self._fetched_at = metadata, None, time.monotonic()
        return self._metadata

    def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            jwks = self._call("GET", self._endpoint("jwks_uri"))
            try:
                self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise SsoFailed(f"provider keys unreadable: {exc}") from None
        return self._keys

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        return call_json(method, url, self.transport, **kwargs)


def call_json(
    method: str, url: str, transport: httpx2.BaseTransport | None = None, **kwargs: Any
) -> dict[str, Any]:
    """A JSON object from a provider; an unreachable one or an error status is SsoFailed."""
    try:
        with httpx2.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            response = client.request(method, url, **kwargs)
        if response.status_code >= 500:
            raise SsoFailed(f"{url} answered {response.status_code}", unreachable=True)
        body = response.json()
    except httpx2.HTTPError as exc:
        raise SsoFailed(f"{url}: {type(exc).__name__}", unreachable=True) from None
    except ValueError:
        raise SsoFailed(f"{url} did not answer JSON") from None
    if response.status_code != 200 or not isinstance(body, dict):
        raise SsoFailed(f"{url} answered {response.status_code}: {str(body)[:200]}")
    return body
