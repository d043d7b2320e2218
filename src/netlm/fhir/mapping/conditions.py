"""Conditions: the primary tumour (site, histology), liver and other metastases."""

import datetime as dt
from typing import Any, cast, get_args

from netlm.fhir import codes as c
from netlm.fhir.mapping.builder import Builder, Entry, Value
from netlm.fhir.mapping.elements import EPOCH, codes, codings, describe, first_date
from netlm.fhir.mapping.result import RESOURCE
from netlm.model.codes import ExtrahepaticSite, PrimarySite

_IGNORED_VERIFICATION = {"refuted", "entered-in-error"}
_NOT_CURRENT = {"inactive", "remission", "resolved"}


def topography_site(code: str) -> PrimarySite | None:
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


def condition_codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(x.get("system")), str(x.get("code"))) for x in codings(data.get("code"))]


def is_liver_metastasis(codes_: list[tuple[str, str]]) -> bool:
    return any(
        (s == c.SNOMED and k == c.LIVER_METASTASIS_SNOMED)
        or (s in c.ICD10_EDITIONS and c.icd_key(k) in c.LIVER_METASTASIS_ICD)
        for s, k in codes_
    )


def is_secondary(data: dict[str, Any], codes_: list[tuple[str, str]]) -> bool:
    profiles = data.get("meta", {}).get("profile", [])
    if c.MCODE_SECONDARY in profiles:
        return True
    for system, code in codes_:
        if system == c.SNOMED and code in c.SECONDARY_SNOMED:
            return True
        if system in c.ICD10_EDITIONS and code.upper().startswith(c.SECONDARY_ICD_PREFIXES):
            return True
        if system == c.NETLM_VALUE and code in get_args(ExtrahepaticSite):
            return True
    return False


def primary_site(data: dict[str, Any], codes_: list[tuple[str, str]]) -> PrimarySite | None:
    """bodySite SNOMED first, then ICD-O-3 topography in bodySite, then an ICD-10 site code."""
    body = data.get("bodySite", [])
    for code in codes(body, c.SNOMED):
        if code in c.BODY_SITES:
            return c.BODY_SITES[code]
    for code in codes(body, c.ICDO3):
        site = topography_site(code)
        if site:
            return site
    for system, code in codes_:
        if system in c.ICD10_EDITIONS:
            site = c.CARCINOID_PRIMARY_ICD.get(c.icd_key(code)) or topography_site(code)
            if site:
                return site
    return None


def _carcinoid_site_not_read(codes_: list[tuple[str, str]]) -> str | None:
    """The ICD-10-CM C7A.0 site of a NET primary netlm does not assess, in words."""
    for system, code in codes_:
        where = c.CARCINOID_SITES_NOT_READ.get(c.icd_key(code))
        if system in c.ICD10_EDITIONS and where is not None:
            return f"{code} (malignant carcinoid tumour, {where})"
    return None


