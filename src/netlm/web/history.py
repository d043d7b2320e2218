"""A case's history in words: what each audit event did, and what changed between versions."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from netlm.fhir.cds import completion
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.model.case import Case
from netlm.store.identity import SYSTEM, UserInfo
from netlm.store.repository import AuditEntry, VersionInfo
from netlm.web import forms
from netlm.web.i18n import word

# Audit actions about a case, in the order a filter lists them.
CASE_ACTIONS = ("create", "update", "assess", "decide", "follow_up", "report", "cds_feedback",
                "delete", "read")  # fmt: skip


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class VersionRow:
    info: VersionInfo
    note: str  # the comment in words (an EHR version's provenance lines left out)
    changes: list[Change]  # empty for the first version and for one that changed nothing


@dataclass(frozen=True)
class AuditLine:
    entry: AuditEntry
    who: str  # the display name; the login only when the account has none on record
    action: str
    text: str


def action_name(action: str, lang: str) -> str:
    return word(f"audit.{action}" if action in CASE_ACTIONS else "audit.other", lang)


def audit_text(entry: AuditEntry, kb: KnowledgeBase, lang: str) -> str:
    """The event's detail as a sentence (never its stored JSON)."""
    say = Phraser(kb, lang)
    d: dict[str, Any] = entry.detail or {}
    version = d.get("version", "")
    if entry.action in ("create", "update", "read"):
        return word(f"audit.text.{entry.action}", lang, version=version)
    if entry.action == "assess":
        return word("audit.text.assess", lang, version=version, kb=d.get("kb_version", ""))
    if entry.action == "decide":
        names = [say.option_name(c) for c in d.get("chosen_options", []) if c in kb.options]
        agree = word("decision.concordant" if d.get("concordant") else "decision.discordant", lang)
        text = word("audit.text.decide", lang, options=say.join(names), agreement=agree,
                    version=version)  # fmt: skip
        return text + (word("audit.text.dissent", lang) if d.get("dissent") else "")
    if entry.action == "follow_up":
        kind = d.get("kind")
        known = kind in ("progression", "death", "last_contact", "treatment")
        named = word(f"follow_up.kind.{kind}" if known else "audit.other", lang)
        text = word("audit.text.follow_up", lang, date=d.get("date", ""), kind=named)
        return text + (word("audit.text.follow_up_corrects", lang) if d.get("supersedes") else "")
    if entry.action == "delete":
        return word("audit.text.delete", lang, reason=d.get("reason", ""))
    if entry.action == "report":
        language = word("audit.lang.zh" if d.get("lang") == "zh" else "audit.lang.en", lang)
        return word("audit.text.report", lang, language=language)
    if entry.action == "cds_feedback":
        outcome = d.get("outcome")
        known = outcome in ("accepted", "overridden")
        return word(f"cds.outcome.{outcome}" if known else "audit.other", lang)
    return ""


def audit_lines(
    entries: list[AuditEntry], users: Iterable[UserInfo], kb: KnowledgeBase, lang: str
) -> list[AuditLine]:
    """The audit trail in words, naming people as versions and decisions do: the trail stores
    the login, which readers may not know."""
    names = {u.username: u.display_name for u in users if u.display_name.strip()}
    return [
        AuditLine(e, _who(e.username, names, lang), action_name(e.action, lang),
                  audit_text(e, kb, lang))
        for e in entries
    ]  # fmt: skip


def _who(login: str, names: dict[str, str], lang: str) -> str:
    if login == SYSTEM:
        return word("history.system", lang)
    return names.get(login, login)


# The first line of an EHR version's comment (netlm.fhir.cds.completion.version_comment), stored
# in English: shown in the reader's language.
_EHR_ORIGIN = re.compile(r"from the EHR \((?P<issuer>.*)\) via CDS Hooks (?P<hook>\S+)")

# Lines of an EHR version's comment that are netlm's own bookkeeping (JSON), not words for readers.
_EHR_LINES = (
    completion.FACTS_PREFIX,
    completion.PROPOSALS_PREFIX,
    completion.GAPS_PREFIX,
    completion.THERAPIES_PREFIX,
    completion.KEPT_PREFIX,
)


def comment_text(comment: str, kb: KnowledgeBase, lang: str) -> str:
    """A version comment as readers see it: an EHR version's provenance JSON is left out (what
    it changed is shown in clinical words beside it), the findings it kept from netlm named."""
    lines = [
        _origin(line, lang) for line in comment.splitlines() if not line.startswith(_EHR_LINES)
    ]
    kept = next((ln for ln in comment.splitlines() if ln.startswith(completion.KEPT_PREFIX)), "")
    if kept:
        labels = _labels(kb, lang)
        paths = kept.removeprefix(completion.KEPT_PREFIX).split(", ")
        named = [labels.get(p, word("form.prior", lang)) for p in paths if p]
        lines.append(word("history.kept", lang, findings=Phraser(kb, lang).join(named)))
    return "\n".join(lines)


def _origin(line: str, lang: str) -> str:
    found = _EHR_ORIGIN.fullmatch(line)
    if found is None:
        return line
    return word("history.from_ehr", lang, issuer=found["issuer"], hook=found["hook"])


def version_rows(
    versions: list[tuple[VersionInfo, Case]], kb: KnowledgeBase, lang: str
) -> list[VersionRow]:
    """Each version with what changed from the one before, in the findings' own labels, whether
    a clinician saved it or the EHR wrote it."""
    out: list[VersionRow] = []
    previous: Case | None = None
    for info, case in versions:
        found: list[Change] = changes(previous, case, kb, lang) if previous is not None else []
        out.append(VersionRow(info, comment_text(info.comment, kb, lang), found))
        previous = case
    return out


def _labels(kb: KnowledgeBase, lang: str) -> dict[str, str]:
    return {f.name: f.label for s in forms.sections(kb, lang) for f in s.fields}


def changes(before: Case | None, after: Case, kb: KnowledgeBase, lang: str) -> list[Change]:
    """Each finding that differs between two versions, in words (all of them for the first)."""
    old = forms.to_form(before) if before is not None else {}
    new = forms.to_form(after)
    labels = _labels(kb, lang)
    say = Phraser(kb, lang)
    out = []
    for name, label in labels.items():
        if old.get(name) != new.get(name):
            out.append(Change(label, _shown(before, name, say), _shown(after, name, say)))
    old_priors, new_priors = _priors(before, say), _priors(after, say)
    if old_priors != new_priors:
        out.append(Change(word("form.prior", lang), old_priors, new_priors))
    return out


def _shown(case: Case | None, name: str, say: Phraser) -> str:
    not_recorded = word("sheet.not_recorded", say.lang)
    if case is None:
        return not_recorded
    value: Any = case.to_json_dict()
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return not_recorded
    if name == "extrahepatic.sites" and value == []:
        return word("summary.no_extrahepatic", say.lang)
    if name == "id":
        return str(value)
    return say.value(name, value)


def _priors(case: Case | None, say: Phraser) -> str:
    if case is None or not case.prior_therapies:
        return say.text("ui.none")
    return say.join(
        [
            f"{say.option_short(p.option)}{word('form.colon', say.lang)}"
            f"{say.value(f'prior.{p.option}', p.outcome)}"
            for p in case.prior_therapies
        ]
    )
