"""WHO 2019 grade of a GEP neuroendocrine neoplasm from Ki-67 and mitotic count.

Thresholds come from the knowledge base (classification.yaml); this module only applies them:
each index gives a grade, the higher of the two decides, and poorly differentiated or NEC
morphology is NEC whatever the indices say.
"""

from dataclasses import dataclass

from netlm.knowledge.schema import GradeThresholds, Grading
from netlm.model.case import Pathology
from netlm.model.codes import Grade, GradeBasis

_ORDER = {"G1": 1, "G2": 2, "G3": 3}
NEC_MORPHOLOGIES = ("small_cell_nec", "large_cell_nec")


@dataclass(frozen=True)
class GradeResult:
    grade: Grade
    basis: GradeBasis
    ki67_grade: Grade | None
    mitotic_grade: Grade | None

    @property
    def discordant(self) -> bool | None:
        if self.ki67_grade is None or self.mitotic_grade is None:
            return None
        return self.ki67_grade != self.mitotic_grade


def grade_by(value: float | None, thresholds: GradeThresholds) -> Grade | None:
    if value is None:
        return None
    if value < thresholds.g2_from:
        return "G1"
    return "G2" if value <= thresholds.g3_above else "G3"


def who_grade(pathology: Pathology, grading: Grading) -> GradeResult:
    ki67 = grade_by(pathology.ki67_percent, grading.ki67_percent)
    mitoses = grade_by(pathology.mitoses_per_2mm2, grading.mitoses_per_2mm2)
    if pathology.differentiation == "poor" or pathology.morphology in NEC_MORPHOLOGIES:
        return GradeResult("NEC", "differentiation", ki67, mitoses)
    if ki67 is None:
        if mitoses is None:
            return GradeResult("unknown", "none", None, None)
        return GradeResult(mitoses, "mitoses", None, mitoses)
    if mitoses is None:
        return GradeResult(ki67, "ki67", ki67, None)
    if ki67 == mitoses:
        return GradeResult(ki67, "both", ki67, mitoses)
    if _ORDER[ki67] > _ORDER[mitoses]:
        return GradeResult(ki67, "ki67", ki67, mitoses)
    return GradeResult(mitoses, "mitoses", ki67, mitoses)
