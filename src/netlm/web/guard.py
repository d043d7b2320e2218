"""Every request passes here first: body size, JSON shape, and the security headers.

One ASGI middleware for the whole application (pages, REST API, FHIR, CDS Hooks), so no route
can forget it: a body over the limit is refused with 413 before anything parses it (by its
Content-Length, or while it streams in), a JSON body nested too deep or holding an absurd number
is refused with 400 before a parser recurses into it, and every response carries the headers a
browser needs to keep patient data out of frames, caches and referrers.

The shape check runs before authentication, so it must cost every sender little: it is linear
in the body, and a body over 16 kB is checked in a worker thread (at most two at a time, apart
from the threads of the routes), so even a 20 MB Bundle does not hold up other requests.
"""

import codecs
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import anyio.to_thread
from anyio import CapacityLimiter

from netlm.model.parse import Problem, json_shape_problem, json_value_problem
from netlm.settings import Settings
from netlm.web.hygiene import form_problem, request_line_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Bodies that carry FHIR (Bundles, CDS Hooks prefetch) get their own, larger limit.
FHIR_PREFIXES = ("/api/v1/fhir", "/cds-services")
# The app's own scripts and styles only; Swagger UI (/docs) sets element styles from its script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def framed_by(csp: str, settings: Settings) -> str:
    """The policy with the EHR origins of a SMART deployment (NETLM_SMART_FRAME_ORIGINS) allowed
    to frame netlm, and netlm itself; without any, no page may be framed at all."""
    if not settings.smart_frame_origins:
        return csp
    ancestors = " ".join(("'self'", *settings.smart_frame_origins))
    return csp.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


# Bodies up to this size are checked on the event loop (a few milliseconds at worst); larger
# ones in a worker thread.
INLINE_CHECK_BYTES = 16 * 1024
# Large bodies are checked at most this many at a time, in threads of their own, so that many
# of them at once neither take every thread the routes run in nor crowd out the event loop.
CHECK_THREADS = 2
DECODE_STEP = 1 << 20
# A refused body is read to its end (so the client sees the 413) up to this size; beyond it
# the connection is closed mid-body; and for at most DRAIN_SECONDS.
DRAIN_MAX_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 10
# Browsers send about 15 headers; the server (`netlm serve`) bounds their total size.
MAX_HEADERS = 100
# Bodies read as forms; every other body is checked as JSON.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def problem_response(
    path: str, status: int, message: str, field: str = "(request)"
) -> tuple[bytes, str]:
    """The error body each part of the app speaks: FHIR OperationOutcome for CDS Hooks, the
    `{"errors": [...]}` shape elsewhere."""
    if path.startswith("/cds-services"):
        said = message if field.startswith("(") else f"{field}: {message}"
        body: dict[str, Any] = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "diagnostics": said}],
        }
        return json.dumps(body).encode(), "application/fhir+json"
    body = {"errors": [{"field": field, "message": message}]}
    return json.dumps(body).encode(), "application/json"


class RequestGuard:
    """Body limits and JSON shape for requests, security headers for responses."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self._check_threads = CapacityLimiter(CHECK_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = self._with_headers(path, send)
        if len(scope["headers"]) > MAX_HEADERS:
            await self._refuse(path, send, 431, f"more than {MAX_HEADERS} request headers")
            return
        problem = request_line_problem(scope)
        if problem is not None:
            await self._refuse(path, send, 400, problem.message, problem.path)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = (
            self.settings.max_fhir_body_bytes
            if path.startswith(FHIR_PREFIXES)
            else self.settings.max_body_bytes
        )
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _drain(receive, int(declared))
            await self._refuse(path, send, 413, f"request body larger than {limit} bytes")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                if more:
                    await _drain(receive, limit)
                await self._refuse(path, send, 413, f"request body larger than {limit} bytes")
                return
        content_type = headers.get("content-type", "").lower()
        if not body:
            problem = None
        elif content_type.startswith(FORM_TYPES):
            problem = form_problem(bytes(body), content_type)
        else:  # JSON, or what a route may read as JSON (FastAPI does without a type)
            if len(body) <= INLINE_CHECK_BYTES:
                problem = _shape_problem(body)
            else:
                problem = await anyio.to_thread.run_sync(
                    _shape_problem, body, limiter=self._check_threads
                )
        if problem is not None:
            await self._refuse(path, send, 400, problem.message, problem.path)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(
        self, path: str, send: Send, status: int, message: str, field: str = "(request)"
    ) -> None:
        body, media_type = problem_response(path, status, message, field)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _with_headers(self, path: str, send: Send) -> Send:
        csp = DOCS_CSP if path == "/docs" else CSP
        extra = [(b"content-security-policy", framed_by(csp, self.settings).encode())]
        if not self.settings.smart_frame_origins:  # X-Frame-Options cannot list origins
            extra.append((b"x-frame-options", b"DENY"))
        extra += [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        if not path.startswith("/static/"):  # everything else may hold patient data
            extra.append((b"cache-control", b"no-store"))
        if self.settings.secure_cookies:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + extra
            await send(message)

        return send_with_headers


def _shape_problem(body: bytearray) -> Problem | None:
    """The JSON shape problem of a body, if any (`json_shape_problem`), then the first NaN,
    Infinity or control character in it, named by its path (`json_value_problem`)."""
    try:
        text = _utf8(body)
    except UnicodeDecodeError:
        return None  # the route's own parser names the encoding problem
    return json_shape_problem(text) or json_value_problem(text)


def _utf8(body: bytearray) -> str:
    """The body as text, decoded a megabyte at a time: decoding 20 MB at once would hold the GIL
    (and so the event loop) for tens of milliseconds."""
    if len(body) <= DECODE_STEP:
        return body.decode("utf-8")
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts = [decoder.decode(body[i : i + DECODE_STEP]) for i in range(0, len(body), DECODE_STEP)]
    parts.append(decoder.decode(b"", final=True))
    return "".join(parts)


async def _drain(receive: Receive, expected: int) -> None:
    """Read and drop the rest of a refused body before answering: a client still sending when
    the server answers and closes sees a connection reset, not the 413 that says why. Bounded
    in size and time, so a refused sender cannot hold the connection open by sending slowly."""
    if expected > DRAIN_MAX_BYTES:
        return
    drained = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        while drained <= expected:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the application, then passes through
    (so a real client disconnect still reaches streaming responses)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
