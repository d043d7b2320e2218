"""The registry row is the case, flattened: round trips and the columns' contract."""

from hypothesis import given, settings

from netlm.model.case import Case
from netlm.model.schema_paths import leaf_fields
from netlm.registry.format import case_from_row, registry_columns, row_from_case
from tests.strategies import cases


@settings(max_examples=300, deadline=None)
@given(cases)
def test_a_case_survives_the_registry_row(data: dict[str, object]) -> None:
    case = Case.model_validate(data)
    assert case_from_row(row_from_case(case)) == case


def test_every_case_field_is_a_column_and_outcomes_follow() -> None:
    names = [c.name for c in registry_columns()]
    assert set(leaf_fields()) - {"schema"} <= set(names)
    assert names[-8:] == [
        "treatment_given", "treatment_date", "followup_months", "death",
        "progression_months", "progressed", "center", "diagnosis_year",
    ]  # fmt: skip
    required = [c.name for c in registry_columns() if c.required]
    assert required == ["id", "primary.site"]


def test_an_empty_extrahepatic_section_is_absent_and_an_empty_list_is_none() -> None:
    base = {"id": "x", "primary.site": "pancreas"}
    assert case_from_row(base).extrahepatic is None
    assert case_from_row({**base, "extrahepatic.sites": "[]"}).extrahepatic is not None
    resectable_only = case_from_row({**base, "extrahepatic.resectable": True})
    assert resectable_only.extrahepatic is not None
    assert resectable_only.extrahepatic.sites == []
