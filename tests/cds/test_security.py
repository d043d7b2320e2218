"""Every CDS call needs the EHR's JWT; each way of getting it wrong is a 401 that changes nothing."""

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from netlm.fhir.cds.routes import cds_store
from netlm.fhir.cds.service import case_id_for
from tests.cds.conftest import (
    BASE,
    DISCOVERY,
    STRATEGY,
    Cds,
    check_response,
    make_env,
    patient_view,
)
from tests.cds.ehr import EHR_ISSUER, Ehr, FhirServer, serve

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
