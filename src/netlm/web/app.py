"""The FastAPI application: API under /api/v1, pages at /, CDS and FHIR later beside them."""

import gc
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from netlm import __version__
from netlm.fhir import units
from netlm.fhir.cds.routes import add_cors
from netlm.fhir.cds.routes import router as cds_router
from netlm.fhir.cds.service import operation_outcome
from netlm.knowledge.load import load_knowledge_base
from netlm.settings import Settings
from netlm.store.db import create_db_engine
from netlm.store.repository import Store
from netlm.web import errors, oidc, openapi, smart
from netlm.web.access import AccessAudit
from netlm.web.api.fhir import router as fhir_router
from netlm.web.api.routes import router as api_router
from netlm.web.guard import RequestGuard
from netlm.web.i18n import request_lang, word
from netlm.web.pages.render import render_error
from netlm.web.pages.routes import router as pages_router
from netlm.web.security import ENROL_PATHS, MFA_REQUIRED
from netlm.web.service import Board


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    kb = load_knowledge_base()
    store = store or Store(
        create_db_engine(settings.database_url),
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
    )
    app = FastAPI(
        title="netlm",
        version=__version__,
        description="Decision support for neuroendocrine tumour liver metastases.",
        docs_url=None,  # served below from local files: no CDN, works offline
        redoc_url=None,
    )
    app.state.settings, app.state.store, app.state.kb = settings, store, kb
    app.state.board = Board(store, kb)
    errors.install(app, render_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/cds-services"):  # EHRs expect FHIR OperationOutcomes
            outcome = operation_outcome("processing", str(exc.detail))
            return JSONResponse(outcome, status_code=exc.status_code, headers=exc.headers)
        if errors.for_machines(request):
            body = errors.error_body([("(request)", str(exc.detail))])
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 401:
            asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(asked)}", status_code=303)
        if exc.status_code == 403 and exc.detail == MFA_REQUIRED:  # an admin must enrol first
            return RedirectResponse(ENROL_PATHS[0], status_code=303)
        detail = str(exc.detail) if exc.status_code == 422 else None
        if exc.status_code == 403 and exc.detail in FORM_REFUSALS:  # not the role: the form
            detail = word("error.403_form", request_lang(request))
        return render_error(request, exc.status_code, detail)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        store.ping()
        return {"status": "ok", "version": __version__, "knowledge_base": kb.manifest.version}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    static = Path(str(resources.files("netlm.web").joinpath("static")))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(static / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=static), name="static")
    app.include_router(api_router)
    app.include_router(fhir_router)
    app.include_router(cds_router)
    add_cors(app, settings)
    oidc.install(app, settings)  # single sign-on, when configured
    app.include_router(pages_router, default_response_class=HTMLResponse, include_in_schema=False)
    smart.install(app, settings)  # SMART on FHIR EHR launch, when configured
    openapi.document(app)
    app.add_middleware(AccessAudit)  # inside the guard: what reaches a route
    app.add_middleware(RequestGuard, settings=settings)
    # The UCUM registry behind FHIR unit conversion takes seconds to build: built now, not by the
    # first CDS Hooks call or FHIR import, which would otherwise wait for it.
    units.factor("mg/dL", "g/dL")
    # The knowledge base and the app are long-lived: keep them out of the garbage collector's
    # full passes, which otherwise walk every rule and record and show up as latency spikes.
    gc.freeze()
    return app


# Refusals of a form that was not sent from this app's own page (security.py), shown as such.
FORM_REFUSALS = ("cross-origin request refused", "missing or invalid CSRF token")

# Swagger UI vendored under static/swagger, started by a local script: nothing inline, so the
# page runs under the same strict Content-Security-Policy as the rest of the app.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>netlm API</title>
  <link rel="stylesheet" href="/static/swagger/swagger-ui.css">
  <script src="/static/swagger/swagger-ui-bundle.js" defer></script>
  <script src="/static/docs.js" defer></script>
</head>
<body><div id="swagger-ui"></div></body>
</html>
"""
