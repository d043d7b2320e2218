"""Follow-up, the `Store`'s record of what happened after the board: dated events per case
(progression with the criteria that called it, death, last contact, treatment given with its
start and stop), so that a hospital can ask how its patients did when the board followed netlm's
recommendation and when it did not (netlm.registry.outcomes turns them into registry columns).

Events are append-only, like the audit trail: a wrong entry is corrected by a new event that
`supersedes` it; the earlier one stays stored and is listed with `superseded_by`. Each event is
checked against the others still in force (one death, nothing after it), so the record a survival
analysis reads is consistent.
"""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from netlm.knowledge.load import load_knowledge_base
from netlm.model.text import FreeText, SingleLine
from netlm.store.errors import Conflict, ValidationFailed
from netlm.store.identity import MAX_ID, StoreBase, UserInfo, live_case
from netlm.store.models import FollowUpRow, UserRow

# No tumour board sat before this (as for decisions); a later date than tomorrow (clock skew
# between the clinic's computer and the server) is a typing error.
EARLIEST = dt.date(1900, 1, 1)
MAX_OPTIONS = 10

Note = Annotated[str, StringConstraints(max_length=5_000), FreeText]
OptionText = Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]


class FollowUpKind(StrEnum):
    PROGRESSION = "progression"
    DEATH = "death"
    LAST_CONTACT = "last_contact"
    TREATMENT = "treatment"


class ProgressionCriteria(StrEnum):
    """How the progression was called: imaging by RECIST 1.1 or Choi, clinical, or a marker."""

    RECIST = "recist_1_1"
    CHOI = "choi"
    CLINICAL = "clinical"
    BIOCHEMICAL = "biochemical"
    OTHER = "other"


