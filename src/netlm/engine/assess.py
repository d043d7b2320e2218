"""`assess(case) -> Assessment`: apply every rule of the knowledge base to one case.

Each catalogue option ends up either proposed (strength, rank, rationale, evidence, cautions,
availability) or excluded (each unmet condition or contraindication in words). Findings whose
absence leaves a decisive rule unknown are reported as missing data. No I/O, no clock, no
randomness: the same case and knowledge base always give the same assessment.
"""

from collections.abc import Iterable
from typing import Any

from netlm.classify import Derived, derive
from netlm.engine.branches import FieldBranches, Interval, Members, explore
from netlm.engine.decide import STRENGTH_ORDER, Decision, MissingLog, OptionDecider
from netlm.engine.ranking import place
from netlm.knowledge.conditions import Truth, UpTo, explain, leaves
from netlm.knowledge.load import OUTCOME_FACT_PREFIX, KnowledgeBase, load_knowledge_base
from netlm.knowledge.phrasing import Phraser
from netlm.knowledge.schema import Evidence
from netlm.model.assessment import (
    Assessment,
    Branch,
    BranchOutcome,
    Classification,
    EvidenceRef,
    Exclusion,
    Flag,
    KnowledgeBaseVersion,
    MissingData,
    Recommendation,
)
from netlm.model.case import Case, field_bounds
from netlm.model.codes import Intent, Language

# Categories that are not disease-directed: a trial is an offer, supportive care is the floor.
_NOT_DISEASE_DIRECTED = ("trial", "supportive")


