"""A test EHR: it signs CDS Hooks JWTs with real keys and serves FHIR over loopback HTTP."""

import contextlib
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
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from netlm.fhir.cds import searchset

ROOT = Path(__file__).resolve().parents[2]
EHR_ISSUER = "https://ehr.example.org"
BUNDLES = ROOT / "tests" / "fhir" / "bundles"


def load_bundle(stem: str) -> dict[str, Any]:
    """One of the FHIR mapping's test Bundles (tests/fhir/bundles), e.g. "03"."""
    (path,) = (p for p in BUNDLES.glob("*.json") if p.name.startswith(stem))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]]


def prefetch_for(bundle: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(patient id, the prefetch an EHR would send for netlm's templates)."""
    items = resources(bundle)
    (patient,) = (r for r in items if r["resourceType"] == "Patient")
    return patient["id"], searchset.prefetch_for(items, patient["id"])


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
        self,
        aud: str | list[str],
        kid: str = "es384-1",
        headers: dict[str, Any] | None = None,
        **claims: Any,
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

    def auth(self, aud: str | list[str], **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(aud, **kwargs)}"}


@dataclass
class FhirServer:
    """A FHIR server with search semantics for one Bundle's resources, and a JWKS document.

    For the outbound-fetch limits it can misbehave: answer every FHIR read late (`delay`
    seconds) or with a redirect, pad its answers, or stream a body of `stream` bytes without a
    Content-Length (counting in `streamed` how much it could write before the reader hung up).
    """

    items: list[dict[str, Any]]
    token: str = "ehr-access-token"
    jwks: dict[str, Any] | None = None
    page_size: int = 5
    seen_tokens: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)  # type?query of each search answered
    base: str = ""
    delay: float = 0.0
    redirect_to: str | None = None
    padding: int = 0
    stream: int = 0
    streamed: int = 0

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/.well-known/jwks.json" and self.jwks is not None:
            return 200, self.jwks
        parts = path.removeprefix("/fhir/").split("/")
        if len(parts) == 2:  # read
            for r in self.items:
                if [r["resourceType"], r.get("id")] == parts:
                    return 200, r
            return 404, {"resourceType": "OperationOutcome", "issue": []}
        search = f"{parts[0]}?{urlencode(query, doseq=True)}"
        self.searches.append(search)
        matches = searchset.matches(self.items, search)
        page = int((query.get("_page") or ["1"])[0])
        chunk = matches[(page - 1) * self.page_size : page * self.page_size]
        more = len(matches) > page * self.page_size
        rest = {k: v for k, v in query.items() if k != "_page"}
        following = (
            f"{self.base}/{parts[0]}?{urlencode({**rest, '_page': page + 1}, doseq=True)}"
            if more
            else None
        )
        includes = searchset.included(self.items, chunk, search)
        return 200, searchset.searchset(chunk, includes, following)


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
                time.sleep(server.delay)
                if server.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.stream:
                    self._stream()
                    return
            status, body = server.answer(url.path, parse_qs(url.query))
            self._send(status, body)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode() + b" " * server.padding
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # the reader may hang up early, as it should on an oversized body
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def _stream(self) -> None:
            """A body delimited by closing the connection (HTTP/1.0), so no Content-Length."""
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.end_headers()
            chunk = b" " * 65536
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while server.streamed < server.stream:
                    self.wfile.write(chunk)
                    server.streamed += len(chunk)

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
