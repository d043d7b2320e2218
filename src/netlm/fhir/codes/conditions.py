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

# ICD-O-3 morphology (interop brief §2.2, WHO 2019 digestive blue book).
MORPHOLOGY: Final[dict[str, tuple[Morphology | None, str | None]]] = {
    "8240/3": ("net", "well"),  # NET G1
    "8249/3": ("net", "well"),  # NET G2 and G3 (the grade is computed from Ki-67/mitoses)
    "8246/3": (None, "poor"),  # NEC, NOS: poorly differentiated, cell type not stated
    "8013/3": ("large_cell_nec", "poor"),
    "8041/3": ("small_cell_nec", "poor"),
    "8154/3": ("minen", None),
}

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
SECONDARY_ICD_PREFIXES: Final = ("C77", "C78", "C79", "C7B")
# C77.x: lymph nodes by anatomical group; it does not say regional or distant (unmapped).
LYMPH_NODE_ICD_PREFIX: Final = "C77"
UNSPECIFIED_SECONDARY_ICD: Final = frozenset({"C79.9", "C799"})
