"""HTTP face of the CDS service: `/cds-services` discovery, the hooks and their feedback.

Every call, discovery included, is authenticated by the EHR's JWT before its body is read, and
every error is a FHIR OperationOutcome (CDS Hooks 3.0 asks for one on any non-2xx answer), never
the HTML or `{"errors": ...}` shapes of the rest of the application.

The JWT audience is `NETLM_PUBLIC_URL` plus the path called, never the request's Host header:
a token minted for another service must not become valid by naming that service's host. Without
a public URL the service is off (503), rather than guessing one.
"""

import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from netlm.fhir.cds.jwt import AuthError, Caller, JwksCache, Verifier
from netlm.fhir.cds.models import CdsRequest, Feedback, describe
from netlm.fhir.cds.service import (
    ORDER_CHECK,
    SERVICES,
    STRATEGY,
    Call,
    CdsFailure,
    CdsService,
    operation_outcome,
)
from netlm.fhir.cds.store import CdsStore, UnknownCards
from netlm.settings import Settings
from netlm.store.repository import Store

M = TypeVar("M", bound=BaseModel)
PREFIX = "/cds-services"
FHIR_JSON = "application/fhir+json"
DISABLED = "CDS Hooks is disabled until NETLM_PUBLIC_URL is set (the base URL EHRs call)"


def _outcome(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        operation_outcome(code, message),
        status_code=status,
        headers=headers or None,
        media_type=FHIR_JSON,
    )


log = logging.getLogger("netlm.cds")


class _CdsRoute(APIRoute):
    """Turns this router's failures into OperationOutcomes (the app's handlers are for others)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except AuthError as exc:
                if exc.detail:
                    log.warning("CDS Hooks call refused: %s", exc.detail)
                challenge = 'Bearer error="invalid_token"'
                return _outcome(401, "login", str(exc), **{"WWW-Authenticate": challenge})
            except CdsFailure as exc:
                return _outcome(exc.status, exc.code, exc.message)
            except UnknownCards as exc:
                return _outcome(422, "not-found", str(exc))

        return handler


router = APIRouter(route_class=_CdsRoute, tags=["cds-hooks"])


@dataclass(frozen=True)
class _Parts:
    settings: Settings
    cds: CdsStore
    verifier: Verifier
    service: CdsService


def _parts(app: FastAPI) -> _Parts:
    """The CDS objects of this application, made on first use from its store and settings."""
    state = app.state
    parts: _Parts | None = getattr(state, "cds", None)
    if parts is None:
        settings: Settings = state.settings
        store: Store = state.store
        cds = CdsStore(store.engine)
        verifier = Verifier(cds, JwksCache(), settings.cds_max_token_age_seconds)
        service = CdsService(
            store,
            state.kb,
            cds,
            lang=settings.cds_lang,
            region=settings.cds_region,
            about_url=settings.cds_about_url,
            fhir_timeout=settings.cds_fhir_timeout_seconds,
            fhir_max_bytes=settings.cds_fhir_max_bytes,
        )
        parts = state.cds = _Parts(settings, cds, verifier, service)
    return parts


def cds_store(app: FastAPI) -> CdsStore:
    """The app's CDS repository, e.g. for `cds_store(app).list_feedback(case_id)`."""
    return _parts(app).cds


def cds_service(app: FastAPI) -> CdsService:
    """The app's CDS service, e.g. for a SMART launch to open a chart (netlm.web.smart)."""
    return _parts(app).service


def _public_url(settings: Settings) -> str:
    if not settings.public_url:
        raise CdsFailure(503, "not-supported", DISABLED)
    return settings.public_url.rstrip("/")


def _audience(request: Request, settings: Settings) -> str:
    """The URL the EHR called, as the configured public URL names it: the JWT's `aud`."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return _public_url(settings) + path


async def _authenticate(request: Request, parts: _Parts) -> Caller:
    audience = _audience(request, parts.settings)
    header = request.headers.get("authorization")
    return await run_in_threadpool(parts.verifier.verify, header, audience)


def _not_a_number(token: str) -> float:
    """NaN and Infinity, which Python's parser accepts and JSON does not."""
    raise CdsFailure(400, "invalid", f"{token} is not a valid number")


async def _body(request: Request, model: type[M]) -> M:
    try:
        data = json.loads(await request.body(), parse_constant=_not_a_number)
    except (ValueError, RecursionError):
        raise CdsFailure(400, "invalid", "the body is not JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CdsFailure(400, "invalid", describe(exc)) from None


@router.get(PREFIX, summary="CDS Hooks discovery")
async def discovery(request: Request) -> JSONResponse:
    await _authenticate(request, _parts(request.app))
    return JSONResponse(SERVICES.model_dump(mode="json", by_alias=True, exclude_none=True))


@router.post(PREFIX + "/{service_id}", summary="Call a CDS service")
async def invoke(service_id: str, request: Request) -> JSONResponse:
    parts = _parts(request.app)
    caller = await _authenticate(request, parts)
    if service_id not in (STRATEGY, ORDER_CHECK):
        raise CdsFailure(404, "not-found", f"no CDS service {service_id!r}")
    hook = await _body(request, CdsRequest)
    call = Call(hook, caller, _public_url(parts.settings))
    run = parts.service.patient_view if service_id == STRATEGY else parts.service.order_select
    response = await run_in_threadpool(run, call)
    return JSONResponse(response.to_json())


@router.post(PREFIX + "/{service_id}/feedback", summary="Feedback on a service's cards")
async def feedback(service_id: str, request: Request) -> JSONResponse:
    parts = _parts(request.app)
    caller = await _authenticate(request, parts)
    if service_id not in (STRATEGY, ORDER_CHECK):
        raise CdsFailure(404, "not-found", f"no CDS service {service_id!r}")
    items = (await _body(request, Feedback)).feedback
    by = await run_in_threadpool(parts.service.account)
    await run_in_threadpool(parts.cds.save_feedback, service_id, caller.issuer, items, by)
    return JSONResponse({})


class CdsCors:
    """Starlette's CORSMiddleware, applied only under /cds-services."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def add_cors(app: FastAPI, settings: Settings) -> None:
    """Let the browser origins in `NETLM_CDS_CORS_ORIGINS` call /cds-services (none: no CORS)."""
    if settings.cds_cors_origins:
        app.add_middleware(CdsCors, origins=settings.cds_cors_origins)
