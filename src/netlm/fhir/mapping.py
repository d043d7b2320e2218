"""FHIR R4 Bundle -> netlm.case/1, reporting everything it could not map instead of guessing.

The Bundle and each resource are first validated with the fhir.resources R4B models, so invalid
FHIR is refused with the resource and element at fault. The mapping then reads the (now known
valid) JSON. When several resources fill the same field, the most recent one (effective, issued
or recorded date) wins; ties go to the later entry in the Bundle. docs/fhir-mapping.md has the
whole table.
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from netlm.fhir import codes as c
from netlm.fhir.units import UnitError, convert
from netlm.model.case import Case
from netlm.model.codes import ExtrahepaticSite, OptionCode, PrimarySite, TherapyOutcome
from netlm.model.parse import CaseInputError, Problem, parse_case
from netlm.model.schema_paths import allowed_values, node_at

_USED_TYPES = {"Condition", "Observation", "Procedure", "MedicationStatement", "MedicationRequest"}
_OBSERVATION_OK = {"final", "amended", "corrected", "preliminary"}
_IGNORED_VERIFICATION = {"refuted", "entered-in-error"}
_NOT_CURRENT = {"inactive", "remission", "resolved"}
_OUTCOME_ORDER: dict[TherapyOutcome, int] = {
    "progression": 0,
    "intolerance": 1,
    "ongoing": 2,
    "completed": 3,
}
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Unmapped:
    field: str  # the netlm.case/1 JSON path it would have filled, or "(resource)"
    reason: str  # plain words: what was found and why it was not used


@dataclass(frozen=True)
class FhirImport:
    case: Case  # validated netlm.case/1
    unmapped: list[Unmapped]  # what could not be mapped; never guessed
    sources: dict[str, str]  # case JSON path -> "ResourceType/id" it came from


class FhirMappingError(ValueError):
    """The Bundle cannot become a case at all; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class _Entry:
    order: int
    full_url: str | None
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data["resourceType"])

    @property
    def label(self) -> str:
        if "id" in self.data:
            return f"{self.type}/{self.data['id']}"
        return f"{self.type} at entry[{self.order}]"


@dataclass(frozen=True)
class _Value:
    value: Any
    rank: tuple[int, dt.datetime, int]  # (tier, date, bundle order): the highest wins
    source: str


@dataclass(frozen=True)
class _Therapy:
    key: str  # an option code, or a drug name waiting to be combined into a regimen
    outcome: TherapyOutcome
    start: tuple[dt.datetime, int]
    source: str


@dataclass
class _Builder:
    entries: list[_Entry]
    on: dt.date
    values: dict[str, _Value] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)
    sites: dict[ExtrahepaticSite, _Value] = field(default_factory=dict)
    primaries: list[tuple[PrimarySite, _Entry]] = field(default_factory=list)
    therapies: list[_Therapy] = field(default_factory=list)
    by_reference: dict[str, _Entry] = field(default_factory=dict)

    def offer(
        self,
        path: str,
        value: Any,
        entry: _Entry,
        when: dt.datetime | None,
        *,
        tier: int = 1,
        note: str = "",
    ) -> None:
        """Keep `value` for `path` if it is more recent than what is there."""
        rank = (tier, when or _EPOCH, entry.order)
        current = self.values.get(path)
        if current is None or rank > current.rank:
            self.values[path] = _Value(value, rank, entry.label + note)

    def miss(self, path: str, reason: str) -> None:
        self.unmapped.append(Unmapped(path, reason))


