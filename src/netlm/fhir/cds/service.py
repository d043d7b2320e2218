"""The two CDS services: a strategy summary on patient-view and a check of selected orders.

Both gather the patient's FHIR data (prefetch first, then the EHR's FHIR server with the access
token it lent for this call), map it to a netlm case, assess it and keep case and assessment in
the store as case `ehr-<issuer tag>-<patientId>`, so the tumour board sees what the EHR was
told. The cards are rendered from the assessment only: nothing clinical is decided here.
"""

import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx

from netlm import __version__
from netlm.engine import assess
from netlm.fhir import FhirImport, FhirMappingError, Unmapped, bundle_to_case, codes
from netlm.fhir.cds.jwt import Caller, check_key_url
from netlm.fhir.cds.models import (
    MAX_SUMMARY,
    Action,
    Card,
    CdsRequest,
    CdsResponse,
    Coding,
    Discovery,
    Link,
    Service,
    Source,
    Suggestion,
)
from netlm.fhir.cds.store import CdsStore, IssuedCard
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment, Exclusion, Recommendation
from netlm.model.case import Case
from netlm.model.codes import OPTION_CODES, Language, OptionCode
from netlm.store.errors import Conflict, NotFound
from netlm.store.repository import Store, UserInfo

log = logging.getLogger("netlm.cds")

STRATEGY, ORDER_CHECK = "netlm-strategy", "netlm-order-check"
PATIENT_TOKEN = "{{context.patientId}}"
PREFETCH: dict[str, str] = {
    "patient": f"Patient/{PATIENT_TOKEN}",
    "conditions": f"Condition?patient={PATIENT_TOKEN}",
    "observations": f"Observation?patient={PATIENT_TOKEN}",
    "procedures": f"Procedure?patient={PATIENT_TOKEN}",
    "medicationStatements": f"MedicationStatement?patient={PATIENT_TOKEN}",
    "medicationRequests": f"MedicationRequest?patient={PATIENT_TOKEN}",
}
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
CASE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_PAGES = 50
ACCOUNT = ("cds-hooks", "CDS Hooks (EHR integration)")
# The card topic: SNOMED CT 94381002, confirmed in the interop brief §2.2.
TOPIC = Coding(
    system=codes.SNOMED,
    code=codes.LIVER_METASTASIS_SNOMED,
    display="Secondary malignant neoplasm of liver",
)
REVIEW_FLAGS = ("controversial", "unverified_evidence")

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

WORDS: dict[str, dict[Language, str]] = {
    "summary.first": {
        "en": "netlm: {who}, liver {pattern}: first choice {option} ({strength})",
        "zh": "netlm：{who}，肝转移{pattern}：首选{option}（{strength}）",
    },
    "summary.none": {
        "en": "netlm: {who}, liver {pattern}: no option proposed; see the missing findings",
        "zh": "netlm：{who}，肝转移{pattern}：暂无推荐方案，请查看缺失资料",
    },
    "summary.review": {
        "en": "netlm: review before deciding: {items}",
        "zh": "netlm：决策前请复核：{items}",
    },
    "review.controversial": {"en": "controversial", "zh": "存在争议"},
    "review.unverified_evidence": {"en": "evidence not fully verified", "zh": "证据未完全核实"},
    "review.missing": {"en": "{n} missing finding(s)", "zh": "缺失资料{n}项"},
    "review.unmapped": {"en": "{n} FHIR item(s) not used", "zh": "未采用的FHIR数据{n}项"},
    "ui.unmapped": {"en": "FHIR data not used", "zh": "未采用的FHIR数据"},
    "ui.reasons": {"en": "Why netlm does not propose it", "zh": "不推荐的原因"},
    "ui.instead": {"en": "Proposed for this patient", "zh": "本患者的推荐方案"},
    "link.case": {"en": "Open the case in netlm", "zh": "在netlm中打开病例"},
    "order.proposed": {
        "en": "netlm: {option} is proposed for this patient (rank {rank}, tier {tier}, {strength})",
        "zh": "netlm：本患者推荐{option}（第{rank}位，第{tier}层，{strength}）",
    },
    "order.excluded": {
        "en": "netlm: {option} is not proposed for this patient: {reason}",
        "zh": "netlm：本患者不推荐{option}：{reason}",
    },
    "order.cancel": {"en": "Cancel the draft order ({option})", "zh": "撤销{option}医嘱草稿"},
    "order.none": {"en": "none", "zh": "无"},
}

