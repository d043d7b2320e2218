"""The application with the CDS router, a registered test EHR and helpers to call the hooks."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from netlm.fhir.cds.models import CdsResponse
from netlm.fhir.cds.routes import cds_store
from netlm.fhir.cds.store import CdsStore
from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.models import AssessmentRow, CaseVersionRow, CdsFeedbackRow, CdsJtiRow
from netlm.store.repository import Store
from netlm.web.app import create_app
from tests.cds.ehr import Ehr, FhirServer, load_bundle, prefetch_for, resources, serve

BASE = "http://testserver"
DISCOVERY = f"{BASE}/cds-services"
STRATEGY = f"{BASE}/cds-services/netlm-strategy"
ORDER_CHECK = f"{BASE}/cds-services/netlm-order-check"


@dataclass
class Cds:
    app: FastAPI
    client: TestClient
    store: Store
    ehr: Ehr

    @property
    def cds(self) -> CdsStore:
        return cds_store(self.app)

    def allow(self, *bases: str) -> None:
        """Register the FHIR servers netlm may read for the test EHR (http: development flag)."""
        self.cds.set_fhir_servers(self.ehr.issuer, bases, allow_http=True)

    def hook(
        self,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> Any:
        return self.client.post(url, json=body, headers=headers or self.ehr.auth(url))

    def counts(self) -> dict[str, int]:
        """Rows that a call may add: versions, assessments, feedback, accepted JWT ids."""
        with self.store.engine.connect() as c:
            return {
                row.__tablename__: c.scalar(select(func.count()).select_from(row)) or 0
                for row in (CaseVersionRow, AssessmentRow, CdsFeedbackRow, CdsJtiRow)
            }


def patient_view(
    patient_id: str, prefetch: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-a", "patientId": patient_id},
        **extra,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def order_select(
    patient_id: str, orders: list[dict[str, Any]], prefetch: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = patient_view(patient_id, prefetch)
    body["hook"] = "order-select"
    body["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": o} for o in orders],
    }
    body["context"]["selections"] = [f"{o['resourceType']}/{o['id']}" for o in orders]
    return body


def medication_order(order_id: str, patient_id: str, atc: str, name: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.whocc.no/atc", "code": atc, "display": name}],
            "text": name,
        },
    }


def check_response(response: Any) -> list[dict[str, Any]]:
    """A 200 CDS Hooks response whose every card keeps the spec's rules; returns the cards."""
    assert response.status_code == 200, response.text
    data = response.json()
    CdsResponse.model_validate(data)
    for card in data["cards"]:
        assert str(uuid.UUID(card["uuid"])) == card["uuid"]
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")
            for suggestion in card["suggestions"]:
                assert suggestion["label"]
                for action in suggestion.get("actions", []):
                    assert action["type"] in ("create", "update", "delete")
                    assert action["description"]
        for reason in card.get("overrideReasons", []):
            assert reason["display"]
        for link in card.get("links", []):
            assert link["label"]
            assert link["url"]
            assert link["type"] in ("absolute", "smart")
            assert "appContext" not in link or link["type"] == "smart"
    return list(data["cards"])


def make_env(tmp_path: Path, **settings: Any) -> tuple[FastAPI, Store, Settings]:
    """The app on a fresh database; its public URL is the TestClient's unless one is given."""
    url = f"sqlite:///{tmp_path / 'netlm.db'}"
    upgrade(url)
    config = Settings(
        database_url=url,
        secret_key="test-secret-" + "x" * 40,
        data_dir=tmp_path,
        **{"public_url": BASE, **settings},
    )
    store = Store(create_db_engine(url))
    return create_app(config, store), store, config


@contextmanager
def running(tmp_path: Path, ehr: Ehr, **settings: Any) -> Iterator[Cds]:
    """The app with `ehr` registered (no FHIR server yet), behind a TestClient."""
    app, store, _ = make_env(tmp_path, **settings)
    cds_store(app).add_client(ehr.issuer, "Test EHR", ehr.jwks(), [])
    with TestClient(app, base_url=BASE) as client:
        yield Cds(app, client, store, ehr)


@pytest.fixture
def ehr() -> Ehr:
    return Ehr()


@pytest.fixture
def env(tmp_path: Path, ehr: Ehr) -> Iterator[Cds]:
    with running(tmp_path, ehr) as cds:
        yield cds


@pytest.fixture
def v03() -> tuple[str, dict[str, Any]]:
    """Patient v03 (midgut NET G2, type III, progressive on SSA) as full prefetch."""
    return prefetch_for(load_bundle("03"))


@pytest.fixture
def fhir_v03(env: Cds) -> Iterator[FhirServer]:
    """Patient v03's chart on a local FHIR server, registered for the test EHR."""
    with serve(FhirServer(resources(load_bundle("03")))) as server:
        env.allow(server.base)
        yield server
