"""What the tumour board decided for a case: the third public record beside case and assessment."""

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from netlm.model.codes import OptionCode
from netlm.model.text import FreeText, SingleLine

Participant = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(max_length=5_000)]
# No tumour board sat before this; a later date than tomorrow (clock skew between the board's
# computer and the server) is a typing error.
EARLIEST_DECISION = dt.date(1900, 1, 1)


def _plausible_day(day: dt.date) -> dt.date:
    latest = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date()
    if day < EARLIEST_DECISION:
        raise PydanticCustomError(
            "date_too_early", "must not be before {earliest}, got {day}",
            {"earliest": EARLIEST_DECISION.isoformat(), "day": day.isoformat()},
        )  # fmt: skip
    if day > latest:
        raise PydanticCustomError(
            "date_in_future", "must not be in the future, got {day}", {"day": day.isoformat()}
        )
    return day


class _DecisionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decided_on: dt.date
    chosen_options: list[OptionCode] = Field(min_length=1)
    participants: list[Participant] = Field(min_length=1)
    notes: Notes = ""
    override_reason: Reason | None = None
    # A board member's disagreement, kept apart from the notes so it is never lost among them.
    dissent: Reason | None = None


class DecisionIn(_DecisionFields):
    """An MDT decision as entered; `override_reason` is required when it chooses an option
    outside netlm's first tier. Its text is checked as entered (`netlm.model.text`: no control,
    bidirectional or zero-width characters; line breaks in notes, reason and dissent) and its
    date must be plausible; stored decisions are read back as they were written."""

    decided_on: Annotated[dt.date, AfterValidator(_plausible_day)]
    participants: list[Annotated[Participant, SingleLine]] = Field(min_length=1)
    notes: Annotated[Notes, FreeText] = ""
    override_reason: Annotated[Reason, FreeText] | None = None
    dissent: Annotated[Reason, FreeText] | None = None


class Decision(_DecisionFields):
    """A stored decision, with whether it agrees with the assessment it was made against."""

    id: int
    case_id: str
    case_version: int
    assessment_id: int | None
    concordant: bool
    created_at: dt.datetime
    created_by: str
    # The recorder's display name ("Dr Li"), or None for an account no longer on record.
    created_by_name: str | None = None
