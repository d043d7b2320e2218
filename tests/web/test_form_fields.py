"""The case form's graded scales and numbers as a clinician writes them: ECOG and Krenning are
chosen from their grades with each grade's meaning in words, and a decimal comma is read as a
decimal point where it cannot be a thousands separator."""

import pytest

from netlm.knowledge.load import load_knowledge_base
from netlm.web import forms

KB = load_knowledge_base()
LANGS = ("en", "zh")
BASE = {"id": "form-1", "primary.site": "pancreas"}


def field(name: str, lang: str = "en") -> forms.Field:
    return next(f for s in forms.sections(KB, lang) for f in s.fields if f.name == name)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("name", "meaning"),
    [("patient.ecog", {"en": "fully active", "zh": "活动能力完全正常"}),
     ("sstr_imaging.krenning_score", {"en": "normal liver", "zh": "正常肝脏"})],
)  # fmt: skip
def test_graded_scales_are_choices_with_their_meaning(
    name: str, meaning: dict[str, str], lang: str
) -> None:
    f = field(name, lang)
    assert f.kind == "enum"
    assert [c.value for c in f.choices] == ["0", "1", "2", "3", "4"]
    assert any(meaning[lang] in c.label for c in f.choices)
    if lang == "zh":
        assert not any(p in c.label for c in f.choices for p in "()")


@pytest.mark.parametrize("grade", range(5))
def test_a_chosen_grade_round_trips_as_a_whole_number(grade: int) -> None:
    form = {**BASE, "patient.ecog": str(grade), "sstr_imaging.krenning_score": str(grade)}
    case, _, problems = forms.parse_form(form, KB)
    assert problems == {}
    assert case is not None
    assert case.patient.ecog == grade
    assert case.sstr_imaging.krenning_score == grade
    back = forms.to_form(case)
    assert back["patient.ecog"] == back["sstr_imaging.krenning_score"] == str(grade)


def test_a_grade_outside_the_scale_is_refused_by_name() -> None:
    _, _, problems = forms.parse_form({**BASE, "patient.ecog": "5"}, KB)
    assert problems == {"patient.ecog": "choose one of the listed values"}


@pytest.mark.parametrize(("text", "value"), [("12,5", 12.5), ("0,125", 0.125), (" 3,9 ", 3.9)])
def test_a_decimal_comma_is_a_decimal_point(text: str, value: float) -> None:
    case, entered, problems = forms.parse_form({**BASE, "labs.hemoglobin_g_dl": text}, KB)
    assert problems == {}
    assert case is not None
    assert case.labs.hemoglobin_g_dl == value
    assert entered["labs.hemoglobin_g_dl"] == text  # shown again as written


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("name", "text", "says"),
    [("labs.platelets_10e9_per_l", "1,234", {"en": "thousands separator", "zh": "千位分隔符"}),
     ("labs.albumin_g_dl", "3,9,1", {"en": "must be a number", "zh": "须为数字"}),
     ("liver.lesion_count", "2,5", {"en": "whole number", "zh": "整数"})],
)  # fmt: skip
def test_an_unclear_comma_is_refused_naming_the_field(
    name: str, text: str, says: dict[str, str], lang: str
) -> None:
    case, _, problems = forms.parse_form({**BASE, name: text}, KB, lang)
    assert case is None
    assert list(problems) == [name]
    assert says[lang] in problems[name]
    assert text in problems[name]
