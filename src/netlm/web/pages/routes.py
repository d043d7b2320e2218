"""Pages: login, case list and search, case form, assessment with what-if and decision, history,
printable view, the account (API tokens; sign-in locks for admins). Every page checks the role;
every form carries the session's CSRF token, the login form a pre-session one."""

import datetime as dt
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import ValidationError

from netlm.engine import assess
from netlm.fhir.cds.routes import cds_store
from netlm.knowledge.load import KnowledgeBase
from netlm.model.decision import DecisionIn
from netlm.store.accounts import MAX_PASSWORD_LENGTH
from netlm.store.errors import Conflict, InvalidCredentials, NotFound, Throttled, ValidationFailed
from netlm.web import forms, state
from netlm.web.i18n import LANG_COOKIE, LANGUAGES, request_lang, word
from netlm.web.report.forest import forest_rows, forest_svg
from netlm.web.security import (
    Admin,
    Clinician,
    Session,
    Viewer,
    client_address,
    end_session,
    login_allowed,
    login_csrf,
    optional_session,
    set_login_cookie,
    start_session,
)

router = APIRouter()
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(str(resources.files("netlm.web").joinpath("templates"))),
        autoescape=True,  # every value from a user is escaped, in every template
    )
)


def page(
    request: Request, name: str, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = request_lang(request)
    kb = state.kb(request)

    def t(key: str, **values: Any) -> str:
        return word(key, lang, **values)

    def m(key: str, **values: Any) -> str:
        return kb.messages[key](lang).format(**values)

    response: HTMLResponse = templates.TemplateResponse(
        request,
        name,
        {
            "t": t,
            "m": m,
            "lang": lang,
            "user": session.user if session else None,
            "csrf": session.csrf if session else "",
            "kb": kb,
            **context,
        },
        status_code=status,
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def render_error(request: Request, status: int) -> HTMLResponse:
    key = f"error.{status}" if status in (403, 404, 409) else "error.title"
    return page(
        request, "error.html", None, status=status, message=word(key, request_lang(request))
    )


OptionalSession = Annotated[Session | None, Depends(optional_session)]


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


@router.get("/login")
def login_form(request: Request, current: OptionalSession, next: str = "/cases") -> Response:
    if current is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next=_safe_next(next))


def _login_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    """The login form with its CSRF token, and the pre-session cookie the token is bound to."""
    nonce, token = login_csrf(request)
    response = page(request, "login.html", None, status=status, login_token=token, **context)
    set_login_cookie(request, response, nonce)
    return response


def _safe_next(target: str) -> str:
    """Only local paths, so the login form cannot redirect to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/cases"


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/cases",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    lang = request_lang(request)
    next = _safe_next(next)
    if not login_allowed(request, csrf_token):  # checked first: no throttling on others' behalf
        return _login_page(request, 403, error=word("login.expired", lang), next=next)
    try:
        user = state.store(request).authenticate(username, password, client_address(request))
    except ValidationFailed:  # the only one: a password too long to be checked
        error = word("login.too_long", lang, max=MAX_PASSWORD_LENGTH)
        return _login_page(request, 422, error=error, next=next)
    except Throttled as exc:
        error = word("login.throttled", lang, seconds=exc.retry_after)
        return _login_page(request, 429, error=error, next=next)
    except InvalidCredentials:
        return _login_page(request, 401, error=word("login.failed", lang), next=next)
    response = RedirectResponse(next, status_code=303)
    start_session(request, response, user)
    return response


@router.post("/logout")
def logout(request: Request, current: Viewer) -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response, current)
    return response


@router.get("/account")
def account(request: Request, current: Viewer) -> HTMLResponse:
    """The user's API tokens, to revoke; for admins also the sign-in locks, to lift."""
    store = state.store(request)
    locks = store.locked_logins() if current.user.role == "admin" else []
    tokens = store.list_tokens(current.user.username)
    return page(request, "account.html", current, tokens=tokens, locks=locks)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, current: Viewer) -> RedirectResponse:
    try:
        state.store(request).revoke_token(token_id, by=current.user, only_own=True)
    except NotFound:
        raise HTTPException(404, "token not found") from None
    return RedirectResponse("/account", status_code=303)


