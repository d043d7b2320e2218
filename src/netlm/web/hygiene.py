"""Control characters in the parts of a request other than a JSON body: its path, query string,
headers and form fields (the JSON body: `netlm.model.parse.json_value_problem`).

They are refused at the edge (web/guard.py), before any route or database sees them: a NUL
reaching PostgreSQL fails the statement, and none of them is ever meaningful in a name, an id or
a search. Each problem names the field: the path parameter (matched against the app's routes),
the query parameter, the header, the form field. Form fields, which include textareas, keep tab,
LF and CR; the path, query and headers (tab aside) accept none. Bidirectional and zero-width
characters are judged per field, at the boundary where the field is known (netlm.model.text).
"""

import re
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import compile_path

from netlm.model.parse import Problem
from netlm.model.text import CONTROL, control_problem

# Header values are bytes (Latin-1 to ASGI); UTF-8 in them would look like C1 controls, so only
# C0 controls (tab allowed, as HTTP allows it) and DEL count there.
_HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_PART_NAME = re.compile(r'name="([^"]*)"')


def request_line_problem(scope: MutableMapping[str, Any]) -> Problem | None:
    """The first control character in the path, query string or headers of `scope`."""
    path: str = scope["path"]
    message = control_problem(path, multiline=False)
    if message is not None:
        return Problem(_path_field(scope), message)
    query = bytes(scope.get("query_string", b"")).decode("utf-8", errors="replace")
    found = _pairs_problem(parse_qsl(query, keep_blank_values=True), "(query)", multiline=False)
    if found is not None:
        return found
    for name, value in scope.get("headers", []):
        for part, field in ((name, "(header name)"), (value, f"{name.decode('latin-1')} (header)")):
            bad = _HEADER_CONTROL.search(part)
            if bad is not None:
                code = f"U+{bad.group()[0]:04X}"
                return Problem(field, f"must not contain the control character {code}")
    return None


def form_problem(body: bytes, content_type: str) -> Problem | None:
    """The first form field (URL-encoded or multipart) holding a control character other than
    tab, LF and CR."""
    text = body.decode("utf-8", errors="replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _pairs_problem(parse_qsl(text, keep_blank_values=True), "(form)", multiline=True)
    # Multipart: parts are separated by CRLF, which is allowed; a control character is blamed on
    # the part whose header (`name="..."`) comes before it.
    found = CONTROL.search(text)
    if found is None:
        return None
    names = _PART_NAME.findall(text, 0, found.start())
    message = f"must not contain the control character U+{ord(found.group()):04X}"
    return Problem(names[-1] if names else "(form)", message)


def _pairs_problem(
    pairs: Iterable[tuple[str, str]], where: str, *, multiline: bool
) -> Problem | None:
    for name, value in pairs:
        message = control_problem(name, multiline=False)
        if message is not None:
            return Problem(where, f"a name {message}")
        message = control_problem(value, multiline=multiline)
        if message is not None:
            return Problem(name, message)
    return None


def _path_field(scope: MutableMapping[str, Any]) -> str:
    """The path parameter holding the bad character, found by matching the path against the
    app's OpenAPI path templates; `(path)` for other paths (pages, unknown ones)."""
    openapi = getattr(scope.get("app"), "openapi", None)
    templates: dict[str, Any] = openapi().get("paths", {}) if callable(openapi) else {}
    for template in templates:
        found = compile_path(template)[0].match(scope["path"])
        if found is None:
            continue
        for name, value in found.groupdict().items():
            if control_problem(value, multiline=False) is not None:
                return name
    return "(path)"
