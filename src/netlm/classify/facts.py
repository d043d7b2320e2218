"""The facts that rules see: every case field by its JSON path, plus derived facts.

Derived facts (grade, liver pattern, resectability, extrahepatic extent, prior-therapy history)
are computed here once, so rules stay declarative and the same facts can later be computed as
columns for registry-wide evaluation.
"""

from dataclasses import dataclass
from typing import Any

from netlm.classify.grade import GradeResult, ki67_value, who_grade
from netlm.classify.liver_pattern import PatternResultWithBasis, liver_pattern
from netlm.classify.resectability import ResectabilityResult, resectability
from netlm.knowledge.conditions import OneOf
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.schema import Option
from netlm.model.case import Case
from netlm.model.codes import OPTION_CODES


@dataclass(frozen=True)
class Derived:
    facts: dict[str, Any]
    grade: GradeResult
    pattern: PatternResultWithBasis
    resectability: ResectabilityResult
    missing_inputs: dict[str, tuple[str, ...]]  # derived fact -> case fields that would decide it


def _flatten(prefix: str, data: dict[str, Any], out: dict[str, Any]) -> None:
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(path, value, out)
        else:
            out[path] = value


def case_facts(case: Case, kb: KnowledgeBase) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    _flatten("", case.model_dump(exclude={"schema_", "id", "prior_therapies"}), facts)
    # A Ki-67 reported as a bound is the Ki-67 fact, narrowed: rules decide only where it decides.
    facts["pathology.ki67_percent"] = ki67_value(case.pathology)
    judgement = case.liver.resectable
    facts["liver.surgeon_judgement"] = (
        "not_stated" if judgement is None else ("resectable" if judgement else "unresectable")
    )
    if case.extrahepatic is not None:
        sites = case.extrahepatic.sites
        facts["extrahepatic.present"] = bool(sites)
        facts["extrahepatic.beyond_regional_nodes"] = any(
            s != "regional_lymph_nodes" for s in sites
        )
    facts.update({f"prior.{code}": outcome for code, outcome in history(case).items()})
    given = [
        kb.options[code].option
        for code, outcome in history(case).items()
        if outcome != "none" and kb.options[code].option.systemic
    ]
    facts["prior.systemic_lines"] = sum(1 for option in given if option.code != "ssa")
    facts["prior.systemic_kinds"] = len({therapy_kind(option) for option in given})
    return facts


def therapy_kind(option: Option) -> str:
    """The kind of a systemic therapy as the SANET trials counted them (somatostatin
    analogues one kind, all chemotherapy one kind); each targeted drug counts as its own kind,
    which can only over-count (the safe direction: the gate lowers, never raises)."""
    return str(option.code) if option.category == "targeted" else str(option.category)


def history(case: Case) -> dict[str, str]:
    """The latest outcome of each option, in the order given. A therapy still recorded as
    ongoing while the disease progresses has failed: progression during a therapy is
    progression on it (charts keep it "ongoing" until someone stops it)."""
    progressing = case.course.status == "progressive"
    out: dict[str, str] = dict.fromkeys(OPTION_CODES, "none")
    for therapy in case.prior_therapies:
        out[therapy.option] = therapy.outcome
    if progressing:
        out = {code: "progression" if o == "ongoing" else o for code, o in out.items()}
    return out


def derive(case: Case, kb: KnowledgeBase) -> Derived:
    facts = case_facts(case, kb)
    grade = who_grade(case.pathology, kb.classification.grading)
    if grade.undecided:
        facts["grade"] = OneOf(("G3", "NEC"))
    else:
        facts["grade"] = None if grade.grade == "unknown" else grade.grade
    facts["grade_discordant"] = grade.discordant
    facts["grade_undecided"] = grade.undecided
    pattern = liver_pattern(facts, kb)
    facts["liver_pattern"] = None if pattern.pattern == "unclassified" else pattern.pattern
    resect = resectability(facts, kb)
    facts["resectability"] = None if resect.value == "undetermined" else resect.value
    grade_inputs = ("pathology.ki67_percent", "pathology.mitoses_per_2mm2")
    missing_inputs = {
        "grade": ("pathology.differentiation",)
        if grade.undecided
        else (grade_inputs if grade.grade == "unknown" else ()),
        "grade_discordant": tuple(
            f
            for f, index in zip(grade_inputs, (grade.ki67_grade, grade.mitotic_grade), strict=True)
            if index is None
        ),
        "liver_pattern": pattern.missing,
        "resectability": resect.missing if resect.value == "undetermined" else (),
    }
    return Derived(facts, grade, pattern, resect, missing_inputs)