@router.post("/account/unlock")
def unlock(request: Request, username: Annotated[str, Form()], current: Admin) -> RedirectResponse:
    try:
        state.store(request).unlock_user(username, by=current.user)
    except NotFound:
        raise HTTPException(404, "user not found") from None
    return RedirectResponse("/account#locks", status_code=303)


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
    context.setdefault("values", {})
    context.setdefault("problems", {})
    return page(
        request, "case_form.html", current, status=status,
        sections=forms.sections(state.kb(request), lang),
        prior_options=options, prior_outcomes=outcomes, prior_rows=forms.PRIOR_ROWS, **context,
    )  # fmt: skip


@router.get("/cases/new")
def new_case_form(request: Request, current: Clinician) -> HTMLResponse:
    return _form_page(request, current, values={}, action="/cases/new", editing=None)


async def _submitted(request: Request) -> tuple[Any, dict[str, Any], dict[str, str]]:
    form = await request.form()
    single = {k: str(v) for k, v in form.items()}
    lists = {k: [str(v) for v in form.getlist(k)] for k in form}
    return forms.parse_form(single, lists, state.kb(request))


@router.post("/cases/new")
async def create_case(request: Request, current: Clinician) -> Response:
    case, values, problems = await _submitted(request)
    if case is None:
        return _form_page(request, current, values=values, problems=problems,
                          action="/cases/new", editing=None, status=422)  # fmt: skip
    try:
        state.board(request).create(case, current.user)
    except Conflict as exc:
        problems = {"id": str(exc) or "a case with this id exists"}
        return _form_page(request, current, values=values, problems=problems,
                          action="/cases/new", editing=None)  # fmt: skip
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    lang = request_lang(request)
    view = state.board(request).view(case_id, current.user, lang)
    kb = state.kb(request)
    return page(
        request, "case.html", current, view=view, a=view.assessment,
        forest=forest_svg(forest_rows(view.assessment, kb, lang), lang),
        whatif=_whatif_fields(request, view.record.case, lang),
        today=dt.date.today().isoformat(), option_names=_option_names(kb, lang),
        feedback=cds_store(request.app).list_feedback(case_id),
    )  # fmt: skip


def _option_names(kb: KnowledgeBase, lang: str) -> list[tuple[str, str]]:
    return [(code, entry.option.name(lang)) for code, entry in kb.options.items()]


def _whatif_fields(request: Request, case: Any, lang: str) -> list[tuple[forms.Field, Any]]:
    wanted = set(forms.whatif_fields())
    values = forms.flatten(case)
    fields = [
        f for s in forms.sections(state.kb(request), lang) for f in s.fields if f.name in wanted
    ]
    return [(f, values.get(f.name)) for f in fields]


@router.get("/cases/{case_id}/edit")
def edit_form(
    request: Request, case_id: str, current: Clinician, complete: str = ""
) -> HTMLResponse:
    """The case form; `complete` (from a CDS Hooks card) names the findings no EHR holds, which
    the board is asked to fill in: they are highlighted and listed at the top."""
    record = state.store(request).get_case(case_id, by=current.user)
    lang = request_lang(request)
    known = {f.name: f.label for s in forms.sections(state.kb(request), lang) for f in s.fields}
    wanted = [name for name in dict.fromkeys(complete.split(",")) if name in known]
    return _form_page(request, current, values=forms.flatten(record.case),
                      action=f"/cases/{case_id}/edit", editing=record,
                      complete=wanted, complete_labels=[known[n] for n in wanted])  # fmt: skip


