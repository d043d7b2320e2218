"""The case pages: list and search, the case form, the case as the board reads it with the
what-if and the decision, the history, versions, the printable view."""

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from netlm.engine import assess
from netlm.fhir.cds.routes import cds_store
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.model.assessment import Assessment
from netlm.model.codes import Language
from netlm.model.decision import DecisionIn
from netlm.store.errors import Conflict, ValidationFailed
from netlm.web import casesheet, forms, history, lead, outcomes, proposals, state
from netlm.web.i18n import request_lang, word
from netlm.web.pages.render import page
from netlm.web.report.forest import forest_rows, forest_svg
from netlm.web.security import Clinician, Session, Viewer
from netlm.web.service import CaseView
from netlm.web.whatif import moved_options

router = APIRouter()


@router.get("/cases")
def case_list(
    request: Request,
    current: Viewer,
    q: str | None = None,
    grade: str | None = None,
    pattern: str | None = None,
    site: str | None = None,
    pending: str | None = None,
) -> HTMLResponse:
    rows = state.store(request).list_cases(
        text=q or None, grade=grade or None, liver_pattern=pattern or None,
        primary_site=site or None, decision_pending=True if pending == "1" else None,
    )  # fmt: skip
    name = "_case_rows.html" if request.headers.get("hx-request") else "cases.html"
    filters = {"q": q or "", "grade": grade or "", "pattern": pattern or "", "site": site or "",
               "pending": pending or ""}  # fmt: skip
    return page(request, name, current, rows=rows, filters=filters)


