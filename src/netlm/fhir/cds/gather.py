"""The patient's FHIR data for one hook call: the prefetch, completed from the EHR's server.

A key the EHR could not fill is read from `fhirServer` with the access token it lent for this
call, only if that server is registered for the EHR (netlm.fhir.cds.fetch).
"""

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from netlm.fhir.cds.errors import CdsFailure
from netlm.fhir.cds.fetch import FetchFailed, FetchRefused, FhirReader
from netlm.fhir.cds.jwt import Caller
from netlm.fhir.cds.models import BundlePage, CdsRequest, describe
from netlm.fhir.cds.prefetch import PATIENT_TOKEN, PREFETCH

log = logging.getLogger("netlm.cds")
MAX_PAGES = 50
UNREADABLE = "the FHIR server could not be read; the details are in the netlm server log"


class Gatherer:
    """The patient's resources: the prefetch, completed from the caller's registered server."""

    def __init__(
        self,
        request: CdsRequest,
        caller: Caller,
        patient_id: str,
        timeout: float,
        max_bytes: int,
    ) -> None:
        self.request, self.caller, self.patient_id = request, caller, patient_id
        self.timeout, self.max_bytes = timeout, max_bytes
        self._reader: FhirReader | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def fetch(self, query: str) -> dict[str, Any]:
        """One read from fhirServer. Every failure of a request that was sent gives the caller
        the same answer, so the EHR's view of netlm's network is not a port scanner."""
        try:
            return self._server().get(query)
        except FetchRefused as exc:
            log.warning("FHIR read refused for %s: %s", self.caller.issuer, exc)
            raise CdsFailure(412, "incomplete", str(exc)) from None
        except FetchFailed as exc:
            log.warning("FHIR read failed for %s: %s", self.caller.issuer, exc)
            raise CdsFailure(412, "incomplete", UNREADABLE) from None

    def _server(self) -> FhirReader:
        if self._reader is None:
            if self.request.fhir_server is None:
                raise FetchRefused("prefetch is incomplete and no fhirServer given")
            auth = self.request.fhir_authorization
            self._reader = FhirReader(
                self.request.fhir_server,
                self.caller.fhir_servers,
                None if auth is None else auth.access_token,
                self.timeout,
                self.max_bytes,
            )
        return self._reader

    def bundle(self) -> dict[str, Any]:
        """Every prefetch key's resources, the absent ones read from the FHIR server."""
        prefetch = self.request.prefetch or {}
        resources: dict[tuple[str, str], dict[str, Any]] = {}
        anonymous: list[dict[str, Any]] = []
        for key, template in PREFETCH.items():
            value = _prefetched(prefetch, key)
            fetched = value is None
            if value is None:
                value = self.fetch(template.replace(PATIENT_TOKEN, self.patient_id))
            for resource in self._resources(key, value, fetched):
                rid = resource.get("id")
                if isinstance(rid, str):
                    resources[(str(resource.get("resourceType")), rid)] = resource
                else:
                    anonymous.append(resource)
        entries = [{"resource": r} for r in (*resources.values(), *anonymous)]
        return {"resourceType": "Bundle", "type": "searchset", "entry": entries}

    def _resources(
        self, key: str, value: dict[str, Any], fetched: bool
    ) -> Iterator[dict[str, Any]]:
        if value["resourceType"] != "Bundle":
            if key == "patient" and (
                value["resourceType"] != "Patient" or value.get("id") != self.patient_id
            ):
                raise CdsFailure(400, "invalid", "the patient prefetch is not context.patientId")
            yield value
            return
        pages = 0
        page: dict[str, Any] | None = value
        while page is not None:
            pages += 1
            parsed = self._page(key, page, fetched)
            for entry in parsed.entry:
                if entry.resource is not None and entry.resource.get("resourceType") not in (
                    None,
                    "OperationOutcome",
                ):
                    yield entry.resource
            following = parsed.next_url()
            if following is None:
                page = None
            elif pages >= MAX_PAGES:
                raise CdsFailure(412, "too-costly", f"more than {MAX_PAGES} pages for {key}")
            else:
                page, fetched = self.fetch(following), True

    def _page(self, key: str, page: dict[str, Any], fetched: bool) -> BundlePage:
        """The Bundle's entries and links: a malformed prefetch is the caller's 400, a malformed
        page from the server is a failed read like any other."""
        try:
            return BundlePage.model_validate(page)
        except ValidationError as exc:
            if fetched:
                log.warning("FHIR server of %s sent a malformed %s Bundle: %s",
                            self.caller.issuer, key, describe(exc))  # fmt: skip
                raise CdsFailure(412, "incomplete", UNREADABLE) from None
            raise CdsFailure(400, "invalid", describe(exc, f"prefetch.{key}")) from None


def _prefetched(prefetch: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """A prefetched resource or Bundle; None for a key the EHR could not fill (absent, null or
    an OperationOutcome); a 400 for anything else."""
    value = prefetch.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise CdsFailure(400, "invalid", f"prefetch.{key} is neither a FHIR resource nor null")
    return None if value["resourceType"] == "OperationOutcome" else value
