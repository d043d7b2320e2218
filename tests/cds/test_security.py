"""Every CDS call needs the EHR's JWT; each way of getting it wrong is a 401 that changes nothing."""

import base64
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from netlm.fhir.cds.jwt import AuthError, JwksCache
from netlm.fhir.cds.routes import cds_store
from netlm.fhir.cds.service import case_id_for
from tests.cds.conftest import (
    BASE,
    DISCOVERY,
    ORDER_CHECK,
    STRATEGY,
    Cds,
    check_response,
    make_env,
    order_select,
    patient_view,
    running,
)
from tests.cds.ehr import EHR_ISSUER, Ehr, FhirServer, load_bundle, resources, serve

V03 = tuple[str, dict[str, Any]]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(ehr: Ehr, aud: str = STRATEGY, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ehr.issuer,
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "jti": f"j-{time.time_ns()}",
        **changes,
    }


def unsigned(ehr: Ehr) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'es384-1'})}.{b64(claims(ehr))}."


def hs256_with_public_key(ehr: Ehr) -> str:
    """The key-confusion attack: HMAC keyed with the (public) verification key's bytes."""
    public = ehr.keys["es384-1"][1].public_key()
    secret = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "typ": "JWT", "kid": "es384-1"})
    body = b64(claims(ehr))
    import hashlib
    import hmac

    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def tampered(ehr: Ehr) -> str:
    header, _, signature = ehr.token(STRATEGY).split(".")
    return f"{header}.{b64(claims(ehr, iss=ehr.issuer, tenant='other'))}.{signature}"


def foreign(_: Ehr) -> str:
    return Ehr(issuer="https://intruder.example").token(STRATEGY)


def impostor(ehr: Ehr) -> str:
    """The registered issuer's name, signed with a key that is not the registered one."""
    return Ehr(issuer=ehr.issuer).token(STRATEGY)


BAD_TOKENS = {
    "expired": lambda e: e.token(STRATEGY, iat=int(time.time()) - 120, exp=int(time.time()) - 60),
    "wrong audience": lambda e: e.token(f"{BASE}/cds-services/netlm-order-check"),
    "audience of another host": lambda e: e.token(
        "https://other.example/cds-services/netlm-strategy"
    ),
    "unknown issuer": foreign,
    "registered issuer, other key": impostor,
    "alg none": unsigned,
    "HS256 keyed with the public key": hs256_with_public_key,
    "tampered payload": tampered,
    "missing kid": lambda e: jwt.encode(
        claims(e), e.keys["es384-1"][1], algorithm="ES384", headers={"typ": "JWT"}
    ),
    "unknown kid": lambda e: e.token(STRATEGY, headers={"kid": "nope"}),
    "old iat": lambda e: e.token(STRATEGY, iat=int(time.time()) - 400),
    "iat in the future": lambda e: e.token(
        STRATEGY, iat=int(time.time()) + 600, exp=int(time.time()) + 900
    ),
    "no exp": lambda e: e.token(STRATEGY, exp=None),
    "no jti": lambda e: e.token(STRATEGY, jti=None),
    "no iat": lambda e: e.token(STRATEGY, iat=None),
    "iat not a finite number": lambda e: e.token(STRATEGY, iat=float("nan")),
    "alg other than the key's": lambda e: jwt.encode(
        claims(e), e.keys["es256-1"][1], algorithm="ES256", headers={"kid": "es384-1", "typ": "JWT"}
    ),
    "jku not on the allow-list": lambda e: e.token(
        STRATEGY, headers={"jku": "https://evil.example/jwks.json"}
    ),
    "not a JWT": lambda _: "not-a-jwt",
}


