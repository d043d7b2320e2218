"""An application on a fresh SQLite store, with one user of each role and their tokens."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app

PASSWORD = "correct horse battery"


@dataclass
class Env:
    app: FastAPI
    store: Store
    settings: Settings
    tokens: dict[str, str]

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    url = f"sqlite:///{tmp_path / 'netlm.db'}"
    upgrade(url)
    settings = Settings(database_url=url, secret_key="test-secret-" + "x" * 40, data_dir=tmp_path)
    store = Store(create_db_engine(url))
    tokens = {}
    for role in ("admin", "clinician", "viewer"):
        user = store.add_user(role, PASSWORD, role, display_name=f"{role.title()} User")
        tokens[role] = store.create_token(user, "tests")
    return Env(create_app(settings, store), store, settings, tokens)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    response = client.post("/login", data={"username": username, "password": password},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    page = client.get("/cases")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]
