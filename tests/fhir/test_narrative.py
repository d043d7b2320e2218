"""Report text gives proposals with the sentence quoted; ambiguous text gives none."""

import pytest

from netlm.fhir.mapping.narrative import propose
from netlm.fhir.mapping.result import STATED_GRADE


def found(text: str) -> set[tuple[str, object, str | None]]:
    return {(p.field, p.value, p.comparator) for p in propose(text, "DiagnosticReport/r")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Ki-67 index: <3 %.", {("pathology.ki67_percent", 3, "<")}),
     ("Ki67 labelling index 15%.", {("pathology.ki67_percent", 15, None)}),
     ("Mitotic count: 3 per 2 mm².", {("pathology.mitoses_per_2mm2", 3, None)}),
     ("12 mitoses/2 mm2.", {("pathology.mitoses_per_2mm2", 12, None)}),
     ("Poorly differentiated large cell neuroendocrine carcinoma.",
      {("pathology.differentiation", "poor", None), ("pathology.morphology", "large_cell_nec", None)}),
     ("MiNEN of the colon.", {("pathology.morphology", "minen", None)}),
     ("NET G1.", {(STATED_GRADE, "G1", None)}),
     ("Solitary hepatic metastasis in segment VI.", {("liver.lesion_count", 1, None)}),
     ("Five liver lesions, bilobar.", {("liver.lesion_count", 5, None)})],
)  # fmt: skip
def test_each_finding(text: str, expected: set[tuple[str, object, str | None]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Ki-67 5-10%.",
        "More than 10 liver lesions.",
        "Not poorly differentiated.",
        "Well and poorly differentiated areas.",
        "Mitoses 4/10 HPF.",
        "Grade 1-2.",
    ],
)
def test_ambiguous_text_gives_no_proposal(text: str) -> None:
    assert found(text) == set()


def test_the_quote_is_the_whole_sentence_and_decimals_do_not_split_it() -> None:
    (p,) = propose("Largest lesion 2.5 cm. Ki-67 2.5 %; no necrosis.", "DiagnosticReport/r")
    assert p.quote == "Ki-67 2.5 %; no necrosis."
    assert p.value == 2.5