@router.post("/cases/{case_id}/edit")
async def edit_case(request: Request, case_id: str, current: Clinician) -> Response:
    record = state.store(request).get_case(case_id)
    case, values, problems = await _submitted(request)
    form = await request.form()
    if case is not None and case.id != case_id:
        case, problems = None, {"id": f"must stay {case_id}"}
    if case is None:
        return _form_page(request, current, values=values, problems=problems,
                          action=f"/cases/{case_id}/edit", editing=record, status=422)  # fmt: skip
    raw = str(form.get("expected_version") or record.version)
    if not raw.isdigit() or not 1 <= int(raw) <= record.version:
        problems = {"expected_version": "must be a version of this case"}
        return _form_page(request, current, values=values, problems=problems,
                          action=f"/cases/{case_id}/edit", editing=record, status=422)  # fmt: skip
    state.board(request).update(case_id, case, current.user, expected_version=int(raw),
                           comment=str(form.get("comment") or ""))  # fmt: skip
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/whatif")
async def whatif(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    """Assess a changed copy of the case side by side with the current one; nothing is saved."""
    lang = request_lang(request)
    record = state.store(request).get_case(case_id)
    form = await request.form()
    values = forms.flatten(record.case)
    for name in forms.whatif_fields():
        if name in form:
            values[name] = str(form.get(name) or "")
    lists = {"extrahepatic.sites": list(values.get("extrahepatic.sites") or [])}
    single = {k: ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v))
              for k, v in values.items() if k != "extrahepatic.sites"}  # fmt: skip
    case, _, problems = forms.parse_form(single, lists, state.kb(request))
    current_a = assess(record.case, lang=lang, kb=state.kb(request))
    changed = assess(case, lang=lang, kb=state.kb(request)) if case else None
    return page(request, "_whatif.html", current, before=current_a, after=changed,
                problems=problems)  # fmt: skip


@router.post("/cases/{case_id}/decisions")
async def record_decision(request: Request, case_id: str, current: Clinician) -> Response:
    form = await request.form()
    participants = [
        p.strip() for p in str(form.get("participants") or "").splitlines() if p.strip()
    ]
    raw = {
        "decided_on": str(form.get("decided_on") or ""),
        "chosen_options": [str(v) for v in form.getlist("chosen_options")],
        "participants": participants,
        "notes": str(form.get("notes") or ""),
        "override_reason": str(form.get("override_reason") or "") or None,
    }
    try:
        state.board(request).decide(case_id, DecisionIn.model_validate(raw), current.user)
    except ValidationError as exc:
        problems = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
        return _decision_error(request, case_id, current, problems)
    except ValidationFailed as exc:
        return _decision_error(request, case_id, current, {exc.field: exc.message})
    return RedirectResponse(f"/cases/{case_id}#decision", status_code=303)


def _decision_error(
    request: Request, case_id: str, current: Session, problems: dict[str, str]
) -> HTMLResponse:
    lang = request_lang(request)
    view = state.board(request).view(case_id, current.user, lang)
    kb = state.kb(request)
    return page(
        request, "case.html", current, status=422, view=view, a=view.assessment,
        forest=forest_svg(forest_rows(view.assessment, kb, lang), lang),
        whatif=_whatif_fields(request, view.record.case, lang), decision_problems=problems,
        today=dt.date.today().isoformat(), option_names=_option_names(kb, lang),
    )  # fmt: skip


@router.post("/cases/{case_id}/delete")
async def delete_case(request: Request, case_id: str, current: Clinician) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 3:
        raise HTTPException(422, "a reason is required")
    state.store(request).delete_case(case_id, current.user, reason)
    return RedirectResponse("/cases", status_code=303)


@router.get("/cases/{case_id}/history")
def history(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    store = state.store(request)
    record = store.get_case(case_id, by=current.user)
    return page(
        request, "history.html", current, record=record, versions=store.case_versions(case_id),
        assessments=store.list_assessments(case_id), decisions=store.list_decisions(case_id),
        audit=store.audit_log(entity_id=case_id),
    )  # fmt: skip


@router.get("/cases/{case_id}/print")
def printable(request: Request, case_id: str, current: Viewer) -> HTMLResponse:
    lang = request_lang(request)
    view = state.board(request).view(case_id, current.user, lang)
    forest = forest_svg(forest_rows(view.assessment, state.kb(request), lang), lang)
    return page(request, "print.html", current, view=view, a=view.assessment, forest=forest)
