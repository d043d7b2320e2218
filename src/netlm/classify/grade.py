"""WHO 2019 grade of a GEP neuroendocrine neoplasm from Ki-67 and mitotic count.

Thresholds come from the knowledge base (classification.yaml); this module only applies them:
each index gives a grade, the higher of the two decides, and poorly differentiated or NEC
morphology is NEC whatever the indices say. Above the G3 thresholds WHO separates NET G3 from
NEC by morphology, not by numbers: without a recorded differentiation the result is G3 with
NET versus NEC undecided, and nothing pretends to know which. A Ki-67 reported only as a bound
("<3 %") grades only when every value under it gives the same grade; otherwise it counts as not
recorded.
"""

from dataclasses import dataclass

from netlm.knowledge.conditions import UpTo
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
    undecided: bool = False  # G3 by the indices, NET G3 or NEC: differentiation not recorded

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


def ki67_value(pathology: Pathology) -> float | UpTo | None:
    """Ki-67 as recorded: the value, the upper bound a report gave instead ("<3 %"), or None."""
    if pathology.ki67_percent is not None:
        return pathology.ki67_percent
    if pathology.ki67_below_percent is not None:
        return UpTo(pathology.ki67_below_percent, inclusive=False)
    if pathology.ki67_at_most_percent is not None:
        return UpTo(pathology.ki67_at_most_percent, inclusive=True)
    return None


def grade_by_bound(value: UpTo, thresholds: GradeThresholds) -> Grade | None:
    """G1 when every value under the bound is G1 ("<3"); an upper bound decides no other grade."""
    return "G1" if value.decides("lt", thresholds.g2_from) else None


def who_grade(pathology: Pathology, grading: Grading) -> GradeResult:
    recorded = ki67_value(pathology)
    if isinstance(recorded, UpTo):
        ki67 = grade_by_bound(recorded, grading.ki67_percent)
    else:
        ki67 = grade_by(recorded, grading.ki67_percent)
    mitoses = grade_by(pathology.mitoses_per_2mm2, grading.mitoses_per_2mm2)
    if pathology.differentiation == "poor" or pathology.morphology in NEC_MORPHOLOGIES:
        return GradeResult("NEC", "differentiation", ki67, mitoses)
    if ki67 is None:
        if mitoses is None:
            return GradeResult("unknown", "none", None, None)
        return _with_morphology(GradeResult(mitoses, "mitoses", None, mitoses), pathology)
    if mitoses is None:
        return _with_morphology(GradeResult(ki67, "ki67", ki67, None), pathology)
    if ki67 == mitoses:
        result = GradeResult(ki67, "both", ki67, mitoses)
    elif _ORDER[ki67] > _ORDER[mitoses]:
        result = GradeResult(ki67, "ki67", ki67, mitoses)
    else:
        result = GradeResult(mitoses, "mitoses", ki67, mitoses)
    return _with_morphology(result, pathology)


def _with_morphology(result: GradeResult, pathology: Pathology) -> GradeResult:
    """Mark a G3 by the indices as undecided when nothing says the tumour is well differentiated."""
    known_net = pathology.differentiation == "well" or pathology.morphology == "net"
    if result.grade == "G3" and not known_net:
        return GradeResult("G3", result.basis, result.ki67_grade, result.mitotic_grade, True)
    return result
