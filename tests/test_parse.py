"""Bad input gets one clear line per problem, naming the JSON path."""

import json
from typing import Any

import pytest

from netlm import CaseInputError, parse_case_json
from tests.conftest import BASE_CASE, merge


def problems(data: Any) -> list[str]:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(CaseInputError) as info:
        parse_case_json(text)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"pathology": {"ki67_percent": 140}}, "pathology.ki67_percent: must be between 0 and 100, got 140"),
        ({"patient": {"ecog": 5}}, "patient.ecog: must be between 0 and 4, got 5"),
        ({"patient": {"ecog": "1"}}, 'patient.ecog: must be a whole number, got "1"'),
        ({"liver": {"lesion_count": 0}}, "liver.lesion_count: must be at least 1, got 0"),
        ({"liver": {"largest_lesion_cm": 0}}, "liver.largest_lesion_cm: must be greater than 0, got 0"),
        ({"liver": {"synchronous": "yes"}}, 'liver.synchronous: must be true or false, got "yes"'),
        ({"primary": {"site": "liver"}}, "primary.site: must be one of: pancreas, stomach, duodenum"),
        ({"liver": {"tumor_burdn": 5}}, "liver.tumor_burdn: unknown field (did you mean 'tumor_burden_percent'?)"),
        ({"id": "has space"}, "id: must be 1-64 characters"),
        ({"schema": "netlm.case/2"}, "schema: must be one of: netlm.case/1"),
        ({"prior_therapies": [{"option": "prrt", "outcome": "cured"}]}, "prior_therapies[0].outcome: must be one of"),
        ({"extrahepatic": {"sites": ["bone", "brain"]}}, "extrahepatic.sites[1]: must be one of"),
        ({"labs": {"platelets_10e9_per_l": -1}}, "labs.platelets_10e9_per_l: must be between 0 and 5000, got -1"),
    ],
)  # fmt: skip
def test_field_problems(changes: dict[str, Any], expected: str) -> None:
    found = problems(merge(BASE_CASE, changes))
    assert any(p.startswith(expected) for p in found), found


def test_missing_required_fields_are_each_reported() -> None:
    found = problems({"schema": "netlm.case/1"})
    assert found == ["id: required field is missing", "primary: required field is missing",
                     "liver: required field is missing"]  # fmt: skip


def test_all_problems_at_once() -> None:
    found = problems(merge(BASE_CASE, {"pathology": {"ki67_percent": 140}, "patient": {"ecog": 9}}))
    assert len(found) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"schema": "netlm.case/1",', "(json): malformed JSON at line 1, column 27"),
        ("[1, 2]", "(root): must be a JSON object, got list"),
        ('{"id": "a", "id": "b"}', "(json): duplicate key 'id'"),
        ('{"x": NaN}', "(json): NaN is not a valid number"),
        ("", "(json): malformed JSON at line 1, column 1"),
    ],
)
def test_malformed_documents(text: str, expected: str) -> None:
    assert problems(text)[0].startswith(expected)


def test_non_utf8_bytes() -> None:
    with pytest.raises(CaseInputError, match=r"not UTF-8|malformed JSON"):
        parse_case_json(b"\xff\xfe\x00")
