"""`assess(case) -> Assessment`: apply every rule of the knowledge base to one case.

Each catalogue option ends up either proposed (strength, rank, rationale, evidence, cautions,
availability) or excluded (each unmet condition or contraindication in words). Findings whose
absence leaves a decisive rule unknown are reported as missing data. No I/O, no clock, no
randomness: the same case and knowledge base always give the same assessment.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from netlm.classify import Derived, derive
from netlm.knowledge.conditions import Outcome, Truth, evaluate, explain, unmet_count
from netlm.knowledge.load import Compiled, CompiledOption, KnowledgeBase, load_knowledge_base
from netlm.knowledge.phrasing import Phraser
from netlm.model.assessment import (
    Assessment,
    Classification,
    EvidenceRef,
    Exclusion,
    Flag,
    KnowledgeBaseVersion,
    MissingData,
    Recommendation,
)
from netlm.model.case import Case
from netlm.model.codes import REGIONS, Availability, Intent, Language, Region

_STRENGTH_ORDER = {"recommended": 0, "consider": 1}


@dataclass
class _MissingLog:
    """Case fields whose absence matters, and why (kind -> option codes or texts)."""

    entries: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def add(self, fields: Iterable[str], kind: str, subject: str) -> None:
        for name in fields:
            subjects = self.entries.setdefault(name, {}).setdefault(kind, [])
            if subject not in subjects:
                subjects.append(subject)


@dataclass
class _Decision:
    code: str
    proposed: bool
    strength: str = ""
    priority: int = 0
    rationale: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class _Assessor:
    def __init__(self, case: Case, kb: KnowledgeBase, lang: Language) -> None:
        self.case = case
        self.kb = kb
        self.lang = lang
        self.say = Phraser(kb, lang)
        self.derived: Derived = derive(case, kb)
        self.facts = self.derived.facts
        self.missing = _MissingLog()
        self.memo: dict[str, Outcome] = {}

    # -- helpers -------------------------------------------------------------------------------
    def evaluate(self, compiled: Compiled) -> Outcome:
        return evaluate(compiled.when, self.facts, self.kb.definitions, self.memo)

    def case_fields(self, facts: Iterable[str]) -> list[str]:
        """Map (possibly derived) fact names to the case fields a user can fill in."""
        out: list[str] = []

        def visit(fact: str) -> None:
            inputs = self.derived.missing_inputs.get(fact)
            if inputs is None:
                spec = self.kb.facts.get(fact)
                inputs = tuple(spec.inputs) if spec is not None and spec.inputs else None
            if inputs is None:  # a case field
                if fact not in out:
                    out.append(fact)
                return
            for name in inputs:
                visit(name)

        for fact in sorted(facts):
            visit(fact)
        return out

    def why_not(self, compiled: Compiled) -> list[str]:
        return explain(compiled.when, self.facts, self.kb.definitions, self.say.unmet)

    def unmet_count(self, compiled: Compiled) -> int:
        return unmet_count(compiled.when, self.facts, self.kb.definitions)

    # -- options -------------------------------------------------------------------------------
    def decide(self, entry: CompiledOption) -> _Decision:
        code = entry.option.code
        decision = _Decision(code, proposed=False)
        held_contras, unknown_contras = [], []
        for contra in entry.contraindications:
            outcome = self.evaluate(contra)
            if outcome.truth is Truth.TRUE:
                held_contras.append(contra)
            elif outcome.truth is Truth.UNKNOWN:
                unknown_contras.append((contra, outcome))
        indications = [(ind, self.evaluate(ind)) for ind in entry.indications]
        held = [ind for ind, outcome in indications if outcome.truth is Truth.TRUE]
        held.sort(key=lambda ind: (_STRENGTH_ORDER[ind.rule.strength], ind.rule.priority))
        region_block = self.region_block(entry)

        if held and not held_contras and region_block is None:
            best = held[0].rule
            decision.proposed = True
            decision.strength, decision.priority = best.strength, best.priority
            for ind in held:
                text = ind.rule.rationale(self.lang)
                if text not in decision.rationale:
                    decision.rationale.append(text)
                decision.evidence += [e for e in ind.rule.evidence if e not in decision.evidence]
            decision.cautions = self.cautions(entry, unknown_contras)
            return decision

        decision.reasons = [c.rule.reason(self.lang) for c in held_contras]
        if region_block:
            decision.reasons.append(region_block)
        if not held and not decision.reasons:
            decision.reasons = self.nearest_indication_gaps(indications)
            for _ind, outcome in indications:
                if outcome.truth is Truth.UNKNOWN:
                    self.missing.add(self.case_fields(outcome.missing), "indication", code)
        return decision

    def nearest_indication_gaps(self, indications: list[tuple[Compiled, Outcome]]) -> list[str]:
        """The unmet conditions of the indication that came closest to holding."""
        candidates = [ind for ind, _ in indications]
        nearest = candidates[0] if len(candidates) == 1 else min(candidates, key=self.unmet_count)
        return self.why_not(nearest)

    def cautions(
        self, entry: CompiledOption, unknown_contras: list[tuple[Compiled, Outcome]]
    ) -> list[str]:
        code = entry.option.code
        texts: list[str] = []
        for caution in entry.cautions:
            outcome = self.evaluate(caution)
            if outcome.truth is Truth.TRUE:
                texts.append(caution.rule.text(self.lang))
            elif outcome.truth is Truth.UNKNOWN and caution.rule.report_missing:
                self.missing.add(self.case_fields(outcome.missing), "safety", code)
        for contra, outcome in unknown_contras:
            fields = self.case_fields(outcome.missing)
            labels = self.say.join([self.say.label(f) for f in fields])
            texts.append(
                self.say.text(
                    "caution.unchecked", facts=labels, reason=contra.rule.reason(self.lang)
                )
            )
            self.missing.add(fields, "safety", code)
        texts += self.availability_cautions(entry)
        return texts

    def region_block(self, entry: CompiledOption) -> str | None:
        region = self.case.region
        if region is None:
            return None
        status = entry.option.availability[region]
        if status.status == "not_approved" and status.verified:
            return self.say.text(
                "region.excluded",
                region=self.say.value("region", region),
                basis=status.basis(self.lang),
            )
        return None

    def availability_cautions(self, entry: CompiledOption) -> list[str]:
        avail = entry.option.availability
        region = self.case.region
        if region is None:
            blocked = [r for r in REGIONS if avail[r].status == "not_approved"]
            if not blocked:
                return []
            names = self.say.join([self.say.value("region", r) for r in blocked])
            return [self.say.text("region.not_everywhere", regions=names)]
        status = avail[region]
        name, basis = self.say.value("region", region), status.basis(self.lang)
        if status.status == "off_label":
            return [self.say.text("region.off_label", region=name, basis=basis)]
        if not status.verified:
            return [self.say.text("region.unverified", region=name, basis=basis)]
        return []

    # -- assembly ------------------------------------------------------------------------------
    def evidence_ref(self, evidence_id: str) -> EvidenceRef:
        record = self.kb.evidence[evidence_id]
        identifier = f"doi:{record.doi}" if record.doi else f"PMID {record.pmid}"
        summary = self.say.text(
            "evidence.summary",
            name=record.short_name,
            design=self.say.text(f"design.{record.design}"),
            n=self.say.text("evidence.n", n=record.n) if record.n else "",
            result=record.key_result(self.lang),
            citation=f"{record.citation} {identifier}",
        )
        return EvidenceRef(id=evidence_id, summary=summary)

    def availability(self, entry: CompiledOption) -> dict[Region, Availability]:
        regions: tuple[Region, ...] = (self.case.region,) if self.case.region else REGIONS
        return {r: entry.option.availability[r].status for r in regions}

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
            gaps = explain(res.requirement, self.facts, self.kb.definitions, say.unmet)
            if res.value == "undetermined":
                reasons = [say.text("resectability.undetermined", details="; ".join(gaps))]
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
        )

    def flags(self, cited: Iterable[str]) -> list[Flag]:
        flags: list[Flag] = []
        for compiled in self.kb.flags:
            if self.evaluate(compiled).truth is Truth.TRUE:
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
        if d.grade.grade == "unknown":
            self.missing.add(d.missing_inputs["grade"], "text", self.say.text("missing.grade"))
        if d.pattern.pattern == "unclassified":
            self.missing.add(d.pattern.missing, "text", self.say.text("missing.pattern"))
        resect_fields = self.case_fields(d.resectability.missing)
        self.missing.add(resect_fields, "text", self.say.text("missing.resectability"))

    def missing_data(self) -> list[MissingData]:
        out = []
        for name, kinds in self.missing.entries.items():
            parts: list[str] = list(kinds.get("text", []))
            for kind, key in (("indication", "missing.indication"), ("safety", "missing.safety")):
                if kind in kinds:
                    options = self.say.join([self.say.option_short(c) for c in kinds[kind]])
                    parts.append(self.say.text(key, options=options))
            out.append(MissingData(field=name, why="; ".join(parts)))
        return out

    def run(self) -> Assessment:
        self.classification_missing()
        decisions = [self.decide(entry) for entry in self.kb.options.values()]
        order = {code: i for i, code in enumerate(self.kb.options)}
        proposed = sorted(
            (d for d in decisions if d.proposed),
            key=lambda d: (_STRENGTH_ORDER[d.strength], d.priority, order[d.code]),
        )
        recommendations = [
            Recommendation(
                option=d.code,
                name=self.say.option_name(d.code),
                strength=d.strength,
                rank=rank,
                rationale=d.rationale,
                evidence=[self.evidence_ref(e) for e in d.evidence],
                cautions=d.cautions,
                availability=self.availability(self.kb.options[d.code]),
            )
            for rank, d in enumerate(proposed, start=1)
        ]
        excluded = [
            Exclusion(option=d.code, name=self.say.option_name(d.code), reasons=d.reasons)
            for d in decisions
            if not d.proposed
        ]
        intent: Intent = (
            self.kb.options[proposed[0].code].option.intent if proposed else "palliative"
        )
        cited = list(dict.fromkeys(e for d in proposed for e in d.evidence))
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
            missing_data=self.missing_data(),
        )


def assess(case: Case, lang: Language = "en", kb: KnowledgeBase | None = None) -> Assessment:
    """Classify the case and rank every treatment option against the knowledge base."""
    return _Assessor(case, kb or load_knowledge_base(), lang).run()
