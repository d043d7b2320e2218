"""`netlm.assessment/1`: what netlm says about one case.

Every user-facing string is already in the requested language; codes stay language-neutral so
that machines (web app, FHIR, CDS Hooks, registry) can act on them.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from netlm.model.codes import (
    Availability,
    Completeness,
    Grade,
    GradeBasis,
    Intent,
    Language,
    OptionCode,
    PatternResult,
    Region,
    Resectability,
    Strength,
)

ASSESSMENT_SCHEMA_ID = "netlm.assessment/1"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KnowledgeBaseVersion(_Out):
    version: str
    released: str = Field(description="ISO date of the knowledge-base release.")


class Classification(_Out):
    grade: Grade
    grade_basis: GradeBasis
    who_category: str = Field(description='E.g. "NET G2", "NEC, large-cell type".')
    liver_pattern: PatternResult
    liver_pattern_basis: str
    resectability: Resectability
    resectability_reasons: list[str]
    intent: Intent
    net_or_nec_undecided: bool = Field(
        False,
        description="G3 by Ki-67 or mitoses with differentiation not recorded: NET G3 and NEC "
        "are treated differently, and the pathology review decides.",
    )


class EvidenceRef(_Out):
    id: str
    summary: str = Field(description="Trial or series, N, key result, citation.")


class Recommendation(_Out):
    option: OptionCode
    name: str
    strength: Strength
    rank: int = Field(ge=1, description="1 = first choice.")
    tier: int = Field(
        ge=1, description="1 = preferred; options that share a tier are equal alternatives."
    )
    order_basis: str = Field(
        description="Why the option stands where it does: level of evidence, on- or off-label, "
        "invasiveness, a safety limit, or equal alternatives to choose between."
    )
    rationale: list[str]
    evidence: list[EvidenceRef]
    cautions: list[str]
    availability: dict[Region, Availability]


class Exclusion(_Out):
    option: OptionCode
    name: str
    reasons: list[str]


class Flag(_Out):
    code: str
    message: str


class MissingData(_Out):
    field: str = Field(description='JSON path in the case, e.g. "pathology.ki67_percent".')
    why: str


class BranchOutcome(_Out):
    value: str = Field(description="The value of the missing finding, in words.")
    first_tier: list[OptionCode] = Field(description="The first tier with that value.")
    strengths: list[Strength] = Field(description="The strength of each first-tier option.")
    names: list[str] = Field(description="The first-tier options' names.")


class Branch(_Out):
    field: str = Field(description="The missing finding (JSON path in the case).")
    label: str
    outcomes: list[BranchOutcome] = Field(
        description="One entry per value (or range of values) the rules tell apart."
    )


class Assessment(_Out):
    model_config = ConfigDict(title="netlm.assessment/1", populate_by_name=True)

    schema_: Literal["netlm.assessment/1"] = Field("netlm.assessment/1", alias="schema")
    case_id: str
    language: Language
    knowledge_base: KnowledgeBaseVersion
    classification: Classification
    recommendations: list[Recommendation]
    excluded: list[Exclusion]
    flags: list[Flag]
    missing_data: list[MissingData]
    completeness: Completeness = Field(
        "complete",
        description="`complete` when no unrecorded finding could change the first tier; "
        "`provisional` when one could (see `branches`) or when nothing can be proposed yet.",
    )
    branches: list[Branch] = Field(
        default_factory=list,
        description="For each missing finding that decides the first tier: the first tier "
        "for each of its values.",
    )

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
