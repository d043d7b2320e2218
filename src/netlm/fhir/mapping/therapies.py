"""Prior therapies: the outcome of a medicine or procedure, and drugs combined into regimens."""

import datetime as dt
import re
from typing import Any, cast, get_args

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry, Therapy
from netlm.fhir.mapping.elements import EPOCH, codes, codings, first_date, has_word, words
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


def _reason_concepts(data: dict[str, Any]) -> list[Any]:
    """Why it stopped: statusReason (a list in Medication*, one concept in Procedure), the
    Procedure outcome, and mCODE's termination-reason extension."""
    concepts: list[Any] = []
    for key in ("statusReason", "outcome"):
        value = data.get(key)
        concepts += value if isinstance(value, list) else [value]
    concepts += [
        ext.get("valueCodeableConcept")
        for ext in data.get("extension", [])
        if ext.get("url") == c.MCODE_TERMINATION_EXT
    ]
    return [concept for concept in concepts if isinstance(concept, dict)]


def _reason_outcome(b: Builder, entry: Entry, what: str) -> TherapyOutcome | None:
    """The outcome a stop reason says: netlm's code, mCODE's SNOMED code, or words alone."""
    concepts = _reason_concepts(entry.data)
    for code in codes(concepts, c.NETLM_OUTCOME):
        if code in c.THERAPY_OUTCOMES:
            return cast(TherapyOutcome, code)
    for code in codes(concepts, c.SNOMED):
        if code in c.TERMINATION_OUTCOMES:
            return c.TERMINATION_OUTCOMES[code]
        if code in c.TERMINATION_NOT_READ:
            b.miss("prior_therapies", f"{what} ({entry.label}) stopped for SNOMED {code}, "
                                      f"{c.TERMINATION_NOT_READ[code]}")  # fmt: skip
    for concept in concepts:
        if not codings(concept):
            text = words(concept)
            found = [
                r for word, r in c.STOP_WORDS if has_word(text, word) and not _denied(text, word)
            ]
            if len(set(found)) == 1:
                return found[0]
    return None


def _denied(text: str, word: str) -> bool:
    """ "no progression", "without toxicity": the word is there, its meaning is not."""
    return re.search(rf"\b(?:no|without|not)\s+(?:\w+\s+)?{re.escape(word)}", text) is not None


def outcome(b: Builder, entry: Entry, what: str) -> TherapyOutcome | None:
    """progression/intolerance from a documented reason, else ongoing/completed by status.

    Anything else (stopped without a reason, not taken, planned) cannot be told: not recorded.
    A therapy still running on the assessment date (its period ends later) was ongoing then.
    """
    status = entry.data.get("status")
    if status in _NOT_HAD:
        b.miss(
            "prior_therapies",
            f"{what} ({entry.label}) has status {status!r}: not a therapy the patient had",
        )
        return None
    if entry.data.get("intent") in c.NOT_THERAPY_INTENTS or entry.data.get("doNotPerform"):
        why = (
            "doNotPerform" if entry.data.get("doNotPerform") else f"intent {entry.data['intent']!r}"
        )
        b.miss("prior_therapies", f"{what} ({entry.label}) has {why}: a plan or proposal, not "
                                  "a therapy the patient had")  # fmt: skip
        return None
    end = first_date(entry.data, "effectivePeriod.end", "performedPeriod.end")
    if end is not None and end.date() > b.on:
        return "ongoing"
    reason = _reason_outcome(b, entry, what)
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


def _courses(therapies: list[Therapy]) -> list[Therapy]:
    """Administrations of one drug (each PRRT cycle, each infusion) become one course: its start
    is the first, its outcome the worst stated; stated or not, every cycle given was completed."""
    single = [t for t in therapies if not t.administered]
    by_drug: dict[str, list[Therapy]] = {}
    for t in therapies:
        if t.administered:
            by_drug.setdefault(t.key, []).append(t)
    for key, given in by_drug.items():
        worst = min((t.outcome for t in given), key=_OUTCOME_ORDER.__getitem__)
        labels = [t.source for t in sorted(given, key=lambda t: t.start)]
        source = f"{labels[0]} and {len(labels) - 1} more" if len(labels) > 2 else ", ".join(labels)
        single.append(
            Therapy(key, worst, min(t.start for t in given), f"{source} ({len(given)} given)")
        )
    return single


def prior_therapies(b: Builder) -> list[tuple[OptionCode, TherapyOutcome, str]]:
    """Single drugs become their option; regimen members are combined; the rest is unmapped."""
    done: list[tuple[tuple[dt.datetime, int], OptionCode, TherapyOutcome, str]] = []
    members = []
    for t in _courses(b.therapies):
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
