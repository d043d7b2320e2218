"""CDS Hooks cards, rendered from an assessment only: nothing clinical is decided here."""

import re
import uuid
from dataclasses import dataclass
from typing import Literal

from netlm import __version__
from netlm.engine.branches import provisional_lines
from netlm.fhir import codes
from netlm.fhir.cds.gather import Gap
from netlm.fhir.cds.models import (
    MAX_SUMMARY,
    Action,
    Card,
    Coding,
    DraftOrder,
    Link,
    Source,
    Suggestion,
)
from netlm.fhir.mapping import FhirImport, Unmapped
from netlm.fhir.mapping.result import NOT_USED
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment, Exclusion, Recommendation
from netlm.model.case import Case
from netlm.model.codes import Language

# The card topic: SNOMED CT 94381002, confirmed in the interop brief §2.2.
TOPIC = Coding(
    system=codes.SNOMED,
    code=codes.LIVER_METASTASIS_SNOMED,
    display="Secondary malignant neoplasm of liver",
)
REVIEW_FLAGS = ("controversial", "unverified_evidence")
NOT_USED_SHOWN = 10  # resources with no code netlm reads, listed by name before "and N more"

WORDS: dict[str, dict[Language, str]] = {
    "summary.first": {
        "en": "netlm: {who}, liver {pattern}: first choice {option} ({strength})",
        "zh": "netlm：{who}，肝转移{pattern}：首选{option}（{strength}）",
    },
    "summary.none": {
        "en": "netlm: {who}, liver {pattern}: no option proposed; see the missing findings",
        "zh": "netlm：{who}，肝转移{pattern}：暂无推荐方案，请查看缺失资料",
    },
    "summary.provisional": {
        "en": "netlm (provisional): {who}, liver {pattern}: missing findings decide the choice",
        "zh": "netlm（暂定）：{who}，肝转移{pattern}：缺失资料将决定首选方案",
    },
    "summary.review": {
        "en": "netlm: review before deciding: {items}",
        "zh": "netlm：决策前请复核：{items}",
    },
    "review.controversial": {"en": "controversial", "zh": "存在争议"},
    "review.unverified_evidence": {"en": "evidence not fully verified", "zh": "证据未完全核实"},
    "review.missing": {"en": "{n} missing finding(s)", "zh": "缺失资料{n}项"},
    "review.unmapped": {"en": "{n} FHIR item(s) not used", "zh": "未采用的FHIR数据{n}项"},
    "ui.unmapped": {"en": "FHIR data not used", "zh": "未采用的FHIR数据"},
    "ui.not_used": {
        "en": "{n} other FHIR resource(s) not read (no code netlm uses): {names}",
        "zh": "另有{n}项FHIR资源未读取（无netlm使用的编码）：{names}",
    },
    "ui.and_more": {"en": "and {n} more", "zh": "另有{n}项"},
    "ui.reasons": {"en": "Why netlm does not propose it", "zh": "不推荐的原因"},
    "ui.instead": {"en": "Proposed for this patient", "zh": "本患者的推荐方案"},
    "ui.complete": {
        "en": "No EHR code carries {fields}: complete them in netlm.",
        "zh": "EHR中没有承载{fields}的编码，请在netlm中补全。",
    },
    "link.case": {"en": "Open the case in netlm", "zh": "在netlm中打开病例"},
    "link.complete": {"en": "Complete the case in netlm", "zh": "在netlm中补全病例"},
    "order.proposed": {
        "en": "netlm: {option} is proposed for this patient (rank {rank}, tier {tier}, {strength})",
        "zh": "netlm：本患者推荐{option}（第{rank}位，第{tier}层，{strength}）",
    },
    "order.excluded": {
        "en": "netlm: {option} is not proposed for this patient: {reason}",
        "zh": "netlm：本患者不推荐{option}：{reason}",
    },
    "order.cancel": {"en": "Cancel the draft order ({option})", "zh": "撤销{option}医嘱草稿"},
    "order.none": {"en": "none", "zh": "无"},
    "refused.no_primary": {
        "en": "netlm: not assessed: no primary NET with a site netlm reads in the chart",
        "zh": "netlm：未评估：病历中没有netlm可读取部位的神经内分泌肿瘤原发灶",
    },
    "refused.no_liver": {
        "en": "netlm: not assessed: no liver metastases recorded in the chart",
        "zh": "netlm：未评估：病历中未记录肝转移",
    },
    "refused.deceased": {
        "en": "netlm: not assessed: the patient is recorded as deceased",
        "zh": "netlm：未评估：患者已记录为死亡",
    },
    "refused.version": {
        "en": "netlm: not assessed: the chart is not FHIR R4",
        "zh": "netlm：未评估：病历不是FHIR R4格式",
    },
    "refused.no_patient": {
        "en": "netlm: not assessed: the EHR sent no Patient record",
        "zh": "netlm：未评估：EHR未提供患者记录",
    },
    "refused.other": {
        "en": "netlm: not assessed: the chart could not be read as a case",
        "zh": "netlm：未评估：病历无法读取为病例",
    },
    "ui.why": {"en": "Why", "zh": "原因"},
    "ui.gaps": {"en": "Data netlm did not receive", "zh": "netlm未收到的数据"},
    "review.gaps": {"en": "{n} search(es) incomplete", "zh": "{n}项查询不完整"},
    "gap.line": {"en": "{what}: {why}", "zh": "{what}：{why}"},
    "gap.null": {"en": "the EHR has none (null)", "zh": "EHR中没有（null）"},
    "gap.error": {
        "en": "the EHR's FHIR server could not run the search",
        "zh": "EHR的FHIR服务器无法执行该查询",
    },
    "gap.unread": {
        "en": "not readable from the EHR's FHIR server",
        "zh": "无法从EHR的FHIR服务器读取",
    },
    "gap.more": {"en": "only the newest {n} read", "zh": "仅读取最近的{n}项"},
    "key.patient": {"en": "patient record", "zh": "患者基本信息"},
    "key.conditions": {"en": "conditions", "zh": "诊断"},
    "key.observationsFindings": {
        "en": "Ki-67, histology, ECOG and disease status",
        "zh": "Ki-67、组织学、ECOG与疾病状态",
    },
    "key.observationsLabs": {"en": "laboratory results", "zh": "实验室检查结果"},
    "key.observationsNetlm": {"en": "findings in netlm codes", "zh": "netlm编码的结果"},
    "key.diagnosticReports": {"en": "diagnostic reports", "zh": "诊断报告"},
    "key.procedures": {"en": "procedures", "zh": "手术与操作"},
    "key.medicationStatements": {"en": "medication statements", "zh": "用药记录"},
    "key.medicationRequests": {"en": "medication orders", "zh": "用药医嘱"},
    "key.medicationAdministrations": {"en": "medication administrations", "zh": "给药记录"},
}


