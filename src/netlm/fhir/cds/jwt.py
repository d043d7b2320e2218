"""Authentication of the EHR: the signed JWT that CDS Hooks puts on every call.

Checks are ordered so that nothing an attacker controls is trusted before the signature is:
the header's algorithm is fixed to an asymmetric allow-list before any key is chosen (so `none`
and the HMAC-with-a-public-key confusion never reach a verifier), the issuer only selects which
registered client's keys to try, and a `jku` is fetched only when it is on that client's list.
After the signature, the audience must be the URL called as NETLM_PUBLIC_URL names it (never the
Host header), the token fresh (`iat`) and its `jti` unseen; the `jti` is recorded in the
database, so a replay fails on every worker. A header of the wrong shape is a 401, not a crash;
a control, bidirectional or zero-width character in a field netlm reads is a 400 naming it.
"""

import datetime as dt
import ipaddress
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from netlm.fhir.cds.errors import CdsFailure
from netlm.fhir.cds.fetch import FetchFailed, read_capped
from netlm.fhir.cds.store import CdsStore, ClientInfo
from netlm.model.text import text_problem
from netlm.store.repository import utcnow

ALGORITHMS = frozenset({"ES256", "ES384", "RS384"})
CURVES = {"ES256": "P-256", "ES384": "P-384"}
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
MAX_TOKEN_BYTES = 16_384
CLOCK_SKEW_SECONDS = 60


class AuthError(Exception):
    """The call is not authenticated; the message says why (it names no secret). `detail`, when
    given, is for the server log only: it would tell a caller which issuers and keys exist."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


# One answer for an unknown issuer, an unknown kid, a jku off the allow-list and a bad signature
# or audience, so a caller cannot probe which issuers and keys are registered.
NOT_ACCEPTED = "the JWT was not accepted (issuer, key, signature or audience); see the server log"


@dataclass(frozen=True)
class Caller:
    """An authenticated EHR, with the FHIR server bases netlm may read on its behalf."""

    issuer: str
    jti: str
    tenant: str | None
    fhir_servers: tuple[str, ...] = ()


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_url(url: str) -> None:
    """Key sets and FHIR data travel over TLS; plain http only to this machine (tests, dev)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_url(url):
        return
    raise ValueError(f"{url!r} is not an https URL (http is accepted only for loopback)")


