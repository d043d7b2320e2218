"""The two CDS services: a strategy summary on patient-view and a check of selected orders.

Both gather the patient's FHIR data (netlm.fhir.cds.gather), map it to a netlm case with what
the tumour board completed in netlm kept (netlm.fhir.cds.completion), assess it and keep case
and assessment in the store as case `ehr-<issuer tag>-<patientId>`, so the tumour board sees what
the EHR was told. The cards are rendered from the assessment only (netlm.fhir.cds.cards).
"""

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass

from netlm.engine import assess
from netlm.fhir.cds.cards import Assessed, CardWriter, RefusalKind, Refused
from netlm.fhir.cds.completion import (
    ehr_facts,
    ehr_given,
    ehr_proposals,
    ehr_therapy_gaps,
    fields_to_complete,
    version_comment,
    with_board_facts,
)
from netlm.fhir.cds.errors import CdsFailure, operation_outcome
from netlm.fhir.cds.gather import Gap, Gatherer
from netlm.fhir.cds.jwt import Caller
from netlm.fhir.cds.models import Card, CdsRequest, CdsResponse, Discovery, DraftOrder, Service
from netlm.fhir.cds.orders import order_option, selected_orders
from netlm.fhir.cds.prefetch import PREFETCH
from netlm.fhir.cds.store import CdsStore, IssuedCard
from netlm.fhir.mapping import FhirMappingError, bundle_to_case
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.codes import Language, OptionCode, Region
from netlm.store.errors import Conflict, NotFound
from netlm.store.repository import CaseRecord, Store, UserInfo

log = logging.getLogger("netlm.cds")

STRATEGY, ORDER_CHECK = "netlm-strategy", "netlm-order-check"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
CASE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ACCOUNT = ("cds-hooks", "CDS Hooks (EHR integration)")

SERVICES = Discovery(
    services=[
        Service(
            hook="patient-view",
            id=STRATEGY,
            title="netlm: strategy for neuroendocrine tumour liver metastases",
            description=(
                "Classifies the patient's NET liver metastases (WHO grade, liver pattern, "
                "resectability) and returns the evidence-ranked treatment options, flags and the "
                "missing findings that would change the answer; the case is kept in netlm for "
                "the tumour board."
            ),
            prefetch=PREFETCH,
            usageRequirements=(
                "Patients with a neuroendocrine tumour and liver metastases coded in "
                "Condition, Observation, Procedure and medication resources (FHIR R4)."
            ),
        ),
        Service(
            hook="order-select",
            id=ORDER_CHECK,
            title="netlm: NET liver metastasis order check",
            description=(
                "Checks a selected systemic, radionuclide or liver-directed order against "
                "netlm's assessment of the patient: a warning when netlm does not propose it, "
                "with the reasons, and a note of its rank when it does."
            ),
            prefetch=PREFETCH,
        ),
    ]
)


def case_id_for(issuer: str, patient_id: str) -> str:
    """`ehr-<issuer tag>-<patientId>`: the tag keeps two EHRs' patients with the same id apart;
    a digest of the id stands in when the result would not be a valid case id."""
    tag = hashlib.sha256(issuer.encode()).hexdigest()[:6]
    candidate = f"ehr-{tag}-{patient_id}"
    if CASE_ID.fullmatch(candidate):
        return candidate
    return f"ehr-{tag}-" + hashlib.sha256(patient_id.encode()).hexdigest()[:53]


@dataclass(frozen=True)
class Call:
    """One authenticated hook call and where its answers should point."""

    request: CdsRequest
    caller: Caller
    public_url: str


