"""Reads from an EHR's FHIR server, on the EHR's behalf and with the access token it lent.

A hook request names its `fhirServer`, so without limits netlm would carry the EHR's token to
any URL and report how each one answered (a port scanner). Here netlm only reads under the base
URLs registered for the calling client, compared by scheme, host, port and path segments on the
parsed URL (the same parser that sends the request). A base keeps its scheme as registered, and
an http base can only be registered with the explicit development flag, so plain http is never
used otherwise. Redirects are not followed, each read has one deadline and a size cap enforced
while the body streams in, and every failure is one exception whose text is for the log only.
"""

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx2

DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRefused(Exception):
    """netlm will not send the request at all; the message says why and may be shown."""


class FetchFailed(Exception):
    """The request was sent and failed; the message is for the server log, never the caller."""


def _split(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path without trailing slash) of an absolute http(s) URL, or None
    for anything else, including credentials, a fragment or a dot segment (even encoded)."""
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL:
        return None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        return None
    if parsed.userinfo or parsed.fragment or "\\" in parsed.path:
        return None
    if any(segment in (".", "..") for segment in parsed.path.split("/")):
        return None
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    return parsed.scheme, parsed.host, port, parsed.path.rstrip("/")


def _is_base(url: str) -> bool:
    """A URL fit to be a FHIR base: queries are appended to it, so it has none of its own."""
    return _split(url) is not None and not httpx2.URL(url).query


def within(url: str, base: str) -> bool:
    """`url` is `base` or below it: same scheme, host and port, and a path under base's path
    on a segment boundary (`/fhir` covers `/fhir/Patient`, not `/fhirx`)."""
    target, root = _split(url), _split(base)
    if target is None or root is None or target[:3] != root[:3]:
        return False
    return target[3] == root[3] or target[3].startswith(root[3] + "/")


def check_base(url: str, allow_http: bool = False) -> str:
    """A FHIR base URL fit to register, without its trailing slash; ValueError otherwise."""
    base = url.strip().rstrip("/")
    if not _is_base(base):
        raise ValueError(
            f"{url!r} is not a FHIR base URL (http(s), a host, no credentials, query or fragment)"
        )
    if httpx2.URL(base).scheme == "http" and not allow_http:
        raise ValueError(f"{url!r} is not https; plain http needs --allow-http (development only)")
    return base


class FhirReader:
    """GETs JSON resources under one `fhirServer`, which must lie under an allowed base."""

    def __init__(
        self,
        server: str,
        allowed: Sequence[str],
        token: str | None,
        timeout: float,
        max_bytes: int,
    ) -> None:
        self.base = server.rstrip("/")
        if not _is_base(self.base) or not any(within(self.base, a) for a in allowed):
            raise FetchRefused("fhirServer is not a FHIR server registered for this client")
        self.timeout, self.max_bytes = timeout, max_bytes
        # identity: the cap counts the bytes on the wire, so no compressed body can expand past it
        headers = {"Accept": "application/fhir+json", "Accept-Encoding": "identity"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx2.Client(
            headers=headers,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 2.0)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def get(self, query: str) -> dict[str, Any]:
        """GET a query relative to the server, or an absolute URL (a next link) under it."""
        # a relative query may carry URLs itself (`code=http://loinc.org|29593-1`)
        url = query if query.startswith(("http://", "https://")) else f"{self.base}/{query}"
        if not within(url, self.base):
            raise FetchRefused("will not follow a link off fhirServer")
        try:
            body = self._read(url)
        except httpx2.HTTPError as exc:
            raise FetchFailed(f"GET {url}: {type(exc).__name__}: {exc}") from None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise FetchFailed(f"GET {url}: the body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise FetchFailed(f"GET {url}: the body is not a FHIR resource")
        return data

    def _read(self, url: str) -> bytes:
        return read_capped(self.client, url, self.max_bytes, self.timeout)


def read_capped(client: httpx2.Client, url: str, max_bytes: int, timeout: float) -> bytes:
    """The body of a 200 answer to GET `url`, refused past `max_bytes` on the wire or `timeout`
    seconds in all (a slow drip is cut too); FetchFailed or httpx2.HTTPError otherwise."""
    deadline = time.monotonic() + timeout
    with client.stream("GET", url) as response:
        if response.status_code != 200:  # 3xx included: redirects are not followed
            raise FetchFailed(f"GET {url}: HTTP {response.status_code}")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchFailed(f"GET {url}: Content-Encoding {encoding} (identity asked)")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchFailed(f"GET {url}: Content-Length {declared} > {max_bytes}")
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > max_bytes:
                raise FetchFailed(f"GET {url}: more than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchFailed(f"GET {url}: not read within {timeout} s")
    return bytes(body)
