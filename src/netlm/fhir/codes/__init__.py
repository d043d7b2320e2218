"""Every code the FHIR mapping reads or writes, each with where it was verified, by concept.

A code that could not be verified is not here: the mapping then reports the element as unmapped
instead of guessing. "Interop brief" is /work/shared/reference/interop-brief.md §2; "code
search" means the public code index searched when a table was written (the file is named).
"""

from netlm.fhir.codes.conditions import (
    BODY_SITES,
    LIVER_METASTASIS_ICD,
    LIVER_METASTASIS_SNOMED,
    LYMPH_NODE_ICD_PREFIX,
    MORPHOLOGY,
    SECONDARY_ICD,
    SECONDARY_ICD_PREFIXES,
    SECONDARY_SNOMED,
    UNSPECIFIED_SECONDARY_ICD,
)
from netlm.fhir.codes.medicines import (
    ATC_DRUGS,
    DRUG_NAMES,
    REGIMENS,
    RXNORM_DRUGS,
    RXNORM_INGREDIENTS,
    RXNORM_PRODUCTS,
    SINGLE_DRUG_OPTIONS,
    THERAPY_OUTCOMES,
)
from netlm.fhir.codes.observations import (
    ALBUMIN,
    BILIRUBIN,
    BILIRUBIN_MOLAR,
    BILIRUBIN_MOLAR_ANY,
    CANCER_DISEASE_STATUS,
    CREATININE_CLEARANCE,
    DISEASE_STATUS_COURSE,
    DISEASE_STATUS_NOT_READ,
    ECOG,
    EGFR_CKD_EPI,
    EGFR_CODES,
    EGFR_MDRD,
    FIELDS_WITH_STANDARD_CODES,
    HEMOGLOBIN,
    HEMOGLOBIN_MOLAR,
    HISTOLOGY,
    KI67,
    LOINC_OBSERVATIONS,
    NETLM_OBSERVATIONS,
    NEUTROPHILS,
    NO_STANDARD_CODE,
    PLATELETS,
    READ_CATEGORIES,
    TUMOR_SIZE,
)
from netlm.fhir.codes.procedures import (
    PRIMARY_RESECTIONS,
    PROCEDURE_WORDS,
    WHIPPLE_SNOMED,
    WHIPPLE_WORDS,
    Resection,
)
from netlm.fhir.codes.systems import (
    ATC,
    EXT_CASE_FIELD,
    EXT_MISSING_WHY,
    ICD10,
    ICD10_EDITIONS,
    ICD10CM,
    ICD10GM,
    ICDO3,
    LOINC,
    MCODE,
    MCODE_HISTOLOGY_EXT,
    MCODE_PRIMARY,
    MCODE_SECONDARY,
    NETLM_BASE,
    NETLM_CLASSIFICATION,
    NETLM_FLAG,
    NETLM_OBSERVATION,
    NETLM_OPTION,
    NETLM_OUTCOME,
    NETLM_STRENGTH,
    NETLM_VALUE,
    OBSERVATION_CATEGORY,
    RXNORM,
    SNOMED,
    UCUM,
)


def field_requirement(path: str) -> tuple[str, str, str] | None:
    """(system, code, resource type) of the FHIR element that fills a case field, if any.

    Export uses it to say in a GuidanceResponse which data would change the answer.
    """
    for code, (field, _) in LOINC_OBSERVATIONS.items():
        if field == path and code not in EGFR_CODES:
            return LOINC, code, "Observation"
    for code, (field, _) in NETLM_OBSERVATIONS.items():
        if field == path:
            return NETLM_OBSERVATION, code, "Observation"
    return None


__all__ = [
    "ALBUMIN",
    "ATC",
    "ATC_DRUGS",
    "BILIRUBIN",
    "BILIRUBIN_MOLAR",
    "BILIRUBIN_MOLAR_ANY",
    "BODY_SITES",
    "CANCER_DISEASE_STATUS",
    "CREATININE_CLEARANCE",
    "DISEASE_STATUS_COURSE",
    "DISEASE_STATUS_NOT_READ",
    "DRUG_NAMES",
    "ECOG",
    "EGFR_CKD_EPI",
    "EGFR_CODES",
    "EGFR_MDRD",
    "EXT_CASE_FIELD",
    "EXT_MISSING_WHY",
    "FIELDS_WITH_STANDARD_CODES",
    "HEMOGLOBIN",
    "HEMOGLOBIN_MOLAR",
    "HISTOLOGY",
    "ICD10",
    "ICD10CM",
    "ICD10GM",
    "ICD10_EDITIONS",
    "ICDO3",
    "KI67",
    "LIVER_METASTASIS_ICD",
    "LIVER_METASTASIS_SNOMED",
    "LOINC",
    "LOINC_OBSERVATIONS",
    "LYMPH_NODE_ICD_PREFIX",
    "MCODE",
    "MCODE_HISTOLOGY_EXT",
    "MCODE_PRIMARY",
    "MCODE_SECONDARY",
    "MORPHOLOGY",
    "NETLM_BASE",
    "NETLM_CLASSIFICATION",
    "NETLM_FLAG",
    "NETLM_OBSERVATION",
    "NETLM_OBSERVATIONS",
    "NETLM_OPTION",
    "NETLM_OUTCOME",
    "NETLM_STRENGTH",
    "NETLM_VALUE",
    "NEUTROPHILS",
    "NO_STANDARD_CODE",
    "OBSERVATION_CATEGORY",
    "PLATELETS",
    "PRIMARY_RESECTIONS",
    "PROCEDURE_WORDS",
    "READ_CATEGORIES",
    "REGIMENS",
    "RXNORM",
    "RXNORM_DRUGS",
    "RXNORM_INGREDIENTS",
    "RXNORM_PRODUCTS",
    "SECONDARY_ICD",
    "SECONDARY_ICD_PREFIXES",
    "SECONDARY_SNOMED",
    "SINGLE_DRUG_OPTIONS",
    "SNOMED",
    "THERAPY_OUTCOMES",
    "TUMOR_SIZE",
    "UCUM",
    "UNSPECIFIED_SECONDARY_ICD",
    "WHIPPLE_SNOMED",
    "WHIPPLE_WORDS",
    "Resection",
    "field_requirement",
]  # fmt: skip
