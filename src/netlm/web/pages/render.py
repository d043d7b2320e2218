"""Rendering a page: the templates, the words of the page's language, the session's user and
CSRF token; and an error as a page in the reader's language."""

from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from netlm.web import state
from netlm.web.i18n import LANG_COOKIE, LANGUAGES, request_lang, word
from netlm.web.security import Session

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


def render_error(request: Request, status: int, detail: str | None = None) -> HTMLResponse:
    """An error as a page in the reader's language; `detail` is already in that language."""
    key = f"error.{status}" if status in (403, 404, 405, 409, 422) else "error.title"
    message = detail or word(key, request_lang(request))
    return page(request, "error.html", None, status=status, message=message)