class _Assessor:
    def __init__(
        self,
        case: Case,
        kb: KnowledgeBase,
        lang: Language,
        explore: bool = False,
        terse: bool = False,
    ) -> None:
        self.case = case
        self.explore = explore
        self.decisions: dict[str, Decision] = {}
        self.kb = kb
        self.lang = lang
        self.say = Phraser(kb, lang)
        self.derived: Derived = derive(case, kb)
        self.facts = self.derived.facts
        self.missing = MissingLog()
        self.decider = OptionDecider(
            kb, self.say, self.facts, case.region, self.case_fields, self.missing, terse
        )

    def case_fields(self, facts: Iterable[str]) -> list[str]:
        """Map (possibly derived) fact names to the case fields a user can fill in."""
        out: list[str] = []

        def visit(fact: str) -> None:
            inputs = self.derived.missing_inputs.get(fact)
            if inputs is None:
                spec = self.kb.facts.get(fact)
                inputs = tuple(spec.inputs) if spec is not None and spec.inputs else None
            if inputs is None:  # a case field (facts about the assessment are no findings)
                if fact not in out and not fact.startswith(OUTCOME_FACT_PREFIX):
                    out.append(fact)
                return
            for name in inputs:
                visit(name)

        for fact in sorted(facts):
            visit(fact)
        return out

    # -- options -------------------------------------------------------------------------------
    def decide_all(self, known: dict[str, Decision] | None = None) -> list[Decision]:
        """Decide every option; those that read facts about the assessment itself go last.

        `known`: decisions already taken on facts that differ from these only where the
        option does not look (a branch of this case), reused as they are."""
        entries = list(self.kb.options.values())
        first: dict[str, Decision] = {
            e.option.code: (known or {}).get(e.option.code) or self.decider.decide(e)
            for e in entries
            if not e.deferred
        }
        self.facts.update(self.outcome_facts(list(first.values())))
        later: dict[str, Decision] = {
            e.option.code: self.decider.decide(e) for e in entries if e.deferred
        }
        return [first.get(code) or later[code] for code in self.kb.options]

    def outcome_facts(self, decisions: list[Decision]) -> dict[str, Any]:
        """Whether a disease-directed option is proposed: true, false, or unknown (None) while
        one still waits on unrecorded findings, so that missing data never reads as "nothing
        can be done" (best supportive care then waits too)."""
        options = self.kb.options
        directed = [
            d for d in decisions if options[d.code].option.category not in _NOT_DISEASE_DIRECTED
        ]
        proposed: bool | None = any(d.proposed for d in directed)
        if not proposed and any(d.undecided for d in directed):
            proposed = None
        prefix = OUTCOME_FACT_PREFIX
        return {
            f"{prefix}disease_directed_proposed": proposed,
            f"{prefix}not_approved_here": any(d.region_blocked for d in decisions),
        }

    # -- assembly ------------------------------------------------------------------------------
    def evidence_ref(self, evidence_id: str) -> EvidenceRef:
        record = self.kb.evidence[evidence_id]
        identifier = citable_identifier(record)
        summary = self.say.text(
            "evidence.summary",
            name=record.short_name,
            design=self.say.text(f"design.{record.design}"),
            n=self.say.text("evidence.n", n=record.n) if record.n else "",
            result=record.key_result(self.lang),
            citation=f"{record.citation} {identifier}".rstrip(),
        )
        return EvidenceRef(id=evidence_id, summary=summary)

    def classification(self, intent: Intent) -> Classification:
        d, say, lang = self.derived, self.say, self.lang
        grade = d.grade
        morphology = self.case.pathology.morphology
        if grade.grade == "NEC":
            key = (
                f"who.{morphology}"
                if morphology in ("small_cell_nec", "large_cell_nec")
                else "who.NEC"
            )
            who = say.text(key)
        elif grade.grade == "unknown":
            who = say.text("who.unknown")
        elif grade.undecided:
            who = say.text("who.undecided")
        elif morphology == "minen":
            who = say.text("who.minen", grade=say.text("who.NET", grade=grade.grade))
        else:
            who = say.text("who.NET", grade=grade.grade)
        pattern = d.pattern
        if pattern.stated:
            pattern_basis = say.text("pattern.stated")
        elif pattern.rule is not None:
            pattern_basis = pattern.rule.reason(lang)
        else:
            pattern_basis = say.text("pattern.unclassified")
        res = d.resectability
        reasons = [r.rule.reason(lang) for r in res.rules]
        if res.value == "resectable":
            reasons = [self.kb.classification.resectability.resectable_reason(lang)]
        elif res.requirement is not None:
            gaps = explain(
                res.requirement, self.facts, self.kb.definitions, say.unmet, either=say.either
            )
            if res.value == "undetermined":
                details = say.text("word.clause_sep").join(gaps)
                reasons = [say.text("resectability.undetermined", details=details)]
            else:
                reasons = gaps
        return Classification(
            grade=grade.grade,
            grade_basis=grade.basis,
            who_category=who,
            liver_pattern=pattern.pattern,
            liver_pattern_basis=pattern_basis,
            resectability=res.value,
            resectability_reasons=reasons,
            intent=intent,
            net_or_nec_undecided=grade.undecided,
        )

    def flags(self, cited: Iterable[str]) -> list[Flag]:
        flags: list[Flag] = []
        for compiled in self.kb.flags:
            if self.decider.evaluate(compiled.when).truth is Truth.TRUE:
                flag = Flag(code=compiled.rule.code, message=compiled.rule.message(self.lang))
                if flag not in flags:
                    flags.append(flag)
        unverified = [e for e in cited if not self.kb.evidence[e].verified]
        if unverified:
            items = self.say.join([self.kb.evidence[e].short_name for e in unverified])
            flags.append(
                Flag(
                    code="unverified_evidence",
                    message=self.say.text("flag.unverified", items=items),
                )
            )
        return flags

    def classification_missing(self) -> None:
        d = self.derived
        if d.grade.grade == "unknown" or d.grade.undecided:
            key = "missing.differentiation" if d.grade.undecided else "missing.grade"
            self.missing.add(d.missing_inputs["grade"], "text", self.say.text(key))
        if d.pattern.pattern == "unclassified":
            self.missing.add(d.pattern.missing, "text", self.say.text("missing.pattern"))
        resect_fields = self.case_fields(d.resectability.missing)
        self.missing.add(resect_fields, "text", self.say.text("missing.resectability"))
        if d.resectability.value == "potentially_resectable" and self.case.liver.resectable is None:
            self.missing.add(["liver.resectable"], "text", self.say.text("missing.surgeon"))

    def missing_data(self) -> list[MissingData]:
        out = []
        for name, kinds in self.missing.entries.items():
            parts: list[str] = list(kinds.get("text", []))
            for kind in ("indication", "safety", "label"):
                key = f"missing.{kind}"
                if kind in kinds:
                    options = self.say.join([self.say.option_short(c) for c in kinds[kind]])
                    parts.append(self.say.text(key, options=options))
            out.append(MissingData(field=name, why=self.say.text("word.clause_sep").join(parts)))
        return out

    def conflicts(self) -> frozenset[str]:
        """The contradictions among the findings (`data_conflict` flags that hold)."""
        return frozenset(
            c.rule.id
            for c in self.kb.flags
            if c.rule.code == "data_conflict" and self.decider.evaluate(c.when).truth is Truth.TRUE
        )

    def first_tier(
        self, base: "_Assessor", allowed: frozenset[str]
    ) -> tuple[tuple[str, str], ...] | None:
        """Only the first tier (code, strength) of this branch of `base`'s case; None when the
        value explored contradicts what is recorded beyond the `allowed` contradictions of the
        case itself (lesions in both lobes are not type I). Options that read none of the facts
        the branch changed keep `base`'s decision."""
        if not self.conflicts() <= allowed:
            return None
        ours, theirs = self.facts, base.facts
        changed = {
            k
            for k in ours.keys() | theirs.keys()
            if not k.startswith(OUTCOME_FACT_PREFIX) and ours.get(k) != theirs.get(k)
        }
        reads = facts_read(self.kb)
        known = {code: d for code, d in base.decisions.items() if not reads[code] & changed}
        placed = place(self.decide_all(known), self.kb, self.say)
        return tuple((p.decision.code, p.decision.strength) for p in placed if p.tier == 1)

    def could_change_first_tier(self, field: str, tier1: list[Decision]) -> bool:
        """Whether a missing field can matter to the first tier at all: a classification
        input always can; a safety or label check only of a first-tier option (gates only
        lower); an unknown indication only of an option that could rank with the first tier."""
        kinds = self.missing.entries.get(field, {})
        if "text" in kinds or not tier1:
            return True
        first = {d.code for d in tier1}
        if any(code in first for kind in ("safety", "label") for code in kinds.get(kind, [])):
            return True
        band = min((STRENGTH_ORDER[d.strength], d.priority) for d in tier1)
        return any(
            (STRENGTH_ORDER[ind.rule.strength], ind.rule.priority) <= band
            for code in kinds.get("indication", [])
            for ind in self.kb.options[code].indications
        )

    def branches(self, base: tuple[tuple[str, str], ...], fields: list[str]) -> list[Branch]:
        allowed = self.conflicts()

        def first_tier(case: Case) -> tuple[tuple[str, str], ...] | None:
            return _Assessor(case, self.kb, self.lang, terse=True).first_tier(self, allowed)

        found = explore(self.case, fields, base, first_tier, self.kb, self.bounds)
        return [self.branch(b) for b in found]

    def bounds(self, field: str) -> tuple[float, float]:
        """The range a field's branches may take: its schema range, narrowed by a recorded
        bound (a Ki-67 "<25 %" is explored only up to 25)."""
        lo, hi = field_bounds(field)
        recorded = self.derived.facts.get(field)
        return (lo, min(hi, recorded.bound)) if isinstance(recorded, UpTo) else (lo, hi)

    def said_bounds(self, field: str) -> tuple[float, float]:
        """The limits a branch's words leave out: a strict bound ("<25") goes without saying;
        an inclusive one ("≤3") is said, or "≤ 3" would read as the bare range "3"."""
        recorded = self.derived.facts.get(field)
        if isinstance(recorded, UpTo) and recorded.inclusive:
            return field_bounds(field)
        return self.bounds(field)

    def branch(self, found: FieldBranches) -> Branch:
        say = self.say
        spec = self.kb.facts.get(found.field)
        unit = say.unit(found.field)
        outcomes = []
        for outcome in found.outcomes:
            value = outcome.value
            if isinstance(value, Interval):
                integer = spec is not None and spec.type == "integer"
                words = value.words(unit, integer, self.said_bounds(found.field))
            elif isinstance(value, Members):
                words = say.join([say.value(found.field, v) for v in value.values], "word.or")
            elif isinstance(value, tuple):
                words = say.join([say.value(found.field, v) for v in value]) or say.text(
                    "word.none"
                )
            elif isinstance(value, bool):
                words = say.text("word.yes" if value else "word.no")
            elif spec is not None and spec.values:
                words = say.value(found.field, value)
            else:
                words = str(value)
            names = [say.option_short(code) for code, _ in outcome.first_tier]
            codes = [code for code, _ in outcome.first_tier]
            strengths = [strength for _, strength in outcome.first_tier]
            outcomes.append(
                BranchOutcome(value=words, first_tier=codes, strengths=strengths, names=names)
            )
        return Branch(field=found.field, label=say.label(found.field), outcomes=outcomes)

    def run(self) -> Assessment:
        self.classification_missing()
        decisions = self.decide_all()
        self.decisions = {d.code: d for d in decisions}
        if all(d.ruled_out or (d.strength == "recommended" and not d.capped) for d in decisions):
            # nothing could move: every option is ruled out or already at its strongest, so
            # the classification's missing inputs change no answer (no evidence of disease)
            self.missing.drop_kind("text")
        placed = place(decisions, self.kb, self.say)
        tier1 = [p.decision for p in placed if p.tier == 1]
        base = tuple((d.code, d.strength) for d in tier1)
        recommendations = [
            Recommendation(
                option=p.decision.code,
                name=self.say.option_name(p.decision.code),
                strength=p.decision.strength,
                rank=p.rank,
                tier=p.tier,
                order_basis=p.order_basis,
                rationale=p.decision.rationale,
                evidence=[self.evidence_ref(e) for e in p.decision.evidence],
                cautions=p.decision.cautions,
                availability=p.decision.availability,
            )
            for p in placed
        ]
        excluded = [
            Exclusion(option=d.code, name=self.say.option_name(d.code), reasons=d.reasons)
            for d in decisions
            if not d.proposed
        ]
        first = placed[0].decision.code if placed else None
        intent: Intent = self.kb.options[first].option.intent if first else "undetermined"
        cited = list(dict.fromkeys(e for p in placed for e in p.decision.evidence))
        missing = self.missing_data()
        fields = [m.field for m in missing if self.could_change_first_tier(m.field, tier1)]
        branches = self.branches(base, fields) if self.explore and fields else []
        return Assessment(
            case_id=self.case.id,
            language=self.lang,
            knowledge_base=KnowledgeBaseVersion(
                version=self.kb.manifest.version, released=self.kb.manifest.released
            ),
            classification=self.classification(intent),
            recommendations=recommendations,
            excluded=excluded,
            flags=self.flags(cited),
            missing_data=missing,
            completeness="provisional" if branches or not placed else "complete",
            branches=branches,
        )


