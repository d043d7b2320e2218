"""Schema of the knowledge-base data files (validated at load; exported by `netlm kb schema`).

Recommendations follow the CPG-on-FHIR idea: knowledge (conditions) + strength + the evidence
behind it, kept apart from the engine that applies them.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from netlm.model.codes import Intent, OptionCode, Region, Strength

NonEmpty = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.]*$")]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Data):
    """A user-facing string in every supported language."""

    en: NonEmpty
    zh: NonEmpty

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class Manifest(_Data):
    name: NonEmpty
    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]
    released: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    disclaimer: Text


Design = Literal[
    "rct_phase3", "rct_phase2", "single_arm_phase2", "prospective_cohort",
    "retrospective_series", "meta_analysis", "systematic_review", "guideline", "consensus",
    "review", "label", "classification",
]  # fmt: skip
Status = Literal["verified", "unverified"]


class Endpoint(_Data):
    name: Text
    unit: Literal["months", "percent", "years", "none"]
    values: list[float | None]
    hr: float | None = None
    hr_ci: tuple[float, float] | None = None
    hr_direction: Literal["treatment_vs_control", "control_vs_treatment"] = Field(
        "treatment_vs_control",
        description="Which arm's hazard the reported HR puts over the other's (as published).",
    )
    p: str | None = None
    status: Status


class Evidence(_Data):
    id: Identifier
    short_name: NonEmpty
    title: NonEmpty
    citation: NonEmpty
    doi: str | None = None
    pmid: Annotated[str, StringConstraints(pattern=r"^\d+$")] | None = None
    design: Design
    population: Text
    n: int | None = None
    arms: list[Text] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    key_result: Text
    status: Status
    verification: NonEmpty

    @property
    def verified(self) -> bool:
        return self.status == "verified"


class FactSpec(_Data):
    label: Text
    type: Literal["number", "integer", "boolean", "enum", "list"]
    unit: str | Text | None = Field(None, description="A symbol, or words per language.")
    values: dict[str, Text] | None = None
    inputs: list[str] | None = Field(
        None, description="Case fields that decide a derived fact (reported when it is unknown)."
    )


class Availability(_Data):
    status: Literal["approved", "not_approved", "off_label"]
    basis: Text = Field(description="What the status rests on (agency, indication, date).")
    evidence: list[Identifier] = Field(default_factory=list)
    verified: bool


Category = Literal[
    "surgery", "transplant", "ablation", "transarterial", "somatostatin_analogue", "targeted",
    "radioligand", "chemotherapy", "observation", "trial",
]  # fmt: skip


class Option(_Data):
    code: OptionCode
    name: Text
    short: Text = Field(description="Short name for lists (e.g. SSA, PRRT).")
    category: Category
    intent: Intent
    systemic: bool
    availability: dict[Region, Availability]


class Indication(_Data):
    id: Identifier
    strength: Strength
    priority: int = Field(ge=1, le=99, description="Lower ranks first among equal strength.")
    when: Any
    rationale: Text
    evidence: list[Identifier] = Field(min_length=1)


class Contraindication(_Data):
    id: Identifier
    when: Any
    reason: Text
    evidence: list[Identifier] = Field(min_length=1)


class Caution(_Data):
    id: Identifier
    report_missing: bool = Field(
        False, description="List the fields this caution needs as missing data when unrecorded."
    )
    when: Any
    text: Text
    evidence: list[Identifier] = Field(min_length=1)


class OptionRules(_Data):
    option: OptionCode
    indications: list[Indication] = Field(min_length=1)
    contraindications: list[Contraindication] = Field(default_factory=list)
    cautions: list[Caution] = Field(default_factory=list)


class Definition(_Data):
    label: Text
    when: Any


class GradeThresholds(_Data):
    """WHO grade from one index: < g2_from → G1; g2_from..g3_above → G2; > g3_above → G3."""

    g2_from: float
    g3_above: float


class Grading(_Data):
    ki67_percent: GradeThresholds
    mitoses_per_2mm2: GradeThresholds
    evidence: list[Identifier] = Field(min_length=1)


class ClassRule(_Data):
    """A classification rule: when `when` holds, `reason` explains the result."""

    id: Identifier
    when: Any
    reason: Text
    evidence: list[Identifier] = Field(min_length=1)


class PatternRule(_Data):
    id: Identifier
    when: Any
    pattern: Literal["I", "II", "III"]
    reason: Text
    evidence: list[Identifier] = Field(min_length=1)


class Resectability(_Data):
    unresectable: list[ClassRule]
    potentially_resectable: list[ClassRule]
    resectable_when: Any = Field(description="What must hold for `resectable`.")
    resectable_reason: Text
    evidence: list[Identifier] = Field(min_length=1)


class Classification(_Data):
    grading: Grading
    liver_pattern: list[PatternRule]
    resectability: Resectability


class FlagRule(_Data):
    id: Identifier
    code: Identifier
    when: Any
    message: Text
    evidence: list[Identifier] = Field(min_length=1)