class CdsService:
    def __init__(
        self,
        store: Store,
        kb: KnowledgeBase,
        cds: CdsStore,
        lang: Language = "en",
        about_url: str | None = None,
        fhir_timeout: float = 5.0,
        fhir_max_bytes: int = 5_000_000,
        region: Region | None = None,
    ) -> None:
        self.store, self.kb, self.cds = store, kb, cds
        self.lang = lang
        self.region = region  # the hospital's, for charts that carry none (NETLM_CDS_REGION)
        self.cards = CardWriter(kb, lang, about_url)
        self.fhir_timeout, self.fhir_max_bytes = fhir_timeout, fhir_max_bytes
        self._account: UserInfo | None = None

    def account(self) -> UserInfo:
        if self._account is None:
            self._account = self.store.service_account(*ACCOUNT, role="clinician")
        return self._account

    # -- hooks ----------------------------------------------------------------------------------

    def patient_view(self, call: Call) -> CdsResponse:
        _expect_hook(call.request, "patient-view")
        found = self._assess(call)
        if isinstance(found, Refused):
            return CdsResponse(cards=[self.cards.refused(call.public_url, found)])
        cards = [self.cards.strategy(call.public_url, found)]
        review = self.cards.review(call.public_url, found)
        if review is not None:
            cards.append(review)
        return self._answer(call, found, STRATEGY, cards)

    def order_select(self, call: Call) -> CdsResponse:
        _expect_hook(call.request, "order-select")
        wanted: dict[OptionCode, DraftOrder] = {}
        for order in selected_orders(call.request.context):
            option = order_option(order)
            if option is not None and option not in wanted:
                wanted[option] = order
        if not wanted:  # nothing netlm has an opinion on: no need to read the chart
            return CdsResponse(cards=[])
        found = self._assess(call)
        if isinstance(found, Refused):  # an order for another disease: no card to interrupt it
            return CdsResponse(cards=[])
        a = found.assessment
        proposed = {r.option: r for r in a.recommendations}
        excluded = {e.option: e for e in a.excluded}
        cards = []
        for option, order in wanted.items():
            if option in proposed:
                cards.append(self.cards.proposed(call.public_url, found, proposed[option]))
            elif option in excluded:
                cards.append(self.cards.excluded(call.public_url, found, excluded[option], order))
        return self._answer(call, found, ORDER_CHECK, cards)

    def open_chart(self, call: Call) -> Assessed | Refused:
        """The chart read, mapped, assessed and kept as patient-view does, without cards: a
        SMART launch (netlm.web.smart) opens the same case `ehr-<issuer tag>-<patientId>`."""
        return self._assess(call)

    # -- pipeline -------------------------------------------------------------------------------

    def _assess(self, call: Call) -> Assessed | Refused:
        patient_id = call.request.context.get("patientId")
        if not isinstance(patient_id, str) or not FHIR_ID.fullmatch(patient_id):
            raise CdsFailure(400, "required", "context.patientId must be a FHIR id")
        gatherer = Gatherer(
            call.request, call.caller, patient_id, self.fhir_timeout, self.fhir_max_bytes
        )
        try:
            gathered = gatherer.gather()
        finally:
            gatherer.close()
        gaps = tuple(gathered.gaps)
        case_id = case_id_for(call.caller.issuer, patient_id)
        today = dt.datetime.now(dt.UTC).date()
        try:
            imported = bundle_to_case(
                gathered.bundle, patient_id=patient_id, on=today, case_id=case_id, kb=self.kb
            )
        except FhirMappingError as exc:
            reasons = [f"{p.path}: {p.message}" for p in exc.reasons]
            return _refuse(patient_id, _refusal_kind(exc), reasons, len(exc.unmapped), gaps)
        if not any(path.split(".")[0] == "liver" for path in imported.sources):
            reasons = ["liver: no liver metastasis Condition or liver finding in the chart"]
            return _refuse(patient_id, "no_liver", reasons, len(imported.unmapped), gaps)
        stored, last_ehr_facts = self._stored(case_id)
        case, kept = with_board_facts(imported.case, stored, last_ehr_facts)
        if case.region is None and self.region is not None:
            case = case.model_copy(update={"region": self.region})
        english = assess(case, lang="en", kb=self.kb)
        shown = english if self.lang == "en" else assess(case, self.lang, self.kb)
        comment = version_comment(call.caller.issuer, call.request.hook, imported, kept)
        saved = self._keep(case, english, comment)
        complete = tuple(fields_to_complete(shown))
        return Assessed(case_id, case, imported, shown, saved, complete, gaps)

    def _stored(self, case_id: str) -> tuple[Case | None, set[str]]:
        """The case as netlm holds it (an audited read, even when the chart is unchanged), and
        the facts the EHR gave in its latest version."""
        try:
            record = self.store.get_case(case_id, by=self.account())
        except NotFound:
            return None, set()
        for version in reversed(self.store.case_versions(case_id)):
            if ehr_facts(version.comment) is not None:
                return record.case, ehr_given(version.comment)
        return record.case, set()

    def _keep(self, case: Case, assessment: Assessment, comment: str) -> bool:
        """Store the case and its assessment in one transaction: a new version only if the case
        or what the chart's text proposes changed, else a new assessment only if the knowledge
        base did.

        False when the id belongs to a case deleted in netlm: the EHR does not resurrect it.
        """
        by = self.account()
        for _attempt in range(3):
            try:
                record = self.store.get_case(case.id)
            except NotFound:
                try:
                    self.store.create_case(case, by, comment=comment, assessment=assessment)
                    return True
                except Conflict:
                    continue  # created meanwhile by another worker, or deleted: look again
            if _same_version(record, case, comment):
                latest = self.store.latest_assessment(case.id)
                current = assessment.knowledge_base.version
                if latest is None or latest[1].knowledge_base.version != current:
                    self.store.save_assessment(case.id, record.version, assessment, by)
                return True
            try:
                self.store.update_case(
                    case.id, case, by, expected_version=record.current_version,
                    comment=comment, assessment=assessment,
                )  # fmt: skip
                return True
            except Conflict:
                continue
        return False

    def _answer(self, call: Call, found: Assessed, service: str, cards: list[Card]) -> CdsResponse:
        if found.stored and cards:
            issued = [IssuedCard(c.uuid, c.indicator, c.summary) for c in cards]
            self.cds.record_cards(issued, found.case_id, service, call.caller.issuer)
        return CdsResponse(cards=cards)