@pytest.mark.parametrize("make", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_token_is_401_and_nothing_is_stored(env: Cds, v03: V03, make: Any) -> None:
    patient_id, prefetch = v03
    before = env.counts()
    response = env.hook(
        STRATEGY, patient_view(patient_id, prefetch), {"Authorization": f"Bearer {make(env.ehr)}"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == "login"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert env.counts() == before
    assert env.store.list_cases() == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}]
)
def test_discovery_needs_a_jwt_too(env: Cds, headers: dict[str, str]) -> None:
    response = env.client.get(DISCOVERY, headers=headers)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_replayed_jti_is_refused_and_changes_nothing(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    headers = env.ehr.auth(STRATEGY)
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch), headers))
    before = env.counts()
    replay = env.hook(STRATEGY, patient_view(patient_id, prefetch), headers)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["issue"][0]["diagnostics"]
    assert env.counts() == before


def test_feedback_with_a_bad_token_stores_nothing(env: Cds, v03: V03) -> None:
    patient_id, prefetch = v03
    (info, _) = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    url = f"{STRATEGY}/feedback"
    item = {
        "card": info["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-12-01T10:00:00Z",
    }
    response = env.client.post(
        url, json={"feedback": [item]}, headers=env.ehr.auth(STRATEGY)
    )  # aud of another URL
    assert response.status_code == 401
    assert env.cds.list_feedback(case_id_for(EHR_ISSUER, patient_id)) == []


@pytest.mark.parametrize("kid", ["es384-1", "es256-1", "rs384-1"])
def test_es256_es384_and_rs384_are_accepted(env: Cds, kid: str) -> None:
    response = env.client.get(DISCOVERY, headers=env.ehr.auth(DISCOVERY, kid=kid))
    assert response.status_code == 200


def test_the_audience_follows_the_configured_public_url(tmp_path: Path, ehr: Ehr) -> None:
    app, _, _ = make_env(tmp_path, public_url="https://netlm.example.org/")
    cds_store(app).add_client(ehr.issuer, "EHR", ehr.jwks(), [])
    with TestClient(app, base_url=BASE) as client:
        assert client.get(DISCOVERY, headers=ehr.auth(DISCOVERY)).status_code == 401
        public = "https://netlm.example.org/cds-services"
        assert client.get(DISCOVERY, headers=ehr.auth(public)).status_code == 200
        assert client.get(DISCOVERY, headers=ehr.auth([public, "https://x"])).status_code == 200


def test_keys_from_an_allowed_jku_are_fetched(tmp_path: Path, ehr: Ehr) -> None:
    app, _, _ = make_env(tmp_path)
    with serve(FhirServer([], jwks=ehr.jwks())) as server:
        jku = server.base.removesuffix("/fhir") + "/.well-known/jwks.json"
        cds_store(app).add_client(ehr.issuer, "EHR", None, [jku])
        with TestClient(app, base_url=BASE) as client:
            named = client.get(DISCOVERY, headers=ehr.auth(DISCOVERY, headers={"jku": jku}))
            assert named.status_code == 200
            implied = client.get(DISCOVERY, headers=ehr.auth(DISCOVERY, kid="rs384-1"))
            assert implied.status_code == 200
            other = client.get(DISCOVERY, headers=ehr.auth(DISCOVERY, headers={"jku": jku + "?x"}))
            assert other.status_code == 401
        assert server.requests.count("/.well-known/jwks.json") == 1  # cached


# --- the audience comes from NETLM_PUBLIC_URL only ------------------------------------------

FORGED = "http://attacker-cds.example/cds-services"


def test_the_host_header_does_not_choose_the_audience(env: Cds, v03: V03) -> None:
    """A registered EHR's token minted for another service, sent with that service's Host."""
    forged = {**env.ehr.auth(FORGED), "Host": "attacker-cds.example"}
    assert env.client.get(DISCOVERY, headers=forged).status_code == 401
    assert env.client.get(FORGED, headers=env.ehr.auth(FORGED)).status_code == 401
    # the configured URL is the audience whatever the Host says, and the card links use it
    patient_id, prefetch = v03
    headers = {**env.ehr.auth(STRATEGY), "Host": "attacker-cds.example"}
    cards = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch), headers))
    assert cards[0]["links"][0]["url"].startswith(f"{BASE}/cases/")