def bundle_to_case(
    bundle: Mapping[str, Any],
    *,
    patient_id: str | None = None,
    on: dt.date,
    case_id: str | None = None,
) -> FhirImport:
    """Map one patient's resources in a FHIR R4 Bundle to a validated netlm.case/1.

    `on` is the date ages are computed at (the assessment date, never the wall clock).
    """
    entries, invalid = _validated_entries(bundle)
    patient = _select_patient(entries, patient_id)
    pid = str(patient.data["id"])
    b = _Builder(entries, on)
    for problem in invalid:  # one broken resource must not silence the rest of the chart
        b.miss("(resource)", f"{problem}; resource not used")
    for entry in entries:
        if entry.full_url:
            b.by_reference[entry.full_url] = entry
        if "id" in entry.data:
            b.by_reference[entry.label] = entry
    _map_patient(b, patient)
    refs = {f"Patient/{pid}", *([patient.full_url] if patient.full_url else [])}
    for entry in entries:
        if entry.type not in _USED_TYPES:
            continue
        subject = entry.data.get("subject", {}).get("reference")
        if subject is None:
            b.miss("(resource)", f"{entry.label} names no subject patient; not used")
            continue
        if not _is_patient(subject, refs, pid):
            continue  # another patient's resource
        if entry.type == "Condition":
            _map_condition(b, entry)
        elif entry.type == "Observation":
            _map_observation(b, entry)
        elif entry.type == "Procedure":
            _map_procedure(b, entry)
        else:
            _map_medication(b, entry)
    return _assemble(b, case_id or f"fhir-{pid}")


# --- Validation and selection ------------------------------------------------------------------


