"""Code-system and profile URIs the mapping reads, and netlm's own systems.

Where each was verified is said beside it; docs/fhir-mapping.md repeats the table.
"""

from typing import Final

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
ICDO3: Final = "http://terminology.hl7.org/CodeSystem/icd-o-3"  # onconova IG value sets
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC: Final = "http://www.whocc.no/atc"  # code search: FHIR examples coding ATC with this URI
CPT: Final = "http://www.ama-assn.org/go/cpt"  # HL7's URI for CPT (the FHIR terminology pages)
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"

# ICD-10 editions. The chapter C and D codes netlm reads (C16-C20, C25, C77-C80, C7B) are the
# WHO codes, which the national modifications keep; each edition is named by its own URI.
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"  # WHO edition
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"  # US clinical modification
# German modification: HL7 Deutschland TerminologieBasisDE, CodeSystem icd-10-gm
# (https://build.fhir.org/ig/hl7germany/terminologie-basis-de/CodeSystem-icd-10-gm.html).
ICD10GM: Final = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
ICD10_EDITIONS: Final = frozenset({ICD10, ICD10CM, ICD10GM})

# mCODE (interop brief §2.1; URLs confirmed in HL7/fhir-mCODE-ig SD_Extensions.fsh and on
# https://hl7.org/fhir/us/mcode/ profile pages).
MCODE: Final = "http://hl7.org/fhir/us/mcode/StructureDefinition"
MCODE_PRIMARY: Final = f"{MCODE}/mcode-primary-cancer-condition"
MCODE_SECONDARY: Final = f"{MCODE}/mcode-secondary-cancer-condition"
MCODE_HISTOLOGY_EXT: Final = f"{MCODE}/mcode-histology-morphology-behavior"
# Termination reason extension on MedicationRequest and Procedure (mCODE STU1-STU2; the FSH in
# HL7/fhir-mCODE-ig binds it to TreatmentTerminationReasonVS).
MCODE_TERMINATION_EXT: Final = f"{MCODE}/mcode-termination-reason"

# netlm's own code systems (documented in docs/fhir-mapping.md; no standard codes exist).
NETLM_BASE: Final = "https://netlm.org/fhir"
NETLM_OBSERVATION: Final = f"{NETLM_BASE}/CodeSystem/netlm-observation"
NETLM_VALUE: Final = f"{NETLM_BASE}/CodeSystem/netlm-case-value"
NETLM_OPTION: Final = f"{NETLM_BASE}/CodeSystem/netlm-option"
NETLM_OUTCOME: Final = f"{NETLM_BASE}/CodeSystem/netlm-therapy-outcome"
NETLM_CLASSIFICATION: Final = f"{NETLM_BASE}/CodeSystem/netlm-classification"
NETLM_STRENGTH: Final = f"{NETLM_BASE}/CodeSystem/netlm-strength"
NETLM_FLAG: Final = f"{NETLM_BASE}/CodeSystem/netlm-flag"
EXT_CASE_FIELD: Final = f"{NETLM_BASE}/StructureDefinition/case-field"
EXT_MISSING_WHY: Final = f"{NETLM_BASE}/StructureDefinition/missing-why"
