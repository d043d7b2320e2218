"""Observation codes: LOINC (mass and molar units), mCODE disease status, netlm's own codes."""

from typing import Final

from netlm.model.codes import CourseStatus

# --- LOINC -----------------------------------------------------------------------------------
KI67: Final = "29593-1"  # interop brief §2.2 (corrected check digit)
ECOG: Final = "89247-1"  # interop brief §2.1/2.2 (mCODE FSH)
HISTOLOGY: Final = "31206-6"  # interop brief §2.1 (mcode-histologic-behavior-and-type)
PLATELETS: Final = "777-3"  # code search: LOINC value sets in FSH IGs ("Platelets [#/volume]")
HEMOGLOBIN: Final = "718-7"  # code search: FSH IG examples ("Hemoglobin [Mass/volume] in Blood")
# "Hemoglobin [Moles/volume] in Blood", as rendered from LOINC by the HL7 Switzerland CH LAB-Order
# guide (https://build.fhir.org/ig/hl7ch/ch-lab-order/ObservationDefinition-observation-blood-
# hemoglobin.html, unit mmol/L).
HEMOGLOBIN_MOLAR: Final = "59260-0"
NEUTROPHILS: Final = "751-8"  # code search: FSH IG examples ("Neutrophils [#/volume] in Blood")
BILIRUBIN: Final = "1975-2"  # code search: Outburn-IL LRC value set ("Bilirubin.total")
# "Bilirubin.total [Moles/volume] in Serum, Plasma or Blood": https://loinc.org/77137-8/
BILIRUBIN_MOLAR_ANY: Final = "77137-8"
# "Bilirubin.total [Moles/volume] in Serum or Plasma" (Bilirub SerPl-sCnc, class CHEM): a row of
# the LOINC table mirrored in a public repository; the loinc.org page is not in the search index.
BILIRUBIN_MOLAR: Final = "14631-6"
ALBUMIN: Final = "1751-7"  # code search: Outburn-IL LRC value set ("Albumin [Mass/volume]")
CREATININE_CLEARANCE: Final = "2164-2"  # code search: FSH IGs ("Creatinine renal clearance")
EGFR_MDRD: Final = "33914-3"  # code search: LOINC feature table ("GFR/1.73 sq M predicted")
EGFR_CKD_EPI: Final = "62238-1"  # code search: several national IGs (CKD-EPI eGFR)
# "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by
# Creatinine-based formula (CKD-EPI 2021)", the race-free equation: the code of the HL7
# Switzerland CH LAB-Report profile ch-lab-observation-egfr-cr-ckd-epi-2021
# (https://build.fhir.org/ig/hl7ch/ch-lab-report/StructureDefinition-ch-lab-observation-egfr-cr-ckd-epi-2021.html).
EGFR_CKD_EPI_2021: Final = "98979-8"
EGFR_CODES: Final = frozenset({EGFR_MDRD, EGFR_CKD_EPI, EGFR_CKD_EPI_2021})

# ECOG as a coded LOINC answer (answer list LL529-9, the binding of mCODE's ECOG interpretation,
# https://hl7.org/fhir/us/mcode/STU4/StructureDefinition-mcode-ecog-performance-status.html):
# LA9622-7 ... LA9626-8 are grades 0-4, LA9627-6 grade 5 (dead). The grade of each answer as the
# Medizininformatik-Initiative oncology ConceptMap (oBDS ECOG -> LOINC) and mCODE-based apps
# pair them (code search: "LA9625-0").
ECOG_ANSWERS: Final[dict[str, int]] = {
    "LA9622-7": 0,
    "LA9623-5": 1,
    "LA9624-3": 2,
    "LA9625-0": 3,
    "LA9626-8": 4,
}
ECOG_DEAD: Final = "LA9627-6"