# Order words the FHIR mapping does not need (it reads past treatments, not orders).
ORDER_WORDS: tuple[tuple[str, OptionCode], ...] = (
    *codes.PROCEDURE_WORDS,
    ("peptide receptor radionuclide", "prrt"),
    ("prrt", "prrt"),
    ("liver transplant", "liver_transplant_evaluation"),
)
# Diagnostic SSTR tracers share the dotatate/dotatoc names with the therapeutic PRRT drug.
DIAGNOSTIC_WORDS = ("gallium", "ga-68", "ga 68", "68ga", "netspot", "copper", "cu-64", "64cu")


class CdsFailure(Exception):
    """A request that cannot be answered; rendered as an OperationOutcome."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def operation_outcome(code: str, message: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


def case_id_for(issuer: str, patient_id: str) -> str:
    """`ehr-<issuer tag>-<patientId>`: the tag keeps two EHRs' patients with the same id apart;
    a digest of the id stands in when the result would not be a valid case id."""
    tag = hashlib.sha256(issuer.encode()).hexdigest()[:6]
    candidate = f"ehr-{tag}-{patient_id}"
    if CASE_ID.fullmatch(candidate):
        return candidate
    return f"ehr-{tag}-" + hashlib.sha256(patient_id.encode()).hexdigest()[:53]


# --- FHIR data -------------------------------------------------------------------------------


class _FhirServer:
    """The EHR's FHIR server, called with the access token it lent for this hook call."""

    def __init__(self, request: CdsRequest, timeout: float) -> None:
        if request.fhir_server is None:
            raise CdsFailure(412, "incomplete", "prefetch is incomplete and no fhirServer given")
        self.base = request.fhir_server.rstrip("/")
        try:
            check_key_url(self.base)
        except ValueError as exc:
            raise CdsFailure(412, "incomplete", f"fhirServer refused: {exc}") from None
        headers = {"Accept": "application/fhir+json"}
        if request.fhir_authorization is not None:
            headers["Authorization"] = f"Bearer {request.fhir_authorization.access_token}"
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0))
        )

    def close(self) -> None:
        self.client.close()

    def get(self, query: str) -> dict[str, Any]:
        """GET a relative query or an absolute URL; absolute ones must be on the server."""
        url = query if "://" in query else f"{self.base}/{query}"
        if not url.startswith(f"{self.base}/") and not url.startswith(f"{self.base}?"):
            raise CdsFailure(412, "incomplete", f"will not follow a link off fhirServer: {url}")
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise CdsFailure(412, "incomplete", f"FHIR server unreachable ({url}): {exc}") from None
        if response.status_code != 200:
            message = f"FHIR server answered {response.status_code} to {url}"
            raise CdsFailure(412, "incomplete", message)
        try:
            data = response.json()
        except ValueError:
            raise CdsFailure(412, "incomplete", f"FHIR server sent no JSON for {url}") from None
        if not isinstance(data, dict):
            raise CdsFailure(412, "incomplete", f"FHIR server sent no resource for {url}")
        return data


class _Gatherer:
    def __init__(self, request: CdsRequest, patient_id: str, timeout: float) -> None:
        self.request, self.patient_id, self.timeout = request, patient_id, timeout
        self._server: _FhirServer | None = None

    def server(self) -> _FhirServer:
        if self._server is None:
            self._server = _FhirServer(self.request, self.timeout)
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def bundle(self) -> dict[str, Any]:
        """Every prefetch key's resources, the absent ones read from the FHIR server."""
        prefetch = self.request.prefetch or {}
        resources: dict[tuple[str, str], dict[str, Any]] = {}
        anonymous: list[dict[str, Any]] = []
        for key, template in PREFETCH.items():
            value = _usable(prefetch.get(key))
            if value is None:
                value = self.server().get(template.replace(PATIENT_TOKEN, self.patient_id))
            for resource in self._resources(key, value):
                rid = resource.get("id")
                if isinstance(rid, str):
                    resources[(str(resource.get("resourceType")), rid)] = resource
                else:
                    anonymous.append(resource)
        entries = [{"resource": r} for r in (*resources.values(), *anonymous)]
        return {"resourceType": "Bundle", "type": "searchset", "entry": entries}

    def _resources(self, key: str, value: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if value.get("resourceType") != "Bundle":
            if key == "patient" and (
                value.get("resourceType") != "Patient" or value.get("id") != self.patient_id
            ):
                raise CdsFailure(400, "invalid", "the patient prefetch is not context.patientId")
            yield value
            return
        pages = 0
        page: dict[str, Any] | None = value
        while page is not None:
            pages += 1
            for entry in page.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") not in (
                    None,
                    "OperationOutcome",
                ):
                    yield resource
            following = _next_link(page)
            if following is None:
                page = None
            elif pages >= MAX_PAGES:
                raise CdsFailure(412, "too-costly", f"more than {MAX_PAGES} pages for {key}")
            else:
                page = self.server().get(following)


