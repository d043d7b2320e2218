"""Schema of the knowledge-base data files (validated at load; exported by `netlm kb schema`).

Recommendations follow the CPG-on-FHIR idea: knowledge (conditions) + strength + the evidence
behind it, kept apart from the engine that applies them.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from netlm.model.codes import Intent, OptionCode, Region, Strength

NonEmpty = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.]*$")]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


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
    "review", "case_report", "label", "regulatory", "classification",
]  # fmt: skip
# Designs that are documents rather than publications: cited by URL, section and date read.
DOCUMENT_DESIGNS = ("label", "regulatory")
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
    primary: bool = Field(False, description="The trial's primary endpoint: always shown.")
    prognostic: bool = Field(
        False,
        description="How patients fared by a feature of the disease (a prognostic factor or "
        "threshold), not what a treatment did: shown apart from the treatment effects.",
    )
    not_reached: list[int] = Field(
        default_factory=list,
        description="Indices of the arms whose median was not reached (their value is null): "
        'shown as "not reached", never as "not given".',
    )
    status: Status


class Comparison(_Data):
    """What a trial compared, so an effect estimate is credited to the arm it describes.

    A hazard ratio is the experimental arm's hazard against the control arm's: it speaks for
    the options of the experimental arm only, never for an option that was the control.
    """

    experimental: list[OptionCode] = Field(
        min_length=1,
        description="The options whose effect the trial tested (what the experimental arm "
        "adds: NETTER-1's octreotide, given in both arms, is no experimental option).",
    )
    control: list[OptionCode] = Field(
        default_factory=list,
        description="The catalogue options given in the control arm (none: placebo, or a "
        "treatment outside the catalogue).",
    )
    label: Text = Field(
        description='In words, e.g. "177Lu-DOTATATE + octreotide vs high-dose octreotide".'
    )


class Section(_Data):
    """One section of a document (a label or standard), as netlm reads it.

    Each section is citable on its own as `<record id>.<key>` (e.g. `lutathera_eu_smpc.renal`),
    with its own verification: a label whose indication was read may still have a renal
    section that was not, and only a verified section may exclude an option.
    """

    key: Identifier | None = Field(None, description="Citation key for sections under `other`.")
    section: NonEmpty = Field(description='Number and title, e.g. "4.3 Contraindications".')
    says: Text = Field(description="What it says that matters here, in netlm's words.")
    status: Literal["verified", "unverified"]


class Label(_Data):
    """What a drug's label says, for one region: scope of the indication and safety sections."""

    option: OptionCode
    region: Literal["US", "EU", "CN", "HK"] = Field(
        description="The regions netlm serves, or another regulator whose label text informs "
        "a safety rule (HK: Department of Health, Hong Kong SAR, close to the EU SmPC)."
    )
    product: NonEmpty
    revised: NonEmpty | None = None
    indication: Section
    contraindications: Section | None = None
    renal: Section | None = None
    hepatic: Section | None = None
    tests_before: Section | None = None
    other: list[Section] = Field(default_factory=list)

    def sections(self) -> dict[str, Section]:
        """Every section by its citation key."""
        named = {
            key: getattr(self, key)
            for key in ("indication", "contraindications", "renal", "hepatic", "tests_before")
            if getattr(self, key) is not None
        }
        named.update({s.key or f"other{i}": s for i, s in enumerate(self.other)})
        return named


class Evidence(_Data):
    id: Identifier
    short_name: NonEmpty
    title: NonEmpty
    citation: NonEmpty
    doi: str | None = None
    pmid: Annotated[str, StringConstraints(pattern=r"^\d+$")] | None = None
    url: NonEmpty | None = Field(None, description="Where a label or regulatory text was read.")
    read: IsoDate | None = Field(None, description="The date the document was read.")
    design: Design
    population: Text
    eligibility: Text | None = Field(
        None, description="A trial's fitness and organ-function criteria (what the rules gate on)."
    )
    n: int | None = None
    arms: list[Text] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    comparison: Comparison | None = Field(
        None, description="The arms compared: required when an endpoint has a hazard ratio."
    )
    key_result: Text
    status: Status
    verification: NonEmpty
    label: Label | None = None
    population_tests: list[Identifier] = Field(
        default_factory=list,
        description="The dimensions of dimensions.yaml on which the trial's population is "
        "defined: every indication citing it must test each of them (netlm kb check).",
    )
    section_of: Identifier | None = Field(
        None, description="Set by the loader on a label section cited on its own."
    )

    @property
    def verified(self) -> bool:
        return self.status == "verified"


class Dimension(_Data):
    """A dimension of a trial's population (age, operability ...) and the facts that test it."""

    label: Text
    facts: list[str] = Field(min_length=1)


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
    scope: Any = Field(
        None,
        description="When approved: the patient is within the authorised indication (a "
        "condition); outside it the use is off-label.",
    )


Category = Literal[
    "surgery", "transplant", "ablation", "transarterial", "somatostatin_analogue", "targeted",
    "radioligand", "chemotherapy", "observation", "trial", "supportive",
]  # fmt: skip
# Medicines: each needs a label (or regulatory) record per region.
DRUG_CATEGORIES = ("somatostatin_analogue", "targeted", "radioligand", "chemotherapy")


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
    order_basis: Text | None = Field(
        None, description="Why this priority: level of evidence, intent, invasiveness."
    )


class Contraindication(_Data):
    """A safety concern. Absolute and fully verified, it excludes; otherwise it caps the option
    at `consider` and its reason becomes a caution naming the source."""

    id: Identifier
    when: Any
    reason: Text
    evidence: list[Identifier] = Field(min_length=1)
    relative: bool = Field(False, description="A relative contraindication never excludes.")


class Eligibility(_Data):
    """A requirement of the population behind the evidence (a pivotal trial's fitness and
    organ-function criteria). Outside it, the evidence does not apply: at most `consider`."""

    id: Identifier
    requires: Any
    reason: Text
    evidence: list[Identifier] = Field(min_length=1)
    indications: list[Identifier] = Field(
        default_factory=list,
        description="The indications whose evidence has this population (empty: all of them).",
    )


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
    eligibility: list[Eligibility] = Field(default_factory=list)
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
