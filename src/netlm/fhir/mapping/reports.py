"""DiagnosticReport: the pathology or imaging report that carries grade and differentiation.

Its `result` Observations are read as Observations (each on its own entry; one the Bundle does
not hold is reported, since its value cannot be read); `conclusionCode` is read as histology
when it is an ICD-O-3 or SNOMED CT morphology netlm maps; the narrative (`conclusion`,
`presentedForm` text) only gives proposals for a clinician to confirm, never case values.
"""

import base64
import binascii
from typing import Any

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry
from netlm.fhir.mapping.conditions import offer_histology
from netlm.fhir.mapping.elements import codings, first_date
from netlm.fhir.mapping.narrative import propose
from netlm.fhir.mapping.result import NOT_USED, RESOURCE

_REPORT_OK = {"final", "amended", "corrected", "appended", "preliminary"}
_TEXT_TYPES = ("text/plain",)


def map_report(b: Builder, entry: Entry) -> None:
    data = entry.data
    status = data.get("status")
    if status not in _REPORT_OK:
        b.miss(RESOURCE, f"{entry.label} has status {status!r}; not used")
        return
    when = first_date(
        data, "effectiveDateTime", "effectivePeriod.end", "effectivePeriod.start", "issued"
    )
    read = False
    for ref in data.get("result", []):
        target = str(ref.get("reference"))
        if target not in b.by_reference:
            b.miss(NOT_USED, f"{entry.label}.result {target} is not in the Bundle; its value "
                             "cannot be read")  # fmt: skip
        read = True
    for concept in data.get("conclusionCode", []):
        morphology = [
            x for x in codings(concept) if x.get("system") in (c.ICDO3, c.SNOMED) and "code" in x
        ]
        for x in morphology[:1]:
            offer_histology(b, str(x["system"]), str(x["code"]), entry, when)
        if not morphology:
            b.not_used(entry, concept, "a conclusionCode netlm does not read")
        read = True
    proposals = [p for text in _narratives(b, entry) for p in propose(text, entry.label)]
    b.proposals += proposals
    if not read and not proposals:
        b.not_used(entry, data.get("code"), "a report with no result, conclusionCode or "
                                            "finding netlm reads in its text")  # fmt: skip


def _narratives(b: Builder, entry: Entry) -> list[str]:
    """The conclusion and every plain-text presentedForm (base64 `data`); others are reported."""
    data = entry.data
    texts = [data["conclusion"]] if isinstance(data.get("conclusion"), str) else []
    for i, form in enumerate(data.get("presentedForm", [])):
        text = _plain_text(form)
        if text is None:
            kind = form.get("contentType", "no contentType")
            b.miss(NOT_USED, f"{entry.label}.presentedForm[{i}] ({kind}) is not plain text "
                             "held in the Bundle; not read")  # fmt: skip
        else:
            texts.append(text)
    return texts


def _plain_text(form: dict[str, Any]) -> str | None:
    if str(form.get("contentType", "")).split(";")[0].strip() not in _TEXT_TYPES:
        return None
    try:
        return base64.b64decode(str(form.get("data", "")), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
