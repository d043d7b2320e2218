"""Every code the FHIR mapping reads or writes, each with where it was verified.

A code that could not be verified is not here: the mapping then reports the element as unmapped
instead of guessing. "Interop brief" is /work/shared/reference/interop-brief.md §2; "code
search" means the public code index searched while writing this module (the repository or file
is named).
"""

from typing import Final

from netlm.model.codes import ExtrahepaticSite, Morphology, OptionCode, PrimarySite

# --- Code systems -----------------------------------------------------------------------------
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3: Final = "http://terminology.hl7.org/CodeSystem/icd-o-3"  # onconova IG value sets
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC: Final = "http://www.whocc.no/atc"  # code search: FHIR examples coding ATC with this URI

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

# --- mCODE (interop brief §2.1; URLs confirmed in HL7/fhir-mCODE-ig SD_Extensions.fsh) --------
MCODE: Final = "http://hl7.org/fhir/us/mcode/StructureDefinition"
MCODE_PRIMARY: Final = f"{MCODE}/mcode-primary-cancer-condition"
MCODE_SECONDARY: Final = f"{MCODE}/mcode-secondary-cancer-condition"
MCODE_HISTOLOGY_EXT: Final = f"{MCODE}/mcode-histology-morphology-behavior"

# --- LOINC observations -----------------------------------------------------------------------
KI67: Final = "29593-1"  # interop brief §2.2 (corrected check digit)
ECOG: Final = "89247-1"  # interop brief §2.1/2.2 (mCODE FSH)
HISTOLOGY: Final = "31206-6"  # interop brief §2.1 (mcode-histologic-behavior-and-type)
PLATELETS: Final = "777-3"  # code search: LOINC value sets in FSH IGs ("Platelets [#/volume]")
HEMOGLOBIN: Final = "718-7"  # code search: FSH IG examples ("Hemoglobin [Mass/volume] in Blood")
NEUTROPHILS: Final = "751-8"  # code search: FSH IG examples ("Neutrophils [#/volume] in Blood")
BILIRUBIN: Final = "1975-2"  # code search: Outburn-IL LRC value set ("Bilirubin.total")
ALBUMIN: Final = "1751-7"  # code search: Outburn-IL LRC value set ("Albumin [Mass/volume]")
CREATININE_CLEARANCE: Final = "2164-2"  # code search: FSH IGs ("Creatinine renal clearance")
EGFR_MDRD: Final = "33914-3"  # code search: LOINC feature table ("GFR/1.73 sq M predicted")
EGFR_CKD_EPI: Final = "62238-1"  # code search: several national IGs (CKD-EPI eGFR)
EGFR_CODES: Final = frozenset({EGFR_MDRD, EGFR_CKD_EPI})

# --- SNOMED CT body sites (code search: TG263 -> SNOMED ConceptMap, CM_TG263.fsh) -------------
BODY_SITES: Final[dict[str, PrimarySite]] = {
    "15776009": "pancreas",  # Pancreatic structure
    "69695003": "stomach",  # Stomach structure
    "38848004": "duodenum",  # Duodenal structure
    "30315005": "small_intestine",  # Structure of small intestine
    "21306003": "small_intestine",  # Jejunal structure
    "34516001": "small_intestine",  # Ileal structure
    "66754008": "appendix",  # Appendix structure (a FHIR Condition example in code search)
    "71854001": "colon",  # Colon structure
    "34402009": "rectum",  # Rectum structure
}

# --- ICD-O-3 morphology (interop brief §2.2, WHO 2019 digestive blue book) --------------------
MORPHOLOGY: Final[dict[str, tuple[Morphology | None, str | None]]] = {
    "8240/3": ("net", "well"),  # NET G1
    "8249/3": ("net", "well"),  # NET G2 and G3 (the grade is computed from Ki-67/mitoses)
    "8246/3": (None, "poor"),  # NEC, NOS: poorly differentiated, cell type not stated
    "8013/3": ("large_cell_nec", "poor"),
    "8041/3": ("small_cell_nec", "poor"),
    "8154/3": ("minen", None),
}