def _same_version(record: CaseRecord, case: Case, comment: str) -> bool:
    """The stored version says all the chart says: the same case, and the same values proposed
    by its report text and therapies it could not read (a changed report text alone makes a new
    version, so the completion form never shows a stale proposal)."""
    return (
        record.case.to_json_dict() == case.to_json_dict()
        and ehr_proposals(record.comment) == ehr_proposals(comment)
        and ehr_therapy_gaps(record.comment) == ehr_therapy_gaps(comment)
    )


def _refusal_kind(exc: FhirMappingError) -> RefusalKind:
    """Which refusal the mapping's first reason is, for the card's summary in each language."""
    first = exc.reasons[0] if exc.reasons else None
    if first is None:
        return "other"
    if first.path == "primary.site":
        return "no_primary"
    if first.path == "(patient)":
        died = "deceased" in first.message or " died " in first.message
        return "deceased" if died else "no_patient"
    if first.path == "(bundle)" and "netlm reads FHIR R4" in first.message:
        return "version"
    return "other"


def _refuse(
    patient_id: str, kind: RefusalKind, reasons: list[str], unused: int, gaps: tuple[Gap, ...]
) -> Refused:
    """The refusal, logged at WARNING: `netlm serve` shows only warnings from netlm's loggers
    (no logging configuration of its own, so Python's last-resort handler at WARNING)."""
    log.warning("no netlm case for patient %s (%s): %s (%d FHIR item(s) not used)",
                patient_id, kind, "; ".join(reasons), unused)  # fmt: skip
    return Refused(kind, tuple(reasons), gaps)


def _expect_hook(request: CdsRequest, hook: str) -> None:
    if request.hook != hook:
        raise CdsFailure(400, "not-supported", f"this service answers {hook}, not {request.hook}")


__all__ = [
    "ORDER_CHECK",
    "PREFETCH",
    "SERVICES",
    "STRATEGY",
    "Call",
    "CdsFailure",
    "CdsService",
    "case_id_for",
    "operation_outcome",
    "order_option",
]