def test_without_a_public_url_every_cds_route_is_503(tmp_path: Path, ehr: Ehr, v03: V03) -> None:
    patient_id, prefetch = v03
    calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("GET", DISCOVERY, None, {}),
        ("GET", DISCOVERY, None, {"Host": "attacker-cds.example"}),
        ("POST", STRATEGY, patient_view(patient_id, prefetch), {}),
        ("POST", ORDER_CHECK, order_select(patient_id, [], prefetch), {}),
        ("POST", f"{STRATEGY}/feedback", {"feedback": []}, {}),
    ]
    with running(tmp_path, ehr, public_url=None) as env:
        before = env.counts()
        for method, url, body, extra in calls:
            headers = {**env.ehr.auth(url), **extra}
            response = env.client.request(method, url, json=body, headers=headers)
            assert response.status_code == 503, (url, response.text)
            assert response.headers["content-type"].startswith("application/fhir+json")
            (issue,) = response.json()["issue"]
            assert "CDS Hooks is disabled until NETLM_PUBLIC_URL is set" in issue["diagnostics"]
        assert env.counts() == before  # not even a JWT id was spent


# --- malformed JWT headers -------------------------------------------------------------------


def encoded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HEADER = {"alg": "ES384", "kid": "es384-1", "typ": "JWT"}
MALFORMED_HEADERS = {
    "alg a list": b64({**HEADER, "alg": ["ES384"]}),
    "alg a number": b64({**HEADER, "alg": 384}),
    "alg null": b64({**HEADER, "alg": None}),
    "kid an object": b64({**HEADER, "kid": {"id": "es384-1"}}),
    "kid a list": b64({**HEADER, "kid": ["es384-1"]}),
    "typ a list": b64({**HEADER, "typ": ["JWT"]}),
    "jku an object": b64({**HEADER, "jku": {"url": "https://ehr.example.org/jwks"}}),
    "crit not a list": b64({**HEADER, "crit": 5}),
    "header an array": encoded(json.dumps(["ES384"]).encode()),
    "header a string": encoded(json.dumps("ES384").encode()),
    "header not base64": "!!not*base64!!",
    "header not JSON": encoded(b"alg=ES384"),
    "header not UTF-8": encoded(b"\xff\xfe{}"),
}


@pytest.mark.parametrize("header", MALFORMED_HEADERS.values(), ids=MALFORMED_HEADERS.keys())
def test_a_malformed_jwt_header_is_401_with_an_operation_outcome(
    env: Cds, v03: V03, header: str
) -> None:
    patient_id, prefetch = v03
    for url, body in ((DISCOVERY, None), (STRATEGY, patient_view(patient_id, prefetch))):
        _, claims_part, signature = env.ehr.token(url).split(".")
        headers = {"Authorization": f"Bearer {header}.{claims_part}.{signature}"}
        method = "GET" if body is None else "POST"
        response = env.client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, response.text
        (issue,) = response.json()["issue"]
        assert issue["code"] == "login"
    assert env.counts()["cds_jti"] == 0


# --- outbound FHIR reads ---------------------------------------------------------------------

READ_FAILED = "the FHIR server could not be read; the details are in the netlm server log"


def without_prefetch(fhir_server: str, patient_id: str = "v03") -> dict[str, Any]:
    auth = {
        "access_token": "ehr-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/Condition.read user/Observation.read",
        "subject": "netlm",
    }
    return patient_view(patient_id, None, fhirServer=fhir_server, fhirAuthorization=auth)


