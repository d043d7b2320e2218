"""Order proposed options into tiers, each with the reason it stands where it does.

Options are ordered by strength (`recommended` first), then on-label before off-label, then by
the priority the indication gives, then by catalogue order. Options that share strength, label
status and priority share a tier: they are equal alternatives, and the order within a tier says
nothing. Every option carries its `order_basis` in words, so the ranking can be questioned.
"""

from dataclasses import dataclass

from netlm.engine.decide import STRENGTH_ORDER, Decision
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser

# Designs from the strongest evidence of benefit to the weakest, for "level of evidence".
DESIGN_LEVEL = (
    "rct_phase3", "rct_phase2", "meta_analysis", "systematic_review", "single_arm_phase2",
    "prospective_cohort", "guideline", "consensus", "retrospective_series", "review",
    "case_report", "label", "regulatory", "classification",
)  # fmt: skip


@dataclass(frozen=True)
class Placed:
    decision: Decision
    rank: int
    tier: int
    order_basis: str


def _band(decision: Decision) -> tuple[int, bool, int]:
    return STRENGTH_ORDER[decision.strength], decision.off_label, decision.priority


def place(decisions: list[Decision], kb: KnowledgeBase, say: Phraser) -> list[Placed]:
    """Rank, tier and explain the proposed options."""
    catalogue = {code: i for i, code in enumerate(kb.options)}
    proposed = sorted(
        (d for d in decisions if d.proposed), key=lambda d: (*_band(d), catalogue[d.code])
    )
    tiers: dict[tuple[int, bool, int], int] = {}
    for decision in proposed:
        tiers.setdefault(_band(decision), len(tiers) + 1)
    members: dict[int, list[Decision]] = {}
    for decision in proposed:
        members.setdefault(tiers[_band(decision)], []).append(decision)
    placed = []
    for rank, decision in enumerate(proposed, start=1):
        tier = tiers[_band(decision)]
        peers = [d for d in members[tier] if d is not decision]
        placed.append(Placed(decision, rank, tier, _order_basis(decision, peers, kb, say)))
    return placed


def _order_basis(decision: Decision, peers: list[Decision], kb: KnowledgeBase, say: Phraser) -> str:
    parts = []
    if decision.capped:
        parts.append(say.text("tier.capped"))
    if decision.off_label:
        parts.append(say.text("tier.off_label"))
    if peers:
        names = say.join([say.option_short(d.code) for d in peers])
        parts.append(say.text("tier.equal", options=names))
    elif decision.basis is not None and decision.basis.order_basis is not None:
        parts.append(decision.basis.order_basis(say.lang))
    else:
        parts.append(_level_of_evidence(decision, kb, say))
    return " ".join(parts)


def _level_of_evidence(decision: Decision, kb: KnowledgeBase, say: Phraser) -> str:
    verified = [kb.evidence[e] for e in decision.evidence if kb.evidence[e].verified]
    best = min(verified, key=lambda e: DESIGN_LEVEL.index(e.design))
    return say.text("tier.evidence", design=say.text(f"design.{best.design}"), name=best.short_name)
