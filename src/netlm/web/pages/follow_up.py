"""Follow-up on the case page: the case's dated events as read, and the form that records one
(or corrects one: the new event supersedes it, the old one stays listed, struck through).

The case page's handler knows nothing of follow-up: its template includes `_follow_up.html`,
which asks `follow_up_section` (a template global) for the events of the case on the page.
"""

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from netlm.knowledge.load import KnowledgeBase
from netlm.store.errors import Conflict, ValidationFailed
from netlm.store.followup import FollowUpEvent, FollowUpIn, FollowUpKind, ProgressionCriteria
from netlm.web import state
from netlm.web.i18n import request_lang, word
from netlm.web.pages.cases import _case_page
from netlm.web.pages.render import templates
from netlm.web.security import Clinician

router = APIRouter()

KINDS = [k.value for k in FollowUpKind]
CRITERIA = [c.value for c in ProgressionCriteria]
FIELDS = ("kind", "date", "criteria", "stopped", "note", "supersedes")
# A field that belongs to one kind only: the form hides it for the others, and drops it.
ONLY_FOR = {"criteria": FollowUpKind.PROGRESSION, "options": FollowUpKind.TREATMENT,
            "stopped": FollowUpKind.TREATMENT}  # fmt: skip
# The store's own checks, by field, as the form words them.
STORE_PROBLEMS = {"kind": "follow_up.problem.second_death", "date": "follow_up.problem.date",
                  "stopped": "follow_up.problem.stopped", "options": "follow_up.problem.options",
                  "supersedes": "follow_up.problem.supersedes"}  # fmt: skip


@dataclass(frozen=True)
class EventRow:
    """One stored event as the page reads it."""

    event: FollowUpEvent
    kind: str
    details: list[str]
    recorded_by: str
    corrected_by: FollowUpEvent | None = None


@dataclass(frozen=True)
class Section:
    rows: list[EventRow]
    kinds: list[tuple[str, str]]
    criteria: list[tuple[str, str]]
    options: list[tuple[str, str]]
    correcting: EventRow | None = None  # the event the form corrects (`?correct=<id>`)
    prefill: dict[str, Any] = field(default_factory=dict)


def follow_up_section(request: Request, case_id: str) -> Section:
    """The events of the case, oldest first, and the choices of the form in the page's
    language; with `?correct=<id>`, the form starts as that event, to correct."""
    lang = request_lang(request)
    kb = state.kb(request)
    events = state.store(request).list_follow_up(case_id)
    by_id = {e.id: e for e in events}
    rows = [_row(e, by_id.get(e.superseded_by or 0), kb, lang) for e in events]
    wanted = request.query_params.get("correct", "")
    correcting = next((r for r in rows if str(r.event.id) == wanted
                       and r.corrected_by is None), None)  # fmt: skip
    prefill: dict[str, Any] = {}
    if correcting is not None:
        e = correcting.event
        prefill = {"kind": e.kind.value, "date": e.date.isoformat(),
                   "criteria": e.criteria.value if e.criteria else "", "options": e.options,
                   "stopped": e.stopped.isoformat() if e.stopped else "", "note": e.note,
                   "supersedes": str(e.id)}  # fmt: skip
    return Section(
        rows,
        [(k, word(f"follow_up.kind.{k}", lang)) for k in KINDS],
        [(c, word(f"follow_up.criteria.{c}", lang)) for c in CRITERIA],
        [(code, entry.option.name(lang)) for code, entry in kb.options.items()],
        correcting,
        prefill,
    )


templates.env.globals["follow_up_section"] = follow_up_section


def _row(
    event: FollowUpEvent, corrected_by: FollowUpEvent | None, kb: KnowledgeBase, lang: str
) -> EventRow:
    details = []
    if event.criteria is not None:
        details.append(word(f"follow_up.criteria.{event.criteria.value}", lang))
    if event.options:
        names = [kb.options[o].option.name(lang) if o in kb.options else o for o in event.options]
        details.append(word("form.list_sep", lang).join(names))
    if event.kind is FollowUpKind.TREATMENT:
        details.append(
            word("follow_up.stopped_on", lang, date=event.stopped.isoformat())
            if event.stopped
            else word("follow_up.ongoing", lang)
        )
    name = event.recorded_by_name or event.recorded_by
    return EventRow(event, word(f"follow_up.kind.{event.kind.value}", lang), details, name,
                    corrected_by)  # fmt: skip


@router.post("/cases/{case_id}/follow-up")
async def record_follow_up(request: Request, case_id: str, current: Clinician) -> Response:
    """Record one event; on any error the case page comes back with every entry kept and the
    problems listed, each linked to its field."""
    lang = request_lang(request)
    form = await request.form()
    text = {name: str(form.get(name) or "").strip() for name in FIELDS}
    options = [str(v) for v in form.getlist("options")]
    raw: dict[str, Any] = {"kind": text["kind"], "date": text["date"], "note": text["note"],
                           "criteria": text["criteria"] or None, "options": options,
                           "stopped": text["stopped"] or None,
                           "supersedes": text["supersedes"] or None}  # fmt: skip
    for name, kind in ONLY_FOR.items():
        if raw["kind"] != kind:
            raw.pop(name)
    problems: dict[str, str] = {}
    try:
        event = FollowUpIn.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "date"
            limit = (err.get("ctx") or {}).get("max_length")
            problems.setdefault(name, _problem(name, lang, limit))
    else:
        try:
            state.store(request).add_follow_up(case_id, event, current.user)
        except ValidationFailed as exc:
            problems[exc.field] = word(STORE_PROBLEMS.get(exc.field, "form.problem.invalid"), lang)
        except Conflict:  # the event was corrected by someone else meanwhile
            problems["supersedes"] = word("follow_up.problem.supersedes", lang)
    if problems:
        return _case_page(request, case_id, current, status=422, follow_up_problems=problems,
                          follow_up_values={**text, "options": options})  # fmt: skip
    return RedirectResponse(f"/cases/{case_id}#follow-up", status_code=303)


def _problem(name: str, lang: str, limit: int | None = None) -> str:
    if limit is not None and name == "note":
        return word("decision.problem.too_long", lang, max=limit)
    known = name in (*FIELDS, "options")
    return word(f"follow_up.problem.{name}" if known else "form.problem.invalid", lang)
