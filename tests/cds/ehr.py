"""A test EHR: it signs CDS Hooks JWTs with real keys and serves FHIR over loopback HTTP."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ROOT = Path(__file__).resolve().parents[2]
EHR_ISSUER = "https://ehr.example.org"
BUNDLES = ROOT / "tests" / "fhir" / "bundles"
SEARCHES = {
    "conditions": "Condition",
    "observations": "Observation",
    "procedures": "Procedure",
    "medicationStatements": "MedicationStatement",
    "medicationRequests": "MedicationRequest",
}


def load_bundle(stem: str) -> dict[str, Any]:
    """One of the FHIR mapping's test Bundles (tests/fhir/bundles), e.g. "03"."""
    (path,) = (p for p in BUNDLES.glob("*.json") if p.name.startswith(stem))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]]


def searchset(items: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(items),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in items],
    }
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def prefetch_for(bundle: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(patient id, the prefetch an EHR would send for netlm's templates)."""
    items = resources(bundle)
    (patient,) = (r for r in items if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {"patient": patient}
    for key, kind in SEARCHES.items():
        prefetch[key] = searchset([r for r in items if r["resourceType"] == kind])
    return patient["id"], prefetch


@dataclass
class Ehr:
    """Signs like a CDS client: ES384 by default, with kid, typ JWT and fresh iat/exp/jti."""

    issuer: str = EHR_ISSUER
    keys: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys["es384-1"] = ("ES384", ec.generate_private_key(ec.SECP384R1()))
        self.keys["es256-1"] = ("ES256", ec.generate_private_key(ec.SECP256R1()))
        self.keys["rs384-1"] = ("RS384", rsa.generate_private_key(65537, 2048))

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, (alg, key) in self.keys.items():
            algorithm = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
            jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
            out.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": out}

    def token(
        self, aud: str, kid: str = "es384-1", headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        alg, key = self.keys[kid]
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": aud,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {"kid": kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(payload, key, algorithm=alg, headers=header)

    def auth(self, aud: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(aud, **kwargs)}"}


@dataclass
class FhirServer:
    """A FHIR server with search semantics for one Bundle's resources, and a JWKS document."""

    items: list[dict[str, Any]]
    token: str = "ehr-access-token"
    jwks: dict[str, Any] | None = None
    page_size: int = 5
    seen_tokens: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    base: str = ""

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/.well-known/jwks.json" and self.jwks is not None:
            return 200, self.jwks
        parts = path.removeprefix("/fhir/").split("/")
        if len(parts) == 2:  # read
            for r in self.items:
                if [r["resourceType"], r.get("id")] == parts:
                    return 200, r
            return 404, {"resourceType": "OperationOutcome", "issue": []}
        patient = (query.get("patient") or [""])[0]
        matches = [
            r
            for r in self.items
            if r["resourceType"] == parts[0]
            and r.get("subject", {}).get("reference") == f"Patient/{patient}"
        ]
        page = int((query.get("_page") or ["1"])[0])
        chunk = matches[(page - 1) * self.page_size : page * self.page_size]
        more = len(matches) > page * self.page_size
        following = f"{self.base}/{parts[0]}?patient={patient}&_page={page + 1}" if more else None
        return 200, searchset(chunk, following)


@contextmanager
def serve(server: FhirServer) -> Iterator[FhirServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            server.requests.append(self.path)
            auth = self.headers.get("Authorization", "")
            if url.path.startswith("/fhir/"):
                server.seen_tokens.append(auth)
                if auth != f"Bearer {server.token}":
                    self._send(401, {"resourceType": "OperationOutcome", "issue": []})
                    return
            status, body = server.answer(url.path, parse_qs(url.query))
            self._send(status, body)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
