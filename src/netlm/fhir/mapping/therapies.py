"""Prior therapies: the outcome of a medicine or procedure, and drugs combined into regimens."""

import datetime as dt
from typing import Any, cast, get_args

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry
from netlm.fhir.mapping.elements import EPOCH, codes, first_date
from netlm.model.codes import OptionCode, TherapyOutcome

_OUTCOME_ORDER: dict[TherapyOutcome, int] = {
    "progression": 0,
    "intolerance": 1,
    "ongoing": 2,
    "completed": 3,
}
_NOT_HAD = (
    "entered-in-error",
    "not-taken",
    "not-done",
    "intended",
    "draft",
    "cancelled",
    "revoked",
    "preparation",
    "unknown",
)


def _reason_outcome(data: dict[str, Any]) -> TherapyOutcome | None:
    concepts: list[Any] = []
    for key in ("statusReason", "outcome"):  # a list in Medication*, a single concept in Procedure
        value = data.get(key)
        concepts += value if isinstance(value, list) else [value]
    for code in codes(concepts, c.NETLM_OUTCOME):
        if code in c.THERAPY_OUTCOMES:
            return cast(TherapyOutcome, code)
    return None


def outcome(b: Builder, entry: Entry, what: str) -> TherapyOutcome | None:
    """progression/intolerance from a documented reason code, else ongoing/completed by status.

    Anything else (stopped without a reason, not taken, planned) cannot be told: not recorded.
    """
    reason = _reason_outcome(entry.data)
    status = entry.data.get("status")
    if status in _NOT_HAD:
        b.miss(
            "prior_therapies",
            f"{what} ({entry.label}) has status {status!r}: not a therapy the patient had",
        )
        return None
    if reason is not None:
        return reason
    if status in ("active", "in-progress"):
        return "ongoing"
    if status == "completed":
        return "completed"
    b.miss(
        "prior_therapies",
        f"{what} ({entry.label}) has status {status!r} and no "
        "progression/intolerance reason code: its outcome cannot be told",
    )
    return None


def start(entry: Entry) -> tuple[dt.datetime, int]:
    when = first_date(
        entry.data,
        "effectivePeriod.start",
        "effectiveDateTime",
        "performedPeriod.start",
        "performedDateTime",
        "authoredOn",
        "dateAsserted",
        "effectivePeriod.end",
        "performedPeriod.end",
    )
    return when or EPOCH, entry.order


def prior_therapies(b: Builder) -> list[tuple[OptionCode, TherapyOutcome, str]]:
    """Single drugs become their option; regimen members are combined; the rest is unmapped."""
    done: list[tuple[tuple[dt.datetime, int], OptionCode, TherapyOutcome, str]] = []
    members = []
    for t in b.therapies:
        if t.key in get_args(OptionCode):
            done.append((t.start, cast(OptionCode, t.key), t.outcome, t.source))
        elif t.key in c.SINGLE_DRUG_OPTIONS:
            done.append((t.start, c.SINGLE_DRUG_OPTIONS[t.key], t.outcome, t.source))
        else:
            members.append(t)
    used: set[int] = set()
    for option, groups in c.REGIMENS.items():
        parts = [[i for i, t in enumerate(members) if t.key in g] for g in groups]
        if all(parts):
            chosen = sorted({i for part in parts for i in part})
            used.update(chosen)
            worst = min((members[i].outcome for i in chosen), key=_OUTCOME_ORDER.__getitem__)
            first = min(members[i].start for i in chosen)
            source = ", ".join(dict.fromkeys(members[i].source for i in chosen))
            done.append((first, option, worst, source))
    for i, t in enumerate(members):
        if i not in used:
            b.miss(
                "prior_therapies",
                f"{t.key} ({t.source}) alone is not a netlm option; it "
                "counts only as part of its regimen (captem, platinum-etoposide)",
            )
    done.sort(key=lambda d: d[0])
    return [(option, result, source) for _, option, result, source in done]
