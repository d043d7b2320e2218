"""`/api/v1/cases/{case_id}/follow-up`: what happened after the board (progression, death, last
contact, treatment given), recorded per case so the registry export and the survival analysis
can relate outcomes to concordance with netlm. Events are append-only: a correction is a new
event whose `supersedes` names the one it corrects."""

from fastapi import APIRouter, Request

from netlm.store.followup import FollowUpEvent, FollowUpIn
from netlm.web import state
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
