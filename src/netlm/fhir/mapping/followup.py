"""FHIR R4 Bundle -> follow-up events (netlm.store.followup), for what the chart records after
(or before) the board: a death, a progression, the treatments given with their dates.

The case import (`bundle_to_case`) reads the chart as it stood on the assessment date; this
reads what happened, dated. It maps only what a standard code says, and lists the rest:

- Patient.deceasedDateTime -> death (deceasedBoolean without a date is listed, not guessed);
- mCODE CancerDiseaseStatus (LOINC 97509-4) "condition worsened" (SNOMED 271299001) ->
  progression, its criteria from the evidence type (laboratory -> biochemical; symptoms or
  examination -> clinical; words "RECIST" or "Choi" in the method or note -> those) and
  otherwise `other` (imaging alone does not say which criteria were applied);
- MedicationStatement, MedicationRequest, MedicationAdministration and Procedure -> treatment,
  recognised exactly as the case import recognises prior therapies (same codes, same refusal of
  plans and not-taken statuses); the cycles of one drug given as MedicationAdministrations make
  one course (first to last cycle), and the drugs of a regimen (captem, platinum-etoposide)
  started the same day make one treatment. A resource without a start date is listed.

Events dated after `on` are left out (the store refuses future dates anyway).
"""

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry
from netlm.fhir.mapping.bundle import is_patient, select_patient, validated_entries
from netlm.fhir.mapping.elements import codes, first_date, instant, observation_date, words
from netlm.fhir.mapping.medications import map_medication
from netlm.fhir.mapping.procedures import map_procedure
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.knowledge.walk import thresholds
from netlm.model.codes import OptionCode
from netlm.store.errors import ValidationFailed
from netlm.store.followup import FollowUpEvent, FollowUpIn, FollowUpKind, ProgressionCriteria
from netlm.store.identity import UserInfo

if TYPE_CHECKING:
    from netlm.store.repository import Store

# mCODE CancerDiseaseStatus evidence type (STU2+, SNOMED CT,
# https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-cancer-disease-status-evidence-type.html)
EVIDENCE_EXT = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status-evidence-type"
)
EVIDENCE_CRITERIA = {
    "386344002": ProgressionCriteria.BIOCHEMICAL,  # laboratory data interpretation
    "711015009": ProgressionCriteria.CLINICAL,  # assessment of symptom control
    "5880005": ProgressionCriteria.CLINICAL,  # physical examination
}
CATEGORY_CRITERIA = {
    "laboratory": ProgressionCriteria.BIOCHEMICAL,
    "exam": ProgressionCriteria.CLINICAL,
}
WORSENED = "271299001"
TREATMENT_TYPES = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")
_STARTS = ("effectivePeriod.start", "effectiveDateTime", "performedPeriod.start",
           "performedDateTime", "authoredOn")  # fmt: skip
_ENDS = ("effectivePeriod.end", "performedPeriod.end")


@dataclass(frozen=True)
class Found:
    """An event read from the chart and the resource(s) it came from."""

    event: FollowUpIn
    source: str


@dataclass
class FollowUpImport:
    events: list[Found] = field(default_factory=list)
    not_used: list[str] = field(default_factory=list)  # what was not read, and why


@dataclass(frozen=True)
class _Given:
    option: str
    start: dt.date
    stop: dt.date | None
    source: str
    administered: bool
    member: bool  # a drug of a regimen, not an option alone


