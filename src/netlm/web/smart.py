"""SMART App Launch 2.x, EHR launch: the EHR opens `/smart/launch?iss=...&launch=...` (often in a
frame of its own page), netlm comes back at `/smart/callback` and shows the patient's case.
Mounted only when NETLM_SMART_CLIENT_ID and NETLM_SMART_CLIENT_SECRET are set.

`iss` must lie under a FHIR base registered for an EHR as a CDS Hooks client (`netlm cds
add-client --fhir-server`), the same allow-list hook calls read from: a settings list could
name a server that no EHR registration vouches for, and the case would then have no EHR to be
`ehr-<issuer tag>-<patient id>` of. So the launch opens exactly the case patient-view keeps, and
netlm never carries a token to, nor reports on, a server an admin did not register.

The flow (state, nonce, PKCE verifier, the server's endpoints) lives in a short-lived HttpOnly
cookie signed with the app's secret, as for single sign-on. The access token never leaves the
callback: it reads the chart from the FHIR server and is dropped, never stored, put in a cookie
or shown. The clinician is the ID token's issuer and subject, linked to a netlm user as for
single sign-on (`netlm user link-sso`); no one else is signed in, and the admin MFA rule holds.
"""

import secrets
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from netlm.fhir.cds.cards import Refused
from netlm.fhir.cds.errors import CdsFailure
from netlm.fhir.cds.fetch import check_base, within
from netlm.fhir.cds.jwt import Caller
from netlm.fhir.cds.models import CdsRequest
from netlm.fhir.cds.routes import cds_service
from netlm.fhir.cds.service import Call
from netlm.fhir.cds.store import CdsStore, ClientInfo
from netlm.settings import Settings
from netlm.store.identity import UserInfo
from netlm.store.sso import SsoStore
from netlm.web import state
from netlm.web.i18n import request_lang, word
from netlm.web.oidc import audit_refusal, sign_flow, unsign_flow
from netlm.web.oidc_client import Identity, SsoFailed
from netlm.web.pages.render import page
from netlm.web.security import client_address, set_framed_cookie, start_session
from netlm.web.smart_client import SmartConfiguration, authorize_url, discover, exchange

SMART_PATH = "/smart"
LAUNCH_PATH = SMART_PATH + "/launch"
CALLBACK_PATH = SMART_PATH + "/callback"
FLOW_COOKIE = "netlm_smart"
FLOW_PURPOSE = "netlm-smart"
FLOW_SECONDS = 600  # time allowed at the EHR's authorisation server
HOOK = "smart-launch"  # how the case version's comment names where the chart came from

