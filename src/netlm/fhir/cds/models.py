"""CDS Hooks 2.0.1 messages (discovery, request, cards, feedback) as pydantic models.

Inbound messages ignore unknown fields, so an EHR speaking 3.0 is still understood; the
invariants of the 3.0 logical models that also hold in 2.0.1 are enforced by validators, so a
card that a client would have to reject as an error can never leave this service.
"""

import datetime as dt
from typing import Any, Literal, Self

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

SPEC_VERSION = "2.0.1"
SPEC_EXTENSION = "org.netlm.cds-hooks-version"  # the CDS Hooks version netlm implements
MAX_SUMMARY = 139  # the spec says "<140 characters"


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def describe(exc: ValidationError, where: str = "") -> str:
    """Pydantic's errors as one line of `path: problem`, the path prefixed with `where`."""
    problems = []
    for error in exc.errors():
        path = ".".join(str(p) for p in (where, *error["loc"]) if p != "")
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{path or '(body)'}: {message}")
    return "; ".join(problems)


class Coding(_Message):
    system: str | None = None
    code: str
    display: str | None = None


# --- discovery -------------------------------------------------------------------------------


class Service(_Message):
    hook: str
    title: str | None = None
    description: str
    id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    prefetch: dict[str, str] | None = None
    usage_requirements: str | None = Field(None, alias="usageRequirements")
    # 2.0.1 lists only the members above; anything of netlm's own goes under `extension`, named
    # in reverse-domain notation as the spec asks ("Extensions").
    extension: dict[str, Any] = Field(default_factory=lambda: {SPEC_EXTENSION: SPEC_VERSION})


class Discovery(_Message):
    services: list[Service]


# --- request ---------------------------------------------------------------------------------


class FhirAuthorization(_Message):
    # RFC 6750 b64token: the token goes into an Authorization header, so nothing else may pass.
    access_token: str = Field(pattern=r"^[A-Za-z0-9\-._~+/]+=*$")
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None

    @model_validator(mode="after")
    def _patient_scope_needs_patient(self) -> Self:
        # Both SMART scope syntaxes (STU1 `patient/*.read`, STU2 `patient/*.rs`) start alike.
        if self.patient is None and any(s.startswith("patient/") for s in self.scope.split()):
            raise ValueError("a patient/ scope requires fhirAuthorization.patient")
        return self


class CdsRequest(_Message):
    hook: str
    hook_instance: str = Field(alias="hookInstance", min_length=1)
    fhir_server: str | None = Field(None, alias="fhirServer", min_length=1)
    fhir_authorization: FhirAuthorization | None = Field(None, alias="fhirAuthorization")
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> Self:
        if self.fhir_authorization is not None and self.fhir_server is None:
            raise ValueError("fhirAuthorization requires fhirServer")
        return self


# --- EHR data read by the services ----------------------------------------------------------
# Typed only where netlm reads it, so a list where a code belongs is a 400 naming the element,
# not an exception deep in the order matching; everything else is left to the FHIR mapping.


class FhirCoding(_Message):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(_Message):
    coding: list[FhirCoding] = Field(default_factory=list)
    text: str | None = None


class Reference(_Message):
    reference: str | None = None
    display: str | None = None


class ContainedResource(_Message):
    resource_type: str = Field(alias="resourceType")
    id: str | None = None
    code: CodeableConcept | None = None

    @model_validator(mode="before")
    @classmethod
    def _only_medication_code(cls, data: Any) -> Any:
        """Only a contained Medication's code is read; other types' `code` has other shapes."""
        if isinstance(data, dict) and data.get("resourceType") != "Medication":
            return {k: v for k, v in data.items() if k != "code"}
        return data


class DraftOrder(_Message):
    """A draft order of order-select (MedicationRequest, ServiceRequest or another request)."""

    resource_type: str = Field(alias="resourceType", min_length=1)
    id: str | None = None
    code: CodeableConcept | None = None
    medication_codeable_concept: CodeableConcept | None = Field(
        None, alias="medicationCodeableConcept"
    )
    medication_reference: Reference | None = Field(None, alias="medicationReference")
    contained: list[ContainedResource] = Field(default_factory=list)


