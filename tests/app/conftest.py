"""Logging in through the pages; the app fixture (`env`) is shared from tests/conftest.py."""

import re

from fastapi.testclient import TestClient
from httpx2 import Response

from tests.conftest import ORIGIN, PASSWORD, Env

__all__ = ["ORIGIN", "PASSWORD", "Env", "form_token", "login", "post_login"]


def form_token(html: str) -> str:
    """The value of the first `csrf_token` field of a page."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def post_login(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    """Submit the login form as a browser would: fetch it (token and cookie), then post it."""
    token = form_token(client.get("/login").text)
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=data, follow_redirects=False)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    response = post_login(client, username, password)
    assert response.status_code == 303, response.text
    return form_token(client.get("/cases").text)
