"""UCUM unit conversion into the units of netlm.case/1.

Only conversions with a documented factor are made; any other unit is refused (the caller
reports it as unmapped), because a guessed unit gives a wrong number that looks right.
"""

from typing import Final

# Haemoglobin in mmol/L is reported per haem-carrying monomer (molar mass ~16.1 kg/mol), as in
# Dutch and Scandinavian laboratories: 1 g/dL = 0.6206 mmol/L (Jordan; Kratz, as tabulated by
# medicalalgorithms.com "Hemoglobin unit conversion"), so mmol/L x 1/0.6206 = g/dL.
HB_MMOL_PER_L_TO_G_DL: Final = 1 / 0.6206

# UCUM "mo" is the mean Julian month: 30.4375 days; "a" the mean Julian year.
_DAYS_PER_MONTH: Final = 30.4375

# target unit -> {accepted UCUM code (or printed unit) -> factor to the target}
_FACTORS: Final[dict[str, dict[str, float]]] = {
    "g/dL": {"g/dL": 1.0, "g/L": 0.1, "g/100mL": 1.0, "mg/mL": 1.0},
    "10*9/L": {
        "10*9/L": 1.0,
        "10^9/L": 1.0,
        "10*3/uL": 1.0,
        "10^3/uL": 1.0,
        "10*3/mm3": 1.0,
        "/nL": 1.0,
        "1/nL": 1.0,
        "/uL": 0.001,
        "/mm3": 0.001,
    },
    "mL/min": {"mL/min": 1.0, "ml/min": 1.0, "mL/s": 60.0},
    "mL/min/{1.73_m2}": {
        "mL/min/{1.73_m2}": 1.0,
        "mL/min/1.73m2": 1.0,
        "mL/min/1.73.m2": 1.0,
    },
    "%": {"%": 1.0},
    "cm": {"cm": 1.0, "mm": 0.1},
    "mo": {"mo": 1.0, "a": 12.0, "wk": 7 / _DAYS_PER_MONTH, "d": 1 / _DAYS_PER_MONTH},
    "{mitoses}/(2.mm2)": {"{mitoses}/(2.mm2)": 1.0, "/(2.mm2)": 1.0, "{mitoses}/2.mm2": 1.0},
}


class UnitError(ValueError):
    """The unit is absent or has no documented conversion to the target."""


def convert(value: float, unit: str | None, target: str, *, hemoglobin: bool = False) -> float:
    """`value` in `unit` expressed in `target`; UnitError when no documented factor exists."""
    if unit is None or not unit.strip():
        raise UnitError(f"no unit given; netlm needs {target}")
    unit = unit.strip()
    factors = _FACTORS[target]
    if unit in factors:
        return value * factors[unit]
    if hemoglobin and target == "g/dL" and unit == "mmol/L":
        return value * HB_MMOL_PER_L_TO_G_DL
    raise UnitError(f'unit "{unit}" cannot be converted to {target}')
