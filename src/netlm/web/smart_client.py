"""The client side of a SMART App Launch 2.x EHR launch: the FHIR server's SMART configuration,
the authorisation request (PKCE S256, `launch`, `aud`) and the code exchange of a confidential
client (client_secret_basic).

What the servers answer is checked at this boundary with pydantic: endpoints must be https (or
http on loopback, for tests), the server must offer PKCE S256 and OpenID Connect (netlm signs the
clinician in from the ID token), and the token response must carry a bearer token and the
`patient` in context. Failures are `SsoFailed`, whose reason goes to the audit trail only.
"""

from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from netlm.web.oidc_client import Provider, SsoFailed, call_json

# SMART App Launch 2.x scopes: the EHR's launch context, the clinician's identity (OpenID Connect
# and the FHIR resource of the user) and read/search of the patient's compartment.
SCOPE = "launch openid fhirUser patient/*.rs"
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
M = TypeVar("M", bound=BaseModel)
MAX_URL = 500


def _endpoint(url: str) -> str:
    """An https URL (http on loopback) short enough for the flow cookie, which carries four."""
    if len(url) > MAX_URL:
        raise ValueError(f"longer than {MAX_URL} characters")
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise ValueError("must be an https URL")
    return url


class SmartConfiguration(BaseModel):
    """`{iss}/.well-known/smart-configuration`, as far as netlm uses it."""

    model_config = ConfigDict(extra="ignore")

    authorization_endpoint: str
    token_endpoint: str
    issuer: str  # conditional in the spec: present with the sso-openid-connect capability
    jwks_uri: str
    code_challenge_methods_supported: list[str]

    @field_validator("authorization_endpoint", "token_endpoint", "issuer", "jwks_uri")
    @classmethod
    def _https(cls, value: str) -> str:
        return _endpoint(value)

    @field_validator("code_challenge_methods_supported")
    @classmethod
    def _s256(cls, value: list[str]) -> list[str]:
        if "S256" not in value:
            raise ValueError("S256 is not offered")
        return value

    def provider(self, client_id: str, client_secret: str) -> Provider:
        """The OpenID provider that signs this server's ID tokens."""
        metadata = {"issuer": self.issuer, "jwks_uri": self.jwks_uri}
        return Provider.from_metadata(metadata, client_id, client_secret)


class TokenResponse(BaseModel):
    """The token endpoint's answer to an EHR launch (SMART App Launch, "launch context")."""

    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(pattern=r"^[A-Za-z0-9\-._~+/]+=*$", max_length=8192)
    token_type: str = Field(pattern=r"^(?i:bearer)$")
    expires_in: int = 300
    scope: str = ""
    patient: str = Field(pattern=FHIR_ID)
    id_token: str


def discover(iss: str) -> SmartConfiguration:
    """The SMART configuration a FHIR server publishes beside its base URL."""
    url = iss.rstrip("/") + "/.well-known/smart-configuration"
    return _parsed(SmartConfiguration, call_json("GET", url), url)


def authorize_url(
    config: SmartConfiguration,
    client_id: str,
    redirect_uri: str,
    *,
    launch: str,
    aud: str,
    state: str,
    nonce: str,
    verifier: str,
) -> str:
    """Where to send the browser: a code request in the EHR's launch context, PKCE S256."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "launch": launch,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "aud": aud,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{config.authorization_endpoint}?{query}"


def exchange(
    config: SmartConfiguration,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    verifier: str,
) -> TokenResponse:
    """The code for tokens, authenticated with the client secret (HTTP Basic) and the verifier."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}  # fmt: skip
    answer = call_json("POST", config.token_endpoint, data=form, auth=(client_id, client_secret))
    return _parsed(TokenResponse, answer, config.token_endpoint)


def _parsed(model: type[M], data: dict[str, Any], url: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise SsoFailed(f"{url}: {problems}") from None
