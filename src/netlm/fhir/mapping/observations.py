"""Observations: LOINC (mass and molar units), mCODE disease status, netlm's own codes."""

import datetime as dt
from typing import Any

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry
from netlm.fhir.mapping.conditions import (
    condition_codes,
    is_liver_metastasis,
    offer_histology,
    primary_site,
)
from netlm.fhir.mapping.elements import allowed, codes, codings, describe, observation_date
from netlm.fhir.mapping.quantities import BELOW, cuts, quantity_in_text, representative
from netlm.fhir.units import UnitError, convert
from netlm.knowledge.conditions import UpTo

KI67_PATH = "pathology.ki67_percent"
_OBSERVATION_OK = {"final", "amended", "corrected", "preliminary"}
_QUANTITY_TARGETS = {
    "percent": "%",
    "count": "10*9/L",
    "g_dl": "g/dL",
    "hemoglobin": "g/dL",
    "ml_min": "mL/min",
    "egfr": "mL/min/{1.73_m2}",
    "cm": "cm",
    "months": "mo",
    "mitoses": "{mitoses}/(2.mm2)",
}
EGFR_NOTE = " (eGFR, mL/min/1.73 m², used as creatinine clearance)"


def _spec(concept: Any) -> tuple[str, str] | None:
    """(case path, value kind) the Observation's code fills; None when netlm reads no code."""
    spec: tuple[str, str] | None = None
    for code in codes([concept], c.LOINC):
        if code == c.HISTOLOGY:
            spec = ("pathology.morphology", "histology")
        elif code == c.TUMOR_SIZE:
            spec = ("liver.largest_lesion_cm", "tumor_size")
        elif code in c.LOINC_OBSERVATIONS:
            spec = c.LOINC_OBSERVATIONS[code]
    for code in codes([concept], c.NETLM_OBSERVATION):
        spec = c.NETLM_OBSERVATIONS.get(code, spec)
    return spec


def map_observation(b: Builder, entry: Entry) -> None:
    data = entry.data
    spec = _spec(data.get("code"))
    if spec is None:
        own = codes([data.get("code")], c.NETLM_OBSERVATION)
        why = (
            f"{own[0]!r} is not a netlm-observation code"
            if own
            else "not an observation netlm reads"
        )
        b.not_used(entry, data.get("code"), why)
        return
    path, kind = spec
    status = data.get("status")
    if status not in _OBSERVATION_OK:
        b.miss(path, f"{entry.label} has status {status!r}; not used")
        return
    if "dataAbsentReason" in data:
        b.miss(path, f"{entry.label} has no value ({describe(data['dataAbsentReason'])})")
        return
    when = observation_date(data)
    try:
        _read(b, entry, path, kind, when)
    except UnitError as exc:
        b.miss(path, f"{exc} ({entry.label})")


def _read(b: Builder, entry: Entry, path: str, kind: str, when: dt.datetime | None) -> None:
    data = entry.data
    if kind == "histology":
        for x in codings(data.get("valueCodeableConcept")):
            if x.get("system") in (c.ICDO3, c.SNOMED) and "code" in x:
                offer_histology(b, str(x["system"]), str(x["code"]), entry, when)
                return
        b.miss(path, f"{entry.label}: the value is not an ICD-O-3 or SNOMED CT morphology code")
    elif kind == "disease_status":
        _read_disease_status(b, entry, when)
    elif kind == "tumor_size":
        _report_tumor_size(b, entry)
    elif kind == "boolean":
        value = data.get("valueBoolean")
        if value is None:
            b.miss(path, f"{entry.label}: expected valueBoolean")
        elif path == "extrahepatic.sites":
            b.offer("extrahepatic.present", value, entry, when)
        else:
            b.offer(path, value, entry, when)
    elif kind == "code":
        found = codes([data.get("valueCodeableConcept")], c.NETLM_VALUE)
        if found and allowed(path, found[0]):
            b.offer(path, found[0], entry, when)
        else:
            shown = describe(data.get("valueCodeableConcept"))
            b.miss(
                path,
                f"{entry.label}: value {shown} is not a netlm-case-value code this field takes",
            )
    elif path == "patient.ecog" and "valueCodeableConcept" in data:
        _read_ecog_answer(b, entry, when)
    elif kind in ("integer", "mitoses") and "valueInteger" in data:
        b.offer(path, data["valueInteger"], entry, when)
    else:
        _read_quantity(b, entry, path, kind, when)


