"""The patient's FHIR data for one hook call: the prefetch, completed from the EHR's server.

What CDS Hooks 2.0.1 says a prefetch slot may be ("Prefetch template", "HTTP Status Codes"),
and what netlm does with each:

- absent: the client chose not to, or could not, prefetch it. netlm reads it from `fhirServer`
  (only if that server is registered for the EHR, netlm.fhir.cds.fetch); without one it answers
  412, which the spec reserves for exactly this: "unable to obtain required data because it
  cannot access the FHIR server and the request did not contain the necessary prefetch keys".
- `null`: "the CDS Client has no data to populate" it. netlm reads it from `fhirServer` when one
  is given (an EHR may send null for what it did not look up); otherwise it is none, and the card
  says so. Never a 412.
- an OperationOutcome: the EHR's server could not run that search (3.0 names this case). Read
  from `fhirServer` when given; otherwise assessed without it, and the card says what is missing.

A search is read up to its bound (prefetch.BOUNDS): next links are followed until that many
matches are held, a page with more (an EHR that ignored `_count`) is cut to the newest that many,
and a search with more is named in the card. Past the bound the FHIR validation of each resource
dominates: 1,500 labs sent whole took 0.6 s a call, cut to 100 they take what a small chart does.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from netlm.fhir.cds.errors import CdsFailure
from netlm.fhir.cds.fetch import FetchFailed, FetchRefused, FhirReader
from netlm.fhir.cds.jwt import Caller
from netlm.fhir.cds.models import BundlePage, CdsRequest, describe
from netlm.fhir.cds.prefetch import BOUNDS, COUNT, PATIENT_TOKEN, PREFETCH, sort_date

log = logging.getLogger("netlm.cds")
MAX_PAGES = 50
UNREADABLE = "the FHIR server could not be read; the details are in the netlm server log"

# null: the EHR had none; error: its server could not run the search; unread: netlm could not
# read it from fhirServer either; more: the search had more matches than its bound.
GapReason = Literal["null", "error", "unread", "more"]


@dataclass(frozen=True)
class Gap:
    """A prefetch key netlm holds none or only part of, and why (shown in the card)."""

    key: str
    reason: GapReason
    bound: int = 0


@dataclass
class Gathered:
    bundle: dict[str, Any]
    gaps: list[Gap] = field(default_factory=list)


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
        self.gaps: list[Gap] = []

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

    def gather(self) -> Gathered:
        """Every prefetch key's resources, the missing ones read from the FHIR server."""
        prefetch = self.request.prefetch or {}
        resources: dict[tuple[str, str], dict[str, Any]] = {}
        anonymous: list[dict[str, Any]] = []
        for key, template in PREFETCH.items():
            query = template.replace(PATIENT_TOKEN, self.patient_id)
            value, fetched = self._slot(prefetch, key, query)
            if value is None:
                continue
            for resource in self._resources(key, value, fetched):
                rid = resource.get("id")
                if isinstance(rid, str):
                    resources[(str(resource.get("resourceType")), rid)] = resource
                else:
                    anonymous.append(resource)
        entries = [{"resource": r} for r in (*resources.values(), *anonymous)]
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        return Gathered(bundle, self.gaps)

    def _slot(
        self, prefetch: Mapping[str, Any], key: str, query: str
    ) -> tuple[dict[str, Any] | None, bool]:
        """(the key's prefetched or fetched value, whether it was fetched); (None, False) for a
        null or failed slot that fhirServer could not fill, recorded as a gap."""
        if key not in prefetch:
            return self.fetch(query), True  # the spec's 412 when it cannot be read
        value = prefetch[key]
        if value is not None:
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                problem = f"prefetch.{key} is neither a FHIR resource nor null"
                raise CdsFailure(400, "invalid", problem)
            if value["resourceType"] != "OperationOutcome":
                return value, False
        reason: GapReason = "null" if value is None else "error"
        if self.request.fhir_server is None:
            self.gaps.append(Gap(key, reason))
            return None, False
        try:
            return self.fetch(query), True
        except CdsFailure:  # logged by fetch; the slot was answered, so assess without it
            self.gaps.append(Gap(key, "unread"))
            return None, False

    def _resources(self, key: str, value: dict[str, Any], fetched: bool) -> list[dict[str, Any]]:
        if value["resourceType"] != "Bundle":
            if key == "patient" and (
                value["resourceType"] != "Patient" or value.get("id") != self.patient_id
            ):
                raise CdsFailure(400, "invalid", "the patient prefetch is not context.patientId")
            return [value]
        bound = BOUNDS.get(key, MAX_PAGES * COUNT)
        matched: list[dict[str, Any]] = []
        included: list[dict[str, Any]] = []
        pages, more = 0, False
        page: dict[str, Any] | None = value
        while page is not None:
            pages += 1
            parsed = self._page(key, page, fetched)
            for entry in parsed.entry:
                if entry.resource is not None and entry.resource.get("resourceType") not in (
                    None,
                    "OperationOutcome",
                ):
                    (included if entry.included else matched).append(entry.resource)
            following = parsed.next_url()
            if len(matched) >= bound:
                more = following is not None or (parsed.total or 0) > bound
                page = None
            elif following is None:
                page = None
            elif pages >= MAX_PAGES:
                raise CdsFailure(412, "too-costly", f"more than {MAX_PAGES} pages for {key}")
            else:
                page, fetched = self.fetch(following), True
        if len(matched) > bound:  # an EHR that ignored `_count`: the same bound, applied here
            matched = sorted(matched, key=sort_date, reverse=True)[:bound]
            more = True
        if more:
            self.gaps.append(Gap(key, "more", bound))
        return matched + included

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
