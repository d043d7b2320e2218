"""MedicationStatement, MedicationRequest and MedicationAdministration (how infusions such as
PRRT cycles are recorded): catalogue drugs by ATC, RxNorm, netlm code or name."""

from typing import Any, get_args

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry, Therapy
from netlm.fhir.mapping.elements import codes, codings, describe, has_word, words
from netlm.fhir.mapping.therapies import outcome, start
from netlm.model.codes import OptionCode

TEXT_NOTE = " (matched on text, no code given)"
DISPLAY_NOTE = " (matched on medicationReference.display: the Medication was not in the Bundle)"


def _medication(b: Builder, entry: Entry) -> tuple[Any, str]:
    """The medication concept and how it was found: inline, a referenced Medication, or, as a
    last resort, the reference's display text."""
    data = entry.data
    if "medicationCodeableConcept" in data:
        return data["medicationCodeableConcept"], ""
    reference = data.get("medicationReference", {})
    ref = str(reference.get("reference", ""))
    if ref.startswith("#"):
        for contained in data.get("contained", []):
            if contained.get("id") == ref[1:]:
                return contained.get("code"), ""
    target = b.by_reference.get(ref)
    if target is not None:
        return target.data.get("code"), ""
    display = reference.get("display")
    if isinstance(display, str) and display.strip():
        return {"text": display}, DISPLAY_NOTE
    return None, ""


def map_medication(b: Builder, entry: Entry) -> None:
    concept, found_by = _medication(b, entry)
    if concept is None:
        b.miss("prior_therapies", f"{entry.label}: the medication could not be resolved")
        return
    keys: list[str] = []
    keys += [o for o in codes([concept], c.NETLM_OPTION) if o in get_args(OptionCode)]
    keys += [c.ATC_DRUGS[k] for k in codes([concept], c.ATC) if k in c.ATC_DRUGS]
    keys += [c.RXNORM_DRUGS[k] for k in codes([concept], c.RXNORM) if k in c.RXNORM_DRUGS]
    note = found_by
    if not codings(concept):
        text = words(concept)
        keys = [drug for word, drug in c.DRUG_NAMES.items() if has_word(text, word)]
        note = found_by or TEXT_NOTE
        if not keys:
            b.not_used(entry, concept, "not a medicine of netlm's catalogue")
            return
    elif not keys:
        hinted = [drug for word, drug in c.DRUG_NAMES.items() if has_word(words(concept), word)]
        if hinted:
            b.miss(
                "prior_therapies",
                f"{entry.label} is coded {describe(concept)}, a code netlm "
                f"has not verified (its text names {hinted[0]}); not used",
            )
        else:
            b.not_used(entry, concept, "not a medicine of netlm's catalogue")
        return
    administered = entry.type == "MedicationAdministration"
    for key in dict.fromkeys(keys):
        result = outcome(b, entry, key)
        if result is not None:
            b.therapies.append(Therapy(key, result, start(entry), entry.label + note, administered))
