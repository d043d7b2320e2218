"""The outcome columns of a registry row from a case's follow-up events (netlm.store.followup).

Time is counted from an *origin*: the day the treatment decided by the board's latest decision
started, that is, the first treatment event starting on or after the decision date; without
one, the decision date itself. Starting the clock when treatment starts measures the treatment's
effect; falling back to the decision keeps patients whose treatment start was not recorded (and
those the board chose to watch) instead of dropping them, at the cost of counting the wait for
treatment. Months are days / (365.25 / 12).

Only events still in force count (a superseded event is replaced by its correction). Death ends
follow-up; otherwise it ends at the latest event on record, since any event (a last contact, a
progression, a treatment's start or stop) shows the patient alive that day. Progression is the
first one on or after the origin (an earlier one is what brought the patient to the board); a
patient without one is censored at the end of follow-up. A case with no event on or after the
origin has no follow-up: its columns stay empty (None), never 0, so that "not recorded" cannot
be read as "died at once".
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from netlm.store.followup import FollowUpEvent, FollowUpKind

DAYS_PER_MONTH = 365.25 / 12


def in_force(events: Sequence[FollowUpEvent]) -> list[FollowUpEvent]:
    """The events not superseded by a correction."""
    return [e for e in events if e.superseded_by is None]


def treatments_started(events: Sequence[FollowUpEvent], decided_on: dt.date) -> list[str]:
    """The options of the first treatment started on or after the decision (every treatment
    event starting that day), or none."""
    treatments = [
        e for e in in_force(events) if e.kind == FollowUpKind.TREATMENT and e.date >= decided_on
    ]
    if not treatments:
        return []
    first = min(e.date for e in treatments)
    options: list[str] = []
    for event in treatments:
        if event.date == first:
            options.extend(o for o in event.options if o not in options)
    return options


def origin(events: Sequence[FollowUpEvent], decided_on: dt.date) -> dt.date:
    """Where follow-up starts: the first treatment started on or after the decision, else the
    decision date."""
    starts = [
        e.date
        for e in in_force(events)
        if e.kind == FollowUpKind.TREATMENT and e.date >= decided_on
    ]
    return min(starts, default=decided_on)


def _months(start: dt.date, end: dt.date) -> float:
    return (end - start).days / DAYS_PER_MONTH


def outcome_columns(events: Sequence[FollowUpEvent], origin: dt.date) -> dict[str, Any]:
    """`followup_months`, `death`, `progression_months` and `progressed` from `origin`; all
    None when nothing is on record from the origin on."""
    current = in_force(events)
    empty: dict[str, Any] = dict.fromkeys(
        ("followup_months", "death", "progression_months", "progressed")
    )
    death = next((e for e in current if e.kind == FollowUpKind.DEATH), None)
    if death is not None:
        end = death.date
    else:
        seen = [max(e.date, e.stopped or e.date) for e in current]
        end = max(seen, default=origin - dt.timedelta(days=1))
    if end < origin:
        return empty
    progressions = sorted(
        e.date for e in current if e.kind == FollowUpKind.PROGRESSION and origin <= e.date <= end
    )
    progressed = progressions[0] if progressions else None
    return {
        "followup_months": _months(origin, end),
        "death": 0 if death is None else 1,
        "progression_months": _months(origin, progressed or end),
        "progressed": 0 if progressed is None else 1,
    }
