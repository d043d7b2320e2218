"""Procedures: resections of the primary, pancreatoduodenectomy, liver-directed therapies."""

import datetime as dt
from typing import Any, get_args

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry, Therapy
from netlm.fhir.mapping.conditions import (
    condition_codes,
    is_liver_metastasis,
    is_secondary,
    primary_site,
)
from netlm.fhir.mapping.elements import codes, codings, describe, first_date, has_word, words
from netlm.fhir.mapping.therapies import outcome, start
from netlm.model.codes import OptionCode, PrimarySite

TEXT_NOTE = " (matched on text, no code given)"


def map_procedure(b: Builder, entry: Entry) -> None:
    data = entry.data
    concept = data.get("code")
    coded = bool(codings(concept))
    snomed = codes([concept], c.SNOMED)
    cpt = codes([concept], c.CPT)
    when = first_date(data, "performedDateTime", "performedPeriod.end", "performedPeriod.start")
    resections = [c.PRIMARY_RESECTIONS[k] for k in snomed if k in c.PRIMARY_RESECTIONS]
    resections += [c.CPT_RESECTIONS[k] for k in cpt if k in c.CPT_RESECTIONS]
    whipple = (
        any(code in c.WHIPPLE_SNOMED for code in snomed)
        or any(code in c.WHIPPLE_CPT for code in cpt)
        or (not coded and any(has_word(words(concept), w) for w in c.WHIPPLE_WORDS))
    )
    if whipple or resections:
        _map_operation(b, entry, resections, whipple, when)
        return
    options: list[str] = [o for o in codes([concept], c.NETLM_OPTION) if o in get_args(OptionCode)]
    text = words(concept)
    if not coded:
        options = [str(o) for word, o in c.PROCEDURE_WORDS if has_word(text, word)][:1]
        if not options:
            b.not_used(entry, concept, "a procedure netlm does not read")
            return
    elif not options:
        hinted = [o for word, o in c.PROCEDURE_WORDS if has_word(text, word)]
        if hinted:
            b.miss(
                "prior_therapies",
                f"{entry.label} is coded {describe(concept)}, a code netlm "
                f"has not verified (its text suggests {hinted[0]}); not used",
            )
        else:
            b.not_used(entry, concept, "a procedure netlm does not read")
        return
    for option in options:
        if option == "primary_tumor_resection":
            if data.get("status") == "completed":
                b.offer("primary.status", "resected", entry, when)
            continue
        result = outcome(b, entry, option)
        if result is not None:
            note = "" if coded else TEXT_NOTE
            b.therapies.append(Therapy(option, result, start(entry), entry.label + note))


def _map_operation(
    b: Builder, entry: Entry, resections: list[c.Resection], whipple: bool, when: dt.datetime | None
) -> None:
    """A resection: the bilioenteric anastomosis of a pancreatoduodenectomy, and the primary
    resected when the operation removes its organ whole or is linked to it (reasonReference)."""
    status = entry.data.get("status")
    coded = bool(codings(entry.data.get("code")))
    what = describe(entry.data.get("code"))
    if status != "completed":
        field = "history.bilioenteric_anastomosis" if whipple else "primary.status"
        b.miss(field, f"{entry.label} ({what}) has status {status!r}; only a completed "
                      "operation counts")  # fmt: skip
        return
    note = "" if coded else TEXT_NOTE
    if whipple:
        b.offer("history.bilioenteric_anastomosis", True, entry, when, note=note)
    linked = _linked_primary(b, entry.data)
    if linked is False:
        b.miss(
            "primary.status",
            f"{entry.label} ({what}) was done for another Condition (reasonReference); "
            "not counted as the primary's resection",
        )
        return
    sites = [site for site, _ in b.primaries]
    if not sites:
        return  # assembly refuses a chart without a primary; nothing to resect
    site = sites[0]
    if not resections:  # a pancreatoduodenectomy named in text only
        if linked:
            b.offer("primary.status", "resected", entry, when, note=note)
        else:
            b.miss("primary.status", f"{entry.label} ({what}) is named in text only and has no "
                                     "reasonReference to the primary tumour Condition")  # fmt: skip
        return
    for resection in resections:
        if site in resection.whole or (linked and site in resection.part):
            how = "linked to the primary" if linked else f"removes the whole {_organ(site)}"
            b.offer("primary.status", "resected", entry, when,
                    note=f" ({resection.display}, {how})")  # fmt: skip
            return
    names = ", ".join(resection.display for resection in resections)
    why = (
        "removes only part of that organ; a reasonReference to the primary tumour Condition "
        "would say it removed the primary"
        if any(site in resection.part for resection in resections)
        else f"does not remove the {_organ(site)}"
    )
    b.miss("primary.status", f"{entry.label} ({names}) {why}")


def _organ(site: PrimarySite) -> str:
    return site.replace("_", " ")


def _linked_primary(b: Builder, data: dict[str, Any]) -> bool | None:
    """True when reasonReference names the primary tumour Condition, False when it names only
    other Conditions, None when it names none."""
    targets = [
        b.by_reference.get(str(ref.get("reference"))) for ref in data.get("reasonReference", [])
    ]
    conditions = [t for t in targets if t is not None and t.type == "Condition"]
    if not conditions:
        return None
    return any(_is_primary(target.data) for target in conditions)


def _is_primary(data: dict[str, Any]) -> bool:
    codes_ = condition_codes(data)
    if is_secondary(data, codes_) or is_liver_metastasis(codes_):
        return False
    return primary_site(data, codes_) is not None
