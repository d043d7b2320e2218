"""What the tumour board decided for a case: the third public record beside case and assessment."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from netlm.model.codes import OptionCode

Participant = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class DecisionIn(BaseModel):
    """An MDT decision as entered; `override_reason` is required when it chooses an option
    outside netlm's first tier."""

    model_config = ConfigDict(extra="forbid")

    decided_on: dt.date
    chosen_options: list[OptionCode] = Field(min_length=1)
    participants: list[Participant] = Field(min_length=1)
    notes: Annotated[str, StringConstraints(max_length=10_000)] = ""
    override_reason: Annotated[str, StringConstraints(max_length=5_000)] | None = None


class Decision(DecisionIn):
    """A stored decision, with whether it agrees with the assessment it was made against."""

    id: int
    case_id: str
    case_version: int
    assessment_id: int | None
    concordant: bool
    created_at: dt.datetime
    created_by: str