def _validation_problems(label: str, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(Problem(f"{label}.{loc}" if loc else label, message))
    return out


def _validated_entries(bundle: Mapping[str, Any]) -> tuple[list[_Entry], list[Problem]]:
    """The valid entries, and the problems of the clinical resources left out.

    A malformed Bundle or Patient refuses the whole import; an invalid Condition, Observation or
    other resource is left out and reported, so that the rest of the chart is still used.
    """
    if not isinstance(bundle, Mapping):
        raise FhirMappingError([Problem("(bundle)", "must be a JSON object (a FHIR Bundle)")])
    if bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType")
        raise FhirMappingError([Problem("(bundle)", f"resourceType must be Bundle, got {got!r}")])
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise FhirMappingError([Problem("Bundle.entry", "must be a list")])
    problems: list[Problem] = []
    skipped: list[Problem] = []
    shell = {**bundle, "entry": [_without_resource(e) for e in raw_entries]}
    try:
        Bundle.model_validate(shell)
    except ValidationError as exc:
        problems += _validation_problems("Bundle", exc)
    entries: list[_Entry] = []
    for i, raw in enumerate(raw_entries):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        if resource is None:
            continue
        entry = _Entry(i, raw.get("fullUrl"), resource if isinstance(resource, dict) else {})
        kind = entry.data.get("resourceType")
        found = problems if kind == "Patient" else skipped
        if not isinstance(kind, str):
            skipped.append(Problem(f"Bundle.entry[{i}].resource", "has no resourceType"))
            continue
        try:
            get_fhir_model_class(kind).model_validate(entry.data)
        except ValueError as exc:  # ValidationError is a ValueError; so is an unknown type
            if isinstance(exc, ValidationError):
                found += _validation_problems(entry.label, exc)
            else:
                found.append(Problem(entry.label, f"{kind!r} is not an R4 resource type"))
            continue
        entries.append(entry)
    if problems:
        raise FhirMappingError(problems)
    return entries, skipped


def _without_resource(raw: Any) -> Any:
    return {k: v for k, v in raw.items() if k != "resource"} if isinstance(raw, dict) else raw


def _select_patient(entries: list[_Entry], patient_id: str | None) -> _Entry:
    patients = [e for e in entries if e.type == "Patient" and "id" in e.data]
    ids = ", ".join(str(p.data["id"]) for p in patients) or "none"
    if patient_id is not None:
        for p in patients:
            if p.data["id"] == patient_id:
                return p
        raise FhirMappingError(
            [Problem("(patient)", f"no Patient with id {patient_id!r} (Patients: {ids})")]
        )
    if len(patients) == 1:
        return patients[0]
    if not patients:
        raise FhirMappingError([Problem("(patient)", "the Bundle holds no Patient with an id")])
    raise FhirMappingError(
        [Problem("(patient)", f"{len(patients)} Patients ({ids}); choose one with patient_id")]
    )


def _is_patient(reference: str, refs: set[str], pid: str) -> bool:
    if reference in refs:
        return True
    tail = reference.split("/_history/")[0]
    return tail.endswith(f"/Patient/{pid}")


# --- Dates -------------------------------------------------------------------------------------

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def _instant(value: Any) -> dt.datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates: their first day)."""
    if not isinstance(value, str):
        return None
    partial = _PARTIAL.match(value)
    if partial:
        return dt.datetime(int(partial[1]), int(partial[2] or 1), 1, tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _first_date(data: dict[str, Any], *paths: str) -> dt.datetime | None:
    for path in paths:
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        when = _instant(node)
        if when is not None:
            return when
    return None


def _observation_date(data: dict[str, Any]) -> dt.datetime | None:
    return _first_date(
        data,
        "effectiveDateTime",
        "effectiveInstant",
        "effectivePeriod.end",
        "effectivePeriod.start",
        "issued",
    )


# --- Codings -----------------------------------------------------------------------------------


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [x for x in concept.get("coding", []) if isinstance(x, dict)]


def _codes(concepts: Iterable[Any], system: str) -> list[str]:
    return [
        str(x["code"])
        for cc in concepts
        for x in _codings(cc)
        if x.get("system") == system and "code" in x
    ]


def _words(concept: Any) -> str:
    """The human text of a concept (text and displays), lower case, for text matching."""
    if not isinstance(concept, dict):
        return ""
    parts = [str(concept.get("text", ""))] + [str(x.get("display", "")) for x in _codings(concept)]
    return " ".join(parts).lower()


def _describe(concept: Any) -> str:
    shown = [f"{x.get('system', '?')}|{x.get('code', '?')}" for x in _codings(concept)]
    text = concept.get("text") if isinstance(concept, dict) else None
    return ", ".join(shown) + (f" ({text!r})" if text else "") if shown else repr(text)


def _has_word(text: str, word: str) -> bool:
    """`word` starts a word of `text`; abbreviations (up to 4 letters) must be the whole word,
    so "tae" does not match "taenia" while "chemoemboli" matches "chemoembolization"."""
    end = r"(?![a-z0-9])" if len(word) <= 4 else ""
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}{end}", text) is not None


def _allowed(path: str, value: Any) -> bool:
    return value in allowed_values(node_at(tuple(path.split("."))))


# --- Patient -----------------------------------------------------------------------------------


def _map_patient(b: _Builder, patient: _Entry) -> None:
    gender = patient.data.get("gender")
    if gender in ("male", "female", "other", "unknown"):
        b.offer("patient.sex", gender, patient, None)
    birth = patient.data.get("birthDate")
    if not isinstance(birth, str):
        b.miss("patient.age_years", f"{patient.label} has no birthDate")
        return
    parts = [int(p) for p in birth.split("-")]
    first = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    if len(parts) == 3:
        last = first
    elif len(parts) == 2:
        following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = following - dt.timedelta(days=1)
    else:
        last = dt.date(first.year, 12, 31)
    if last > b.on:
        b.miss("patient.age_years", f"birthDate {birth} is after {b.on.isoformat()}")
        return
    oldest, youngest = _years(first, b.on), _years(last, b.on)
    if oldest != youngest:
        b.miss(
            "patient.age_years",
            f"birthDate {birth} is partial: age is {youngest} or {oldest} on {b.on.isoformat()}",
        )
        return
    b.offer("patient.age_years", oldest, patient, None)


def _years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- Conditions --------------------------------------------------------------------------------


def _topography_site(code: str) -> PrimarySite | None:
    """ICD-O-3 topography (and the ICD-10 site codes that share it) -> primary site."""
    k = code.upper().replace(".", "")
    if k.startswith("C25"):
        return "pancreas"
    if k.startswith("C16"):
        return "stomach"
    if k == "C170":
        return "duodenum"
    if len(k) == 4 and k.startswith("C17"):
        return "small_intestine"
    if k == "C181":
        return "appendix"
    if len(k) == 4 and k.startswith("C18"):
        return "colon"
    if k.startswith(("C19", "C20")):
        return "rectum"
    if k == "C809":
        return "unknown"
    return None


def _condition_codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(x.get("system")), str(x.get("code"))) for x in _codings(data.get("code"))]


def _is_liver_metastasis(codes: list[tuple[str, str]]) -> bool:
    return any(
        (s == c.SNOMED and k == c.LIVER_METASTASIS_SNOMED)
        or (s in (c.ICD10, c.ICD10CM) and k.upper() in c.LIVER_METASTASIS_ICD)
        for s, k in codes
    )


def _is_secondary(data: dict[str, Any], codes: list[tuple[str, str]]) -> bool:
    profiles = data.get("meta", {}).get("profile", [])
    if c.MCODE_SECONDARY in profiles:
        return True
    for system, code in codes:
        if system == c.SNOMED and code in c.SECONDARY_SNOMED:
            return True
        if system in (c.ICD10, c.ICD10CM) and code.upper().startswith(("C77", "C78", "C79", "C7B")):
            return True
        if system == c.NETLM_VALUE and code in get_args(ExtrahepaticSite):
            return True
    return False


def _histology(data: dict[str, Any]) -> list[str]:
    return [
        code
        for ext in data.get("extension", [])
        if ext.get("url") == c.MCODE_HISTOLOGY_EXT
        for code in _codes([ext.get("valueCodeableConcept")], c.ICDO3)
    ]


def _map_condition(b: _Builder, entry: _Entry) -> None:
    data = entry.data
    verification = {str(x.get("code")) for x in _codings(data.get("verificationStatus"))}
    if verification & _IGNORED_VERIFICATION:
        b.miss("(resource)", f"{entry.label} is {', '.join(sorted(verification))}; not used")
        return
    when = _first_date(data, "recordedDate", "onsetDateTime", "onsetPeriod.start")
    codes = _condition_codes(data)
    if _is_liver_metastasis(codes):
        b.offer("liver", True, entry, when)
        return
    if _is_secondary(data, codes):
        _map_secondary(b, entry, codes, when)
        return
    profiles = data.get("meta", {}).get("profile", [])
    site = _primary_site(data, codes)
    histology = _histology(data)
    if site is None and c.MCODE_PRIMARY not in profiles and not histology:
        return  # not a cancer condition netlm reads (e.g. a comorbidity)
    if site is None:
        b.miss(
            "primary.site",
            f"{entry.label} ({_describe(data.get('code'))}) names no primary "
            "site netlm reads (bodySite SNOMED, ICD-O-3 topography, ICD-10 site code)",
        )
    else:
        b.primaries.append((site, entry))
    for code in histology:
        _offer_histology(b, code, entry, when)


def _primary_site(data: dict[str, Any], codes: list[tuple[str, str]]) -> PrimarySite | None:
    """bodySite SNOMED first, then ICD-O-3 topography in bodySite, then an ICD-10 site code."""
    body = data.get("bodySite", [])
    for code in _codes(body, c.SNOMED):
        if code in c.BODY_SITES:
            return c.BODY_SITES[code]
    for code in _codes(body, c.ICDO3):
        site = _topography_site(code)
        if site:
            return site
    for system, code in codes:
        if system in (c.ICD10, c.ICD10CM):
            site = _topography_site(code)
            if site:
                return site
    return None


def _offer_histology(b: _Builder, code: str, entry: _Entry, when: dt.datetime | None) -> None:
    known = c.MORPHOLOGY.get(code)
    if known is None:
        b.miss(
            "pathology.morphology",
            f"{entry.label}: ICD-O-3 {code} is not a neuroendocrine morphology netlm maps",
        )
        return
    morphology, differentiation = known
    if morphology is None:
        b.miss(
            "pathology.morphology",
            f"{entry.label}: ICD-O-3 {code} (NEC, NOS) does not say small- or large-cell type",
        )
    else:
        b.offer("pathology.morphology", morphology, entry, when)
    if differentiation is not None:
        b.offer("pathology.differentiation", differentiation, entry, when)


def _map_secondary(
    b: _Builder, entry: _Entry, codes: list[tuple[str, str]], when: dt.datetime | None
) -> None:
    clinical = {str(x.get("code")) for x in _codings(entry.data.get("clinicalStatus"))}
    if clinical & _NOT_CURRENT:
        b.miss(
            "extrahepatic.sites",
            f"{entry.label} is {', '.join(sorted(clinical))}; not counted as current disease",
        )
        return
    site: ExtrahepaticSite | None = None
    lymph = False
    for system, code in codes:
        if system == c.NETLM_VALUE and code in get_args(ExtrahepaticSite):
            site = cast(ExtrahepaticSite, code)
        elif system == c.SNOMED and code in c.SECONDARY_SNOMED:
            site = c.SECONDARY_SNOMED[code]
        elif system in (c.ICD10, c.ICD10CM):
            upper = code.upper()
            if upper in c.SECONDARY_ICD:
                site = c.SECONDARY_ICD[upper]
            elif upper.startswith(c.LYMPH_NODE_ICD_PREFIX):
                lymph = True
            elif upper.startswith(("C78", "C79")) and upper not in ("C79.9", "C799"):
                site = site or "other"
        if site is not None:
            break
    if site is None:
        why = (
            "a lymph-node code that does not say regional or distant"
            if lymph
            else "no site code netlm reads"
        )
        b.miss("extrahepatic.sites", f"{entry.label} ({_describe(entry.data.get('code'))}): {why}")
        return
    rank = (1, when or _EPOCH, entry.order)
    if site not in b.sites or rank > b.sites[site].rank:
        b.sites[site] = _Value(site, rank, entry.label)


# --- Observations ------------------------------------------------------------------------------


def _map_observation(b: _Builder, entry: _Entry) -> None:
    data = entry.data
    concept = data.get("code")
    spec: tuple[str, str] | None = None
    for code in _codes([concept], c.LOINC):
        if code == c.HISTOLOGY:
            spec = ("pathology.morphology", "histology")
        elif code in c.LOINC_OBSERVATIONS:
            spec = c.LOINC_OBSERVATIONS[code]
    for code in _codes([concept], c.NETLM_OBSERVATION):
        if code in c.NETLM_OBSERVATIONS:
            spec = c.NETLM_OBSERVATIONS[code]
        else:
            b.miss("(resource)", f"{entry.label}: {code!r} is not a netlm-observation code")
    if spec is None:
        return  # an observation netlm does not use
    path, kind = spec
    status = data.get("status")
    if status not in _OBSERVATION_OK:
        b.miss(path, f"{entry.label} has status {status!r}; not used")
        return
    if "dataAbsentReason" in data:
        b.miss(path, f"{entry.label} has no value ({_describe(data['dataAbsentReason'])})")
        return
    when = _observation_date(data)
    try:
        _read_observation(b, entry, path, kind, when)
    except UnitError as exc:
        b.miss(path, f"{exc} ({entry.label})")


_QUANTITY_TARGETS = {
    "percent": "%",
    "count": "10*9/L",
    "g_dl": "g/dL",
    "hemoglobin": "g/dL",
    "ml_min": "mL/min",
    "egfr": "mL/min/{1.73_m2}",
    "cm": "cm",
    "months": "mo",
}


def _read_observation(
    b: _Builder, entry: _Entry, path: str, kind: str, when: dt.datetime | None
) -> None:
    data = entry.data
    if kind == "histology":
        for code in _codes([data.get("valueCodeableConcept")], c.ICDO3):
            _offer_histology(b, code, entry, when)
            return
        b.miss(path, f"{entry.label}: the value is not an ICD-O-3 morphology code")
        return
    if kind == "boolean":
        value = data.get("valueBoolean")
        if value is None:
            b.miss(path, f"{entry.label}: expected valueBoolean")
        elif path == "extrahepatic.sites":
            b.offer("extrahepatic.present", value, entry, when)
        else:
            b.offer(path, value, entry, when)
        return
    if kind == "code":
        found = _codes([data.get("valueCodeableConcept")], c.NETLM_VALUE)
        if found and _allowed(path, found[0]):
            b.offer(path, found[0], entry, when)
        else:
            shown = _describe(data.get("valueCodeableConcept"))
            b.miss(
                path, f"{entry.label}: value {shown} is not a netlm-case-value code allowed here"
            )
        return
    if kind in ("integer", "mitoses") and "valueInteger" in data:
        b.offer(path, data["valueInteger"], entry, when)
        return
    quantity = data.get("valueQuantity")
    if not isinstance(quantity, dict) or "value" not in quantity:
        wanted = "a valueQuantity or valueInteger" if kind in ("integer", "mitoses") else ""
        b.miss(path, f"{entry.label}: expected {wanted or 'a valueQuantity'}")
        return
    number = float(quantity["value"])
    unit = quantity.get("code") or quantity.get("unit")
    if kind == "integer":
        if not number.is_integer():
            b.miss(path, f"{entry.label}: {number} is not a whole number")
            return
        b.offer(path, int(number), entry, when)
    elif kind == "mitoses":
        b.offer(path, convert(number, unit, "{mitoses}/(2.mm2)"), entry, when)
    elif kind == "x_uln":
        _offer_bilirubin(b, entry, number, quantity, when)
    elif kind == "egfr":
        value = convert(number, unit, _QUANTITY_TARGETS[kind])
        b.offer(
            path,
            value,
            entry,
            when,
            tier=0,
            note=" (eGFR, mL/min/1.73 m², used as creatinine clearance)",
        )
    else:
        value = convert(number, unit, _QUANTITY_TARGETS[kind], hemoglobin=kind == "hemoglobin")
        b.offer(path, round(value, 6), entry, when)


def _offer_bilirubin(
    b: _Builder, entry: _Entry, number: float, quantity: dict[str, Any], when: dt.datetime | None
) -> None:
    path = "labs.bilirubin_x_uln"
    unit = quantity.get("code") or quantity.get("unit")
    highs = [r["high"] for r in entry.data.get("referenceRange", []) if "high" in r]
    if not highs:
        b.miss(path, f"{entry.label}: no referenceRange.high to give the upper limit of normal")
        return
    high = highs[0]
    high_unit = high.get("code") or high.get("unit")
    if unit is None or high_unit != unit:
        b.miss(
            path,
            f"{entry.label}: value in {unit!r} but referenceRange.high in "
            f"{high_unit!r}; netlm divides only values in the same unit",
        )
        return
    if float(high["value"]) <= 0:
        b.miss(path, f"{entry.label}: referenceRange.high must be above 0")
        return
    b.offer(path, round(number / float(high["value"]), 6), entry, when)


# --- Procedures and medicines ------------------------------------------------------------------


def _reason_outcome(data: dict[str, Any]) -> TherapyOutcome | None:
    concepts: list[Any] = []
    for key in ("statusReason", "outcome"):  # a list in Medication*, a single concept in Procedure
        value = data.get(key)
        concepts += value if isinstance(value, list) else [value]
    for code in _codes(concepts, c.NETLM_OUTCOME):
        if code in c.THERAPY_OUTCOMES:
            return cast(TherapyOutcome, code)
    return None


def _outcome(b: _Builder, entry: _Entry, what: str) -> TherapyOutcome | None:
    """progression/intolerance from a documented reason code, else ongoing/completed by status.

    Anything else (stopped without a reason, not taken, planned) cannot be told: not recorded.
    """
    reason = _reason_outcome(entry.data)
    status = entry.data.get("status")
    if status in (
        "entered-in-error",
        "not-taken",
        "not-done",
        "intended",
        "draft",
        "cancelled",
        "revoked",
        "preparation",
        "unknown",
    ):
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


def _start(entry: _Entry) -> tuple[dt.datetime, int]:
    when = _first_date(
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
    return when or _EPOCH, entry.order


def _map_procedure(b: _Builder, entry: _Entry) -> None:
    data = entry.data
    concept = data.get("code")
    status = data.get("status")
    text = _words(concept)
    snomed = _codes([concept], c.SNOMED)
    options: list[str] = [o for o in _codes([concept], c.NETLM_OPTION) if o in get_args(OptionCode)]
    coded = bool(_codings(concept))
    whipple = any(code in c.WHIPPLE_SNOMED for code in snomed) or (
        not coded and any(_has_word(text, w) for w in c.WHIPPLE_WORDS)
    )
    when = _first_date(data, "performedDateTime", "performedPeriod.end", "performedPeriod.start")
    if whipple:
        if status != "completed":
            b.miss(
                "history.bilioenteric_anastomosis",
                f"{entry.label} (pancreatoduodenectomy) "
                f"has status {status!r}; only a completed operation counts",
            )
            return
        note = "" if coded else " (matched on text, no code given)"
        b.offer("history.bilioenteric_anastomosis", True, entry, when, note=note)
        if _treats_primary(b, data):
            b.offer("primary.status", "resected", entry, when, note=note)
        return
    if not coded:
        options = [str(o) for word, o in c.PROCEDURE_WORDS if _has_word(text, word)][:1]
    elif not options:
        hinted = [o for word, o in c.PROCEDURE_WORDS if _has_word(text, word)]
        if hinted:
            b.miss(
                "prior_therapies",
                f"{entry.label} is coded {_describe(concept)}, a code netlm "
                f"has not verified (its text suggests {hinted[0]}); not used",
            )
        return
    for option in options:
        if option == "primary_tumor_resection":
            if status == "completed":
                b.offer("primary.status", "resected", entry, when)
            continue
        outcome = _outcome(b, entry, option)
        if outcome is not None:
            note = "" if coded else " (matched on text, no code given)"
            b.therapies.append(_Therapy(option, outcome, _start(entry), entry.label + note))


def _treats_primary(b: _Builder, data: dict[str, Any]) -> bool:
    """A resection done for the primary tumour Condition (Procedure.reasonReference)."""
    for ref in data.get("reasonReference", []):
        target = b.by_reference.get(str(ref.get("reference")))
        if target is not None and target.type == "Condition":
            codes = _condition_codes(target.data)
            if not _is_secondary(target.data, codes) and not _is_liver_metastasis(codes):
                return _primary_site(target.data, codes) is not None
    return False


def _medication_concept(b: _Builder, entry: _Entry) -> Any:
    data = entry.data
    if "medicationCodeableConcept" in data:
        return data["medicationCodeableConcept"]
    ref = str(data.get("medicationReference", {}).get("reference", ""))
    if ref.startswith("#"):
        for contained in data.get("contained", []):
            if contained.get("id") == ref[1:]:
                return contained.get("code")
    target = b.by_reference.get(ref)
    return target.data.get("code") if target is not None else None


def _map_medication(b: _Builder, entry: _Entry) -> None:
    concept = _medication_concept(b, entry)
    if concept is None:
        b.miss("prior_therapies", f"{entry.label}: the medication could not be resolved")
        return
    keys: list[str] = []
    keys += [o for o in _codes([concept], c.NETLM_OPTION) if o in get_args(OptionCode)]
    keys += [c.ATC_DRUGS[k] for k in _codes([concept], c.ATC) if k in c.ATC_DRUGS]
    keys += [c.RXNORM_DRUGS[k] for k in _codes([concept], c.RXNORM) if k in c.RXNORM_DRUGS]
    note = ""
    if not _codings(concept):
        text = _words(concept)
        keys = [drug for word, drug in c.DRUG_NAMES.items() if _has_word(text, word)]
        note = " (matched on text, no code given)"
    elif not keys:
        hinted = [drug for word, drug in c.DRUG_NAMES.items() if _has_word(_words(concept), word)]
        if hinted:
            b.miss(
                "prior_therapies",
                f"{entry.label} is coded {_describe(concept)}, a code netlm "
                f"has not verified (its text names {hinted[0]}); not used",
            )
        return
    for key in dict.fromkeys(keys):
        outcome = _outcome(b, entry, key)
        if outcome is not None:
            b.therapies.append(_Therapy(key, outcome, _start(entry), entry.label + note))


def _prior_therapies(b: _Builder) -> list[tuple[OptionCode, TherapyOutcome, str]]:
    """Single drugs become their option; regimen members are combined; the rest is unmapped."""
    done: list[tuple[tuple[dt.datetime, int], OptionCode, TherapyOutcome, str]] = []
    members: list[_Therapy] = []
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
            outcome = min((members[i].outcome for i in chosen), key=_OUTCOME_ORDER.__getitem__)
            start = min(members[i].start for i in chosen)
            source = ", ".join(dict.fromkeys(members[i].source for i in chosen))
            done.append((start, option, outcome, source))
    for i, t in enumerate(members):
        if i not in used:
            b.miss(
                "prior_therapies",
                f"{t.key} ({t.source}) alone is not a netlm option; it "
                "counts only as part of its regimen (captem, platinum-etoposide)",
            )
    done.sort(key=lambda d: d[0])
    return [(option, outcome, source) for _, option, outcome, source in done]


# --- Assembly ----------------------------------------------------------------------------------


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _assemble(b: _Builder, case_id: str) -> FhirImport:
    sources: dict[str, str] = {}
    sites = {site for site, _ in b.primaries}
    if len(sites) > 1:
        seen = ", ".join(f"{e.label}: {s}" for s, e in b.primaries)
        raise FhirMappingError(
            [Problem("primary.site", f"the primary tumour Conditions disagree ({seen})")]
        )
    if not sites:
        raise FhirMappingError(
            [
                Problem(
                    "primary.site",
                    "no Condition for the primary tumour "
                    "with a site netlm reads (bodySite SNOMED, ICD-O-3 "
                    "topography or ICD-10 C16-C20, C25, C80.9); "
                    "netlm.case/1 requires it",
                )
            ]
        )
    site = sites.pop()
    data: dict[str, Any] = {
        "schema": "netlm.case/1",
        "id": case_id,
        "primary": {"site": site},
        "liver": {},
    }
    sources["primary.site"] = ", ".join(e.label for _, e in b.primaries)
    liver = b.values.pop("liver", None)
    if liver is None:
        b.miss(
            "liver",
            "no Condition for liver metastases (SNOMED 94381002, ICD-10 C78.7 or "
            "C7B.02); the liver section holds only what Observations say",
        )
    else:
        sources["liver"] = liver.source
    _assemble_extrahepatic(b, data, sources)
    for path, held in sorted(b.values.items()):
        _set(data, path, held.value)
        sources[path] = held.source
    therapies = _prior_therapies(b)
    if therapies:
        data["prior_therapies"] = [{"option": o, "outcome": out} for o, out, _ in therapies]
        for i, (_, _, source) in enumerate(therapies):
            sources[f"prior_therapies[{i}]"] = source
    return FhirImport(_validate(data, sources, b), b.unmapped, sources)


def _assemble_extrahepatic(b: _Builder, data: dict[str, Any], sources: dict[str, str]) -> None:
    present = b.values.pop("extrahepatic.present", None)
    resectable = b.values.pop("extrahepatic.resectable", None)
    sites = [s for s in get_args(ExtrahepaticSite) if s in b.sites]
    if sites:
        if present is not None and present.value is False:
            b.miss(
                "extrahepatic.sites",
                f"{present.source} says no extrahepatic disease, but "
                "Conditions name sites; the Conditions were used",
            )
        data["extrahepatic"] = {"sites": sites}
        for i, s in enumerate(sites):
            sources[f"extrahepatic.sites[{i}]"] = b.sites[s].source
    elif present is not None and present.value is False:
        data["extrahepatic"] = {"sites": []}
        sources["extrahepatic.sites"] = present.source
    elif present is not None:
        b.miss(
            "extrahepatic.sites",
            f"{present.source} says there is extrahepatic disease, but "
            "no Condition names a site netlm reads",
        )
    if resectable is None:
        return
    if "extrahepatic" in data:
        data["extrahepatic"]["resectable"] = resectable.value
        sources["extrahepatic.resectable"] = resectable.source
    else:
        b.miss(
            "extrahepatic.resectable",
            f"{resectable.source} gives resectability, but the "
            "extrahepatic sites are not known (netlm would read that as none)",
        )


def _validate(data: dict[str, Any], sources: dict[str, str], b: _Builder) -> Case:
    """Validate the case; a value that breaks the contract is dropped and reported, not fixed."""
    while True:
        try:
            return parse_case(data)
        except CaseInputError as exc:
            removable = [p for p in exc.problems if p.path in sources and p.path != "primary.site"]
            if len(removable) != len(exc.problems):
                raise FhirMappingError(exc.problems) from None
            for p in removable:
                b.miss(p.path, f"{p.message} (from {sources.pop(p.path)}); left out")
                *parents, leaf = p.path.split(".")
                node = data
                for part in parents:
                    node = node[part]
                del node[leaf]