def _form_page(
    request: Request, current: Session, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = request_lang(request)
    options, outcomes = forms.prior_choices(state.kb(request), lang)
    values = context.setdefault("values", {})
    problems = context.setdefault("problems", {})
    sections = forms.sections(state.kb(request), lang)
    labels = {f.name: f.label for s in sections for f in s.fields}
    for i in range(forms.prior_rows(values)):
        labels[f"prior_therapies.{i}.option"] = f"{word('form.prior', lang)} {i + 1}"
        labels[f"prior_therapies.{i}.outcome"] = f"{word('form.prior', lang)} {i + 1}"
        for name in ("", *(f".{d}" for d in forms.PRIOR_DETAILS)):
            labels[f"prior_therapies.{i}{name}"] = f"{word('form.prior', lang)} {i + 1}"
    return page(
        request, "case_form.html", current, status=status, sections=sections,
        prior_options=options, prior_outcomes=outcomes, prior_rows=forms.prior_rows(values),
        prior_responses=forms.response_choices(lang),
        problem_list=[(name, labels.get(name, ""), message) for name, message in problems.items()],
        **context,
    )  # fmt: skip


@router.get("/cases/new")
def new_case_form(request: Request, current: Clinician) -> HTMLResponse:
    return _form_page(request, current, values={}, action="/cases/new", editing=None)


async def _submitted(request: Request) -> forms.FormData:
    """The posted fields as entered: one text per field, a list where several were sent."""
    form = await request.form()
    data: forms.FormData = {}
    for key in form:
        sent = [str(v) for v in form.getlist(key)]
        data[key] = sent if len(sent) > 1 else sent[0]
    return data


@router.post("/cases/new")
async def create_case(request: Request, current: Clinician) -> Response:
    lang = request_lang(request)
    case, values, problems = forms.parse_form(await _submitted(request), state.kb(request), lang)
    if case is None:
        return _form_page(request, current, values=values, problems=problems,
                          action="/cases/new", editing=None, status=422)  # fmt: skip
    try:
        state.board(request).create(case, current.user)
    except Conflict:
        problems = {"id": word("form.problem.id_taken", lang)}
        return _form_page(request, current, values=values, problems=problems,
                          action="/cases/new", editing=None, status=409)  # fmt: skip
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    return _case_page(request, case_id, current)


def _case_page(
    request: Request, case_id: str, current: Session, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = request_lang(request)
    view = state.board(request).view(case_id, current.user, lang)
    kb = state.kb(request)
    values = forms.to_form(view.record.case)
    return page(
        request, "case.html", current, status=status, **_sheet(view, kb, lang),
        whatif=_whatif_sections(request, lang), values=values,
        prior_rows=forms.prior_rows(values), prior_options=forms.prior_choices(kb, lang)[0],
        prior_outcomes=forms.prior_choices(kb, lang)[1],
        prior_responses=forms.response_choices(lang),
        today=dt.date.today().isoformat(), option_names=_option_names(kb, lang),
        feedback=cds_store(request.app).list_feedback(case_id), **context,
    )  # fmt: skip


def _sheet(view: CaseView, kb: KnowledgeBase, lang: Language) -> dict[str, Any]:
    """What the case page and its printable view show of a case and its assessment."""
    a, case = view.assessment, view.record.case
    rows = forest_rows(a, kb, lang)
    return {
        "view": view, "a": a, "summary": casesheet.summary_line(case, a, kb, lang),
        "findings": casesheet.findings(case, kb, lang),
        "sheets": [casesheet.option_sheet(r, kb, lang) for r in a.recommendations],
        "forest": forest_svg(rows, lang) if rows else "",
        "forest_table": outcomes.forest_table(rows, lang),
        "missing": casesheet.missing_findings(a, kb, lang),
        "decision_sheets": casesheet.decision_sheets(
            view.decisions, kb, lang, view.record.current_version),
        "lead": lead.lead(a, kb, lang), "excluded_groups": lead.excluded_groups(a, kb, lang),
        "caution_list": lambda rec: lead.cautions(rec, kb, lang),
    }  # fmt: skip


def _option_names(kb: KnowledgeBase, lang: str) -> list[tuple[str, str]]:
    return [(code, entry.option.name(lang)) for code, entry in kb.options.items()]


def _whatif_sections(request: Request, lang: str) -> list[forms.Section]:
    """The case form's sections with the what-if's fields: every finding, laboratory included."""
    wanted = set(forms.whatif_fields())
    out = []
    for s in forms.sections(state.kb(request), lang):
        fields = [f for f in s.fields if f.name in wanted]
        if fields:
            out.append(forms.Section(s.key, s.title, fields))
    return out


@router.get("/cases/{case_id}/edit")
def edit_form(
    request: Request, case_id: str, current: Clinician, complete: str = ""
) -> HTMLResponse:
    """The case form; `complete` (from a CDS Hooks card) names the findings no EHR holds, which
    the board is asked to fill in: they are highlighted and listed at the top. An EHR case's
    report-text proposals are prefilled on their fields, to confirm (netlm.web.proposals)."""
    record = state.store(request).get_case(case_id, by=current.user)
    lang = request_lang(request)
    fields = _fields(request, lang)
    known = {f.name: f.label for f in fields}
    wanted = [name for name in dict.fromkeys(complete.split(",")) if name in known]
    found = proposals.from_ehr(state.store(request), record.case, fields)
    values = forms.to_form(record.case)
    values.update({name: shown.text for name, shown in found.prefilled().items()})
    return _form_page(request, current, values=values, action=f"/cases/{case_id}/edit",
                      editing=record, complete=wanted, complete_labels=[known[n] for n in wanted],
                      ehr=found, confirmed=[])  # fmt: skip


def _fields(request: Request, lang: str) -> list[forms.Field]:
    return [f for s in forms.sections(state.kb(request), lang) for f in s.fields]


@router.post("/cases/{case_id}/edit")
async def edit_case(request: Request, case_id: str, current: Clinician) -> Response:
    """Save the form; a report-text proposal is written only when its box is ticked."""
    lang = request_lang(request)
    record = state.store(request).get_case(case_id)
    submitted = await _submitted(request)
    found = proposals.from_ehr(state.store(request), record.case, _fields(request, lang))
    settled, confirmed = proposals.settle(submitted, found)
    case, values, problems = forms.parse_form(settled, state.kb(request), lang)
    if case is not None and case.id != case_id:
        case, problems = None, {"id": word("form.problem.id_fixed", lang, id=case_id)}
    raw = str(submitted.get("expected_version") or record.version)
    if case is not None and (not raw.isdigit() or not 1 <= int(raw) <= record.version):
        case, problems = None, {"id": word("form.problem.version", lang)}
    comment = str(submitted.get("comment") or "")
    if case is None:  # shown again as entered, each proposal with its box as it was
        values.update({name: forms.as_text(submitted.get(name)) for name in found.prefilled()})
        return _form_page(request, current, status=422, values=values, problems=problems,
                          action=f"/cases/{case_id}/edit", editing=record, comment=comment,
                          ehr=found, confirmed=proposals.ticked_boxes(submitted))  # fmt: skip
    comment = proposals.version_comment(comment, confirmed, lang)
    state.board(request).update(case_id, case, current.user, expected_version=int(raw),
                                comment=comment)  # fmt: skip
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/whatif")
async def whatif(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    """Assess a changed copy of the case side by side with the current one; nothing is saved."""
    lang = request_lang(request)
    kb = state.kb(request)
    record = state.store(request).get_case(case_id, by=current.user)
    form = await request.form()
    posted = {key: [str(v) for v in form.getlist(key)] for key in form}
    data = forms.whatif_form(record.case, posted)
    case, _, problems = forms.parse_form(data, kb, lang)
    before = assess(record.case, lang=lang, kb=kb)
    after = assess(case, lang=lang, kb=kb) if case else None
    labels = {f.name: f.label for s in _whatif_sections(request, lang) for f in s.fields}
    shown = [(labels.get(k, word("form.prior", lang)), v) for k, v in problems.items()]
    inputs = history.changes(record.case, case, kb, lang) if case else []
    moved = moved_options(before, after, Phraser(kb, lang)) if after else []
    return page(request, "_whatif.html", current, before=before, after=after, problems=shown,
                same=after is not None and _same_advice(before, after), inputs=inputs,
                moved=moved)  # fmt: skip


def _same_advice(before: Assessment, after: Assessment) -> bool:
    """The what-if changed nothing a board acts on: classification and ranked options."""
    return (before.classification, before.recommendations) == (
        after.classification,
        after.recommendations,
    )


@router.post("/cases/{case_id}/decisions")
async def record_decision(request: Request, case_id: str, current: Clinician) -> Response:
    """Record the board's decision; on any error the page comes back with every entry kept."""
    lang = request_lang(request)
    form = await request.form()
    text = {name: str(form.get(name) or "")
            for name in _DECISION_FIELDS}  # fmt: skip
    chosen = [str(v) for v in form.getlist("chosen_options")]
    people = [p.strip() for p in text["participants"].splitlines() if p.strip()]
    reason = text["override_reason"].strip() or None
    dissent = text["dissent"].strip() or None
    raw = {**text, "chosen_options": chosen, "override_reason": reason, "dissent": dissent,
           "participants": people}  # fmt: skip
    board = state.board(request)
    problems: dict[str, str] = {}
    try:
        decision = DecisionIn.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "decided_on"
            limit = (err.get("ctx") or {}).get("max_length")
            problems.setdefault(name, _decision_problem(name, lang, limit))
    else:
        try:
            board.decide(case_id, decision, current.user)
        except ValidationFailed as exc:
            problems[exc.field] = _decision_problem(exc.field, lang)
    if problems:
        return _case_page(request, case_id, current, status=422, decision_problems=problems,
                          decision_values={**text, "chosen_options": chosen})  # fmt: skip
    return RedirectResponse(f"/cases/{case_id}#decision", status_code=303)


_DECISION_FIELDS = ("decided_on", "participants", "notes", "override_reason", "dissent")


def _decision_problem(name: str, lang: str, limit: int | None = None) -> str:
    if limit is not None:
        return word("decision.problem.too_long", lang, max=limit)
    known = name in (*_DECISION_FIELDS, "chosen_options")
    return word(f"decision.problem.{name}" if known else "form.problem.invalid", lang)


@router.post("/cases/{case_id}/delete")
async def delete_case(request: Request, case_id: str, current: Clinician) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 3 or form.get("confirm") != "yes":
        raise HTTPException(422, word("case.delete_confirm_missing", request_lang(request)))
    state.store(request).delete_case(case_id, current.user, reason)
    return RedirectResponse("/cases", status_code=303)


@router.get("/cases/{case_id}/history")
def history_page(
    request: Request, case_id: str, current: Viewer, action: str = "", reads: str = ""
) -> HTMLResponse:
    """Versions, assessments, decisions (everything the board entered) and, for clinicians
    and admins as in the API, the audit trail, filterable by event; openings (reads) are hidden
    unless asked for."""
    lang = request_lang(request)
    store, kb = state.store(request), state.kb(request)
    record = store.get_case(case_id, by=current.user)
    audit = None
    if current.user.role != "viewer":
        events = store.audit_log(entity_id=case_id)
        if action in history.CASE_ACTIONS:
            events = [e for e in events if e.action == action]
        elif reads != "1":
            events = [e for e in events if e.action != "read"]
        audit = history.audit_lines(events, store.list_users(), kb, lang)
    actions = [(a, history.action_name(a, lang)) for a in history.CASE_ACTIONS]
    versions = [(v, store.get_case(case_id, version=v.version).case)
                for v in store.case_versions(case_id)]  # fmt: skip
    return page(
        request, "history.html", current, record=record,
        versions=history.version_rows(versions, kb, lang),
        assessments=store.list_assessments(case_id),
        decision_sheets=casesheet.decision_sheets(
            store.list_decisions(case_id), kb, lang, record.current_version),
        audit=audit, actions=actions, filters={"action": action, "reads": reads},
    )  # fmt: skip


@router.get("/cases/{case_id}/versions/{version}")
def version_page(request: Request, case_id: str, version: int, current: Viewer) -> HTMLResponse:
    """One stored version of the case, with what changed from the version before it."""
    lang = request_lang(request)
    store, kb = state.store(request), state.kb(request)
    if not 1 <= version <= 1_000_000:
        raise HTTPException(404, "no such version")
    record = store.get_case(case_id, version=version, by=current.user)
    previous = store.get_case(case_id, version=version - 1).case if version > 1 else None
    info = next((v for v in store.case_versions(case_id) if v.version == version), None)
    return page(
        request, "version.html", current, record=record, info=info,
        changes=history.changes(previous, record.case, kb, lang),
        note=history.comment_text(info.comment, kb, lang) if info else "",
        findings=casesheet.findings(record.case, kb, lang),
    )  # fmt: skip


@router.get("/cases/{case_id}/print")
def printable(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    lang = request_lang(request)
    view = state.board(request).view(case_id, current.user, lang)
    return page(request, "print.html", current, **_sheet(view, state.kb(request), lang))
