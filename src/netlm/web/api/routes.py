"""`/api/v1`: assess without storing, cases with versions, assessments, decisions, reports, the
knowledge base (read-only), tokens and users. JSON in and out; OpenAPI at /docs."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field

from netlm.engine import assess
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.codes import Region
from netlm.model.decision import Decision, DecisionIn
from netlm.model.parse import parse_case_json
from netlm.model.text import FreeText, SingleLine
from netlm.store.credentials import TokenInfo
from netlm.web import state
from netlm.web.api import account as account_api
from netlm.web.api import follow_up as follow_up_api
from netlm.web.errors import ApiError
from netlm.web.report.pdf import render_report_pdf
from netlm.web.report.system import PdfUnavailable
from netlm.web.security import Admin, Clinician, Viewer, client_address

router = APIRouter(prefix="/api/v1")
# Integers that reach the database fit a signed 32-bit column on every backend.
MAX_INT = 2**31 - 1
Lang = Literal["en", "zh"]
CASE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}},
    }
}


async def _case_body(request: Request) -> Case:
    return parse_case_json(await request.body())


class CaseOut(BaseModel):
    case_id: str
    version: int
    created_at: dt.datetime
    created_by: str
    case: dict[str, Any]
    assessment: Assessment | None = None
    assessment_id: int | None = None
    decisions: list[Decision] = Field(default_factory=list)


class TokenIn(BaseModel):
    username: Annotated[str, Field(max_length=200), SingleLine]
    password: str = Field(max_length=1024)
    label: Annotated[str, Field(max_length=200), SingleLine] = "api"
    code: str | None = Field(None, max_length=32, description="TOTP code, for users with one")


class TokenOut(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int  # seconds (NETLM_TOKEN_DAYS)


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9._-]{2,64}$")
    password: str = Field(min_length=10, max_length=1024)
    role: Literal["admin", "clinician", "viewer"]
    display_name: Annotated[str, Field(max_length=200), SingleLine] | None = None


class DeleteIn(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=2000), FreeText]


@router.post("/assess", response_model=Assessment, openapi_extra=CASE_BODY, tags=["assess"])
async def assess_case(
    request: Request,
    _: Viewer,
    lang: Lang = "en",
    region: Region | None = None,
) -> Response:
    """Assess a case (netlm.case/1) and return netlm.assessment/1. Nothing is stored."""
    case = await _case_body(request)
    if region is not None:
        case = case.model_copy(update={"region": region})
    # Returned as a response so FastAPI does not validate the engine's own output a second time.
    result = assess(case, lang=lang, kb=state.kb(request))
    return Response(result.model_dump_json(by_alias=True), media_type="application/json")


@router.get("/cases", tags=["cases"])
def list_cases(
    request: Request,
    _: Viewer,
    q: Annotated[str | None, Query(max_length=200)] = None,
    grade: Annotated[str | None, Query(max_length=32)] = None,
    pattern: Annotated[str | None, Query(max_length=32)] = None,
    site: Annotated[str | None, Query(max_length=32)] = None,
    pending: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> list[dict[str, Any]]:
    rows = state.store(request).list_cases(
        text=q, grade=grade, liver_pattern=pattern, primary_site=site,
        decision_pending=pending, limit=limit, offset=offset,
    )  # fmt: skip
    return [row.__dict__ for row in rows]


def _case_out(request: Request, case_id: str, user: Any, lang: Lang = "en") -> CaseOut:
    view = state.board(request).view(case_id, user, lang)
    r = view.record
    return CaseOut(
        case_id=r.case_id, version=r.version, created_at=r.created_at, created_by=r.created_by,
        case=r.case.to_json_dict(), assessment=view.assessment,
        assessment_id=view.assessment_id, decisions=view.decisions,
    )  # fmt: skip


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOut,
    openapi_extra=CASE_BODY,
    tags=["cases"],
    responses={200: {"model": CaseOut, "description": "A retried create: the stored case"}},
)
async def create_case(request: Request, response: Response, current: Clinician) -> CaseOut:
    """Store a new case and its assessment (201). The same document sent again by the same
    user (a retry after a lost answer) returns the stored case with 200; another document
    with an id already used is 409."""
    case = await _case_body(request)
    record = state.board(request).create(case, current.user)
    if record.replayed:  # the same create sent again: the stored case, not a second one
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/cases/{record.case_id}"
    return _case_out(request, record.case_id, None)


@router.get("/cases/{case_id}", response_model=CaseOut, tags=["cases"])
def get_case(request: Request, case_id: str, current: Viewer, lang: Lang = "en") -> CaseOut:
    return _case_out(request, case_id, current.user, lang)


@router.put("/cases/{case_id}", response_model=CaseOut, openapi_extra=CASE_BODY, tags=["cases"])
async def update_case(
    request: Request,
    case_id: str,
    current: Clinician,
    expected_version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> CaseOut:
    """Store an edited case as a new version (the old one stays readable). Pass
    `expected_version` to refuse the edit (409) if someone else saved a newer version."""
    case = await _case_body(request)
    if case.id != case_id:
        raise ApiError(422, "id", f"must equal the case id in the path ({case_id})")
    state.board(request).update(case_id, case, current.user, expected_version=expected_version)
    return _case_out(request, case_id, None)


@router.delete("/cases/{case_id}", status_code=204, tags=["cases"])
def delete_case(
    request: Request, case_id: str, current: Clinician, body: Annotated[DeleteIn, Body()]
) -> Response:
    """Soft delete: the case disappears from lists; every version and the audit trail remain."""
    state.store(request).delete_case(case_id, current.user, body.reason)
    return Response(status_code=204)


@router.get("/cases/{case_id}/versions", tags=["cases"])
def case_versions(request: Request, case_id: str, _: Viewer) -> list[dict[str, Any]]:
    return [v.__dict__ for v in state.store(request).case_versions(case_id)]


@router.get("/cases/{case_id}/versions/{version}", tags=["cases"])
def case_version(
    request: Request,
    case_id: str,
    version: Annotated[int, Path(ge=1, le=MAX_INT)],
    current: Viewer,
) -> dict[str, Any]:
    record = state.store(request).get_case(case_id, version=version, by=current.user)
    return {"case_id": case_id, "version": record.version, "case": record.case.to_json_dict()}


@router.get("/cases/{case_id}/assessments", tags=["assessments"])
def case_assessments(request: Request, case_id: str, _: Viewer) -> list[dict[str, Any]]:
    return [a.__dict__ for a in state.store(request).list_assessments(case_id)]


@router.post("/cases/{case_id}/assessments", status_code=201, tags=["assessments"])
def reassess(request: Request, case_id: str, current: Clinician) -> dict[str, int]:
    """Assess the current version again with the current knowledge base and store it."""
    return {"assessment_id": state.board(request).reassess(case_id, current.user)}


@router.get("/cases/{case_id}/decisions", response_model=list[Decision], tags=["decisions"])
def case_decisions(request: Request, case_id: str, _: Viewer) -> list[Decision]:
    return state.store(request).list_decisions(case_id)


@router.post(
    "/cases/{case_id}/decisions", status_code=201, response_model=Decision, tags=["decisions"]
)
def decide(request: Request, case_id: str, decision: DecisionIn, current: Clinician) -> Decision:
    """Record the board's decision on the current version; choosing an option outside the first
    tier needs `override_reason` (422 naming the field otherwise)."""
    return state.board(request).decide(case_id, decision, current.user)


@router.get("/cases/{case_id}/audit", tags=["cases"])
def case_audit(request: Request, case_id: str, _: Clinician) -> list[dict[str, Any]]:
    return [e.__dict__ for e in state.store(request).audit_log(entity_id=case_id)]


@router.get("/cases/{case_id}/report.pdf", tags=["reports"], response_class=Response)
def report(request: Request, case_id: str, current: Viewer, lang: Lang = "en") -> Response:
    view = state.board(request).view(case_id, current.user, lang)
    try:
        pdf = render_report_pdf(
            view.record.case, view.assessment, view.decisions, state.kb(request), lang,
            dt.datetime.now(dt.UTC), view.record.current_version,
        )  # fmt: skip
    except PdfUnavailable as exc:
        raise ApiError(503, "(server)", str(exc)) from None
    state.store(request).audit(current.user, "report", "case", case_id, {"lang": lang})
    name = f"netlm-{case_id}-{lang}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})  # fmt: skip


@router.get("/kb", tags=["knowledge base"])
def kb_manifest(request: Request, _: Viewer) -> dict[str, Any]:
    kb = state.kb(request)
    return {**kb.manifest.model_dump(mode="json"), "options": len(kb.options),
            "evidence": len(kb.evidence)}  # fmt: skip


@router.get("/kb/options", tags=["knowledge base"])
def kb_options(request: Request, _: Viewer) -> list[dict[str, Any]]:
    return [o.option.model_dump(mode="json") for o in state.kb(request).options.values()]


@router.get("/kb/options/{code}", tags=["knowledge base"])
def kb_option(request: Request, code: str, _: Viewer) -> dict[str, Any]:
    entry = state.kb(request).options.get(code)
    if entry is None:
        raise ApiError(404, "code", f"no option {code!r}")
    return {
        "option": entry.option.model_dump(mode="json"),
        "indications": [c.rule.model_dump(mode="json") for c in entry.indications],
        "contraindications": [c.rule.model_dump(mode="json") for c in entry.contraindications],
        "cautions": [c.rule.model_dump(mode="json") for c in entry.cautions],
    }


@router.get("/kb/evidence", tags=["knowledge base"])
def kb_evidence(request: Request, _: Viewer) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in state.kb(request).evidence.values()]


@router.get("/kb/evidence/{evidence_id}", tags=["knowledge base"])
def kb_evidence_record(request: Request, evidence_id: str, _: Viewer) -> dict[str, Any]:
    record = state.kb(request).evidence.get(evidence_id)
    if record is None:
        raise ApiError(404, "evidence_id", f"no evidence record {evidence_id!r}")
    return record.model_dump(mode="json")


@router.post("/tokens", status_code=201, response_model=TokenOut, tags=["auth"])
def create_token(request: Request, body: TokenIn) -> TokenOut:
    """Exchange a username and password for a bearer token that expires after NETLM_TOKEN_DAYS
    (login throttling applies). A user with a second factor also sends its current `code`."""
    store, days = state.store(request), state.settings(request).token_days
    user = store.authenticate(body.username, body.password, client_address(request))
    if user.mfa:
        if not body.code:
            raise ApiError(401, "code", "this account signs in with a TOTP code: send it as code")
        user = store.verify_totp(user, body.code, client_address(request))
    elif user.role == "admin" and state.settings(request).require_mfa:
        raise ApiError(403, "code", "admins must enrol a second factor first (NETLM_REQUIRE_MFA)")
    return TokenOut(token=store.create_token(user, body.label, days), expires_in=days * 86400)


@router.get(
    "/tokens",
    response_model=list[TokenInfo],
    tags=["auth"],
    responses={404: {"description": "No such user (`user`)", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Errors"}}}}},
)  # fmt: skip
def list_tokens(request: Request, current: Viewer, user: str | None = None) -> list[TokenInfo]:
    """Your tokens, revoked and expired ones included; an admin may ask for another `user`'s."""
    if user not in (None, current.user.username) and current.user.role != "admin":
        raise ApiError(403, "user", "only an admin may list another user's tokens")
    return state.store(request).list_tokens(user or current.user.username)


