"""What the server itself refuses before the app sees a request: oversized or too many headers,
and how a refused body is answered (a 413 the client can read, not a reset). Against a real
`netlm serve` process, since the limits live in the HTTP server, not in the ASGI app."""

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx2
import pytest

from netlm.store.db import upgrade
from tests.app.server import served


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    with served(data, url) as running:
        yield running


def raw_exchange(base: str, head: bytes, body: bytes = b"") -> bytes:
    """Send a request byte for byte and return what the server answered before closing."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as conn:
        try:
            conn.sendall(head)
            conn.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is still in the socket
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


def test_a_megabyte_header_is_refused_by_the_server(base: str) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
    answer = raw_exchange(base, head)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert httpx2.get(f"{base}/healthz").status_code == 200


def test_too_many_headers_are_refused(base: str) -> None:
    headers = {f"x-h{i}": "1" for i in range(101)}
    answer = httpx2.get(f"{base}/healthz", headers=headers)
    assert answer.status_code == 431
    assert "more than 100 request headers" in answer.text
    assert httpx2.get(f"{base}/healthz", headers=dict(list(headers.items())[:80])).is_success


def test_no_server_banner(base: str) -> None:
    answer = httpx2.get(f"{base}/healthz")
    assert "server" not in answer.headers


def test_an_oversized_body_gets_a_readable_413(base: str) -> None:
    """The client sends all of its 20 MB body; it reads the 413, never a reset mid-upload."""
    body = b"[" + b"0," * 10_000_000 + b"0]"
    head = (
        b"POST /api/v1/assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    for _ in range(3):
        answer = raw_exchange(base, head, body)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
        assert b"larger than" in answer
    answer2 = httpx2.post(
        f"{base}/api/v1/assess", content=body, headers={"content-type": "application/json"}
    )
    assert answer2.status_code == 413