router = APIRouter()


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the launch pages when netlm is registered as a SMART client."""
    if settings.smart_client_id and settings.smart_client_secret:
        app.include_router(router, default_response_class=HTMLResponse, include_in_schema=False)


@router.get(LAUNCH_PATH)
def launch(
    request: Request,
    iss: Annotated[str, Query(min_length=1, max_length=500)],
    launch: Annotated[str, Query(min_length=1, max_length=2000)],
) -> Response:
    """The EHR's launch: check the FHIR server, discover its SMART endpoints, leave for them.
    `iss` is kept as sent: it is the `aud` the authorisation server compares with its own."""
    ehr = _ehr_for(request, iss)
    if ehr is None:
        return _refused(request, 403, "smart.unknown_server", f"iss {iss[:200]} not registered")
    try:
        config = discover(iss)
    except SsoFailed as exc:
        return _refused(request, 502 if exc.unreachable else 400, "smart.unavailable", exc.reason)
    settings = state.settings(request)
    secret, nonce, verifier = (secrets.token_urlsafe(n) for n in (32, 32, 48))
    flow = {"state": secret, "nonce": nonce, "verifier": verifier, "iss": iss,
            "config": config.model_dump(), "exp": int(time.time()) + FLOW_SECONDS}  # fmt: skip
    target = authorize_url(
        config, str(settings.smart_client_id), _redirect_uri(request),
        launch=launch, aud=iss, state=secret, nonce=nonce, verifier=verifier,
    )  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    signed = sign_flow(settings, flow, FLOW_PURPOSE)
    set_framed_cookie(
        response, settings, FLOW_COOKIE, signed, max_age=FLOW_SECONDS, path=SMART_PATH
    )
    return response


@router.get(CALLBACK_PATH)
def callback(
    request: Request,
    sent_state: Annotated[str, Query(alias="state", max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Back from the EHR: exchange the code, sign the clinician in, open the patient's case."""
    settings = state.settings(request)
    flow = unsign_flow(settings, request.cookies.get(FLOW_COOKIE, ""), FLOW_PURPOSE)
    if flow is None or not secrets.compare_digest(sent_state, str(flow["state"])):
        return _refused(
            request, 400, "smart.expired", "state missing, expired or not this browser's"
        )
    if error or not code:
        return _refused(request, 400, "smart.cancelled", f"server error: {error[:100]}")
    config = SmartConfiguration.model_validate(flow["config"])
    client_id, client_secret = str(settings.smart_client_id), str(settings.smart_client_secret)
    try:
        token = exchange(
            config, client_id, client_secret, code, _redirect_uri(request), str(flow["verifier"])
        )
        identity = config.provider(client_id, client_secret).identity(
            token.id_token, str(flow["nonce"]), token.access_token
        )
    except SsoFailed as exc:
        key = "smart.unavailable" if exc.unreachable else "smart.failed"
        return _refused(request, 502 if exc.unreachable else 400, key, exc.reason)
    user = SsoStore(state.store(request).engine).user_for_sso(identity.issuer, identity.subject)
    if user is None:
        return _refused(request, 403, "smart.unlinked", "no active user linked", identity)
    if user.role == "admin" and not identity.second_factor and settings.require_mfa:
        reason = f"admin {user.username} without a second factor at the EHR"
        return _refused(request, 403, "sso.no_second_factor", reason, identity)
    ehr = _ehr_for(request, str(flow["iss"]))
    if ehr is None:  # unregistered meanwhile
        return _refused(request, 403, "smart.unknown_server", f"iss {flow['iss']} not registered")
    try:
        hook = CdsRequest.model_validate(
        {"hook": HOOK, "hookInstance": str(uuid.uuid4()), "fhirServer": flow["iss"],
         "fhirAuthorization": {"access_token": token.access_token, "token_type": "Bearer",
                               "expires_in": token.expires_in, "scope": token.scope,
                               "subject": client_id, "patient": token.patient},
         "context": {"patientId": token.patient}}
        )  # fmt: skip
    except ValidationError as exc:
        return _refused(request, 400, "smart.failed", f"token response: {exc}"[:300], identity)
    caller = Caller(ehr.issuer, hook.hook_instance, None, ehr.fhir_servers)
    try:
        found = cds_service(request.app).open_chart(Call(hook, caller, _base(request)))
    except CdsFailure as exc:
        return _refused(request, 502, "smart.unreadable", exc.message, identity)
    if isinstance(found, Refused):
        _audit_login(request, user, identity, token.patient, {"refused": found.kind})
        response: Response = _message(request, user, "smart.no_case")
    else:
        _audit_login(request, user, identity, token.patient, {"case": found.case_id})
        target = f"/cases/{found.case_id}"
        if found.complete:
            target += "/edit?complete=" + ",".join(found.complete)
        response = RedirectResponse(target, status_code=303)
    _forget_flow(request, response)
    start_session(request, response, user, second_factor=identity.second_factor)
    return response


def _ehr_for(request: Request, iss: str) -> ClientInfo | None:
    """The EHR (a registered CDS Hooks client) whose FHIR server `iss` is; the first registered
    when several name it. An `iss` with a query, fragment or credentials is no FHIR base."""
    try:
        check_base(iss, allow_http=True)  # whether http is allowed is the registration's say
    except ValueError:
        return None
    for client in CdsStore(state.store(request).engine).list_clients():
        if any(within(iss, base) for base in client.fhir_servers):
            return client
    return None


def _audit_login(
    request: Request, user: UserInfo, identity: Identity, patient: str, opened: dict[str, str]
) -> None:
    fhir_user = identity.claims.get("fhirUser")
    state.store(request).audit(
        user, "login", "session", user.username,
        {"ip": client_address(request), "method": "smart", "issuer": identity.issuer,
         "second_factor": identity.second_factor, "patient": patient, **opened,
         "fhir_user": fhir_user[:200] if isinstance(fhir_user, str) else None},
    )  # fmt: skip


def _message(request: Request, user: UserInfo | None, key: str, status: int = 200) -> HTMLResponse:
    message = word(key, request_lang(request))
    return page(request, "smart.html", None, status, message=message, signed_in=user is not None)


def _refused(
    request: Request, status: int, key: str, reason: str, identity: Identity | None = None
) -> HTMLResponse:
    """The refusal page, in the reader's language; the reason itself goes to the audit trail."""
    audit_refusal(request, "smart", reason, identity)
    response = _message(request, None, key, status)
    _forget_flow(request, response)
    return response


def _forget_flow(request: Request, response: Response) -> None:
    set_framed_cookie(
        response, state.settings(request), FLOW_COOKIE, "", max_age=0, path=SMART_PATH
    )


def _redirect_uri(request: Request) -> str:
    """The callback's absolute URL, from NETLM_PUBLIC_URL behind a proxy, else as addressed: the
    one registered with the EHR for this client."""
    return _base(request) + CALLBACK_PATH


def _base(request: Request) -> str:
    public = state.settings(request).public_url
    return public.rstrip("/") if public else str(request.base_url).rstrip("/")