class DraftOrderEntry(_Message):
    resource: DraftOrder


class DraftOrders(_Message):
    entry: list[DraftOrderEntry] = Field(default_factory=list)


class OrderSelectContext(_Message):
    draft_orders: DraftOrders = Field(alias="draftOrders")
    selections: list[str] | None = None


class BundleLink(_Message):
    relation: str
    url: str


class BundleSearch(_Message):
    mode: str | None = None


class BundleEntry(_Message):
    resource: dict[str, Any] | None = None
    search: BundleSearch | None = None

    @property
    def included(self) -> bool:
        """Brought by an `_include`, not a match of the search (which `_count` bounds)."""
        return self.search is not None and self.search.mode == "include"


class BundlePage(_Message):
    """A searchset page as the services walk it: its entries and its links."""

    entry: list[BundleEntry] = Field(default_factory=list)
    link: list[BundleLink] = Field(default_factory=list)
    total: int | None = Field(None, ge=0)

    def next_url(self) -> str | None:
        return next((k.url or None for k in self.link if k.relation == "next"), None)


# --- cards -----------------------------------------------------------------------------------


class Source(_Message):
    label: str = Field(min_length=1)
    url: AnyUrl | None = None
    icon: AnyUrl | None = None
    topic: Coding | None = None


class Action(_Message):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resource_id: str | None = Field(None, alias="resourceId")

    @model_validator(mode="after")
    def _delete_uses_resource_id(self) -> Self:
        if self.type == "delete" and (self.resource is not None or self.resource_id is None):
            raise ValueError("a delete action names resourceId and carries no resource")
        return self


class Suggestion(_Message):
    label: str = Field(min_length=1)
    uuid: str | None = None
    is_recommended: bool | None = Field(None, alias="isRecommended")
    actions: list[Action] | None = None


class OverrideReason(Coding):
    display: str = Field(min_length=1)


class Link(_Message):
    label: str = Field(min_length=1)
    url: AnyUrl
    type: Literal["absolute", "smart"]
    app_context: str | None = Field(None, alias="appContext")
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _app_context_only_on_smart(self) -> Self:
        if self.app_context is not None and self.type != "smart":
            raise ValueError("appContext is only valid on smart links")
        return self


class Card(_Message):
    uuid: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selection_behavior: Literal["at-most-one", "any"] | None = Field(
        None, alias="selectionBehavior"
    )
    override_reasons: list[OverrideReason] | None = Field(None, alias="overrideReasons")
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _suggestions_need_selection_behavior(self) -> Self:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required when suggestions are present")
        recommended = sum(1 for s in self.suggestions or [] if s.is_recommended)
        if self.selection_behavior == "at-most-one" and recommended > 1:
            raise ValueError("at-most-one allows at most one recommended suggestion")
        return self


class CdsResponse(_Message):
    cards: list[Card]
    system_actions: list[Action] | None = Field(None, alias="systemActions")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- feedback --------------------------------------------------------------------------------


class AcceptedSuggestion(_Message):
    id: str = Field(min_length=1)


class FeedbackOverride(_Message):
    reason: Coding | None = None
    user_comment: str | None = Field(None, alias="userComment")


class FeedbackItem(_Message):
    card: str = Field(min_length=1, max_length=64)
    outcome: Literal["accepted", "overridden"]
    accepted_suggestions: list[AcceptedSuggestion] | None = Field(None, alias="acceptedSuggestions")
    override_reason: FeedbackOverride | None = Field(None, alias="overrideReason")
    outcome_timestamp: dt.datetime = Field(alias="outcomeTimestamp")

    @field_validator("outcome_timestamp")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("outcomeTimestamp needs a time zone (RFC 3339)")
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
            raise ValueError("outcomeTimestamp is out of range") from None

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> Self:
        if self.outcome == "accepted" and not self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is required when the outcome is accepted")
        return self


class Feedback(_Message):
    feedback: list[FeedbackItem] = Field(min_length=1)