@dataclass(frozen=True)
class Assessed:
    """One patient's case as netlm holds it after a hook call, and what its cards show."""

    case_id: str
    case: Case
    imported: FhirImport
    assessment: Assessment
    stored: bool
    complete: tuple[str, ...]  # missing case fields no EHR code carries: the board completes them
    gaps: tuple[Gap, ...] = ()  # searches the EHR did not fill, or filled only in part


RefusalKind = Literal["no_primary", "no_liver", "deceased", "version", "no_patient", "other"]


@dataclass(frozen=True)
class Refused:
    """A chart netlm will not assess: the kind names it in the card, `reasons` in detail."""

    kind: RefusalKind
    reasons: tuple[str, ...]
    gaps: tuple[Gap, ...] = ()


class CardWriter:
    def __init__(self, kb: KnowledgeBase, lang: Language, about_url: str | None) -> None:
        self.kb, self.lang, self.about_url = kb, lang, about_url

    def word(self, key: str, **values: object) -> str:
        if key in WORDS:
            return WORDS[key][self.lang].format(**values)
        return self.kb.messages[key](self.lang).format(**values)

    def _card(
        self,
        public_url: str,
        found: Assessed,
        indicator: Literal["info", "warning", "critical"],
        summary: str,
        detail: str,
        suggestions: list[Suggestion] | None = None,
    ) -> Card:
        links = None
        if found.stored:
            links = [self._link(public_url, found)]
        source = Source(label=f"netlm {__version__}", url=self.about_url or f"{public_url}/",
                        topic=TOPIC)  # fmt: skip
        return Card(
            uuid=str(uuid.uuid4()),
            summary=_clip(summary),
            detail=detail,
            indicator=indicator,
            source=source,
            suggestions=suggestions,
            selectionBehavior="at-most-one" if suggestions else None,
            links=links,
        )

    def _link(self, public_url: str, found: Assessed) -> Link:
        """The case in the web app; its edit page with the fields to complete highlighted when
        no EHR code carries some missing finding."""
        url = f"{public_url}/cases/{found.case_id}"
        if not found.complete:
            return Link(label=self.word("link.case"), url=url, type="absolute")
        complete = ",".join(found.complete)
        return Link(label=self.word("link.complete"), url=f"{url}/edit?complete={complete}",
                    type="absolute")  # fmt: skip

    def _pattern(self, value: str) -> str:
        return self.word(
            "pattern.unclassified_value" if value == "unclassified" else f"pattern.{value}"
        )

    def _headline(self, a: Assessment) -> str:
        c = a.classification
        resectability = self.word(
            "resectability.undetermined_value"
            if c.resectability == "undetermined"
            else f"resectability.{c.resectability}"
        )
        parts = [
            f"**{_md(c.who_category)}** ({_md(self.word(f'basis.{c.grade_basis}'))})",
            _md(f"{self.word('ui.liver_pattern')}: {self._pattern(c.liver_pattern)}"),
            _md(f"{self.word('ui.resectability')}: {resectability}"),
            _md(f"{self.word('ui.intent')}: {self.word(f'intent.{c.intent}')}"),
        ]
        return " · ".join(parts)

    def _completion(self, found: Assessed) -> list[str]:
        """One sentence naming the missing findings only netlm can hold."""
        if not found.complete:
            return []
        names = self.word("word.list_sep").join(
            self.kb.facts[path].label(self.lang) if path in self.kb.facts else path
            for path in found.complete
        )
        return ["", _md(self.word("ui.complete", fields=names))]

    def _option_lines(self, rec: Recommendation) -> list[str]:
        strength = self.word(f"strength.{rec.strength}")
        tier = f"{self.word('ui.tier')} {rec.tier}"
        lines = [f"{rec.rank}. **{_md(rec.name)}** ({_md(strength)}, {_md(tier)})"]
        lines.append(f"    - {_md(self.word('ui.order_basis'))}: {_md(rec.order_basis)}")
        lines += [f"    - {_md(text)}" for text in rec.rationale]
        lines += [f"    - {_md(self.word('ui.evidence'))}: {_md(e.summary)}" for e in rec.evidence]
        lines += [f"    - ⚠ {_md(text)}" for text in rec.cautions]
        availability = " · ".join(
            f"{region} {self.word(f'availability.{status}')}"
            for region, status in rec.availability.items()
        )
        lines.append(f"    - {_md(self.word('ui.availability'))}: {_md(availability)}")
        return lines

    def _unmapped_lines(self, unmapped: list[Unmapped]) -> list[str]:
        """Every item that changes no field is named at most NOT_USED_SHOWN times, then counted:
        a real chart holds hundreds of resources netlm has no use for."""
        lines = [_unmapped_line(u) for u in unmapped if u.field != NOT_USED]
        unread = [u.reason.split(" (")[0] for u in unmapped if u.field == NOT_USED]
        if unread:
            names = ", ".join(unread[:NOT_USED_SHOWN])
            if len(unread) > NOT_USED_SHOWN:
                names += ", " + self.word("ui.and_more", n=len(unread) - NOT_USED_SHOWN)
            lines.append(f"- {_md(self.word('ui.not_used', n=len(unread), names=names))}")
        return lines

    def _findings_sections(self, found: Assessed) -> list[str]:
        a = found.assessment
        out: list[str] = []
        if a.flags:
            out += ["", f"**{_md(self.word('ui.flags'))}**", ""]
            out += [f"- {_md(f.message)}" for f in a.flags]
        if a.missing_data:
            out += ["", f"**{_md(self.word('ui.missing'))}**", ""]
            out += [f"- `{_code(m.field)}`: {_md(m.why)}" for m in a.missing_data]
        if found.imported.unmapped:
            out += ["", f"**{_md(self.word('ui.unmapped'))}**", ""]
            out += self._unmapped_lines(found.imported.unmapped)
        return out + self._gap_lines(found.gaps)

    def _gap_lines(self, gaps: tuple[Gap, ...]) -> list[str]:
        """What the EHR did not send, per search: assessed without it, and said so."""
        if not gaps:
            return []
        out = ["", f"**{_md(self.word('ui.gaps'))}**", ""]
        for gap in gaps:
            why = self.word(f"gap.{gap.reason}", n=gap.bound)
            line = self.word("gap.line", what=self.word(f"key.{gap.key}"), why=why)
            out.append(f"- {_md(line)}")
        return out

    def _provisional(self, a: Assessment) -> list[str]:
        lines = provisional_lines(a, self.kb)
        if not lines:
            return []
        return ["", f"**{_md(lines[0])}**", "", *[f"- {_md(line)}" for line in lines[1:]]]

    def _disclaimer(self) -> str:
        text = self.kb.manifest.disclaimer(self.lang)
        return f"> {_md(self.word('ui.disclaimer'))}: {_md(text)}"

    def strategy(self, public_url: str, found: Assessed) -> Card:
        a = found.assessment
        c = a.classification
        pattern = self._pattern(c.liver_pattern)
        if not a.recommendations and a.completeness == "provisional":
            summary = self.word("summary.provisional", who=c.who_category, pattern=pattern)
        elif a.recommendations:
            first = a.recommendations[0]
            summary = self.word(
                "summary.first",
                who=c.who_category,
                pattern=pattern,
                option=self.kb.options[first.option].option.short(self.lang),
                strength=self.word(f"strength.{first.strength}"),
            )
        else:
            summary = self.word("summary.none", who=c.who_category, pattern=pattern)
        detail = [self._headline(a), *self._completion(found), *self._provisional(a), "",
                  f"**{_md(self.word('ui.recommendations'))}**", ""]  # fmt: skip
        for rec in a.recommendations:
            detail += self._option_lines(rec)
        if not a.recommendations:
            detail.append(f"- {_md(self.word('ui.none'))}")
        detail += self._findings_sections(found)
        detail += ["", self._disclaimer()]
        return self._card(public_url, found, "info", summary, "\n".join(detail))

    def review(self, public_url: str, found: Assessed) -> Card | None:
        """A warning card when something needs review; resources netlm has no use for do not."""
        a = found.assessment
        present = [code for code in REVIEW_FLAGS if any(f.code == code for f in a.flags)]
        items = [self.word(f"review.{code}") for code in present]
        if a.missing_data:
            items.append(self.word("review.missing", n=len(a.missing_data)))
        unmapped = [u for u in found.imported.unmapped if u.field != NOT_USED]
        if unmapped:
            items.append(self.word("review.unmapped", n=len(unmapped)))
        incomplete = [g for g in found.gaps if g.reason != "null"]  # null: the EHR has none
        if incomplete:
            items.append(self.word("review.gaps", n=len(incomplete)))
        if not items:
            return None
        summary = self.word("summary.review", items=self.word("word.list_sep").join(items))
        detail = [self._headline(a), *self._completion(found), *self._findings_sections(found),
                  "", self._disclaimer()]  # fmt: skip
        return self._card(public_url, found, "warning", summary, "\n".join(detail))

    def proposed(self, public_url: str, found: Assessed, rec: Recommendation) -> Card:
        summary = self.word(
            "order.proposed",
            option=self.kb.options[rec.option].option.short(self.lang),
            rank=rec.rank,
            tier=rec.tier,
            strength=self.word(f"strength.{rec.strength}"),
        )
        detail = [self._headline(found.assessment), "", *self._option_lines(rec)]
        detail += self._findings_sections(found)
        detail += ["", self._disclaimer()]
        return self._card(public_url, found, "info", summary, "\n".join(detail))

    def excluded(self, public_url: str, found: Assessed, ex: Exclusion, order: DraftOrder) -> Card:
        a = found.assessment
        short = self.kb.options[ex.option].option.short(self.lang)
        reason = ex.reasons[0] if ex.reasons else ""
        summary = self.word("order.excluded", option=short, reason=reason)
        detail = [self._headline(a), "", f"**{_md(self.word('ui.reasons'))}**", ""]
        detail += [f"- {_md(text)}" for text in ex.reasons]
        detail += ["", f"**{_md(self.word('ui.instead'))}**", ""]
        for rec in a.recommendations:
            strength = self.word(f"strength.{rec.strength}")
            tier = f"{self.word('ui.tier')} {rec.tier}"
            detail.append(f"{rec.rank}. {_md(rec.name)} ({_md(strength)}, {_md(tier)})")
        if not a.recommendations:
            detail.append(f"- {_md(self.word('order.none'))}")
        detail += self._findings_sections(found)
        detail += ["", self._disclaimer()]
        suggestions = None
        if order.id is not None:
            resource_id = f"{order.resource_type}/{order.id}"
            label = self.word("order.cancel", option=short)
            action = Action(type="delete", description=label, resourceId=resource_id)
            suggestions = [Suggestion(label=label, uuid=str(uuid.uuid4()), actions=[action])]
        indicator: Literal["warning", "critical"] = (
            "critical" if self._hard_stop(found.case, ex) else "warning"
        )
        return self._card(public_url, found, indicator, summary, "\n".join(detail), suggestions)

    def refused(self, public_url: str, refusal: Refused) -> Card:
        """An info card saying why netlm gives no assessment for this chart (no case kept)."""
        detail = [f"**{_md(self.word('ui.why'))}**", ""]
        detail += [f"- {_md(reason)}" for reason in refusal.reasons]
        detail += self._gap_lines(refusal.gaps)
        source = Source(label=f"netlm {__version__}", url=self.about_url or f"{public_url}/",
                        topic=TOPIC)  # fmt: skip
        return Card(
            uuid=str(uuid.uuid4()),
            summary=_clip(self.word(f"refused.{refusal.kind}")),
            detail="\n".join(detail),
            indicator="info",
            source=source,
        )

    def _hard_stop(self, case: Case, ex: Exclusion) -> bool:
        """Critical: the option is for another disease (NEC) or not approved in the region."""
        entry = self.kb.options[ex.option]
        nec = {c.rule.reason(self.lang) for c in entry.contraindications if c.rule.id == "nec"}
        if nec & set(ex.reasons):
            return True
        if case.region is None:
            return False
        status = entry.option.availability[case.region]
        return status.status == "not_approved" and status.verified


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: str) -> str:
    """Text as literal Markdown: no emphasis, links, HTML or tables from data."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;").replace("\n", " "))


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")


def _unmapped_line(item: Unmapped) -> str:
    return f"- `{_code(item.field)}`: {_md(item.reason)}"


def _clip(summary: str) -> str:
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1].rstrip() + "…"
