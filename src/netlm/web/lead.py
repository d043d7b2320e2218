"""What a board reads first, shared by the case page and the PDF report.

The summary card (completeness and what to record next, the first tier with its key result and
basis, the safety gates that hold it back, the flags), each caution with its kind, and the
options not proposed grouped by why. The engine gives cautions and reasons as sentences only; their
kind is read back from the knowledge base's own wording (which message or rule wrote them), so
nothing here changes what the engine decides.
"""

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from netlm.engine.branches import provisional_rows
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment, Exclusion, Recommendation
from netlm.web.casesheet import flag_name, missing_findings

CautionKind = Literal["gate", "unchecked", "label", "note"]
CAUTION_KINDS: tuple[CautionKind, ...] = ("gate", "unchecked", "label", "note")

# The messages the engine writes cautions with, and the kind each one is.
CAUTION_MESSAGES: tuple[tuple[str, CautionKind], ...] = (
    ("caution.unchecked", "unchecked"),
    ("region.scope_unchecked", "unchecked"),
    ("caution.relative", "gate"),
    ("caution.outside_population", "gate"),
    ("caution.unverified_concern", "gate"),
    ("region.unverified_not_approved", "label"),
    ("region.unverified", "label"),
    ("region.off_label", "label"),
    ("region.not_everywhere", "label"),
    ("region.not_found", "label"),
    ("region.unknown", "label"),
)

# Label remarks that also cap an option at `consider`, so they hold the first choice back.
CAPPING_LABEL_MESSAGES = ("region.unverified_not_approved", "region.unknown")

ExclusionGroup = Literal["ruled_out", "not_indicated", "waiting"]
EXCLUSION_GROUPS: tuple[ExclusionGroup, ...] = ("ruled_out", "not_indicated", "waiting")


@dataclass(frozen=True)
class Caution:
    kind: CautionKind
    text: str


@dataclass(frozen=True)
class FirstChoice:
    rec: Recommendation
    key_result: str  # the first cited study's key result, "" when none is cited
    study: str


@dataclass(frozen=True)
class Lead:
    """The summary card: the answer, how sure it is, and what holds it back."""

    provisional: bool
    branches: list[tuple[str, str, str]]  # (finding, case field, first tier for each value)
    record_next: list[str]  # findings to record, when no branch names them
    first: list[FirstChoice]
    gates: list[tuple[str, Caution]]  # (option short name, safety gate or unchecked finding)
    flags: list[tuple[str, str, str]]  # (code, name, message)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A message template as a pattern: each {placeholder} matches any text."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)


def _written_by(text: str, key: str, kb: KnowledgeBase) -> bool:
    return any(_pattern(kb.messages[key](lang)).fullmatch(text) for lang in ("en", "zh"))


def written_kind(text: str, option: str, kb: KnowledgeBase, lang: str) -> CautionKind | None:
    """The kind of the rule or message that wrote a caution; None when none did."""
    if text in {c.rule.text(lang) for c in kb.options[option].cautions}:
        return "note"
    for key, kind in CAUTION_MESSAGES:
        if _written_by(text, key, kb):
            return kind
    return None


def caution_kind(text: str, option: str, kb: KnowledgeBase, lang: str) -> CautionKind:
    """A caution's kind; one the knowledge base cannot place is shown as a safety gate."""
    return written_kind(text, option, kb, lang) or "gate"


def cautions(rec: Recommendation, kb: KnowledgeBase, lang: str) -> list[Caution]:
    """The option's cautions with their kinds, safety gates first, practical notes last."""
    found = [Caution(caution_kind(t, rec.option, kb, lang), t) for t in rec.cautions]
    return sorted(found, key=lambda c: CAUTION_KINDS.index(c.kind))


def exclusion_group(ex: Exclusion, kb: KnowledgeBase, lang: str) -> ExclusionGroup:
    """Ruled out (a contraindication, or not approved here), not indicated (a requirement this
    case does not meet), or waiting (only findings not recorded stand in the way)."""
    entry = kb.options[ex.option]
    contra = {c.rule.reason(lang) for c in entry.contraindications}
    if any(r in contra or _written_by(r, "region.excluded", kb) for r in ex.reasons):
        return "ruled_out"
    if any(_unmet_known(r, kb) for r in ex.reasons):
        return "not_indicated"
    unknown = kb.messages["op.known.false"](lang)
    if any(unknown in r for r in ex.reasons):
        return "waiting"
    return "not_indicated"


def _unmet_known(reason: str, kb: KnowledgeBase) -> bool:
    """A requirement this case's recorded finding does not meet."""
    unknown = ("phrase.unknown", "phrase.says_unknown")
    if any(_written_by(reason, key, kb) for key in unknown):
        return False
    return any(_written_by(reason, key, kb) for key in ("phrase.value", "phrase.says"))


def excluded_groups(
    a: Assessment, kb: KnowledgeBase, lang: str
) -> list[tuple[ExclusionGroup, list[Exclusion]]]:
    """The options not proposed, by group, in the order above; empty groups left out."""
    by_group: dict[ExclusionGroup, list[Exclusion]] = {g: [] for g in EXCLUSION_GROUPS}
    for ex in a.excluded:
        by_group[exclusion_group(ex, kb, lang)].append(ex)
    return [(g, by_group[g]) for g in EXCLUSION_GROUPS if by_group[g]]


def lead(a: Assessment, kb: KnowledgeBase, lang: str) -> Lead:
    first_tier = [r for r in a.recommendations if r.tier == 1]
    first = []
    for rec in first_tier:
        ref = rec.evidence[0].id if rec.evidence else None
        record = kb.evidence[ref] if ref else None
        key_result, study = (record.key_result(lang), record.short_name) if record else ("", "")
        first.append(FirstChoice(rec, key_result, study))
    gates = [
        (kb.options[rec.option].option.short(lang), c)
        for rec in first_tier
        for c in cautions(rec, kb, lang)
        if c.kind in ("gate", "unchecked")
        or any(_written_by(c.text, key, kb) for key in CAPPING_LABEL_MESSAGES)
    ]
    branches = provisional_rows(a, kb) if a.completeness == "provisional" else []
    record_next = []
    if a.completeness == "provisional" and not branches:
        record_next = [label for label, _ in missing_findings(a, kb, lang)]
    return Lead(
        provisional=a.completeness == "provisional", branches=branches, record_next=record_next,
        first=first, gates=gates,
        flags=[(f.code, flag_name(f.code, lang), f.message) for f in a.flags],
    )  # fmt: skip