def validate_jwks(jwks: Any) -> dict[str, Any]:
    """A client's JWK Set as registered: public signing keys, each with a `kid`."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError('a JWK Set is an object with a non-empty "keys" array')
    seen: set[str] = set()
    for key in jwks["keys"]:
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str) or not key["kid"]:
            raise ValueError('every key of the JWK Set needs a "kid"')
        if key["kid"] in seen:
            raise ValueError(f"kid {key['kid']!r} occurs twice in the JWK Set")
        seen.add(key["kid"])
        if "d" in key:
            raise ValueError(f"key {key['kid']!r} is a private key; register the public key only")
        if key.get("kty") not in ("EC", "RSA"):
            raise ValueError(f"key {key['kid']!r}: only EC and RSA keys are accepted")
        _public_key(key, _key_algorithm(key))
    return jwks


def _key_algorithm(jwk: Mapping[str, Any]) -> str:
    if isinstance(jwk.get("alg"), str):
        return str(jwk["alg"])
    if jwk.get("kty") == "RSA":
        return "RS384"
    return "ES384" if jwk.get("crv") == "P-384" else "ES256"


def _public_key(jwk: Mapping[str, Any], alg: str) -> Any:
    """The verification key for `alg` from a JWK, refusing a key of another type or curve."""
    if alg not in ALGORITHMS:
        raise ValueError(f"algorithm {alg} is not accepted")
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
        raise ValueError(f"key {jwk.get('kid')!r} is not for {alg} signatures")
    text = json.dumps(dict(jwk))
    if alg.startswith("RS"):
        if jwk.get("kty") != "RSA":
            raise ValueError(f"key {jwk.get('kid')!r} is not an RSA key")
        return RSAAlgorithm.from_jwk(text)
    if jwk.get("kty") != "EC" or jwk.get("crv") != CURVES[alg]:
        raise ValueError(f"key {jwk.get('kid')!r} is not an EC {CURVES[alg]} key")
    return ECAlgorithm.from_jwk(text)


# Header fields and claims netlm reads, looks up or stores: a control character in them (NUL
# fails PostgreSQL) is a malformed request, refused with 400 naming the field before any lookup.
TEXT_HEADER_FIELDS = ("alg", "kid", "typ", "jku")
TEXT_CLAIMS = ("iss", "sub", "aud", "jti", "tenant")


def _check_text(header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    fields = [(f"JWT header {k}", header.get(k)) for k in TEXT_HEADER_FIELDS]
    fields += [(f"JWT claim {k}", claims.get(k)) for k in TEXT_CLAIMS]
    for name, value in fields:
        for text in value if isinstance(value, list) else [value]:
            problem = text_problem(text) if isinstance(text, str) else None
            if problem is not None:
                raise CdsFailure(400, "invalid", f"{name}: {problem}")


class JwksCache:
    """JWK Sets fetched from `jku` URLs, kept for `ttl` seconds.

    A fetch follows no redirect and reads at most `max_bytes` (a JWK Set is a few kB), so an
    allow-listed URL that misbehaves cannot exhaust the service's memory.

    A `kid` not in the cached set triggers one refetch (key rotation), at most once per
    `min_refresh` seconds per URL, so unknown kids cannot make the service hammer the EHR.
    """

    def __init__(
        self,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        timeout: float = 3.0,
        transport: httpx2.BaseTransport | None = None,
        max_bytes: int = 64 * 1024,
    ) -> None:
        self._ttl, self._min_refresh, self._timeout = ttl, min_refresh, timeout
        self._max_bytes = max_bytes
        self._transport = transport
        self._sets: dict[str, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()

    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        keys, fetched = self._cached(url)
        if kid not in keys and time.monotonic() - fetched >= self._min_refresh:
            keys, _ = self._fetch(url)
        return keys.get(kid)

    def _cached(self, url: str) -> tuple[dict[str, Any], float]:
        with self._lock:
            found = self._sets.get(url)
        if found is not None and time.monotonic() - found[1] < self._ttl:
            return found
        return self._fetch(url)

    def _fetch(self, url: str) -> tuple[dict[str, Any], float]:
        try:
            with httpx2.Client(
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
                headers={"Accept": "application/json", "Accept-Encoding": "identity"},
            ) as client:
                body = read_capped(client, url, self._max_bytes, self._timeout)
            jwks = validate_jwks(json.loads(body))
        except (httpx2.HTTPError, jwt.PyJWTError, FetchFailed, ValueError, RecursionError) as exc:
            raise AuthError(f"the JWK Set at {url} could not be used: {exc}") from None
        entry = ({k["kid"]: k for k in jwks["keys"]}, time.monotonic())
        with self._lock:
            self._sets[url] = entry
        return entry


class Verifier:
    def __init__(
        self,
        clients: CdsStore,
        jwks: JwksCache,
        max_age_seconds: int = 300,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._clients, self._jwks = clients, jwks
        self._max_age, self._clock = max_age_seconds, clock

    def verify(self, authorization: str | None, audience: str) -> Caller:
        """The authenticated caller of a request to `audience` (the public URL called)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("a bearer JWT is required (Authorization: Bearer <JWT>)")
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError("the JWT is too large")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        _check_text(header, unverified)
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise AuthError(f"JWT algorithm {alg!r} is not accepted (ES256, ES384, RS384)")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the JWT header has no kid")
        if header.get("typ", "JWT") != "JWT":
            raise AuthError("the JWT header typ must be JWT")
        issuer = unverified.get("iss")
        client = self._clients.client(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise AuthError(NOT_ACCEPTED, f"issuer {issuer!r} is not a registered client")
        jwk = self._find_key(client, kid, header.get("jku"))
        try:
            key = _public_key(jwk, alg)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=client.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": False},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise AuthError(NOT_ACCEPTED, f"issuer {client.issuer!r}: {exc}") from None
        jti, expires_at = self._check_times(claims)
        if not self._clients.remember_jti(client.issuer, jti, expires_at, self._clock()):
            raise AuthError("the JWT was already used (jti replayed)")
        tenant = claims.get("tenant")
        tenant = tenant if isinstance(tenant, str) else None
        return Caller(client.issuer, jti, tenant, client.fhir_servers)

    def _find_key(self, client: ClientInfo, kid: str, jku: Any) -> Mapping[str, Any]:
        if jku is not None:
            if not isinstance(jku, str) or jku not in client.jku_urls:
                said = f"issuer {client.issuer!r}: jku {jku!r} is not allow-listed"
                raise AuthError(NOT_ACCEPTED, said)
            urls = [jku]
        else:
            urls = list(client.jku_urls)
        if client.jwks is not None:
            for key in client.jwks["keys"]:
                if key.get("kid") == kid and jku is None:
                    return dict(key)
        for url in urls:
            found = self._jwks.key(url, kid)
            if found is not None:
                return found
        raise AuthError(NOT_ACCEPTED, f"issuer {client.issuer!r}: no key with kid {kid!r}")

    def _check_times(self, claims: Mapping[str, Any]) -> tuple[str, dt.datetime]:
        now = self._clock().timestamp()
        iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
        if not isinstance(iat, int | float) or isinstance(iat, bool) or not math.isfinite(iat):
            raise AuthError("the JWT iat is not a number")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise AuthError("the JWT was issued in the future")
        if iat < now - self._max_age:
            raise AuthError(f"the JWT is older than {self._max_age} s (iat)")
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise AuthError("the JWT jti must be a non-empty string of at most 255 characters")
        # Past this moment the token fails the iat check anyway, so its jti need not be kept.
        keep_until = min(float(exp), iat + self._max_age + CLOCK_SKEW_SECONDS)
        return jti, dt.datetime.fromtimestamp(keep_until, dt.UTC)
