"""The two public contracts: `netlm.case/1` in, `netlm.assessment/1` out."""

from netlm.model.assessment import (
    Assessment,
    Classification,
    EvidenceRef,
    Exclusion,
    Flag,
    KnowledgeBaseVersion,
    MissingData,
    Recommendation,
)
from netlm.model.case import Case
from netlm.model.parse import CaseInputError, parse_case, parse_case_json

__all__ = [
    "Assessment",
    "Case",
    "CaseInputError",
    "Classification",
    "EvidenceRef",
    "Exclusion",
    "Flag",
    "KnowledgeBaseVersion",
    "MissingData",
    "Recommendation",
    "parse_case",
    "parse_case_json",
]
