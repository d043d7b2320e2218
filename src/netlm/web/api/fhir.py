"""`/api/v1/fhir`: FHIR R4 Bundles in, netlm cases and FHIR assessments out.

Errors use the API's one shape (`{"errors": [{"field", "message"}]}`): 400 when the body is not
JSON, 422 when it is not a Bundle netlm can map (one entry per problem).
"""

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from netlm.engine import assess
from netlm.fhir.export import assessment_to_bundle
from netlm.fhir.mapping import FhirImport, FhirMappingError, bundle_to_case
from netlm.knowledge.load import KnowledgeBase
from netlm.model.parse import load_json
from netlm.web.errors import error_body
from netlm.web.security import Viewer
from netlm.web.service import Board

router = APIRouter(prefix="/api/v1/fhir", tags=["fhir"])
Lang = Literal["en", "zh"]
FHIR_JSON = "application/fhir+json"
BUNDLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "description": "A FHIR R4 Bundle"}}
        },
    }
}


async def _bundle(request: Request) -> Any:
    """The Bundle as data; malformed, too deep or oversized JSON is a 400 naming the problem."""
    return load_json(await request.body())


def _import(data: Any, patient: str | None, on: dt.date | None) -> FhirImport | JSONResponse:
    try:
        return bundle_to_case(data, patient_id=patient, on=on or dt.date.today())
    except FhirMappingError as exc:
        body = error_body([(p.path, p.message) for p in exc.problems])
        return JSONResponse(body, status_code=422)


def _kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


class UnmappedOut(BaseModel):
    field: str = Field(description="The case path it would have filled, or (not used) etc.")
    reason: str


class ProposalOut(BaseModel):
    """A value read from a report's text: for a clinician to confirm, never in `case`."""

    field: str = Field(description="The case path it would fill, or (stated WHO grade)")
    value: int | float | str
    comparator: str | None = Field(description="<, <=, > or >= when the text gave only a bound")
    quote: str = Field(description="The sentence it was read from, verbatim")
    source: str = Field(description="DiagnosticReport/<id>")
    in_case: Any = Field(description="What the case holds for that field, or null")


class FhirCaseOut(BaseModel):
    case: dict[str, Any] = Field(description="netlm.case/1")
    unmapped: list[UnmappedOut]
    sources: dict[str, str] = Field(description="Case path -> ResourceType/id it came from")
    proposals: list[ProposalOut]


@router.post("/case", openapi_extra=BUNDLE_BODY, response_model=FhirCaseOut)
async def fhir_case(
    request: Request, _: Viewer, patient: str | None = None, date: dt.date | None = None
) -> Any:
    """Map a Bundle to netlm.case/1: the case, what could not be mapped, where each field came
    from, and the values read from report text (proposals to confirm, never in the case). `date`
    is the date ages are computed at (today by default). Nothing is stored."""
    result = _import(await _bundle(request), patient, date)
    if isinstance(result, JSONResponse):
        return result
    return FhirCaseOut(
        case=result.case.to_json_dict(),
        unmapped=[UnmappedOut(field=u.field, reason=u.reason) for u in result.unmapped],
        sources=result.sources,
        proposals=[ProposalOut.model_validate(p.to_json()) for p in result.proposals],
    )


# Answers that are FHIR resources say so in their media type, and in the OpenAPI document.
FHIR_BUNDLE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A FHIR R4 Bundle (GuidanceResponse, RequestGroup, parameters)",
        "content": {FHIR_JSON: {"schema": {"type": "object"}}},
    }
}


@router.post("/assess", openapi_extra=BUNDLE_BODY, responses=FHIR_BUNDLE_RESPONSE)
async def fhir_assess(
    request: Request,
    _: Viewer,
    lang: Lang = "en",
    patient: str | None = None,
    date: dt.date | None = None,
) -> Any:
    """Map a Bundle, assess it and return the assessment as a FHIR Bundle. Nothing is stored."""
    data = await _bundle(request)
    result = _import(data, patient, date)
    if isinstance(result, JSONResponse):
        return result
    pid = patient or next(
        str(e["resource"]["id"])
        for e in data["entry"]
        if e.get("resource", {}).get("resourceType") == "Patient"
    )
    kb = _kb(request)
    assessment = assess(result.case, lang=lang, kb=kb)
    bundle = assessment_to_bundle(
        assessment, patient_reference=f"Patient/{pid}", case=result.case, kb=kb
    )
    return JSONResponse(bundle, media_type=FHIR_JSON)


@router.get("/cases/{case_id}", responses=FHIR_BUNDLE_RESPONSE)
def fhir_case_assessment(
    request: Request,
    case_id: str,
    current: Viewer,
    lang: Lang = "en",
    patient_reference: str | None = None,
) -> JSONResponse:
    """The stored case's latest assessment as a FHIR Bundle (subject: `patient_reference`,
    default Patient/<case id>, since netlm stores no patient identity)."""
    board: Board = request.app.state.board
    view = board.view(case_id, current.user, lang)
    bundle = assessment_to_bundle(
        view.assessment,
        patient_reference=patient_reference or f"Patient/{case_id}",
        case=view.record.case,
        kb=_kb(request),
    )
    return JSONResponse(bundle, media_type=FHIR_JSON)
