"""Controlled vocabularies of the public contracts (netlm.case/1, netlm.assessment/1).

These literals are the contract; the knowledge base's option catalogue must match `OPTION_CODES`
exactly (checked by `netlm kb check`).
"""

from typing import Literal, get_args

Region = Literal["US", "EU", "CN"]
Language = Literal["en", "zh"]
Sex = Literal["female", "male", "other", "unknown"]
PrimarySite = Literal[
    "pancreas", "stomach", "duodenum", "small_intestine", "appendix", "colon", "rectum", "unknown"
]
PrimaryStatus = Literal["in_place", "resected"]
FunctionalSyndrome = Literal[
    "none", "carcinoid", "insulinoma", "gastrinoma", "glucagonoma", "vipoma", "other"
]
Differentiation = Literal["well", "poor", "unknown"]
Morphology = Literal["net", "small_cell_nec", "large_cell_nec", "minen"]
Distribution = Literal["unilobar", "bilobar"]
LiverPattern = Literal["I", "II", "III"]
ExtrahepaticSite = Literal[
    "regional_lymph_nodes", "distant_lymph_nodes", "bone", "lung", "peritoneum", "other"
]
SstrModality = Literal["ga68_pet", "cu64_pet", "octreoscan", "other"]
CourseStatus = Literal["new_diagnosis", "stable", "progressive", "no_evidence_of_disease"]
TherapyOutcome = Literal["progression", "intolerance", "ongoing", "completed"]
SymptomSource = Literal["liver", "primary_or_mesentery", "both"]
BestResponse = Literal[
    "complete_response", "partial_response", "stable_disease", "progressive_disease"
]

OptionCode = Literal[
    "curative_resection",
    "cytoreductive_surgery",
    "primary_tumor_resection",
    "thermal_ablation",
    "liver_transplant_evaluation",
    "tae",
    "tace",
    "tare",
    "ssa",
    "everolimus",
    "sunitinib",
    "surufatinib",
    "cabozantinib",
    "prrt",
    "captem",
    "streptozocin_chemotherapy",
    "platinum_etoposide",
    "surveillance",
    "clinical_trial",
    "best_supportive_care",
]

Grade = Literal["G1", "G2", "G3", "NEC", "unknown"]
GradeBasis = Literal["ki67", "mitoses", "both", "differentiation", "none"]
PatternResult = Literal["I", "II", "III", "unclassified"]
Resectability = Literal["resectable", "potentially_resectable", "unresectable", "undetermined"]
Intent = Literal["curative", "cytoreductive", "disease_control", "palliative", "undetermined"]
Completeness = Literal["complete", "provisional"]
Strength = Literal["recommended", "consider"]
Availability = Literal["approved", "not_approved", "off_label"]

OPTION_CODES: tuple[str, ...] = get_args(OptionCode)
REGIONS: tuple[Region, ...] = get_args(Region)
LANGUAGES: tuple[str, ...] = get_args(Language)
