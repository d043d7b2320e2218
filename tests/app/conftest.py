"""Logging in through the pages; the app fixture (`env`) is shared from tests/conftest.py."""

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Env

__all__ = ["PASSWORD", "Env", "login"]


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    response = client.post("/login", data={"username": username, "password": password},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    page = client.get("/cases")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]