@router.delete("/tokens/{token_id}", status_code=204, tags=["auth"])
def revoke_token(
    request: Request, token_id: Annotated[int, Path(ge=1, le=MAX_INT)], current: Viewer
) -> Response:
    """Revoke a token at once, in every worker: your own, or as an admin anyone's (another
    user's token is 404 to everyone else, so token ids reveal nothing)."""
    only_own = current.user.role != "admin"
    state.store(request).revoke_token(token_id, by=current.user, only_own=only_own)
    return Response(status_code=204)


@router.get("/users", tags=["users"])
def list_users(request: Request, _: Admin) -> list[dict[str, Any]]:
    return [u.__dict__ for u in state.store(request).list_users()]


@router.post("/users", status_code=201, tags=["users"])
def add_user(request: Request, body: UserIn, current: Admin) -> dict[str, Any]:
    user = state.store(request).add_user(
        body.username, body.password, body.role, body.display_name, by=current.user
    )
    return user.__dict__


@router.post("/users/{username}/unlock", tags=["users"])
def unlock_user(
    request: Request, username: Annotated[str, Path(max_length=64)], current: Admin
) -> dict[str, list[str]]:
    """Lift the login back-off on a user from every address (audited)."""
    return {"unlocked": state.store(request).unlock_user(username, by=current.user)}


router.include_router(account_api.router)
router.include_router(follow_up_api.router)
