"""A pretend EHR for trying the CDS Hooks service by hand against `make run`.

    .venv/bin/python scripts/demo_ehr.py examples/fhir/03-midgut-progressive-on-ssa-sstr4.json

It makes an ES384 key pair (kept in demo-ehr/ of the data folder, NETLM_DATA_DIR), registers
itself once as a CDS client with `netlm cds client add`, then calls patient-view with the Bundle
as prefetch, signed as the CDS Hooks spec requires, and prints the cards. It also shows that an
unsigned call is refused. `--base` must be the server's NETLM_PUBLIC_URL (`make run` sets
http://127.0.0.1:8000): the JWT audience is built from it, and netlm accepts no other.
"""

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from netlm.fhir.cds.searchset import prefetch_for
from netlm.settings import data_dir

ISSUER = "https://demo-ehr.example"
KID = "demo-ehr-1"
STATE = data_dir() / "demo-ehr"


def key() -> ec.EllipticCurvePrivateKey:
    """The demo EHR's signing key, registered with netlm the first time."""
    path = STATE / "private.pem"
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        return loaded
    STATE.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwks = STATE / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": KID, "alg": "ES384", "use": "sig"}]}))
    netlm = str(Path(sys.executable).parent / "netlm")
    added = subprocess.run([netlm, "cds", "client", "add", "--issuer", ISSUER, "--jwks-file",
                            str(jwks), "--name", "demo EHR"], check=False)  # fmt: skip
    if added.returncode != 0:  # netlm said why on stderr; the key is kept only once registered
        sys.exit("error: could not register the demo EHR with `netlm cds client add` (above)")
    path.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))  # fmt: skip
    return private


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="NETLM_PUBLIC_URL")
    args = parser.parse_args()
    try:
        bundle = json.loads(args.bundle.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.exit(f"error: {args.bundle}: cannot read a FHIR Bundle ({exc})")
    items = [e["resource"] for e in bundle["entry"]]
    (patient,) = (r for r in items if r["resourceType"] == "Patient")
    prefetch = prefetch_for(items, patient["id"])
    url = f"{args.base}/cds-services/netlm-strategy"
    request = {
        "hook": "patient-view", "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/demo", "patientId": patient["id"]},
        "prefetch": prefetch,
    }  # fmt: skip
    try:
        unsigned = httpx2.post(url, json=request, timeout=30)
    except httpx2.TransportError as exc:
        sys.exit(
            f"error: no netlm server answers at {args.base} ({exc}). Start it with `make run`, "
            "or, if it runs elsewhere, pass its NETLM_PUBLIC_URL with --base, e.g. "
            "--base http://127.0.0.1:8080"
        )
    print(f"unsigned call: HTTP {unsigned.status_code}")
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, key(), algorithm="ES384", headers={"kid": KID, "typ": "JWT"})
    auth = {"Authorization": f"Bearer {token}"}
    signed = httpx2.post(url, json=request, headers=auth, timeout=30)
    print(f"signed call:   HTTP {signed.status_code}")
    if signed.status_code != 200:  # an OperationOutcome says why (e.g. NETLM_PUBLIC_URL unset)
        for issue in signed.json().get("issue", []):
            print(f"  {issue.get('diagnostics')}")
    for card in signed.json().get("cards", []):
        print(f"\n[{card['indicator']}] {card['summary']}")
        for link in card.get("links", []):
            print(f"  -> {link['label']}: {link['url']}")


if __name__ == "__main__":
    main()