def follow_up_from_bundle(
    bundle: Mapping[str, Any],
    *,
    on: dt.date,
    patient_id: str | None = None,
    kb: KnowledgeBase | None = None,
) -> FollowUpImport:
    """The follow-up events one patient's chart records up to `on` (see the module's notes)."""
    entries, invalid = validated_entries(bundle)
    patient = select_patient(entries, patient_id)
    pid = str(patient.data["id"])
    refs = {f"Patient/{pid}", *([patient.full_url] if patient.full_url else [])}
    found = FollowUpImport(not_used=[f"{p}; resource not used" for p in invalid])
    b = Builder(entries, on, thresholds(kb or load_knowledge_base()))
    for entry in entries:
        if entry.full_url:
            b.by_reference[entry.full_url] = entry
        if "id" in entry.data:
            b.by_reference[entry.label] = entry
    _death(patient, on, found)
    given: list[_Given] = []
    for entry in entries:
        subject = str(entry.data.get("subject", {}).get("reference", ""))
        if entry.type == "Patient" or not is_patient(subject, refs, pid):
            continue
        if entry.type == "Observation":
            _progression(entry, on, found)
        elif entry.type in (*TREATMENT_TYPES, "Procedure"):
            given += _treatments(b, entry, on, found)
    found.not_used += [u.reason for u in b.unmapped]
    _courses(given, found)
    found.events.sort(key=lambda f: f.event.date)
    return found


def _death(patient: Entry, on: dt.date, found: FollowUpImport) -> None:
    died = instant(patient.data.get("deceasedDateTime"))
    if died is not None and died.date() <= on:
        event = FollowUpIn(kind=FollowUpKind.DEATH, date=died.date(), note=_from(patient.label))
        found.events.append(Found(event, patient.label))
    elif died is not None:
        found.not_used.append(f"{patient.label}: deceasedDateTime {died.date()} is after {on}")
    elif patient.data.get("deceasedBoolean") is True:
        found.not_used.append(
            f"{patient.label} is recorded as deceased without a date (deceasedBoolean): "
            "enter the death with its date"
        )


def _progression(entry: Entry, on: dt.date, found: FollowUpImport) -> None:
    data = entry.data
    if c.CANCER_DISEASE_STATUS not in codes([data.get("code")], c.LOINC):
        return
    if WORSENED not in codes([data.get("valueCodeableConcept")], c.SNOMED):
        return
    if data.get("status") in ("entered-in-error", "cancelled", "preliminary", "registered"):
        found.not_used.append(f"{entry.label} has status {data.get('status')!r}; not used")
        return
    when = observation_date(data)
    if when is None or when.date() > on:
        shown = "no date" if when is None else f"the date {when.date()}, after {on}"
        found.not_used.append(f"{entry.label} (disease worsened) has {shown}; not used")
        return
    criteria = _criteria(data)
    event = FollowUpIn(kind=FollowUpKind.PROGRESSION, date=when.date(), criteria=criteria,
                       note=_from(entry.label, "cancer disease status: worsened"))  # fmt: skip
    found.events.append(Found(event, entry.label))


def _criteria(data: dict[str, Any]) -> ProgressionCriteria:
    said = " ".join(
        [words(data.get("method")), *(str(n.get("text", "")) for n in data.get("note", []))]
    )
    if re.search(r"\brecist\b", said):
        return ProgressionCriteria.RECIST
    if re.search(r"\bchoi\b", said):
        return ProgressionCriteria.CHOI
    evidence = [
        x.get("valueCodeableConcept")
        for x in data.get("extension", [])
        if x.get("url") == EVIDENCE_EXT
    ]
    for code in codes(evidence, c.SNOMED):
        if code in EVIDENCE_CRITERIA:
            return EVIDENCE_CRITERIA[code]
    categories = [
        str(x.get("code")) for cc in data.get("category", []) for x in cc.get("coding", [])
    ]
    for category in categories:
        if category in CATEGORY_CRITERIA:
            return CATEGORY_CRITERIA[category]
    return ProgressionCriteria.OTHER


def _treatments(b: Builder, entry: Entry, on: dt.date, found: FollowUpImport) -> list[_Given]:
    """The options one resource says were given, read by the case import's own mappers."""
    before = len(b.therapies)
    (map_procedure if entry.type == "Procedure" else map_medication)(b, entry)
    therapies = b.therapies[before:]
    if not therapies:
        return []
    start = first_date(entry.data, *_STARTS)
    if start is None:
        found.not_used.append(f"{entry.label}: no start date; enter the treatment with its date")
        return []
    if start.date() > on:
        found.not_used.append(f"{entry.label}: starts {start.date()}, after {on}; not used")
        return []
    end = first_date(entry.data, *_ENDS)
    stop = None if end is None or end.date() > on else end.date()
    given = []
    for t in therapies:
        option = c.SINGLE_DRUG_OPTIONS.get(t.key, t.key)
        member = option not in get_args(OptionCode)
        given.append(_Given(option, start.date(), stop, entry.label, t.administered, member))
    return given


