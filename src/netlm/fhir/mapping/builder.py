"""The state of one import: the chart's entries and what has been read from them so far."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netlm.fhir.mapping.elements import EPOCH, describe
from netlm.fhir.mapping.result import NOT_USED, Proposal, Unmapped
from netlm.knowledge.conditions import Leaf
from netlm.model.codes import ExtrahepaticSite, PrimarySite, TherapyOutcome
from netlm.model.parse import Problem


@dataclass(frozen=True)
class Entry:
    order: int
    full_url: str | None
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data["resourceType"])

    @property
    def label(self) -> str:
        if "id" in self.data:
            return f"{self.type}/{self.data['id']}"
        return f"{self.type} at entry[{self.order}]"


@dataclass(frozen=True)
class Value:
    value: Any
    rank: tuple[int, dt.datetime, int]  # (tier, date, bundle order): the highest wins
    source: str


@dataclass(frozen=True)
class Therapy:
    key: str  # an option code, or a drug name waiting to be combined into a regimen
    outcome: TherapyOutcome
    start: tuple[dt.datetime, int]
    source: str
    administered: bool = False  # one MedicationAdministration (an infusion, one PRRT cycle)


@dataclass
class Builder:
    entries: list[Entry]
    on: dt.date
    thresholds: Mapping[str, tuple[Leaf, ...]]  # case path -> every comparison netlm makes
    values: dict[str, Value] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)
    refusals: list[Problem] = field(default_factory=list)
    sites: dict[ExtrahepaticSite, Value] = field(default_factory=dict)
    primaries: list[tuple[PrimarySite, Entry]] = field(default_factory=list)
    conditions_seen: list[str] = field(default_factory=list)
    therapies: list[Therapy] = field(default_factory=list)
    by_reference: dict[str, Entry] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)

    def offer(
        self,
        path: str,
        value: Any,
        entry: Entry,
        when: dt.datetime | None,
        *,
        tier: int = 1,
        note: str = "",
    ) -> None:
        """Keep `value` for `path` if it is more recent than what is there."""
        rank = (tier, when or EPOCH, entry.order)
        current = self.values.get(path)
        if current is None or rank > current.rank:
            self.values[path] = Value(value, rank, entry.label + note)

    def miss(self, path: str, reason: str) -> None:
        self.unmapped.append(Unmapped(path, reason))

    def not_used(self, entry: Entry, concept: Any, why: str) -> None:
        """A resource whose code netlm does not read: listed with the code, never dropped."""
        self.miss(NOT_USED, f"{entry.label} ({describe(concept)}): {why}")