# --- Metastases -------------------------------------------------------------------------------
LIVER_METASTASIS_SNOMED: Final = "94381002"  # interop brief §2.2
LIVER_METASTASIS_ICD: Final = frozenset({"C78.7", "C7B.02"})  # interop brief §2.1
SECONDARY_SNOMED: Final[dict[str, ExtrahepaticSite]] = {
    "94222008": "bone",  # interop brief §2.2 (the pitfall note), FSH examples
    "94391008": "lung",  # code search: FSH example "Secondary malignant neoplasm of lung"
}
# ICD-10-CM C7B.0x (code search: a commented ICD-10-CM list, "Secondary carcinoid tumors of ...")
# and C78/C79 sites (code search: ICD-10-CM tables, e.g. C78.6 "... of peritoneum").
SECONDARY_ICD: Final[dict[str, ExtrahepaticSite]] = {
    "C7B.01": "distant_lymph_nodes",  # "Secondary carcinoid tumors of distant lymph nodes"
    "C7B.03": "bone",
    "C7B.04": "peritoneum",
    "C7B.09": "other",
    "C78.00": "lung",
    "C78.01": "lung",
    "C78.02": "lung",
    "C78.6": "peritoneum",  # retroperitoneum and peritoneum
    "C79.51": "bone",
}
# ICD-10 C77.x: secondary neoplasm of lymph nodes by anatomical group; it does not say regional
# or distant, so it is reported as unmapped.
LYMPH_NODE_ICD_PREFIX: Final = "C77"

# --- Procedures (SNOMED CT; code search: a SNOMED CT translation table, duodenum section) -----
WHIPPLE_SNOMED: Final = frozenset(
    {
        "116241004",  # Pancreaticoduodenectomy
        "116031009",  # Pylorus-sparing Whipple operation
    }
)

# --- Medicines --------------------------------------------------------------------------------
# ATC (code search: BfArM ATC code-system extracts and several drug tables agree).
ATC_DRUGS: Final[dict[str, str]] = {
    "H01CB02": "octreotide",
    "H01CB03": "lanreotide",
    "L01EG02": "everolimus",
    "L01XE10": "everolimus",  # ATC before the 2021 revision
    "L01EX01": "sunitinib",
    "L01XE04": "sunitinib",  # ATC before the 2021 revision
    "L01EX07": "cabozantinib",
    "V10XX04": "lutetium_177lu_oxodotreotide",
    "L01BC06": "capecitabine",
    "L01AX03": "temozolomide",
    "L01AD04": "streptozocin",
    "L01XA01": "cisplatin",
    "L01XA02": "carboplatin",
    "L01CB01": "etoposide",
}
# RxNorm ingredients (code search: a PharmGKB drug table, "RxNorm:<rxcui> <name> ... <ATC>").
# Octreotide, lanreotide, everolimus, cabozantinib, temozolomide, streptozocin, 177Lu-dotatate
# and surufatinib could not be verified: a coding with only an unknown RxNorm code is unmapped.
RXNORM_DRUGS: Final[dict[str, str]] = {
    "194000": "capecitabine",
    "357977": "sunitinib",
    "2555": "cisplatin",
    "40048": "carboplatin",
    "4179": "etoposide",
}
# Free-text names, used only when a medication carries no coding at all.
DRUG_NAMES: Final[dict[str, str]] = {
    "octreotide": "octreotide",
    "sandostatin": "octreotide",
    "lanreotide": "lanreotide",
    "somatuline": "lanreotide",
    "everolimus": "everolimus",
    "afinitor": "everolimus",
    "sunitinib": "sunitinib",
    "sutent": "sunitinib",
    "surufatinib": "surufatinib",
    "cabozantinib": "cabozantinib",
    "cabometyx": "cabozantinib",
    "lutathera": "lutetium_177lu_oxodotreotide",
    "lutetium": "lutetium_177lu_oxodotreotide",  # not "dotatate": Ga-68 DOTATATE is imaging
    "177lu": "lutetium_177lu_oxodotreotide",
    "oxodotreotide": "lutetium_177lu_oxodotreotide",
    "capecitabine": "capecitabine",
    "temozolomide": "temozolomide",
    "streptozocin": "streptozocin",
    "streptozotocin": "streptozocin",
    "cisplatin": "cisplatin",
    "carboplatin": "carboplatin",
    "etoposide": "etoposide",
}
SINGLE_DRUG_OPTIONS: Final[dict[str, OptionCode]] = {
    "octreotide": "ssa",
    "lanreotide": "ssa",
    "everolimus": "everolimus",
    "sunitinib": "sunitinib",
    "surufatinib": "surufatinib",
    "cabozantinib": "cabozantinib",
    "lutetium_177lu_oxodotreotide": "prrt",
    "streptozocin": "streptozocin_chemotherapy",
}
# Regimens: every group must have a member for the option to be recorded.
REGIMENS: Final[dict[OptionCode, tuple[frozenset[str], ...]]] = {
    "captem": (frozenset({"capecitabine"}), frozenset({"temozolomide"})),
    "platinum_etoposide": (frozenset({"cisplatin", "carboplatin"}), frozenset({"etoposide"})),
}
# Procedures named in free text (only when the Procedure has no coding at all).
PROCEDURE_WORDS: Final[tuple[tuple[str, OptionCode], ...]] = (
    ("chemoemboli", "tace"),
    ("tace", "tace"),
    ("radioemboli", "tare"),
    ("selective internal radiation", "tare"),
    ("sirt", "tare"),
    ("tare", "tare"),
    ("y-90", "tare"),
    ("yttrium", "tare"),
    ("bland emboli", "tae"),
    ("transarterial emboli", "tae"),
    ("tae", "tae"),
    ("radiofrequency ablation", "thermal_ablation"),
    ("microwave ablation", "thermal_ablation"),
    ("rfa", "thermal_ablation"),
    ("mwa", "thermal_ablation"),
)
WHIPPLE_WORDS: Final = (
    "whipple",
    "pancreatoduodenectomy",
    "pancreaticoduodenectomy",
    "hepaticojejunostomy",
    "choledochojejunostomy",
    "bilioenteric",
)

