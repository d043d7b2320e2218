"""What an import returns, and the error that refuses one: both carry what was not used."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netlm.model.case import Case
from netlm.model.parse import Problem

# `Unmapped.field` for a resource netlm does not read at all (its code is none netlm uses).
NOT_USED = "(not used)"
# `Unmapped.field` for a resource left out whole: invalid, another patient's, refuted.
RESOURCE = "(resource)"
# `Unmapped.field` for a resource dated after the assessment date: not known on that date.
AFTER_DATE = "(after the date)"
# `Proposal.field` for a WHO grade stated in a report: no case field (netlm computes the grade),
# shown so that the clinician can compare it with the grade netlm computes.
STATED_GRADE = "(stated WHO grade)"


@dataclass(frozen=True)
class Proposal:
    """A value read from a report's narrative: shown to a clinician to confirm, never a fact.

    It never enters the case. `value` is in the case's unit and vocabulary, so a form can be
    prefilled with it; with a `comparator` ("<" for "Ki-67 <3%") the text gave only a bound.
    `in_case` is what the case already holds for that field (None when nothing), so a
    disagreement between the coded chart and the text is visible.
    """

    field: str  # the netlm.case/1 path it would fill, or STATED_GRADE
    value: Any
    quote: str  # the sentence it was read from, verbatim
    source: str  # "DiagnosticReport/<id>" (conclusion or presentedForm)
    comparator: str | None = None
    in_case: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "comparator": self.comparator,
            "quote": self.quote,
            "source": self.source,
            "in_case": self.in_case,
        }


@dataclass(frozen=True)
class Unmapped:
    field: str  # the netlm.case/1 JSON path it would have filled, or NOT_USED / RESOURCE
    reason: str  # plain words: what was found (resource, code) and why it was not used


@dataclass(frozen=True)
class FhirImport:
    case: Case  # validated netlm.case/1
    unmapped: list[Unmapped]  # what could not be mapped; never guessed
    sources: dict[str, str]  # case JSON path -> "ResourceType/id" it came from
    # values read from report text (Ki-67, mitoses, differentiation, grade, lesion count): for a
    # clinician to confirm, never in `case`
    proposals: list[Proposal] = field(default_factory=list)


class FhirMappingError(ValueError):
    """The Bundle cannot become a case at all.

    `reasons` says why; `unmapped` is everything the import left unused until it stopped, so a
    refusal still shows the whole chart. `problems` is both, the reasons first, in the one shape
    the CLI prints and the API returns (an unmapped item's path is "unmapped: <field>").
    """

    def __init__(self, reasons: list[Problem], unmapped: Sequence[Unmapped] = ()) -> None:
        self.reasons = reasons
        self.unmapped = list(unmapped)
        self.problems = reasons + [Problem(f"unmapped: {u.field}", u.reason) for u in unmapped]
        super().__init__("\n".join(str(p) for p in self.problems))
