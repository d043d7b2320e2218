"""What the OpenAPI document adds to FastAPI's: the case body, and every error each route can
answer with, in the shape it answers with.

netlm parses case bodies with its own parser (for its error messages), so FastAPI does not see
their type; and FastAPI documents only 422. Clients generated from the document (and the
schemathesis run in the tests) need the rest: 400 for malformed JSON or a control character
(any operation), 401/403 for auth and roles, 404 for an unknown id, 409 for conflicts, 413 for
an oversized body, 429 for throttling.
"""

from typing import Any

from fastapi import FastAPI

from netlm.model.case import Case

ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}
OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array"}},
}
WHY = {
    400: "Malformed JSON, JSON nested too deep or holding too long a number, NaN or Infinity, "
    "or a control character in the path, the query, a header, a field or a JWT claim (named)",
    401: "Not authenticated",
    403: "Authenticated, but the role or the CSRF token does not allow it",
    404: "No such resource",
    409: "Conflict with what is stored (a duplicate, or a stale version)",
    412: "Prefetch incomplete and the FHIR server could not supply it",
    413: "Request body larger than the configured limit",
    422: "The request is well-formed but not valid; each problem names its field",
    429: "Too many failed logins; retry after the given seconds",
    503: "Not available here: CDS Hooks needs NETLM_PUBLIC_URL; the PDF report names the "
    "system package it lacks",
}


def document(app: FastAPI) -> None:
    """Wrap `app.openapi` so the document carries the case body and the error responses."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            case = Case.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(case.pop("$defs", {}))
            schemas["Case"] = case
            schemas["Errors"] = ERRORS_SCHEMA
            schemas["OperationOutcome"] = OUTCOME_SCHEMA
            for path, item in spec.get("paths", {}).items():
                for method, operation in item.items():
                    _add_errors(path, method, operation)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _codes(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    has_body = "requestBody" in operation
    if path.startswith("/cds-services"):
        return [400, 401, 503] + ([412, 413, 422] if has_body else [404])
    codes = [400, 401, 403, 422]  # 400: a control character anywhere (web/guard.py)
    if has_body:
        codes += [413]
    if "{" in path:
        codes.append(404)
    if path.startswith(("/api/v1/cases", "/api/v1/users")) and method in ("post", "put", "delete"):
        codes.append(409)
    if path == "/api/v1/tokens" and method == "post":
        codes += [429]
    if path.endswith("/report.pdf"):
        codes.append(503)
    return sorted(set(codes))


def _add_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    if not path.startswith(("/api/", "/cds-services")):
        return
    model = "OperationOutcome" if path.startswith("/cds-services") else "Errors"
    media = "application/fhir+json" if model == "OperationOutcome" else "application/json"
    responses = operation.setdefault("responses", {})
    for code in _codes(path, method, operation):
        responses[str(code)] = {
            "description": WHY[code],
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
