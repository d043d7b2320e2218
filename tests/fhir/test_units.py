"""Units through UCUM (ucumvert + pint): the factors netlm used to list by hand are reproduced by
the library, the two the library found wrong are corrected, and what is not UCUM is refused."""

import pytest

from netlm.fhir.units import UnitError, convert, ucum_code

# The hand-written table this module had before UCUM was parsed: target -> {unit: factor}.
FORMER_TABLE = {
    "g/dL": {"g/dL": 1.0, "g/L": 0.1, "g/100mL": 1.0},
    "10*9/L": {"10*9/L": 1.0, "10^9/L": 1.0, "10*3/uL": 1.0, "10^3/uL": 1.0, "10*3/mm3": 1.0,
               "/nL": 1.0, "1/nL": 1.0, "/uL": 0.001, "/mm3": 0.001},
    "mL/min": {"mL/min": 1.0, "ml/min": 1.0, "mL/s": 60.0},
    "mL/min/{1.73_m2}": {"mL/min/{1.73_m2}": 1.0, "mL/min/1.73m2": 1.0, "mL/min/1.73.m2": 1.0},
    "%": {"%": 1.0},
    "cm": {"cm": 1.0, "mm": 0.1},
    "mo": {"mo": 1.0, "a": 12.0, "wk": 7 / 30.4375, "d": 1 / 30.4375},
    "{mitoses}/(2.mm2)": {"{mitoses}/(2.mm2)": 1.0, "/(2.mm2)": 1.0},
}  # fmt: skip


@pytest.mark.parametrize(
    ("unit", "target", "factor"),
    [(u, t, f) for t, units in FORMER_TABLE.items() for u, f in units.items()],
)
def test_the_former_table_is_reproduced(unit: str, target: str, factor: float) -> None:
    assert convert(1, unit, target) == pytest.approx(factor)


def test_the_two_entries_ucum_found_wrong() -> None:
    assert convert(1, "mg/mL", "g/dL") == pytest.approx(0.1)  # the table said 1: 1 mg/mL = 1 g/L
    with pytest.raises(UnitError):  # "{mitoses}/2.mm2" is mm2/2 in UCUM, not per 2 mm2
        convert(1, "{mitoses}/2.mm2", "{mitoses}/(2.mm2)")


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        ("µmol/L", "umol/L"),
        ("μmol/L", "umol/L"),
        ("10^9/L", "10*9/L"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
    ],
)
def test_printed_spellings(unit: str, code: str) -> None:
    assert ucum_code(unit) == code
    assert convert(5, unit, code) == 5


def test_scales_of_one_quantity_convert() -> None:
    assert convert(0.034, "mmol/L", "umol/L") == pytest.approx(34)
    assert convert(2, "kg/L", "g/dL") == pytest.approx(200)


@pytest.mark.parametrize(
    ("unit", "target"),
    [
        ("furlong", "g/dL"),
        ("mmol/L", "g/dL"),
        ("umol/L", "mg/dL"),
        ("mL/min", "mL/min/{1.73_m2}"),
        ("mL/min/{1.73_m2}", "mL/min"),
        ("mg", "%"),
    ],
)
def test_other_quantities_and_non_ucum_units_are_refused(unit: str, target: str) -> None:
    with pytest.raises(UnitError, match="cannot be converted"):
        convert(1, unit, target)
