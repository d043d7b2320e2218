"""What the EHR's last import left for the board on the case form: report-text proposals and
an incomplete treatment history.

A proposal (a number read from a pathology or imaging narrative) is shown on its field,
prefilled and marked "from the report text — confirm", with its sentence and report; it is
written only when the clinician ticks its confirm box. The server decides from the stored
version, never from the page: a prefilled value submitted unconfirmed is put back to what the
case held, so saving without confirming leaves the field as it was. A value the clinician
typed over the prefill is their own entry and is kept. Once saved, the value is a board fact
(not among the EHR's facts), so the next EHR refresh keeps it (netlm.fhir.cds.completion).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from netlm.fhir.cds.completion import (
    PRIOR_THERAPIES,
    ehr_facts,
    ehr_proposals,
    ehr_therapy_gaps,
)
from netlm.fhir.mapping.result import STATED_GRADE, Proposal
from netlm.model.case import Case
from netlm.store.repository import Store
from netlm.web import forms
from netlm.web.i18n import word

CONFIRM = "confirm"  # the form's name of a proposal's confirm box; its value is the field


@dataclass(frozen=True)
class Shown:
    """One proposal as its field shows it."""

    field: str
    label: str  # the field's label, for the version comment
    text: str  # the value as the form writes it ("8", "well")
    value: str  # the value as a reader reads it ("<3 %", "well differentiated")
    quote: str
    source: str
    held: str  # what the case holds, as a reader reads it ("" when nothing)
    was: str  # what the case holds, as the form writes it ("" when nothing)
    bound: bool  # the text gave only a bound ("<3 %"): never prefilled
    prefill: bool  # prefilled with a confirm box; not for a bound or disagreeing reports


@dataclass
class FromEhr:
    """What the latest EHR version left for the board on this case's form."""

    proposals: dict[str, list[Shown]] = field(default_factory=dict)
    stated_grades: list[Proposal] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # therapies the import could not read
    asks_history: bool = False

    def prefilled(self) -> dict[str, Shown]:
        return {name: s for name, shown in self.proposals.items() for s in shown if s.prefill}


def from_ehr(store: Store, case: Case, fields: list[forms.Field]) -> FromEhr:
    """The proposals and therapy gaps of the case's latest EHR-written version (none when the
    EHR never wrote one), against what the case holds now."""
    for version in reversed(store.case_versions(case.id)):
        facts = ehr_facts(version.comment)
        if facts is not None:
            return _shown(version.comment, facts, case, fields)
    return FromEhr()


def _shown(
    comment: str, facts: Mapping[str, str], case: Case, fields: list[forms.Field]
) -> FromEhr:
    by_name = {f.name: f for f in fields}
    held = forms.to_form(case)
    out = FromEhr(gaps=ehr_therapy_gaps(comment))
    out.asks_history = bool(out.gaps) or (PRIOR_THERAPIES not in facts and not case.prior_therapies)
    found: dict[str, list[tuple[Proposal, str]]] = {}
    for p in ehr_proposals(comment):
        if p.field == STATED_GRADE:
            out.stated_grades.append(p)
            continue
        text = _text(by_name[p.field], p.value) if p.field in by_name else None
        # a value the case already holds needs no confirming; a bound is always shown
        if text is not None and (p.comparator or text != forms.as_text(held.get(p.field))):
            found.setdefault(p.field, []).append((p, text))
    for name, items in found.items():
        f = by_name[name]
        agreed = len({text for _, text in items}) == 1  # reports that disagree prefill nothing
        now = forms.as_text(held.get(name))
        out.proposals[name] = [
            Shown(
                field=name,
                label=f.label,
                text=text,
                value=_reading(f, text, p.comparator),
                quote=p.quote,
                source=p.source,
                held=_reading(f, now, None) if now else "",
                was=now,
                bound=p.comparator is not None,
                prefill=agreed and p.comparator is None,
            )
            for p, text in items
        ]
    return out


def _text(f: forms.Field, value: object) -> str | None:
    """The value as the form writes it; None when it does not fit the field."""
    if f.kind in ("integer", "number") and isinstance(value, int | float):
        if f.kind == "integer" and not float(value).is_integer():
            return None
        return forms.number_text(float(value))
    if f.kind == "enum" and isinstance(value, str) and value in {c.value for c in f.choices}:
        return value
    return None


def _reading(f: forms.Field, text: str, comparator: str | None) -> str:
    """The value as a reader reads it: a choice's label, or the number with its unit."""
    if f.kind == "enum":
        return next((c.label for c in f.choices if c.value == text), text)
    shown = f"{comparator or ''}{text}"
    if not f.unit:
        return shown
    return f"{shown}{'' if f.unit.startswith('/') else ' '}{f.unit}"  # 8 %, 2/2 mm²


def settle(submitted: forms.FormData, found: FromEhr) -> tuple[forms.FormData, list[Shown]]:
    """The form as it may be saved, and the proposals confirmed (ticked, value as prefilled):
    an unconfirmed prefill still as prefilled goes back to what the case held."""
    ticked = ticked_boxes(submitted)
    out = dict(submitted)
    confirmed = []
    for name, shown in found.prefilled().items():
        as_prefilled = forms.as_text(submitted.get(name)).strip() == shown.text
        if name in ticked and as_prefilled:
            confirmed.append(shown)
        elif as_prefilled:
            out[name] = shown.was
    return out, confirmed


def ticked_boxes(submitted: forms.FormData) -> list[str]:
    """The fields whose proposal the clinician confirmed."""
    ticked = submitted.get(CONFIRM, [])
    return [ticked] if isinstance(ticked, str) else ticked


def version_comment(comment: str, confirmed: list[Shown], lang: str) -> str:
    """The clinician's comment with a line per proposal confirmed: where the value came from."""
    lines = [comment] if comment else []
    lines += [word("form.proposal.confirmed_comment", lang, field=s.label, value=s.value,
                   source=s.source) for s in confirmed]  # fmt: skip
    return "\n".join(lines)