def _problem(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class FollowUpIn(BaseModel):
    """One follow-up event as entered. Which fields go with which kind is checked here (the
    error names the field); dates against today, option codes against the knowledge base and
    the event against the case's other events are checked by `Store.add_follow_up`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "progression", "date": "2025-09-12", "criteria": "recist_1_1",
                 "note": "new liver lesions in segment 7"},
                {"kind": "treatment", "date": "2025-04-01", "options": ["ssa"],
                 "stopped": "2025-09-30"},
                {"kind": "last_contact", "date": "2026-01-15"},
                {"kind": "death", "date": "2026-03-02", "supersedes": 7,
                 "note": "date corrected from the death certificate"},
            ]
        },
    )  # fmt: skip

    kind: FollowUpKind
    date: dt.date = Field(description="When it happened; for a treatment, the day it started.")
    criteria: ProgressionCriteria | None = Field(
        None, validate_default=True, description="How a progression was called (progression only)."
    )
    options: list[OptionText] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        validate_default=True,
        description="Option codes of the treatment given (treatment only), e.g. ['ssa'].",
    )
    stopped: dt.date | None = Field(
        None, validate_default=True, description="When a treatment stopped (treatment only)."
    )
    note: Note = ""
    supersedes: int | None = Field(
        None, ge=1, le=MAX_ID, description="Id of an earlier event of this case it corrects."
    )

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: ProgressionCriteria | None, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        if kind == FollowUpKind.PROGRESSION and value is None:
            raise _problem("criteria_required", "required for a progression")
        if kind is not None and kind != FollowUpKind.PROGRESSION and value is not None:
            raise _problem("criteria_refused", "only a progression has criteria")
        return value

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("kind")
        if kind == FollowUpKind.TREATMENT and not value:
            raise _problem("options_required", "a treatment names at least one option code")
        if kind is not None and kind != FollowUpKind.TREATMENT and value:
            raise _problem("options_refused", "only a treatment has option codes")
        if len(set(value)) != len(value):
            raise _problem("options_repeated", "names an option twice")
        return value

    @field_validator("stopped")
    @classmethod
    def _stopped(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        if value is None:
            return value
        kind, start = info.data.get("kind"), info.data.get("date")
        if kind is not None and kind != FollowUpKind.TREATMENT:
            raise _problem("stopped_refused", "only a treatment has a stop date")
        if start is not None and value < start:
            raise _problem("stopped_before_start", f"is before the start date {start}")
        return value


class FollowUpEvent(FollowUpIn):
    """A stored event; `superseded_by` names the event that corrected it, if any."""

    id: int
    case_id: str
    recorded_at: dt.datetime
    recorded_by: str
    recorded_by_name: str | None = None  # the display name, when the account is on record
    superseded_by: int | None = None


class FollowUps(StoreBase):
    """Adding and listing the follow-up events of a case."""

    def add_follow_up(self, case_id: str, event: FollowUpIn, user: UserInfo) -> FollowUpEvent:
        """Store one event (audited as `follow_up`). NotFound for an unknown or deleted case;
        ValidationFailed, naming the field, for a date before 1900 or after tomorrow, an unknown
        option code, a correction of an event that is not this case's or already corrected, a
        second death, or an event dated after the death (and a death before events already
        recorded), all among the events still in force."""
        now = self._clock()
        self._check_dates(event, now.date())
        unknown = [code for code in event.options if code not in load_knowledge_base().options]
        if unknown:
            raise ValidationFailed("options", f"unknown option code {unknown[0]!r}")
        try:
            with self._sessions.begin() as s:
                live_case(s, case_id, lock=True)  # one writer per case: no two deaths
                _check_against_record(s, case_id, event)
                row = FollowUpRow(
                    case_id=case_id, kind=event.kind.value, event_date=event.date,
                    criteria=None if event.criteria is None else event.criteria.value,
                    options=list(event.options), stopped=event.stopped, note=event.note,
                    supersedes=event.supersedes, recorded_at=now, recorded_by=user.username,
                )  # fmt: skip
                s.add(row)
                s.flush()
                detail = {
                    "follow_up_id": row.id,
                    "kind": row.kind,
                    "date": row.event_date.isoformat(),
                    "supersedes": row.supersedes,
                }
                self._audit(s, user, "follow_up", "case", case_id, detail)
                return _event(row, user.display_name, None)
        except IntegrityError:  # a concurrent correction of the same event
            raise Conflict(f"event {event.supersedes} was corrected meanwhile") from None

    def list_follow_up(self, case_id: str) -> list[FollowUpEvent]:
        """Every event of the case, superseded ones included, oldest first (by event date, then
        as recorded)."""
        later = aliased(FollowUpRow)
        with self._reads.begin() as s:
            live_case(s, case_id)
            rows = s.execute(
                select(FollowUpRow, UserRow.display_name, later.id)
                .outerjoin(UserRow, UserRow.username == FollowUpRow.recorded_by)
                .outerjoin(later, later.supersedes == FollowUpRow.id)
                .where(FollowUpRow.case_id == case_id)
                .order_by(FollowUpRow.event_date, FollowUpRow.id)
            )
            return [_event(row, name, superseded_by) for row, name, superseded_by in rows]

    @staticmethod
    def _check_dates(event: FollowUpIn, today: dt.date) -> None:
        latest = today + dt.timedelta(days=1)
        for field, day in (("date", event.date), ("stopped", event.stopped)):
            if day is not None and day < EARLIEST:
                raise ValidationFailed(field, f"must not be before {EARLIEST}, got {day}")
            if day is not None and day > latest:
                raise ValidationFailed(field, f"must not be in the future, got {day}")


def _check_against_record(s: Session, case_id: str, event: FollowUpIn) -> None:
    """Refuse what contradicts the case's events still in force (the corrected one left out)."""
    stored = list(s.scalars(select(FollowUpRow).where(FollowUpRow.case_id == case_id)))
    corrected = {r.supersedes: r.id for r in stored if r.supersedes is not None}
    if event.supersedes is not None:
        if event.supersedes not in {r.id for r in stored}:
            raise ValidationFailed(
                "supersedes", f"case {case_id!r} has no follow-up event {event.supersedes}"
            )
        if event.supersedes in corrected:
            raise ValidationFailed(
                "supersedes",
                f"event {event.supersedes} is already corrected by event "
                f"{corrected[event.supersedes]}: correct that one",
            )
    in_force = [r for r in stored if r.id not in corrected and r.id != event.supersedes]
    death = next((r for r in in_force if r.kind == FollowUpKind.DEATH), None)
    if event.kind == FollowUpKind.DEATH:
        if death is not None:
            raise ValidationFailed(
                "kind",
                f"a death is already recorded (event {death.id}, {death.event_date}); "
                "to change it, supersede that event",
            )
        after = [r for r in in_force if max(r.event_date, r.stopped or r.event_date) > event.date]
        if after:
            first = after[0]
            raise ValidationFailed(
                "date",
                f"is before the {first.kind.replace('_', ' ')} of {first.event_date} "
                f"(event {first.id}): a death ends follow-up",
            )
    elif death is not None:
        for field, day in (("date", event.date), ("stopped", event.stopped)):
            if day is not None and day > death.event_date:
                raise ValidationFailed(
                    field, f"is after the death recorded on {death.event_date} (event {death.id})"
                )


def _event(row: FollowUpRow, name: str | None, superseded_by: int | None) -> FollowUpEvent:
    return FollowUpEvent.model_validate(
        {
            "id": row.id,
            "case_id": row.case_id,
            "kind": row.kind,
            "date": row.event_date,
            "criteria": row.criteria,
            "options": row.options,
            "stopped": row.stopped,
            "note": row.note,
            "supersedes": row.supersedes,
            "recorded_at": row.recorded_at,
            "recorded_by": row.recorded_by,
            "recorded_by_name": name,
            "superseded_by": superseded_by,
        }
    )
