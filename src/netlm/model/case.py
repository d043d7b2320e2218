"""`netlm.case/1`: the findings of one patient, as the engine accepts them.

Unknown fields are rejected (typo protection) and input is validated strictly: a clinical
contract should not turn `"yes"` into `True` or `"3"` into `3` behind the user's back.
"""

from datetime import date
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from netlm.model.codes import (
    BestResponse,
    CourseStatus,
    Differentiation,
    Distribution,
    ExtrahepaticSite,
    FunctionalSyndrome,
    LiverPattern,
    Morphology,
    OptionCode,
    PrimarySite,
    PrimaryStatus,
    Region,
    Sex,
    SstrModality,
    SymptomSource,
    TherapyOutcome,
)

CASE_SCHEMA_ID = "netlm.case/1"

Percent = Annotated[float, Field(ge=0, le=100)]

# Measurements have a ceiling no living patient reaches: beyond it the value is a typing or
# unit error, refused with the field named. These are plausibility bounds, not clinical cut-offs.


def _integral(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (JSON Schema agrees); 2.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Constraints first, then the validator: that order keeps minimum/maximum in the JSON Schema.
Integral = BeforeValidator(_integral)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Patient(_Strict):
    age_years: Annotated[float, Field(ge=0, le=120)] | None = None
    sex: Sex | None = None
    ecog: Annotated[int, Field(ge=0, le=4), Integral] | None = None


class Primary(_Strict):
    site: PrimarySite
    status: PrimaryStatus | None = None
    resectable: bool | None = None
    functional_syndrome: FunctionalSyndrome | None = Field(
        None, description='"none" = non-functioning; not recorded = not known.'
    )


KI67_FIELDS = ("ki67_percent", "ki67_below_percent", "ki67_at_most_percent")
# The Ki-67 upper bounds a report can give instead of a value: field -> whether the bound belongs.
KI67_BOUNDS = {"pathology.ki67_below_percent": False, "pathology.ki67_at_most_percent": True}


class Pathology(_Strict):
    differentiation: Differentiation | None = None
    ki67_percent: Percent | None = None
    ki67_below_percent: Annotated[float, Field(gt=0, le=100)] | None = Field(
        None, description='Ki-67 reported only as a bound, e.g. "<3 %" (the value is below it).'
    )
    ki67_at_most_percent: Annotated[float, Field(ge=0, le=100)] | None = Field(
        None, description='Ki-67 reported only as a bound, e.g. "≤2 %" (the value is at most it).'
    )
    mitoses_per_2mm2: Annotated[float, Field(ge=0, le=1000)] | None = None
    morphology: Morphology | None = None

    @model_validator(mode="after")
    def _one_ki67(self) -> "Pathology":
        """A report gives Ki-67 as a value or as a bound, never both: which one would count?"""
        given = [n for n in KI67_FIELDS if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"record one of {' or '.join(given)}, not both")
        return self


class Liver(_Strict):
    lesion_count: Annotated[int, Field(ge=1), Integral] | None = None
    largest_lesion_cm: Annotated[float, Field(gt=0, le=40)] | None = None
    distribution: Distribution | None = None
    tumor_burden_percent: Percent | None = None
    pattern: LiverPattern | None = Field(
        None, description="The radiologist's or surgeon's reading; wins over derivation."
    )
    resectable: bool | None = Field(
        None, description="The surgeon's judgement of the liver disease; wins over derivation."
    )
    future_liver_remnant_percent: Percent | None = None
    synchronous: bool | None = None


class Extrahepatic(_Strict):
    sites: list[ExtrahepaticSite] = Field(default_factory=list, description="Empty = none.")
    resectable: bool | None = None
    limited: bool | None = Field(
        None,
        description="Limited extrahepatic disease, the liver dominating burden and symptoms "
        "(liver-dominant disease; the board's judgement).",
    )


class SstrImaging(_Strict):
    modality: SstrModality | None = None
    krenning_score: Annotated[int, Field(ge=0, le=4), Integral] | None = Field(
        None,
        description="0 none, 1 below liver, 2 equal to liver, 3 above liver, 4 above spleen/kidney",
    )
    all_lesions_positive: bool | None = None


class Course(_Strict):
    status: CourseStatus | None = None
    months_stable: Annotated[float, Field(ge=0, le=1200)] | None = None


class Symptoms(_Strict):
    bulky_symptomatic: bool | None = Field(
        None, description="Pain, compression or a need for tumour shrinkage."
    )
    hormonal_refractory: bool | None = None
    source: SymptomSource | None = Field(
        None,
        description="Where the bulk or symptoms come from: the liver, the primary or mesentery "
        "(obstruction, ischaemia), or both.",
    )


IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]