# --- netlm-observation: case fields with no standard code --------------------------------------
# code -> (case path, value kind); the kinds are read by mapping.py.
NETLM_OBSERVATIONS: Final[dict[str, tuple[str, str]]] = {
    "treatment-region": ("region", "code"),
    "primary-status": ("primary.status", "code"),
    "primary-resectable": ("primary.resectable", "boolean"),
    "functional-syndrome": ("primary.functional_syndrome", "code"),
    "differentiation": ("pathology.differentiation", "code"),
    "mitotic-count": ("pathology.mitoses_per_2mm2", "mitoses"),
    "liver-lesion-count": ("liver.lesion_count", "integer"),
    "liver-largest-lesion": ("liver.largest_lesion_cm", "cm"),
    "liver-distribution": ("liver.distribution", "code"),
    "liver-tumor-burden": ("liver.tumor_burden_percent", "percent"),
    "liver-pattern": ("liver.pattern", "code"),
    "liver-resectable": ("liver.resectable", "boolean"),
    "future-liver-remnant": ("liver.future_liver_remnant_percent", "percent"),
    "liver-synchronous": ("liver.synchronous", "boolean"),
    "extrahepatic-disease": ("extrahepatic.sites", "boolean"),
    "extrahepatic-resectable": ("extrahepatic.resectable", "boolean"),
    "sstr-modality": ("sstr_imaging.modality", "code"),
    "krenning-score": ("sstr_imaging.krenning_score", "integer"),
    "sstr-all-lesions-positive": ("sstr_imaging.all_lesions_positive", "boolean"),
    "disease-course": ("course.status", "code"),
    "months-stable": ("course.months_stable", "months"),
    "bulky-symptomatic": ("symptoms.bulky_symptomatic", "boolean"),
    "hormonal-refractory": ("symptoms.hormonal_refractory", "boolean"),
    "bilioenteric-anastomosis": ("history.bilioenteric_anastomosis", "boolean"),
    "carcinoid-heart-disease": ("history.carcinoid_heart_disease", "boolean"),
}

# LOINC observations: code -> (case path, value kind).
LOINC_OBSERVATIONS: Final[dict[str, tuple[str, str]]] = {
    KI67: ("pathology.ki67_percent", "percent"),
    ECOG: ("patient.ecog", "integer"),
    PLATELETS: ("labs.platelets_10e9_per_l", "count"),
    NEUTROPHILS: ("labs.neutrophils_10e9_per_l", "count"),
    HEMOGLOBIN: ("labs.hemoglobin_g_dl", "hemoglobin"),
    ALBUMIN: ("labs.albumin_g_dl", "g_dl"),
    BILIRUBIN: ("labs.bilirubin_x_uln", "x_uln"),
    CREATININE_CLEARANCE: ("labs.creatinine_clearance_ml_min", "ml_min"),
    EGFR_MDRD: ("labs.creatinine_clearance_ml_min", "egfr"),
    EGFR_CKD_EPI: ("labs.creatinine_clearance_ml_min", "egfr"),
}

THERAPY_OUTCOMES: Final = ("progression", "intolerance")


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
