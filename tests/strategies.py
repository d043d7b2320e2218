"""Hypothesis strategies for valid `netlm.case/1` documents (every field optional where allowed)."""

from datetime import date
from typing import Any, get_args

from hypothesis import strategies as st

from netlm.model import codes


def _opt(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def _of(literal: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(get_args(literal))


def _num(lo: float, hi: float) -> st.SearchStrategy[float]:
    boundaries = [b for b in (0, 1, 2, 2.5, 3, 10, 20, 20.5, 50, 55, 75, 100) if lo <= b <= hi]
    finite = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from(boundaries), finite) if boundaries else finite


# Ki-67 as a value, as an upper bound a report gave instead ("<3", "≤2"), or not recorded.
_ki67 = st.one_of(
    st.just({}),
    _num(0, 100).map(lambda v: {"ki67_percent": v}),
    _num(0, 100).filter(lambda v: v > 0).map(lambda v: {"ki67_below_percent": v}),
    _num(0, 100).map(lambda v: {"ki67_at_most_percent": v}),
)

cases = st.fixed_dictionaries(
    {
        "schema": st.just("netlm.case/1"),
        "id": st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
        "primary": st.fixed_dictionaries(
            {"site": _of(codes.PrimarySite)},
            optional={
                "status": _of(codes.PrimaryStatus),
                "resectable": st.booleans(),
                "functional_syndrome": _of(codes.FunctionalSyndrome),
            },
        ),
        "liver": _opt(
            lesion_count=st.integers(1, 60),
            largest_lesion_cm=st.floats(0.1, 25),
            distribution=_of(codes.Distribution),
            tumor_burden_percent=_num(0, 100),
            pattern=_of(codes.LiverPattern),
            resectable=st.booleans(),
            future_liver_remnant_percent=_num(0, 100),
            synchronous=st.booleans(),
        ),
    },
    optional={
        "region": _of(codes.Region),
        "patient": _opt(age_years=_num(0, 120), sex=_of(codes.Sex), ecog=st.integers(0, 4)),
        "pathology": st.builds(
            lambda rest, ki67: {**rest, **ki67},
            _opt(
                differentiation=_of(codes.Differentiation),
                mitoses_per_2mm2=_num(0, 80),
                morphology=_of(codes.Morphology),
            ),
            _ki67,
        ),
        "extrahepatic": _opt(
            sites=st.lists(_of(codes.ExtrahepaticSite), max_size=3, unique=True),
            resectable=st.booleans(),
        ),
        "sstr_imaging": _opt(
            modality=_of(codes.SstrModality),
            krenning_score=st.integers(0, 4),
            all_lesions_positive=st.booleans(),
        ),
        "course": _opt(status=_of(codes.CourseStatus), months_stable=_num(0, 120)),
        "symptoms": _opt(
            bulky_symptomatic=st.booleans(),
            hormonal_refractory=st.booleans(),
            source=_of(codes.SymptomSource),
        ),
        "prior_therapies": st.lists(
            st.fixed_dictionaries(
                {"option": _of(codes.OptionCode), "outcome": _of(codes.TherapyOutcome)},
                optional={
                    "best_response": _of(codes.BestResponse),
                    "line": st.integers(1, 20),
                    "stopped": st.dates(date(2000, 1, 1), date(2030, 12, 31)).map(str),
                },
            ),
            max_size=4,
        ),
        "history": _opt(
            bilioenteric_anastomosis=st.booleans(), carcinoid_heart_disease=st.booleans()
        ),
        "labs": _opt(
            bilirubin_x_uln=_num(0, 10),
            albumin_g_dl=_num(0, 6),
            creatinine_clearance_ml_min=_num(0, 200),
            platelets_10e9_per_l=_num(0, 600),
            hemoglobin_g_dl=_num(0, 20),
            neutrophils_10e9_per_l=_num(0, 20),
        ),
    },
)
