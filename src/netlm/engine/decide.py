"""Decide one catalogue option for one case: proposed (with strength) or excluded (with reasons).

Safety is asymmetric. An indication raises an option only through verified evidence (enforced by
`netlm kb check`). A concern lowers it on any cited source:

- a contraindication that holds excludes the option when it is absolute and every source behind
  it is verified; a relative one, or one whose source is not fully verified, caps the option at
  `consider` and becomes a caution naming the source;
- outside the population of the evidence (a pivotal trial's fitness or organ-function criteria),
  the evidence does not apply: the option is capped at `consider`;
- not approved in the patient's region excludes when verified and caps when not; outside the
  label's scope in the region the option stays, marked off-label, ranked below on-label options.

A gate that cannot be checked becomes a "not yet checked" caution, and its findings are listed as
missing data, but only when checking them could change the answer.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from netlm.knowledge.conditions import Condition, Outcome, Truth, evaluate, explain, unmet_count
from netlm.knowledge.load import Compiled, CompiledOption, KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.knowledge.schema import Indication
from netlm.model.codes import REGIONS, Availability, Region

STRENGTH_ORDER = {"recommended": 0, "consider": 1}


@dataclass
class MissingLog:
    """Case fields whose absence matters, and why (kind -> option codes or texts)."""

    entries: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def drop_kind(self, kind: str) -> None:
        """Forget the entries of one kind (fields kept only for another reason stay)."""
        for name in list(self.entries):
            self.entries[name].pop(kind, None)
            if not self.entries[name]:
                del self.entries[name]

    def add(self, fields: Iterable[str], kind: str, subject: str) -> None:
        for name in fields:
            subjects = self.entries.setdefault(name, {}).setdefault(kind, [])
            if subject not in subjects:
                subjects.append(subject)


@dataclass
class Decision:
    code: str
    proposed: bool = False
    strength: str = ""
    priority: int = 0
    basis: Indication | None = None  # the indication that set strength and priority
    capped: bool = False  # lowered from `recommended` by a safety or eligibility limit
    off_label: bool = False  # for ranking: outside every label that applies here
    region_blocked: bool = False  # an indication held, but the option is not approved here
    undecided: bool = False  # not proposed, but an indication waits on unrecorded findings
    ruled_out: bool = False  # excluded by an absolute contraindication or verified non-approval
    rationale: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    availability: dict[Region, Availability] = field(default_factory=dict)


@dataclass
class _Gate:
    """A concern that applies, or cannot be checked yet, for a proposed option."""

    text: str
    caps: bool  # lowers a `recommended` option to `consider`
    fields: tuple[str, ...] = ()  # unrecorded findings (when it cannot be checked)
    excludes: bool = False
    indications: tuple[str, ...] = ()  # applies only when one of these set the strength


class OptionDecider:
    """Decides options against one case's facts; shared state is the case and the missing log."""

    def __init__(
        self,
        kb: KnowledgeBase,
        say: Phraser,
        facts: dict[str, Any],
        region: Region | None,
        case_fields: Callable[[Iterable[str]], list[str]],
        missing: MissingLog,
        terse: bool = False,
    ) -> None:
        self.kb, self.say, self.facts, self.region = kb, say, facts, region
        self.terse = terse  # decisions only: no "why not" wording (exploring branches)
        self.case_fields = case_fields
        self.missing = missing
        self.memo: dict[str, Outcome] = {}

    def evaluate(self, cond: Condition) -> Outcome:
        return evaluate(cond, self.facts, self.kb.definitions, self.memo)

    def why_not(self, cond: Condition) -> list[str]:
        if self.terse:
            return []
        say = self.say
        return explain(cond, self.facts, self.kb.definitions, say.unmet, either=say.either)

    def sources(self, ids: Iterable[str]) -> str:
        return self.say.join([self.kb.evidence[e].short_name for e in ids])

    # -- gates ---------------------------------------------------------------------------------
    def contraindication(self, contra: Compiled) -> _Gate | None:
        outcome = self.evaluate(contra.when)
        reason = contra.rule.reason(self.say.lang)
        absolute = not contra.rule.relative and not contra.unverified
        if outcome.truth is Truth.TRUE:
            if absolute:
                return _Gate(reason, caps=False, excludes=True)
            key = "caution.relative" if contra.rule.relative else "caution.unverified_concern"
            sources = self.sources(contra.unverified)
            return _Gate(self.say.text(key, reason=reason, sources=sources), caps=True)
        if outcome.truth is Truth.UNKNOWN:
            fields = tuple(self.case_fields(outcome.missing))
            return _Gate(self.unchecked(fields, reason), caps=not absolute, fields=fields,
                         excludes=absolute)  # fmt: skip
        return None

    def eligibility(self, rule: Compiled) -> _Gate | None:
        outcome = self.evaluate(rule.when)
        reason = rule.rule.reason(self.say.lang)
        scope = tuple(rule.rule.indications)
        if outcome.truth is Truth.FALSE:
            gaps = self.say.text("word.clause_sep").join(self.why_not(rule.when))
            text = self.say.text("caution.outside_population", reason=reason, gaps=gaps)
            return _Gate(text, caps=True, indications=scope)
        if outcome.truth is Truth.UNKNOWN:
            fields = tuple(self.case_fields(outcome.missing))
            return _Gate(self.unchecked(fields, reason), caps=True, fields=fields,
                         indications=scope)  # fmt: skip
        return None

    def unchecked(self, fields: tuple[str, ...], reason: str) -> str:
        labels = self.say.join([self.say.label(f) for f in fields])
        return self.say.text("caution.unchecked", facts=labels, reason=reason)

    # -- regional approval and label scope ------------------------------------------------------
    def region_block(self, entry: CompiledOption) -> str | None:
        """The exclusion: not approved in the patient's region, and that status is verified."""
        if self.region is None:
            return None
        status = entry.option.availability[self.region]
        if status.status != "not_approved" or not status.verified:
            return None
        name = self.say.value("region", self.region)
        return self.say.text("region.excluded", region=name, basis=status.basis(self.say.lang))

    def regional(self, entry: CompiledOption, decision: Decision) -> list[_Gate]:
        """The availability of a proposed option and its concerns (off-label, unconfirmed).

        With a region, the details of that region; without one, a summary over all regions
        (where the option is not approved or off-label), so the board sees what differs.
        """
        avail, say, gates = entry.option.availability, self.say, []
        regions: tuple[Region, ...] = (self.region,) if self.region else REGIONS
        off_label: dict[tuple[str, str], list[str]] = {}  # (basis, gaps) -> region names
        on_label = False
        for region in regions:
            status = avail[region]
            name, basis = say.value("region", region), status.basis(say.lang)
            if status.status == "not_approved":  # verified non-approval never gets here
                decision.availability[region] = "not_approved"
                if self.region is not None:
                    text = say.text("region.unverified_not_approved", region=name, basis=basis)
                    gates.append(_Gate(text, caps=True))
                continue
            scope = entry.scopes.get(region)
            outcome = self.evaluate(scope) if scope is not None else None
            if status.status == "off_label" or (outcome and outcome.truth is Truth.FALSE):
                decision.availability[region] = "off_label"
                sep = say.text("word.clause_sep")
                gaps = sep.join(self.why_not(scope)) if scope is not None else ""
                off_label.setdefault((basis, gaps), []).append(name)
                continue
            decision.availability[region] = "approved"
            on_label = True
            if self.region is None:
                continue
            if outcome is not None and outcome.truth is Truth.UNKNOWN:
                fields = tuple(self.case_fields(outcome.missing))
                labels = say.join([say.label(f) for f in fields])
                text = say.text("region.scope_unchecked", region=name, facts=labels, basis=basis)
                gates.append(_Gate(text, caps=False))
                self.missing.add(fields, "label", entry.option.code)
            elif not status.verified:
                gates.append(_Gate(say.text("region.unverified", region=name, basis=basis), False))
        for (basis, gaps), names in off_label.items():
            text = say.text("region.off_label", region=say.join(names), basis=basis)
            text = say.text("phrase.with_gaps", text=text, gaps=gaps) if gaps else text
            gates.append(_Gate(text, caps=False))
        decision.off_label = not on_label
        if self.region is None:
            for verified, key in ((True, "region.not_everywhere"), (False, "region.not_found")):
                blocked = [
                    say.value("region", r)
                    for r in REGIONS
                    if avail[r].status == "not_approved" and avail[r].verified is verified
                ]
                if blocked:
                    gates.append(_Gate(say.text(key, regions=say.join(blocked)), caps=False))
            if any(avail[r].status == "not_approved" and avail[r].verified for r in REGIONS):
                # approval depends on where the patient is treated: ask before recommending
                gates.append(_Gate(say.text("region.unknown"), caps=True))
                self.missing.add(["region"], "label", entry.option.code)
        return gates

    # -- the decision ----------------------------------------------------------------------------
    def decide(self, entry: CompiledOption) -> Decision:
        """Indications first: the gates and the label are worked out only for a held option."""
        code = entry.option.code
        decision = Decision(code)
        indications = [(ind, self.evaluate(ind.when)) for ind in entry.indications]
        held = [ind for ind, outcome in indications if outcome.truth is Truth.TRUE]
        if not held:
            decision.reasons = [
                c.rule.reason(self.say.lang)
                for c in entry.contraindications
                if not c.rule.relative
                and not c.unverified
                and self.evaluate(c.when).truth is Truth.TRUE
            ]
            if (block := self.region_block(entry)) is not None:
                decision.reasons.append(block)
            decision.ruled_out = bool(decision.reasons)
            if not decision.reasons:
                decision.reasons = self.nearest_indication_gaps(indications)
                for _ind, outcome in indications:
                    if outcome.truth is Truth.UNKNOWN:
                        decision.undecided = True
                        self.missing.add(self.case_fields(outcome.missing), "indication", code)
            return decision
        held.sort(key=lambda ind: (STRENGTH_ORDER[ind.rule.strength], ind.rule.priority))
        gates = [g for c in entry.contraindications if (g := self.contraindication(c))]
        excluding = [g.text for g in gates if g.excludes and not g.fields]
        block = self.region_block(entry)
        if excluding or block is not None:
            decision.reasons = excluding + ([block] if block else [])
            decision.region_blocked = not excluding
            decision.ruled_out = True
            return decision
        gates += [g for e in entry.eligibility if (g := self.eligibility(e))]
        return self.propose(decision, held, gates + self.regional(entry, decision))

    def propose(self, decision: Decision, held: list[Compiled], gates: list[_Gate]) -> Decision:
        best: Indication = held[0].rule
        decision.proposed, decision.basis = True, best
        gates = [g for g in gates if not g.indications or best.id in g.indications]
        decision.strength, decision.priority = best.strength, best.priority
        for ind in held:
            text = ind.rule.rationale(self.say.lang)
            if text not in decision.rationale:
                decision.rationale.append(text)
            decision.evidence += [e for e in ind.rule.evidence if e not in decision.evidence]
        capping = [g for g in gates if g.caps and not g.fields]
        if capping and decision.strength == "recommended":
            decision.strength, decision.capped = "consider", True
        could_change = decision.strength == "recommended"
        texts = [g.text for g in capping]
        for gate in gates:
            if not gate.fields or gate in capping:
                continue
            if gate.excludes or (gate.caps and could_change):
                texts.append(gate.text)
                self.missing.add(gate.fields, "safety", decision.code)
        texts += self.cautions(decision.code)
        texts += [g.text for g in gates if not g.caps and not g.excludes and g.text not in texts]
        decision.cautions = list(dict.fromkeys(texts))
        return decision

    def cautions(self, code: str) -> list[str]:
        texts: list[str] = []
        for caution in self.kb.options[code].cautions:
            outcome = self.evaluate(caution.when)
            if outcome.truth is Truth.TRUE:
                texts.append(caution.rule.text(self.say.lang))
            elif outcome.truth is Truth.UNKNOWN and caution.rule.report_missing:
                self.missing.add(self.case_fields(outcome.missing), "safety", code)
        return texts

    def nearest_indication_gaps(self, indications: list[tuple[Compiled, Outcome]]) -> list[str]:
        """The unmet conditions of the indication that came closest to holding."""
        if self.terse:
            return []
        candidates = [ind for ind, _ in indications]
        nearest = candidates[0]
        if len(candidates) > 1:
            nearest = min(
                candidates, key=lambda c: unmet_count(c.when, self.facts, self.kb.definitions)
            )
        return self.why_not(nearest.when)