def _read_quantity(
    b: Builder, entry: Entry, path: str, kind: str, when: dt.datetime | None
) -> None:
    quantity = entry.data.get("valueQuantity")
    note = ""
    if quantity is None and isinstance(entry.data.get("valueString"), str):
        quantity = quantity_in_text(entry.data["valueString"])
        note = f" (read from valueString {entry.data['valueString']!r})" if quantity else ""
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
        value: float = int(number)
    elif kind == "x_uln":
        ratio = _times_upper_limit(b, entry, number, quantity)
        if ratio is None:
            return
        value = ratio
    elif kind == "hemoglobin_molar":
        if unit != "mmol/L":
            b.miss(path, f"{entry.label}: LOINC {c.HEMOGLOBIN_MOLAR} is molar; unit {unit!r} "
                         "is not mmol/L")  # fmt: skip
            return
        value = round(convert(number, unit, "g/dL", hemoglobin=True), 6)
    elif kind == "egfr":
        value = convert(number, unit, _QUANTITY_TARGETS[kind])
        note += EGFR_NOTE
    else:
        value = convert(number, unit, _QUANTITY_TARGETS[kind], hemoglobin=kind == "hemoglobin")
        value = round(value, 6)
    comparator = quantity.get("comparator")
    tier = 0 if kind == "egfr" else 1
    if comparator is None:
        b.offer(path, value, entry, when, tier=tier, note=note)
        return
    shown = f"{comparator}{quantity['value']}" + (f" {unit}" if unit else "")
    if path == KI67_PATH and comparator in BELOW and (value > 0 or comparator == "<="):
        # The case holds a Ki-67 upper bound as such: it decides what it decides ("<3" is G1).
        note += f" (reported {shown}: recorded as a bound, not a value)"
        b.offer(path, UpTo(value, inclusive=comparator == "<="), entry, when, tier=tier, note=note)
        return
    comparisons = b.thresholds.get(path, ())
    recorded = representative(comparator, value, comparisons, whole=kind == "integer")
    if recorded == value:
        note += f" (reported {shown}: the bound decides every threshold netlm applies)"
        b.offer(path, value, entry, when, tier=tier, note=note)
    elif recorded is not None:
        note += (f" (reported {shown}: recorded as {recorded}, a value beyond the bound; every "
                 "threshold netlm applies treats all such values alike)")  # fmt: skip
        b.offer(path, recorded, entry, when, tier=tier, note=note)
    else:
        b.miss(
            path,
            f"{entry.label}: comparator {shown}: value not exact; it does not decide netlm's "
            f"thresholds ({cuts(comparisons)})",
        )


def _times_upper_limit(
    b: Builder, entry: Entry, number: float, quantity: dict[str, Any]
) -> float | None:
    """Bilirubin as a multiple of the laboratory's upper limit, in whatever unit both share."""
    path = "labs.bilirubin_x_uln"
    unit = quantity.get("code") or quantity.get("unit")
    highs = [r["high"] for r in entry.data.get("referenceRange", []) if "high" in r]
    if not highs:
        b.miss(path, f"{entry.label}: no referenceRange.high to give the upper limit of normal")
        return None
    high = highs[0]
    high_unit = high.get("code") or high.get("unit")
    try:  # the same quantity in two spellings or scales (umol/L, µmol/L, mmol/L) is converted
        upper = convert(float(high["value"]), high_unit, unit) if unit else None
    except UnitError:
        upper = None
    if upper is None:
        b.miss(
            path,
            f"{entry.label}: value in {unit!r} but referenceRange.high in "
            f"{high_unit!r}; netlm divides only values of the same quantity (mass or moles)",
        )
        return None
    if upper <= 0:
        b.miss(path, f"{entry.label}: referenceRange.high must be above 0")
        return None
    return round(number / upper, 6)


def _read_ecog_answer(b: Builder, entry: Entry, when: dt.datetime | None) -> None:
    """ECOG as a LOINC answer code (LA9622-7 = 0 ... LA9626-8 = 4)."""
    value = entry.data.get("valueCodeableConcept")
    for code in codes([value], c.LOINC):
        if code in c.ECOG_ANSWERS:
            b.offer("patient.ecog", c.ECOG_ANSWERS[code], entry, when, note=f" (LOINC {code})")
            return
        if code == c.ECOG_DEAD:
            b.miss("patient.ecog", f"{entry.label}: LOINC {code} is ECOG 5 (dead)")
            return
    b.miss("patient.ecog", f"{entry.label}: value {describe(value)} is not an ECOG answer code")


def _read_disease_status(b: Builder, entry: Entry, when: dt.datetime | None) -> None:
    """mCODE CancerDiseaseStatus: worsened is progressive, stable is stable; nothing else is
    a course netlm knows, and a status of another cancer (its focus) is not this tumour's."""
    path = "course.status"
    other = _focus_on_other_condition(b, entry)
    if other is not None:
        b.miss(path, f"{entry.label} is the status of {other}, not of the neuroendocrine tumour")
        return
    value = entry.data.get("valueCodeableConcept")
    for code in codes([value], c.SNOMED):
        if code in c.DISEASE_STATUS_COURSE:
            b.offer(path, c.DISEASE_STATUS_COURSE[code], entry, when,
                    note=" (mCODE CancerDiseaseStatus)")  # fmt: skip
            return
        if code in c.DISEASE_STATUS_NOT_READ:
            b.miss(path, f"{entry.label}: cancer disease status SNOMED {code} "
                         f"{c.DISEASE_STATUS_NOT_READ[code]}; netlm's course is new diagnosis, "
                         "stable or progressive")  # fmt: skip
            return
    b.miss(path, f"{entry.label}: value {describe(value)} is not in mCODE ConditionStatusTrendVS")


def _focus_on_other_condition(b: Builder, entry: Entry) -> str | None:
    for ref in entry.data.get("focus", []):
        target = b.by_reference.get(str(ref.get("reference")))
        if target is None or target.type != "Condition":
            continue
        codes_ = condition_codes(target.data)
        if primary_site(target.data, codes_) is None and not is_liver_metastasis(codes_):
            return f"{target.label} ({describe(target.data.get('code'))})"
    return None


def _report_tumor_size(b: Builder, entry: Entry) -> None:
    sizes = [
        f"{comp['valueQuantity'].get('value')} {comp['valueQuantity'].get('unit', '')}".strip()
        for comp in entry.data.get("component", [])
        if isinstance(comp.get("valueQuantity"), dict)
    ]
    measured = f" ({', '.join(sizes)})" if sizes else ""
    b.miss(
        "liver.largest_lesion_cm",
        f"{entry.label}: mCODE TumorSize{measured} is the size of one tumour; it does not say "
        "which liver lesion is the largest, so netlm does not read it as the largest lesion",
    )