def _histology(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(system, code) of the mCODE histology-morphology-behavior extension: ICD-O-3 or SNOMED."""
    return [
        (str(x.get("system")), str(x["code"]))
        for ext in data.get("extension", [])
        if ext.get("url") == c.MCODE_HISTOLOGY_EXT
        for x in codings(ext.get("valueCodeableConcept"))
        if x.get("system") in (c.ICDO3, c.SNOMED) and "code" in x
    ]


def _seen(entry: Entry) -> str:
    """The Condition as the primary-tumour refusal lists it: id, code and body site."""
    data = entry.data
    body = data.get("bodySite", [])
    where = f", bodySite {'; '.join(describe(s) for s in body)}" if body else ""
    return f"{entry.label} ({describe(data.get('code'))}{where})"


def map_condition(b: Builder, entry: Entry) -> None:
    data = entry.data
    verification = {str(x.get("code")) for x in codings(data.get("verificationStatus"))}
    if verification & _IGNORED_VERIFICATION:
        b.miss(RESOURCE, f"{entry.label} is {', '.join(sorted(verification))}; not used")
        return
    b.conditions_seen.append(_seen(entry))
    when = first_date(data, "recordedDate", "onsetDateTime", "onsetPeriod.start")
    codes_ = condition_codes(data)
    if is_liver_metastasis(codes_):
        b.offer("liver", True, entry, when)
        return
    if is_secondary(data, codes_):
        _map_secondary(b, entry, codes_, when)
        return
    profiles = data.get("meta", {}).get("profile", [])
    site = primary_site(data, codes_)
    histology = _histology(data)
    elsewhere = _carcinoid_site_not_read(codes_)
    if site is None and elsewhere is not None:
        b.miss("primary.site", f"{entry.label}: ICD-10-CM {elsewhere} is not a site netlm "
                               "assesses (gastroenteropancreatic primaries only)")  # fmt: skip
    elif site is None and c.MCODE_PRIMARY not in profiles and not histology:
        b.not_used(
            entry,
            data.get("code"),
            "not a primary tumour netlm reads (no site it reads, no mCODE primary profile or "
            "histology), nor a metastasis",
        )
        return
    if site is None and elsewhere is None:
        b.miss(
            "primary.site",
            f"{entry.label} ({describe(data.get('code'))}) names no primary "
            "site netlm reads (bodySite SNOMED, ICD-O-3 topography, ICD-10 site code)",
        )
    elif site is not None:
        b.primaries.append((site, entry))
    for system, code in histology:
        offer_histology(b, system, code, entry, when)


def offer_histology(
    b: Builder, system: str, code: str, entry: Entry, when: dt.datetime | None
) -> None:
    """An ICD-O-3 or SNOMED CT morphology: morphology and differentiation where the code says."""
    table = c.MORPHOLOGY_SNOMED if system == c.SNOMED else c.MORPHOLOGY
    name = "SNOMED CT" if system == c.SNOMED else "ICD-O-3"
    known = table.get(code)
    if known is None:
        b.miss(
            "pathology.morphology",
            f"{entry.label}: {name} {code} is not a neuroendocrine morphology netlm maps",
        )
        return
    morphology, differentiation = known
    if morphology is None:
        b.miss(
            "pathology.morphology",
            f"{entry.label}: {name} {code} (NEC, NOS) does not say small- or large-cell type",
        )
    else:
        b.offer("pathology.morphology", morphology, entry, when)
    if differentiation is not None:
        b.offer("pathology.differentiation", differentiation, entry, when)


def _map_secondary(
    b: Builder, entry: Entry, codes_: list[tuple[str, str]], when: dt.datetime | None
) -> None:
    clinical = {str(x.get("code")) for x in codings(entry.data.get("clinicalStatus"))}
    if clinical & _NOT_CURRENT:
        b.miss(
            "extrahepatic.sites",
            f"{entry.label} is {', '.join(sorted(clinical))}; not counted as current disease",
        )
        return
    site: ExtrahepaticSite | None = None
    lymph = False
    for system, code in codes_:
        if system == c.NETLM_VALUE and code in get_args(ExtrahepaticSite):
            site = cast(ExtrahepaticSite, code)
        elif system == c.SNOMED and code in c.SECONDARY_SNOMED:
            site = c.SECONDARY_SNOMED[code]
        elif system in c.ICD10_EDITIONS:
            upper = c.icd_key(code)
            if upper in c.SECONDARY_ICD:
                site = c.SECONDARY_ICD[upper]
            elif upper.startswith(c.LYMPH_NODE_ICD_PREFIX):
                lymph = True
            elif upper.startswith(("C78", "C79")) and upper not in c.UNSPECIFIED_SECONDARY_ICD:
                site = site or "other"
        if site is not None:
            break
    if site is None:
        why = (
            "a lymph-node code that does not say regional or distant"
            if lymph
            else "no site code netlm reads"
        )
        b.miss("extrahepatic.sites", f"{entry.label} ({describe(entry.data.get('code'))}): {why}")
        return
    rank = (1, when or EPOCH, entry.order)
    if site not in b.sites or rank > b.sites[site].rank:
        b.sites[site] = Value(site, rank, entry.label)
