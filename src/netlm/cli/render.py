"""Human-readable renderings of an assessment: plain text and Markdown.

The wording of headings comes from the knowledge base's message catalogue, so `--lang zh`
changes every line, not only the clinical content.
"""

from rich.cells import cell_len

from netlm.cli.common import pad
from netlm.engine.branches import provisional_lines
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment, Recommendation
from netlm.model.codes import Region


class _Words:
    def __init__(self, kb: KnowledgeBase, lang: str) -> None:
        self.kb, self.lang = kb, lang

    def __call__(self, key: str, **values: object) -> str:
        return self.kb.messages[key](self.lang).format(**values)

    def resectability(self, value: str) -> str:
        return self(
            "resectability.undetermined_value"
            if value == "undetermined"
            else f"resectability.{value}"
        )

    def pattern(self, value: str) -> str:
        return self("pattern.unclassified_value" if value == "unclassified" else f"pattern.{value}")


def _availability(words: _Words, rec: Recommendation) -> str:
    """Each region's status; an unverified "not approved" is worded as the caution beside it
    says ("no approval found (not confirmed)"), never as a plain "not approved"."""
    known = words.kb.options[rec.option].option.availability

    def said(region: Region, status: str) -> str:
        unconfirmed = status == "not_approved" and not known[region].verified
        return words("availability.not_found" if unconfirmed else f"availability.{status}")

    return " · ".join(
        f"{region} {said(region, status)}" for region, status in rec.availability.items()
    )


def _header(words: _Words, a: Assessment) -> str:
    kb = a.knowledge_base
    version = f"{words('ui.knowledge_base')} {kb.version} ({kb.released})"
    return f"{words('ui.title')} · {words('ui.case')} {a.case_id} · {version}"


def render_text(a: Assessment, kb: KnowledgeBase) -> str:
    w = _Words(kb, a.language)
    c = a.classification
    lines = [_header(w, a), ""]
    if provisional := provisional_lines(a, kb):
        lines += [f"?? {provisional[0]}", *[f"   {line}" for line in provisional[1:]], ""]
    lines += [w("ui.classification")]
    rows = [
        (w("ui.grade"), f"{c.who_category} ({w(f'basis.{c.grade_basis}')})"),
        (w("ui.liver_pattern"), f"{w.pattern(c.liver_pattern)} - {c.liver_pattern_basis}"),
        (
            w("ui.resectability"),
            f"{w.resectability(c.resectability)} - {'; '.join(c.resectability_reasons)}",
        ),
        (w("ui.intent"), w(f"intent.{c.intent}")),
    ]
    width = max(cell_len(label) for label, _ in rows)
    lines += [f"  {pad(label, width)}  {value}" for label, value in rows]
    lines += ["", w("ui.recommendations")]
    for rec in a.recommendations:
        tier = f"{w('ui.tier')} {rec.tier}"
        lines.append(f"  {rec.rank}. {rec.name} [{w(f'strength.{rec.strength}')} · {tier}]")
        lines.append(f"     {w('ui.order_basis')}: {rec.order_basis}")
        lines += [f"     {text}" for text in rec.rationale]
        lines.append(f"     {w('ui.evidence')}:")
        lines += [f"       - {e.summary}" for e in rec.evidence]
        if rec.cautions:
            lines.append(f"     {w('ui.cautions')}:")
            lines += [f"       ! {text}" for text in rec.cautions]
        lines.append(f"     {w('ui.availability')}: {_availability(w, rec)}")
    if not a.recommendations:
        lines.append(f"  {w('ui.none')}")
    lines += ["", w("ui.excluded")]
    for ex in a.excluded:
        lines.append(f"  - {ex.name}: {'; '.join(ex.reasons)}")
    lines += ["", w("ui.flags")]
    lines += [f"  ! [{f.code}] {f.message}" for f in a.flags] or [f"  {w('ui.none')}"]
    lines += ["", w("ui.missing")]
    lines += [f"  ? {m.field}: {m.why}" for m in a.missing_data] or [f"  {w('ui.none')}"]
    lines += ["", f"{w('ui.disclaimer')}: {kb.manifest.disclaimer(a.language)}"]
    return "\n".join(lines)


def render_markdown(a: Assessment, kb: KnowledgeBase) -> str:
    w = _Words(kb, a.language)
    c = a.classification
    out = [f"# {_header(w, a)}", ""]
    if provisional := provisional_lines(a, kb):
        out += [f"> **{provisional[0]}**", *[f"> - {line}" for line in provisional[1:]], ""]
    out += [f"## {w('ui.classification')}", ""]
    reasons = "; ".join(c.resectability_reasons)
    out += [
        f"| {w('ui.aspect')} | {w('ui.result')} |",
        "|---|---|",
        f"| {w('ui.grade')} | {c.who_category} ({w(f'basis.{c.grade_basis}')}) |",
        f"| {w('ui.liver_pattern')} | {w.pattern(c.liver_pattern)}: {c.liver_pattern_basis} |",
        f"| {w('ui.resectability')} | {w.resectability(c.resectability)}: {reasons} |",
        f"| {w('ui.intent')} | {w(f'intent.{c.intent}')} |",
        "",
        f"## {w('ui.recommendations')}",
        "",
    ]
    for rec in a.recommendations:
        tier = f"{w('ui.tier')} {rec.tier}"
        out.append(f"### {rec.rank}. {rec.name} ({w(f'strength.{rec.strength}')}, {tier})")
        out += ["", f"*{w('ui.order_basis')}*: {rec.order_basis}", ""]
        out += [*[f"- {text}" for text in rec.rationale], "", f"**{w('ui.evidence')}**", ""]
        out += [f"- {e.summary}" for e in rec.evidence]
        if rec.cautions:
            out += ["", f"**{w('ui.cautions')}**", "", *[f"- {text}" for text in rec.cautions]]
        out += ["", f"**{w('ui.availability')}**: {_availability(w, rec)}", ""]
    out += [f"## {w('ui.excluded')}", ""]
    out += [f"- **{ex.name}**: {'; '.join(ex.reasons)}" for ex in a.excluded]
    out += ["", f"## {w('ui.flags')}", ""]
    out += [f"- `{f.code}`: {f.message}" for f in a.flags] or [f"- {w('ui.none')}"]
    out += ["", f"## {w('ui.missing')}", ""]
    out += [f"- `{m.field}`: {m.why}" for m in a.missing_data] or [f"- {w('ui.none')}"]
    out += ["", f"> {w('ui.disclaimer')}: {kb.manifest.disclaimer(a.language)}", ""]
    return "\n".join(out)
