"""Ki-67 on the case form as a report writes it: "<1", "< 3", "≤2" are bounds, kept as bounds;
"12,5" is 12.5; anything else is refused naming the field, in both languages."""

import pytest

from netlm.knowledge.load import load_knowledge_base
from netlm.web import forms

KB = load_knowledge_base()
BASE = {"id": "form-k", "primary.site": "pancreas"}
KI67 = "pathology.ki67_percent"


@pytest.mark.parametrize(
    ("text", "value", "below", "at_most"),
    [("<1", None, 1, None), ("< 3", None, 3, None), ("<3 %", None, 3, None),
     ("≤2", None, None, 2), ("<=2", None, None, 2), ("≤0", None, None, 0),
     ("12,5", 12.5, None, None), ("<2,5", None, 2.5, None), ("8", 8, None, None),
     ("8 %", 8, None, None)],
)  # fmt: skip
def test_ki67_as_written_in_a_report(
    text: str, value: float | None, below: float | None, at_most: float | None
) -> None:
    case, _, problems = forms.parse_form({**BASE, KI67: text}, KB)
    assert problems == {}
    assert case is not None
    p = case.pathology
    assert (p.ki67_percent, p.ki67_below_percent, p.ki67_at_most_percent) == (value, below, at_most)


@pytest.mark.parametrize("text", ["<1", "≤2", "12.5"])
def test_a_bound_is_written_back_as_entered_and_round_trips(text: str) -> None:
    case, _, _ = forms.parse_form({**BASE, KI67: text}, KB)
    assert case is not None
    written = forms.to_form(case)
    assert written[KI67] == text
    assert not any(k.startswith("pathology.ki67_") and k != KI67 for k in written)
    again, _, problems = forms.parse_form(written, KB)
    assert problems == {}
    assert again == case


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("text", ["abc", "<", "<abc", "<0", ">20", "3-5", "<3<4"])
def test_anything_else_is_refused_naming_the_field(text: str, lang: str) -> None:
    case, values, problems = forms.parse_form({**BASE, KI67: text}, KB, lang)
    assert case is None
    assert set(problems) == {KI67}
    assert values[KI67] == text  # the form comes back holding what was entered
    assert ("<3" in problems[KI67]) if lang == "en" else ("上限" in problems[KI67])


def test_an_unclear_comma_keeps_its_own_message() -> None:
    _, _, problems = forms.parse_form({**BASE, KI67: "<1,250"}, KB)
    assert "thousands separator" in problems[KI67]


def test_a_bound_out_of_range_says_the_range() -> None:
    _, _, problems = forms.parse_form({**BASE, KI67: "<101"}, KB)
    assert problems[KI67] == "must be between 0 and 100, got <101"


def test_the_bound_fields_are_not_fields_of_their_own() -> None:
    names = {f.name for s in forms.sections(KB, "en") for f in s.fields}
    assert KI67 in names
    assert not {"pathology.ki67_below_percent", "pathology.ki67_at_most_percent"} & names
