"""What an import returns, and the error that refuses one: both carry what was not used."""

from collections.abc import Sequence
from dataclasses import dataclass

from netlm.model.case import Case
from netlm.model.parse import Problem

# `Unmapped.field` for a resource netlm does not read at all (its code is none netlm uses).
NOT_USED = "(not used)"
# `Unmapped.field` for a resource left out whole: invalid, another patient's, refuted.
RESOURCE = "(resource)"


@dataclass(frozen=True)
class Unmapped:
    field: str  # the netlm.case/1 JSON path it would have filled, or NOT_USED / RESOURCE
    reason: str  # plain words: what was found (resource, code) and why it was not used


@dataclass(frozen=True)
class FhirImport:
    case: Case  # validated netlm.case/1
    unmapped: list[Unmapped]  # what could not be mapped; never guessed
    sources: dict[str, str]  # case JSON path -> "ResourceType/id" it came from


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