# mCODE CancerDiseaseStatus: LOINC 97509-4 and its value set ConditionStatusTrendVS
# (https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-cancer-disease-status.html,
# https://hl7.org/fhir/us/mcode/ValueSet-mcode-condition-status-trend-vs.html; STU1 and the 2021
# ballot add 260415000 and 281900007). Only worsened and stable say what netlm's course means.
CANCER_DISEASE_STATUS: Final = "97509-4"
DISEASE_STATUS_COURSE: Final[dict[str, CourseStatus]] = {
    "271299001": "progressive",  # Patient's condition worsened
    "359746009": "stable",  # Patient's condition stable
}
DISEASE_STATUS_NOT_READ: Final[dict[str, str]] = {
    "268910001": "improved (responding), which is neither stable nor progressive disease",
    "709137006": "undetermined",
    "260415000": "not detected (no evidence of disease)",
    "281900007": "no abnormality detected",
}

# mCODE TumorSize (https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-tumor-size.html):
# the dimensions of one tumour, longest in component 33728-7. It does not say which lesion is the
# largest, how many there are or where, so it fills no liver finding (reported as not used).
TUMOR_SIZE: Final = "21889-1"

# LOINC observations: code -> (case path, value kind; the kinds are read by mapping.observations).
LOINC_OBSERVATIONS: Final[dict[str, tuple[str, str]]] = {
    KI67: ("pathology.ki67_percent", "percent"),
    ECOG: ("patient.ecog", "integer"),
    PLATELETS: ("labs.platelets_10e9_per_l", "count"),
    NEUTROPHILS: ("labs.neutrophils_10e9_per_l", "count"),
    HEMOGLOBIN: ("labs.hemoglobin_g_dl", "hemoglobin"),
    HEMOGLOBIN_MOLAR: ("labs.hemoglobin_g_dl", "hemoglobin_molar"),
    ALBUMIN: ("labs.albumin_g_dl", "g_dl"),
    BILIRUBIN: ("labs.bilirubin_x_uln", "x_uln"),
    BILIRUBIN_MOLAR: ("labs.bilirubin_x_uln", "x_uln"),
    BILIRUBIN_MOLAR_ANY: ("labs.bilirubin_x_uln", "x_uln"),
    CREATININE_CLEARANCE: ("labs.creatinine_clearance_ml_min", "ml_min"),
    EGFR_MDRD: ("labs.creatinine_clearance_ml_min", "egfr"),
    EGFR_CKD_EPI: ("labs.creatinine_clearance_ml_min", "egfr"),
    EGFR_CKD_EPI_2021: ("labs.creatinine_clearance_ml_min", "egfr"),
    CANCER_DISEASE_STATUS: ("course.status", "disease_status"),
}

# --- netlm-observation: case fields with no standard code ------------------------------------
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
    "extrahepatic-limited": ("extrahepatic.limited", "boolean"),
    "sstr-modality": ("sstr_imaging.modality", "code"),
    "krenning-score": ("sstr_imaging.krenning_score", "integer"),
    "sstr-all-lesions-positive": ("sstr_imaging.all_lesions_positive", "boolean"),
    "disease-course": ("course.status", "code"),
    "months-stable": ("course.months_stable", "months"),
    "bulky-symptomatic": ("symptoms.bulky_symptomatic", "boolean"),
    "hormonal-refractory": ("symptoms.hormonal_refractory", "boolean"),
    "symptom-source": ("symptoms.source", "code"),
    "bilioenteric-anastomosis": ("history.bilioenteric_anastomosis", "boolean"),
    "carcinoid-heart-disease": ("history.carcinoid_heart_disease", "boolean"),
}

# Case fields a standard code also fills (LOINC above; ICD-O-3 morphology, SNOMED resections and
# pancreatoduodenectomy, metastasis Conditions): an EHR can hold them without netlm's codes.
FIELDS_WITH_STANDARD_CODES: Final = frozenset(
    {path for path, _ in LOINC_OBSERVATIONS.values()}
    | {
        "pathology.morphology",
        "pathology.differentiation",
        "primary.status",
        "history.bilioenteric_anastomosis",
        "extrahepatic.sites",
    }
)
# What only netlm's own codes carry: a chart coded in standards alone never holds these, so the
# tumour board completes them in netlm.
NO_STANDARD_CODE: Final = frozenset(
    path for path, _ in NETLM_OBSERVATIONS.values() if path not in FIELDS_WITH_STANDARD_CODES
)
