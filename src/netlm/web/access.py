"""Access to patient data, audited in one place: every request to a route under the case
pages, the cases API, the FHIR export or a CDS service, answered or refused.

Each request runs inside `netlm.store.audit.access`, so whatever the store records for it (a
read of a case, a decision, a report) carries the client's address and the route. A request
that leaves no row (a list, decisions, versions, assessments, the audit trail, or any refusal:
401, 403, 404, 409) gets one here once it is answered, with its outcome.
"""

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netlm.store import audit
from netlm.store.repository import Store
from netlm.web.security import client_address

PATIENT_DATA = ("/api/v1/cases", "/cases", "/api/v1/fhir/cases", "/cds-services/")
REFUSALS = {401, 403, 404, 409}
NO_DATA = {"/cases/new"}  # the empty form: nothing about a patient is read


class AccessAudit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with audit.access(client_address(Request(scope)), scope) as current:
            try:
                await self.app(scope, receive, answer)
            finally:
                await _record(scope, current, current.refused or status)


async def _record(scope: Scope, current: audit.Access, status: int) -> None:
    template = getattr(scope.get("route"), "path", "")
    if current.recorded or not template.startswith(PATIENT_DATA):
        return
    if status < 400 and scope["method"] == "GET" and template not in NO_DATA:
        action, outcome = "read", "ok"
    elif status in REFUSALS or status >= 500:
        action, outcome = ("refused" if status in REFUSALS else "failed"), str(status)
    else:  # a write the store recorded itself, or input it refused before reading anything
        return
    params: dict[str, Any] = scope.get("path_params", {})
    store: Store = scope["app"].state.store
    await run_in_threadpool(
        audit.record, store.engine, current.user, action, "case",
        str(params.get("case_id", "")), outcome, {"status": status},
    )  # fmt: skip