def chart() -> FhirServer:
    return FhirServer(resources(load_bundle("03")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_fhir_server_not_registered_for_the_caller_is_never_contacted(
    env: Cds, tmp_path: Path
) -> None:
    with serve(chart()) as server:
        other = Ehr(issuer="https://other-ehr.example")
        env.cds.add_client(other.issuer, "Other", other.jwks(), [], fhir_servers=[server.base],
                           allow_http=True)  # fmt: skip
        env.allow("https://fhir.example.org/r4")
        response = env.hook(STRATEGY, without_prefetch(server.base))
        assert response.status_code == 412
        assert response.json()["issue"][0]["diagnostics"] == (
            "fhirServer is not a FHIR server registered for this client"
        )
        assert server.requests == []
        assert server.seen_tokens == []


def test_reads_stay_under_a_registered_base_on_segment_boundaries(env: Cds) -> None:
    with serve(chart()) as server:
        root = server.base.removesuffix("/fhir")
        env.allow(server.base)
        refused = [
            f"{root}/fhirx",
            f"{root}/",
            f"{server.base}/../.well-known",
            f"{server.base}/%2e%2e/.well-known",
            f"{root.replace('127.0.0.1', 'localhost')}/fhir",
            root.replace("http://", "http://user@") + "/fhir",
            root.replace("http://", "https://") + "/fhir",
            f"{server.base}?_format=json",
        ]
        for fhir_server in refused:
            response = env.hook(STRATEGY, without_prefetch(fhir_server))
            assert response.status_code == 412, fhir_server
            assert "not a FHIR server registered" in response.text, fhir_server
        assert server.requests == []
        env.allow(root)  # a base covers the paths below it
        assert check_response(env.hook(STRATEGY, without_prefetch(server.base)))


def test_plain_http_needs_the_development_flag(env: Cds) -> None:
    with serve(chart()) as server:
        with pytest.raises(ValueError, match="plain http needs --allow-http"):
            env.cds.set_fhir_servers(env.ehr.issuer, [server.base])
        env.cds.set_fhir_servers(env.ehr.issuer, [server.base.replace("http:", "https:")])
        response = env.hook(STRATEGY, without_prefetch(server.base))
        assert response.status_code == 412
        assert server.requests == []


def test_a_redirect_is_not_followed(env: Cds) -> None:
    with serve(chart()) as target, serve(chart()) as redirecting:
        redirecting.redirect_to = f"{target.base}/Patient/v03"
        env.allow(target.base, redirecting.base)
        response = env.hook(STRATEGY, without_prefetch(redirecting.base))
        assert response.status_code == 412
        assert response.json()["issue"][0]["diagnostics"] == READ_FAILED
        assert redirecting.requests == ["/fhir/Patient/v03"]
        assert target.requests == []


def test_an_oversized_answer_is_refused(tmp_path: Path, ehr: Ehr) -> None:
    with running(tmp_path, ehr, cds_fhir_max_bytes=100_000) as env, serve(chart()) as server:
        env.allow(server.base)
        assert check_response(env.hook(STRATEGY, without_prefetch(server.base)))
        server.padding = 100_001
        response = env.hook(STRATEGY, without_prefetch(server.base))
        assert response.status_code == 412
        assert response.json()["issue"][0]["diagnostics"] == READ_FAILED


def test_a_body_without_length_is_cut_off_at_the_cap_while_it_streams(
    tmp_path: Path, ehr: Ehr
) -> None:
    with running(tmp_path, ehr, cds_fhir_max_bytes=100_000) as env, serve(chart()) as server:
        env.allow(server.base)
        server.stream = 512 * 1024 * 1024
        response = env.hook(STRATEGY, without_prefetch(server.base))
        assert response.status_code == 412
        # netlm hung up after the cap; what got written is what the socket buffers held
        assert server.streamed < 64 * 1024 * 1024


def test_every_failed_read_looks_the_same_and_the_detail_is_logged(
    tmp_path: Path, ehr: Ehr, caplog: pytest.LogCaptureFixture
) -> None:
    """A closed port, a 404, a redirect, a timeout, an oversized and a non-JSON answer."""
    closed = f"http://127.0.0.1:{free_port()}/fhir"
    settings = {"cds_fhir_max_bytes": 100_000, "cds_fhir_timeout_seconds": 0.5}
    with (
        running(tmp_path, ehr, **settings) as env,
        serve(chart()) as found,
        serve(FhirServer([], redirect_to="https://elsewhere.example/")) as moved,
        serve(FhirServer([], delay=1.5)) as slow,
        serve(FhirServer(resources(load_bundle("03")), padding=100_001)) as large,
        serve(FhirServer([], stream=65_536)) as blank,
    ):
        env.allow(closed, found.base, moved.base, slow.base, large.base, blank.base)
        calls = {
            "refused": without_prefetch(closed),
            "404": without_prefetch(found.base, patient_id="nobody"),
            "redirect": without_prefetch(moved.base),
            "timeout": without_prefetch(slow.base),
            "too large": without_prefetch(large.base),
            "not JSON": without_prefetch(blank.base),
        }
        answers = {name: env.hook(STRATEGY, body) for name, body in calls.items()}
    for name, response in answers.items():
        assert response.status_code == 412, name
        assert response.json() == answers["refused"].json(), name
    assert answers["refused"].json()["issue"][0]["diagnostics"] == READ_FAILED
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "netlm.cds")
    for detail in (
        "ConnectError",
        "HTTP 404",
        "HTTP 302",
        "Timeout",
        "Content-Length 100",
        "not JSON",
    ):
        assert detail in logged, detail


class _Chunks(httpx2.SyncByteStream):
    """A body that arrives in pieces, without Content-Length, as a chunked answer would."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._body), 1024):
            yield self._body[start : start + 1024]


def _streamed(document: Any) -> httpx2.Response:
    return httpx2.Response(200, stream=_Chunks(json.dumps(document).encode()))


def _jwks_cache(handler: Callable[[httpx2.Request], httpx2.Response]) -> JwksCache:
    return JwksCache(transport=httpx2.MockTransport(handler), max_bytes=4096)


def test_a_jku_answer_past_the_size_cap_is_refused(ehr: Ehr) -> None:
    """An allow-listed jku that streams a huge body cannot fill the service's memory."""
    padding = {"keys": [*ehr.jwks()["keys"], {"kty": "oct", "k": "x" * 10_000}]}
    streamed = _jwks_cache(lambda request: _streamed(padding))
    with pytest.raises(AuthError, match="more than 4096 bytes"):
        streamed.key("https://ehr.example.org/jwks.json", "rs384-1")
    declared = _jwks_cache(lambda request: httpx2.Response(200, json=padding))
    with pytest.raises(AuthError, match="Content-Length"):
        declared.key("https://ehr.example.org/jwks.json", "rs384-1")


def test_a_jku_redirect_is_not_followed(ehr: Ehr) -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        if request.url.path == "/jwks.json":
            return httpx2.Response(302, headers={"Location": "https://elsewhere.example/k"})
        return _streamed(ehr.jwks())

    with pytest.raises(AuthError, match="HTTP 302"):
        _jwks_cache(handler).key("https://ehr.example.org/jwks.json", "rs384-1")
    assert seen == ["https://ehr.example.org/jwks.json"]


def test_a_small_jku_answer_is_read(ehr: Ehr) -> None:
    cache = _jwks_cache(lambda request: _streamed(ehr.jwks()))
    assert cache.key("https://ehr.example.org/jwks.json", "rs384-1") is not None


def test_refusals_do_not_tell_which_issuers_and_keys_are_registered(env: Cds, v03: V03) -> None:
    """An unknown issuer, an unknown kid, a foreign jku and a bad audience read the same, so a
    caller cannot map the registered clients; the server log says which it was."""
    patient_id, prefetch = v03
    said = set()
    for name in ("unknown issuer", "unknown kid", "jku not on the allow-list", "wrong audience"):
        token = BAD_TOKENS[name](env.ehr)
        response = env.hook(
            STRATEGY, patient_view(patient_id, prefetch), {"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        said.add(response.json()["issue"][0]["diagnostics"])
    assert len(said) == 1, said
    assert "registered" not in said.pop()