def _real_date(value: str | None) -> str | None:
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date of the calendar") from None
    return value


class PriorTherapy(_Strict):
    """One line of the treatment history; therapies are listed oldest first."""

    option: OptionCode
    outcome: TherapyOutcome
    started: IsoDate | None = None
    stopped: IsoDate | None = None
    best_response: BestResponse | None = Field(None, description="RECIST best response.")
    line: Annotated[int, Field(ge=1, le=20), Integral] | None = Field(
        None, description="Line of systemic therapy for advanced disease (1 = first)."
    )

    _dates = field_validator("started", "stopped")(_real_date)

    @model_validator(mode="after")
    def _stopped_after_started(self) -> "PriorTherapy":
        if self.started and self.stopped and self.stopped < self.started:
            raise ValueError(f"stopped {self.stopped} is before started {self.started}")
        return self


class History(_Strict):
    bilioenteric_anastomosis: bool | None = Field(None, description="E.g. prior Whipple.")
    carcinoid_heart_disease: bool | None = None


class Labs(_Strict):
    bilirubin_x_uln: Annotated[float, Field(ge=0, le=100)] | None = None
    albumin_g_dl: Annotated[float, Field(ge=0, le=10)] | None = None
    creatinine_clearance_ml_min: Annotated[float, Field(ge=0, le=400)] | None = None
    platelets_10e9_per_l: Annotated[float, Field(ge=0, le=5000)] | None = None
    hemoglobin_g_dl: Annotated[float, Field(ge=0, le=30)] | None = None
    neutrophils_10e9_per_l: Annotated[float, Field(ge=0, le=500)] | None = None


class Case(_Strict):
    """One patient's findings. Absent optional fields mean "not known", never "normal"."""

    model_config = ConfigDict(title="netlm.case/1")

    schema_: Literal["netlm.case/1"] = Field(alias="schema")
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    region: Region | None = None
    patient: Patient = Field(default_factory=Patient)
    primary: Primary
    pathology: Pathology = Field(default_factory=Pathology)
    liver: Liver
    extrahepatic: Extrahepatic | None = None
    sstr_imaging: SstrImaging = Field(default_factory=SstrImaging)
    course: Course = Field(default_factory=Course)
    symptoms: Symptoms = Field(default_factory=Symptoms)
    prior_therapies: list[PriorTherapy] = Field(
        default_factory=list, description="Oldest first; the latest outcome of an option wins."
    )
    history: History = Field(default_factory=History)
    labs: Labs = Field(default_factory=Labs)

    @field_validator("prior_therapies")
    @classmethod
    def _oldest_first(cls, therapies: list[PriorTherapy]) -> list[PriorTherapy]:
        """The history is read in the order given: dated entries must be in date order."""
        dated = [(i, t.started) for i, t in enumerate(therapies) if t.started]
        for (i, earlier), (j, later) in pairwise(dated):
            if later < earlier:
                raise ValueError(
                    f"therapy {j + 1} started {later}, before therapy {i + 1} ({earlier}): "
                    "list therapies oldest first"
                )
        return therapies

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


_BOUNDS: dict[str, tuple[float, float]] = {}


def field_bounds(path: str) -> tuple[float, float]:
    """The range a numeric case field accepts (from its schema), as (minimum, maximum)."""
    if not _BOUNDS:
        schema = Case.model_json_schema(by_alias=True)
        defs = schema.get("$defs", {})
        for section, prop in schema["properties"].items():
            ref = prop.get("$ref") or next(
                (a["$ref"] for a in prop.get("anyOf", []) if "$ref" in a), None
            )
            if ref is None:
                continue
            for name, field in defs[ref.rsplit("/", 1)[1]].get("properties", {}).items():
                for option in field.get("anyOf", [field]):
                    if option.get("type") in ("number", "integer"):
                        lo = option.get("minimum", option.get("exclusiveMinimum", 0))
                        hi = option.get("maximum", option.get("exclusiveMaximum", 1000))
                        _BOUNDS[f"{section}.{name}"] = (float(lo), float(hi))
    return _BOUNDS.get(path, (0.0, 1000.0))