def _courses(given: list[_Given], found: FollowUpImport) -> None:
    """One treatment per course: administrations of one option from first to last; regimen
    drugs started the same day as their regimen; other statements one by one."""
    administered: dict[str, list[_Given]] = {}
    members: dict[dt.date, list[_Given]] = {}
    for g in given:
        if g.member:
            members.setdefault(g.start, []).append(g)
        elif g.administered:
            administered.setdefault(g.option, []).append(g)
        else:
            _add(found, g.option, g.start, g.stop, [g.source])
    for option, cycles in administered.items():
        last = max(max(g.start, g.stop or g.start) for g in cycles)
        sources = [g.source for g in sorted(cycles, key=lambda g: g.start)]
        _add(found, option, min(g.start for g in cycles), last, sources)
    for start, drugs in members.items():
        keys = {g.option for g in drugs}
        regimen = next((o for o, parts in c.REGIMENS.items() if all(keys & p for p in parts)), None)
        if regimen is None:
            shown = ", ".join(sorted(keys))
            found.not_used.append(f"{shown} started {start}: not a netlm option alone; not used")
            continue
        stops = [g.stop for g in drugs]
        stop = None if None in stops else max(s for s in stops if s is not None)
        _add(found, regimen, start, stop, [g.source for g in drugs])


def _add(
    found: FollowUpImport, option: str, start: dt.date, stop: dt.date | None, sources: list[str]
) -> None:
    shown = ", ".join(sources) if len(sources) <= 2 else f"{sources[0]} and {len(sources) - 1} more"
    event = FollowUpIn(kind=FollowUpKind.TREATMENT, date=start, options=[option], stopped=stop,
                       note=_from(shown))  # fmt: skip
    found.events.append(Found(event, shown))


def _from(source: str, what: str = "") -> str:
    return f"From the chart ({source}{': ' + what if what else ''})"


@dataclass(frozen=True)
class Saved:
    """What became of one event read from the chart: `stored` (the new event), or why not."""

    found: Found
    stored: FollowUpEvent | None
    reason: str = ""


def save_follow_up(
    store: "Store", case_id: str, found: FollowUpImport, user: UserInfo
) -> list[Saved]:
    """Store the chart's events on a case, each on its own, so importing the chart again adds
    only what is new: an event already in force is skipped, a treatment now stopped corrects
    (supersedes) the same treatment recorded while it ran, and an event the store refuses (a
    second death, an event after the death) is reported with the store's reason."""
    results = []
    stored = store.list_follow_up(case_id)  # NotFound for an unknown case, events or not
    for item in found.events:
        current = [e for e in stored if e.superseded_by is None]
        event = item.event
        if any(_same(e, event) for e in current):
            results.append(Saved(item, None, "already recorded"))
            continue
        running = next((e for e in current if _same(e, event, ignore_stop=True)), None)
        if running is not None and running.stopped is None:
            event = event.model_copy(update={"supersedes": running.id})
        try:
            results.append(Saved(item, store.add_follow_up(case_id, event, user)))
        except ValidationFailed as exc:
            results.append(Saved(item, None, f"{exc.field}: {exc.message}"))
            continue
        stored = store.list_follow_up(case_id)
    return results


def _same(stored: FollowUpIn, event: FollowUpIn, ignore_stop: bool = False) -> bool:
    keys = ("kind", "date", "criteria", "options", *(() if ignore_stop else ("stopped",)))
    return all(getattr(stored, k) == getattr(event, k) for k in keys)