def _usable(value: Any) -> dict[str, Any] | None:
    """A prefetched resource or Bundle; None for a key the EHR could not fill."""
    if isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome"):
        return value
    return None


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


# --- orders ----------------------------------------------------------------------------------


def _texts(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    texts = [concept.get("text")] + [
        c.get("display") for c in concept.get("coding") or [] if isinstance(c, dict)
    ]
    return [t.lower() for t in texts if isinstance(t, str) and t]


def _has_word(text: str, word: str) -> bool:
    """`word` starts a word of `text` (a stem like "chemoemboli" matches "chemoembolization");
    short words and abbreviations must be the whole word."""
    end = "(?![a-z0-9])" if len(word) <= 4 else ""
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}{end}", text) is not None


def _drug_option(concept: Any) -> OptionCode | None:
    """The netlm option a medication belongs to: by ATC or RxNorm code, else by name."""
    drugs: set[str] = set()
    for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
        if not isinstance(coding, dict):
            continue
        code = coding.get("code")
        if coding.get("system") == codes.NETLM_OPTION and code in OPTION_CODES:
            return cast(OptionCode, code)
        if coding.get("system") == codes.ATC and code in codes.ATC_DRUGS:
            drugs.add(codes.ATC_DRUGS[code])
        elif coding.get("system") == codes.RXNORM and code in codes.RXNORM_DRUGS:
            drugs.add(codes.RXNORM_DRUGS[code])
    texts = _texts(concept)
    if not drugs:
        for text in texts:
            drugs |= {d for word, d in codes.DRUG_NAMES.items() if _has_word(text, word)}
    if any(_has_word(t, w) for t in texts for w in DIAGNOSTIC_WORDS):
        drugs.discard("lutetium_177lu_oxodotreotide")
    for drug in sorted(drugs):
        if drug in codes.SINGLE_DRUG_OPTIONS:
            return codes.SINGLE_DRUG_OPTIONS[drug]
        for option, groups in codes.REGIMENS.items():
            if any(drug in group for group in groups):
                return option  # one drug of a regimen stands for the regimen being started
    return None


def _medication_concept(order: Mapping[str, Any]) -> Any:
    concept = order.get("medicationCodeableConcept")
    if concept is not None:
        return concept
    reference = order.get("medicationReference")
    if not isinstance(reference, dict):
        return None
    target = reference.get("reference")
    if isinstance(target, str) and target.startswith("#"):
        for contained in order.get("contained") or []:
            if isinstance(contained, dict) and contained.get("id") == target[1:]:
                return contained.get("code")
    display = reference.get("display")
    return {"text": display} if isinstance(display, str) else None


def order_option(order: Mapping[str, Any]) -> OptionCode | None:
    """The netlm option a draft MedicationRequest or ServiceRequest orders, if netlm knows it."""
    kind = order.get("resourceType")
    if kind == "MedicationRequest":
        return _drug_option(_medication_concept(order))
    if kind == "ServiceRequest":
        for coding in (order.get("code") or {}).get("coding") or []:
            if coding.get("system") == codes.NETLM_OPTION and coding.get("code") in OPTION_CODES:
                return cast(OptionCode, coding["code"])
        texts = _texts(order.get("code"))
        if any(_has_word(t, w) for t in texts for w in DIAGNOSTIC_WORDS):
            return None
        for text in texts:
            for word, option in ORDER_WORDS:
                if _has_word(text, word):
                    return option
    return None


