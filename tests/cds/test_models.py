"""The CDS Hooks models enforce the spec's invariants and tolerate fields from later versions."""

from typing import Any

import pytest
from pydantic import ValidationError

from netlm.fhir.cds.models import Card, CdsRequest, Feedback, FeedbackItem

SOURCE = {"label": "netlm"}


def card(**changes: Any) -> dict[str, Any]:
    return {"uuid": "u-1", "summary": "netlm: ok", "indicator": "info", "source": SOURCE, **changes}


def request(**changes: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": "h-1", "context": {"patientId": "p"}, **changes}


AUTH = {
    "access_token": "t",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "user/Patient.read",
    "subject": "netlm",
}


def test_a_valid_card_and_unknown_fields_are_accepted() -> None:
    parsed = Card.model_validate(card(futureField={"x": 1}))
    assert parsed.summary == "netlm: ok"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"summary": "x" * 140}, "at most 139"),
        ({"summary": ""}, "at least 1"),
        ({"indicator": "hard-stop"}, "info"),
        ({"source": {}}, "label"),
        ({"suggestions": [{"label": "do it"}]}, "selectionBehavior is required"),
        ({"suggestions": [{"label": "a"}], "selectionBehavior": "all"}, "at-most-one"),
        (
            {
                "suggestions": [
                    {"label": "a", "isRecommended": True},
                    {"label": "b", "isRecommended": True},
                ],
                "selectionBehavior": "at-most-one",
            },
            "at most one recommended",
        ),
        ({"overrideReasons": [{"code": "x", "system": "s"}]}, "display"),
        (
            {
                "links": [
                    {"label": "l", "url": "https://x.org", "type": "absolute", "appContext": "c"}
                ]
            },
            "smart links",
        ),
        ({"links": [{"label": "l", "url": "https://x.org", "type": "relative"}]}, "absolute"),
        (
            {
                "suggestions": [
                    {
                        "label": "a",
                        "actions": [{"type": "delete", "description": "d", "resource": {}}],
                    }
                ],
                "selectionBehavior": "any",
            },
            "resourceId",
        ),
        (
            {
                "suggestions": [{"label": "a", "actions": [{"type": "create"}]}],
                "selectionBehavior": "any",
            },
            "description",
        ),
    ],
)
def test_card_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Card.model_validate(card(**changes))


def test_summary_of_139_characters_is_the_longest() -> None:
    assert Card.model_validate(card(summary="x" * 139))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fhirAuthorization": AUTH}, "requires fhirServer"),
        (
            {"fhirServer": "https://f", "fhirAuthorization": {**AUTH, "scope": "patient/*.rs"}},
            "requires fhirAuthorization.patient",
        ),
        ({"fhirServer": "https://f", "fhirAuthorization": {**AUTH, "token_type": "MAC"}}, "Bearer"),
        ({"hookInstance": ""}, "at least 1"),
        ({"context": None}, "context"),
    ],
)
def test_request_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CdsRequest.model_validate(request(**changes))


def test_request_tolerates_3_0_fields_and_both_scope_syntaxes() -> None:
    for scope in ("patient/*.read", "patient/Observation.rs user/Patient.r"):
        auth = {**AUTH, "scope": scope, "patient": "p"}
        parsed = CdsRequest.model_validate(
            request(fhirServer="https://f", fhirAuthorization=auth, hookVersion="1.0", newThing=[1])
        )
        assert parsed.fhir_authorization is not None


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-01-01T10:00:00Z"},
            "acceptedSuggestions",
        ),
        (
            {"card": "c", "outcome": "dismissed", "outcomeTimestamp": "2026-01-01T10:00:00Z"},
            "accepted",
        ),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T10:00:00"},
            "time zone",
        ),
        ({"card": "c", "outcome": "overridden"}, "outcomeTimestamp"),
    ],
)
def test_feedback_invariants(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeedbackItem.model_validate(item)


def test_feedback_needs_items_and_normalises_time_to_utc() -> None:
    with pytest.raises(ValidationError):
        Feedback.model_validate({"feedback": []})
    item = FeedbackItem.model_validate(
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T12:00:00+02:00",
         "overrideReason": {"reason": {"code": "x", "display": "X"}, "userComment": "no"}}
    )  # fmt: skip
    assert item.outcome_timestamp.isoformat() == "2026-01-01T10:00:00+00:00"
