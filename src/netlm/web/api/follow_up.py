"""`/api/v1/cases/{case_id}/follow-up`: what happened after the board (progression, death, last
contact, treatment given), recorded per case so the registry export and the survival analysis
can relate outcomes to concordance with netlm. Events are append-only: a correction is a new
event whose `supersedes` names the one it corrects."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from netlm.fhir.mapping import FhirMappingError
from netlm.fhir.mapping.followup import follow_up_from_bundle, save_follow_up
from netlm.model.parse import load_json
from netlm.store.followup import FollowUpEvent, FollowUpIn
from netlm.web import state
from netlm.web.api.fhir import BUNDLE_BODY
from netlm.web.errors import error_body
from netlm.web.security import Clinician, Viewer

router = APIRouter(tags=["follow-up"])
PROBLEM = {
    "description": "The event contradicts the record; `field` names what is wrong",
    "content": {
        "application/json": {
            "example": {
                "errors": [
                    {"field": "date", "message": "is after the death recorded on 2025-06-01"}
                ]
            }
        }
    },
}


@router.get("/cases/{case_id}/follow-up", response_model=list[FollowUpEvent])
def list_follow_up(request: Request, case_id: str, _: Viewer) -> list[FollowUpEvent]:
    """Every follow-up event of the case, by event date; a corrected event is kept and names
    the event that superseded it (`superseded_by`)."""
    return state.store(request).list_follow_up(case_id)


@router.post(
    "/cases/{case_id}/follow-up",
    status_code=201,
    response_model=FollowUpEvent,
    responses={422: PROBLEM},
)
def add_follow_up(
    request: Request, case_id: str, event: FollowUpIn, current: Clinician
) -> FollowUpEvent:
    """Record one follow-up event. A progression names its `criteria`; a treatment its option
    codes (`options`) and, once it stopped, `stopped`; a correction names the event it
    `supersedes`. Refused with 422 naming the field: a date before 1900 or in the future, an
    unknown option code, a second death, or an event after the recorded death."""
    return state.store(request).add_follow_up(case_id, event, current.user)


class SkippedOut(BaseModel):
    event: FollowUpIn
    source: str = Field(description="The resource(s) it was read from")
    reason: str = Field(description="Why it was not stored, e.g. already recorded")


class FhirFollowUpOut(BaseModel):
    added: list[FollowUpEvent]
    skipped: list[SkippedOut]
    not_used: list[str] = Field(description="What the chart holds that netlm did not read, why")


@router.post(
    "/cases/{case_id}/follow-up/fhir",
    response_model=FhirFollowUpOut,
    openapi_extra=BUNDLE_BODY,
    tags=["fhir"],
)
async def follow_up_from_fhir(
    request: Request,
    case_id: str,
    current: Clinician,
    patient: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """Read death, progression and treatments from a FHIR R4 Bundle (one patient's chart) into
    the case's follow-up; importing the chart again adds only what is new, and a treatment that
    has stopped since corrects the one recorded while it ran. 422 when the Bundle cannot be read
    (one entry per problem)."""
    data = load_json(await request.body())
    try:
        found = follow_up_from_bundle(data, on=dt.date.today(), patient_id=patient)
    except FhirMappingError as exc:
        return JSONResponse(error_body([(p.path, p.message) for p in exc.problems]), 422)
    results = save_follow_up(state.store(request), case_id, found, current.user)
    return FhirFollowUpOut(
        added=[r.stored for r in results if r.stored is not None],
        skipped=[
            SkippedOut(event=r.found.event, source=r.found.source, reason=r.reason)
            for r in results
            if r.stored is None
        ],
        not_used=found.not_used,
    )