_READS: dict[int, tuple[KnowledgeBase, dict[str, frozenset[str]]]] = {}


def citable_identifier(record: Evidence) -> str:
    """What a reader can look the source up by: DOI, else PMID, else the URL a label or web
    document was read at; empty when the citation (title, journal) is all there is."""
    if record.doi:
        return f"doi:{record.doi}"
    if record.pmid:
        return f"PMID {record.pmid}"
    return record.url or ""


def facts_read(kb: KnowledgeBase) -> dict[str, frozenset[str]]:
    """The facts each option's rules read (definitions followed), cached per knowledge base."""
    cached = _READS.get(id(kb))
    if cached is not None and cached[0] is kb:
        return cached[1]
    out = {}
    for code, entry in kb.options.items():
        conditions = [
            *(c.when for c in (*entry.indications, *entry.contraindications, *entry.eligibility)),
            *(c.when for c in entry.cautions),
            *entry.scopes.values(),
        ]
        out[code] = frozenset(
            leaf.fact for cond in conditions for leaf in leaves(cond, kb.definitions)
        ) | {"region"}
    _READS[id(kb)] = (kb, out)
    return out


def assess(case: Case, lang: Language = "en", kb: KnowledgeBase | None = None) -> Assessment:
    """Classify the case and rank every treatment option against the knowledge base."""
    return _Assessor(case, kb or load_knowledge_base(), lang, explore=True).run()
