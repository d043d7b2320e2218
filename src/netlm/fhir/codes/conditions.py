"""Condition codes: primary sites, morphology, liver and other metastases.

"Interop brief" is /work/shared/reference/interop-brief.md §2; "code search" means the public
code index searched when the table was written (the repository or file is named).
"""

from typing import Final

from netlm.model.codes import ExtrahepaticSite, Morphology, PrimarySite

# SNOMED CT body sites (code search: TG263 -> SNOMED ConceptMap, CM_TG263.fsh).
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


def icd_key(code: str) -> str:
    """An ICD-10 code without its dot: feeds send "C7B.02" and "C7B02" alike."""
    return code.strip().upper().replace(".", "")


# ICD-10-CM C7A.0 "Malignant carcinoid tumors" by site: a NET primary even without a bodySite.
# Verified in the FY2026 ICD-10-CM code book as rendered by https://hccbuddy.com/icd10/C7A.010
# (C7A.0, C7A.01x) and https://littleden.blog/icd10/code/C7A.02/ and .../C7A.09/ (the C7A.02x
# and C7A.09x sub-codes). The cecum is part of netlm's colon (ICD-O-3 C18.0 likewise).
CARCINOID_PRIMARY_ICD: Final[dict[str, PrimarySite]] = {
    "C7A010": "duodenum",
    "C7A011": "small_intestine",  # jejunum
    "C7A012": "small_intestine",  # ileum
    "C7A019": "small_intestine",  # small intestine, unspecified portion
    "C7A020": "appendix",
    "C7A021": "colon",  # cecum
    "C7A022": "colon",  # ascending colon
    "C7A023": "colon",  # transverse colon
    "C7A024": "colon",  # descending colon
    "C7A025": "colon",  # sigmoid colon
    "C7A026": "rectum",
    "C7A029": "colon",  # large intestine, unspecified portion (colon NOS)
    "C7A092": "stomach",
}
# The other C7A.0 codes name no site netlm assesses (a NET primary, but not gastroenteropancreatic
# or not placed): reported with the reason, never read as a site.
CARCINOID_SITES_NOT_READ: Final[dict[str, str]] = {
    "C7A00": "unspecified site",
    "C7A090": "bronchus and lung",
    "C7A091": "thymus",
    "C7A093": "kidney",
    "C7A094": "foregut, unspecified",
    "C7A095": "midgut, unspecified",
    "C7A096": "hindgut, unspecified",
    "C7A098": "other sites",
}

# ICD-O-3 morphology (interop brief §2.2, WHO 2019 digestive blue book).
MORPHOLOGY: Final[dict[str, tuple[Morphology | None, str | None]]] = {
    "8240/3": ("net", "well"),  # NET G1
    "8249/3": ("net", "well"),  # NET G2 and G3 (the grade is computed from Ki-67/mitoses)
    "8246/3": (None, "poor"),  # NEC, NOS: poorly differentiated, cell type not stated
    "8013/3": ("large_cell_nec", "poor"),
    "8041/3": ("small_cell_nec", "poor"),
    "8154/3": ("minen", None),
}

# SNOMED CT morphologic abnormalities (the binding of mCODE's histology-morphology-behavior
# extension and of LOINC 31206-6), as listed in the HL7 Lithuania laboratory guide's Tumor Type
# value set (https://build.fhir.org/ig/HL7LT/ig-lt-lab/en/ValueSet-tumor-type.html).
MORPHOLOGY_SNOMED: Final[dict[str, tuple[Morphology | None, str | None]]] = {
    "1286768001": ("net", "well"),  # Well-differentiated neuroendocrine tumor
    "128628002": ("large_cell_nec", "poor"),  # Large cell neuroendocrine carcinoma
    "74364000": ("small_cell_nec", "poor"),  # Small cell carcinoma
    "785766008": ("minen", None),  # Mixed neuroendocrine-non-neuroendocrine neoplasm
}

LIVER_METASTASIS_SNOMED: Final = "94381002"  # interop brief §2.2
# ICD-10 C78.7 (interop brief §2.1); ICD-10-CM C7B.02 "Secondary carcinoid tumors of liver"
# (https://hccbuddy.com/icd10/C7B.02, FY2026 code book). Keys without the dot (icd_key).
LIVER_METASTASIS_ICD: Final = frozenset({"C787", "C7B02"})
SECONDARY_SNOMED: Final[dict[str, ExtrahepaticSite]] = {
    "94222008": "bone",  # interop brief §2.2 (the pitfall note), FSH examples
    "94391008": "lung",  # code search: FSH example "Secondary malignant neoplasm of lung"
}
# ICD-10-CM C7B.0x (code search: a commented ICD-10-CM list, "Secondary carcinoid tumors of ...")
# and C78/C79 sites (code search: ICD-10-CM tables, e.g. C78.6 "... of peritoneum").
# (C7B.0x re-read at https://autoicdapi.com/reference/icd-10/C7B.0.) Keys without the dot.
SECONDARY_ICD: Final[dict[str, ExtrahepaticSite]] = {
    "C7B01": "distant_lymph_nodes",  # "Secondary carcinoid tumors of distant lymph nodes"
    "C7B03": "bone",
    "C7B04": "peritoneum",
    "C7B09": "other",
    "C7800": "lung",
    "C7801": "lung",
    "C7802": "lung",
    "C786": "peritoneum",  # retroperitoneum and peritoneum
    "C7951": "bone",
}
SECONDARY_ICD_PREFIXES: Final = ("C77", "C78", "C79", "C7B")
# C77.x: lymph nodes by anatomical group; it does not say regional or distant (unmapped).
LYMPH_NODE_ICD_PREFIX: Final = "C77"
UNSPECIFIED_SECONDARY_ICD: Final = frozenset({"C799"})