def selected_orders(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    draft = context.get("draftOrders")
    if not isinstance(draft, dict):
        raise CdsFailure(400, "required", "order-select needs context.draftOrders (a Bundle)")
    orders = [
        e["resource"]
        for e in draft.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    selections = context.get("selections")
    if not isinstance(selections, list):
        return orders  # tolerate a client that omits selections: every draft order is new
    chosen = {s for s in selections if isinstance(s, str)}
    return [o for o in orders if f"{o.get('resourceType')}/{o.get('id')}" in chosen]


# --- the service -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One authenticated hook call and where its answers should point."""

    request: CdsRequest
    caller: Caller
    public_url: str


@dataclass(frozen=True)
class _Assessed:
    case_id: str
    case: Case
    imported: FhirImport
    assessment: Assessment
    stored: bool


class CdsService:
    def __init__(
        self,
        store: Store,
        kb: KnowledgeBase,
        cds: CdsStore,
        lang: Language = "en",
        about_url: str | None = None,
        fhir_timeout: float = 5.0,
    ) -> None:
        self.store, self.kb, self.cds = store, kb, cds
        self.lang, self.about_url, self.fhir_timeout = lang, about_url, fhir_timeout
        self._account: UserInfo | None = None

    def account(self) -> UserInfo:
        if self._account is None:
            self._account = self.store.service_account(*ACCOUNT, role="clinician")
        return self._account

    # -- hooks ----------------------------------------------------------------------------------

    def patient_view(self, call: Call) -> CdsResponse:
        _expect_hook(call.request, "patient-view")
        found = self._assess(call)
        if found is None:
            return CdsResponse(cards=[])
        cards = [self._strategy_card(call, found)]
        review = self._review_card(call, found)
        if review is not None:
            cards.append(review)
        return self._answer(call, found, STRATEGY, cards)

    def order_select(self, call: Call) -> CdsResponse:
        _expect_hook(call.request, "order-select")
        wanted: dict[OptionCode, dict[str, Any]] = {}
        for order in selected_orders(call.request.context):
            option = order_option(order)
            if option is not None and option not in wanted:
                wanted[option] = order
        if not wanted:  # nothing netlm has an opinion on: no need to read the chart
            return CdsResponse(cards=[])
        found = self._assess(call)
        if found is None:
            return CdsResponse(cards=[])
        a = found.assessment
        proposed = {r.option: r for r in a.recommendations}
        excluded = {e.option: e for e in a.excluded}
        cards = []
        for option, order in wanted.items():
            if option in proposed:
                cards.append(self._proposed_card(call, found, proposed[option]))
            elif option in excluded:
                cards.append(self._excluded_card(call, found, excluded[option], order))
        return self._answer(call, found, ORDER_CHECK, cards)

    # -- pipeline -------------------------------------------------------------------------------

    def _assess(self, call: Call) -> _Assessed | None:
        patient_id = call.request.context.get("patientId")
        if not isinstance(patient_id, str) or not FHIR_ID.fullmatch(patient_id):
            raise CdsFailure(400, "required", "context.patientId must be a FHIR id")
        gatherer = _Gatherer(call.request, patient_id, self.fhir_timeout)
        try:
            bundle = gatherer.bundle()
        finally:
            gatherer.close()
        case_id = case_id_for(call.caller.issuer, patient_id)
        today = dt.datetime.now(dt.UTC).date()
        try:
            imported = bundle_to_case(bundle, patient_id=patient_id, on=today, case_id=case_id)
        except FhirMappingError as exc:
            # Most charts are not of a patient with NET liver metastases: no card, no case.
            problems = "; ".join(str(p) for p in exc.problems)
            log.info("no netlm case for patient %s: %s", patient_id, problems)
            return None
        if not any(path.split(".")[0] == "liver" for path in imported.sources):
            log.info("no liver metastases recorded for patient %s", patient_id)
            return None
        english = assess(imported.case, lang="en", kb=self.kb)
        shown = english if self.lang == "en" else assess(imported.case, self.lang, self.kb)
        stored = self._keep(imported.case, english, call)
        return _Assessed(case_id, imported.case, imported, shown, stored)

    def _keep(self, case: Case, assessment: Assessment, call: Call) -> bool:
        """Store the case (a new version only if it changed) and its assessment.

        False when the id belongs to a case deleted in netlm: the EHR does not resurrect it.
        """
        by = self.account()
        comment = f"from the EHR ({call.caller.issuer}) via CDS Hooks {call.request.hook}"
        for _attempt in range(3):
            try:
                record = self.store.get_case(case.id)
            except NotFound:
                try:
                    record = self.store.create_case(case, by, comment=comment)
                except Conflict:
                    continue  # created meanwhile by another worker, or deleted: look again
            else:
                if record.case.to_json_dict() == case.to_json_dict():
                    latest = self.store.latest_assessment(case.id)
                    current = assessment.knowledge_base.version
                    if latest is not None and latest[1].knowledge_base.version == current:
                        return True
                else:
                    try:
                        record = self.store.update_case(
                            case.id, case, by, expected_version=record.current_version,
                            comment=comment,
                        )  # fmt: skip
                    except Conflict:
                        continue
            self.store.save_assessment(case.id, record.version, assessment, by)
            return True
        return False

    def _answer(self, call: Call, found: _Assessed, service: str, cards: list[Card]) -> CdsResponse:
        if found.stored and cards:
            issued = [IssuedCard(c.uuid, c.indicator, c.summary) for c in cards]
            self.cds.record_cards(issued, found.case_id, service, call.caller.issuer)
        return CdsResponse(cards=cards)

    # -- cards ----------------------------------------------------------------------------------

    def _word(self, key: str, **values: object) -> str:
        if key in WORDS:
            return WORDS[key][self.lang].format(**values)
        return self.kb.messages[key](self.lang).format(**values)

    def _card(
        self,
        call: Call,
        found: _Assessed,
        indicator: Literal["info", "warning", "critical"],
        summary: str,
        detail: str,
        suggestions: list[Suggestion] | None = None,
    ) -> Card:
        links = None
        if found.stored:
            url = f"{call.public_url}/cases/{found.case_id}"
            links = [Link(label=self._word("link.case"), url=url, type="absolute")]
        source = Source(
            label=f"netlm {__version__}",
            url=self.about_url or f"{call.public_url}/",
            topic=TOPIC,
        )
        return Card(
            uuid=str(uuid.uuid4()),
            summary=_clip(summary),
            detail=detail,
            indicator=indicator,
            source=source,
            suggestions=suggestions,
            selectionBehavior="at-most-one" if suggestions else None,
            links=links,
        )

    def _pattern(self, value: str) -> str:
        return self._word(
            "pattern.unclassified_value" if value == "unclassified" else f"pattern.{value}"
        )

    def _headline(self, a: Assessment) -> str:
        c = a.classification
        resectability = self._word(
            "resectability.undetermined_value"
            if c.resectability == "undetermined"
            else f"resectability.{c.resectability}"
        )
        parts = [
            f"**{_md(c.who_category)}** ({_md(self._word(f'basis.{c.grade_basis}'))})",
            _md(f"{self._word('ui.liver_pattern')}: {self._pattern(c.liver_pattern)}"),
            _md(f"{self._word('ui.resectability')}: {resectability}"),
            _md(f"{self._word('ui.intent')}: {self._word(f'intent.{c.intent}')}"),
        ]
        return " · ".join(parts)

    def _option_lines(self, rec: Recommendation) -> list[str]:
        strength = self._word(f"strength.{rec.strength}")
        tier = f"{self._word('ui.tier')} {rec.tier}"
        lines = [f"{rec.rank}. **{_md(rec.name)}** ({_md(strength)}, {_md(tier)})"]
        lines.append(f"    - {_md(self._word('ui.order_basis'))}: {_md(rec.order_basis)}")
        lines += [f"    - {_md(text)}" for text in rec.rationale]
        lines += [f"    - {_md(self._word('ui.evidence'))}: {_md(e.summary)}" for e in rec.evidence]
        lines += [f"    - ⚠ {_md(text)}" for text in rec.cautions]
        availability = " · ".join(
            f"{region} {self._word(f'availability.{status}')}"
            for region, status in rec.availability.items()
        )
        lines.append(f"    - {_md(self._word('ui.availability'))}: {_md(availability)}")
        return lines

    def _findings_sections(self, found: _Assessed) -> list[str]:
        a = found.assessment
        out: list[str] = []
        if a.flags:
            out += ["", f"**{_md(self._word('ui.flags'))}**", ""]
            out += [f"- {_md(f.message)}" for f in a.flags]
        if a.missing_data:
            out += ["", f"**{_md(self._word('ui.missing'))}**", ""]
            out += [f"- `{_code(m.field)}`: {_md(m.why)}" for m in a.missing_data]
        if found.imported.unmapped:
            out += ["", f"**{_md(self._word('ui.unmapped'))}**", ""]
            out += [_unmapped_line(u) for u in found.imported.unmapped]
        return out

    def _disclaimer(self) -> str:
        text = self.kb.manifest.disclaimer(self.lang)
        return f"> {_md(self._word('ui.disclaimer'))}: {_md(text)}"

    def _strategy_card(self, call: Call, found: _Assessed) -> Card:
        a = found.assessment
        c = a.classification
        pattern = self._pattern(c.liver_pattern)
        if a.recommendations:
            first = a.recommendations[0]
            summary = self._word(
                "summary.first",
                who=c.who_category,
                pattern=pattern,
                option=self.kb.options[first.option].option.short(self.lang),
                strength=self._word(f"strength.{first.strength}"),
            )
        else:
            summary = self._word("summary.none", who=c.who_category, pattern=pattern)
        detail = [self._headline(a), "", f"**{_md(self._word('ui.recommendations'))}**", ""]
        for rec in a.recommendations:
            detail += self._option_lines(rec)
        if not a.recommendations:
            detail.append(f"- {_md(self._word('ui.none'))}")
        detail += self._findings_sections(found)
        detail += ["", self._disclaimer()]
        return self._card(call, found, "info", summary, "\n".join(detail))

    def _review_card(self, call: Call, found: _Assessed) -> Card | None:
        a = found.assessment
        codes_present = [code for code in REVIEW_FLAGS if any(f.code == code for f in a.flags)]
        items = [self._word(f"review.{code}") for code in codes_present]
        if a.missing_data:
            items.append(self._word("review.missing", n=len(a.missing_data)))
        if found.imported.unmapped:
            items.append(self._word("review.unmapped", n=len(found.imported.unmapped)))
        if not items:
            return None
        summary = self._word("summary.review", items=self._word("word.list_sep").join(items))
        detail = [self._headline(a), *self._findings_sections(found), "", self._disclaimer()]
        return self._card(call, found, "warning", summary, "\n".join(detail))

    def _proposed_card(self, call: Call, found: _Assessed, rec: Recommendation) -> Card:
        summary = self._word(
            "order.proposed",
            option=self.kb.options[rec.option].option.short(self.lang),
            rank=rec.rank,
            tier=rec.tier,
            strength=self._word(f"strength.{rec.strength}"),
        )
        detail = [self._headline(found.assessment), "", *self._option_lines(rec)]
        detail += self._findings_sections(found)
        detail += ["", self._disclaimer()]
        return self._card(call, found, "info", summary, "\n".join(detail))

    def _excluded_card(
        self, call: Call, found: _Assessed, ex: Exclusion, order: Mapping[str, Any]
    ) -> Card:
        a = found.assessment
        short = self.kb.options[ex.option].option.short(self.lang)
        reason = ex.reasons[0] if ex.reasons else ""
        summary = self._word("order.excluded", option=short, reason=reason)
        detail = [self._headline(a), "", f"**{_md(self._word('ui.reasons'))}**", ""]
        detail += [f"- {_md(text)}" for text in ex.reasons]
        detail += ["", f"**{_md(self._word('ui.instead'))}**", ""]
        for rec in a.recommendations:
            strength = self._word(f"strength.{rec.strength}")
            tier = f"{self._word('ui.tier')} {rec.tier}"
            detail.append(f"{rec.rank}. {_md(rec.name)} ({_md(strength)}, {_md(tier)})")
        if not a.recommendations:
            detail.append(f"- {_md(self._word('order.none'))}")
        detail += self._findings_sections(found)
        detail += ["", self._disclaimer()]
        suggestions = None
        if isinstance(order.get("id"), str):
            resource_id = f"{order['resourceType']}/{order['id']}"
            label = self._word("order.cancel", option=short)
            action = Action(type="delete", description=label, resourceId=resource_id)
            suggestions = [Suggestion(label=label, uuid=str(uuid.uuid4()), actions=[action])]
        indicator: Literal["warning", "critical"] = (
            "critical" if self._hard_stop(found.case, ex) else "warning"
        )
        return self._card(call, found, indicator, summary, "\n".join(detail), suggestions)

    def _hard_stop(self, case: Case, ex: Exclusion) -> bool:
        """Critical: the option is for another disease (NEC) or not approved in the region."""
        entry = self.kb.options[ex.option]
        nec = {c.rule.reason(self.lang) for c in entry.contraindications if c.rule.id == "nec"}
        if nec & set(ex.reasons):
            return True
        if case.region is None:
            return False
        status = entry.option.availability[case.region]
        return status.status == "not_approved" and status.verified


def _expect_hook(request: CdsRequest, hook: str) -> None:
    if request.hook != hook:
        raise CdsFailure(400, "not-supported", f"this service answers {hook}, not {request.hook}")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: str) -> str:
    """Text as literal Markdown: no emphasis, links, HTML or tables from data."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;").replace("\n", " "))


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")


def _unmapped_line(item: Unmapped) -> str:
    return f"- `{_code(item.field)}`: {_md(item.reason)}"


def _clip(summary: str) -> str:
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1].rstrip() + "…"


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
