"""UCUM unit conversion into the units of netlm.case/1, through the UCUM grammar (ucumvert).

A unit is parsed as UCUM and converted by its dimensions, never matched as a string: `umol/L`
and `mmol/L`, `10*3/uL` and `/nL`, `mL/s` and `mL/min` are converted exactly; a unit of
another dimension, or one that is not UCUM, is refused (the caller reports it as unmapped),
because a guessed unit gives a wrong number that looks right. Two things UCUM leaves to the
reader are decided here: the printed spellings EHRs send in `Quantity.unit` (`µmol/L`,
`10^9/L`, `mL/min/1.73m2`), and the `{1.73_m2}` annotation, which UCUM ignores in conversion
but which says the rate is per body surface (eGFR): it must be on both units or neither.
"""

import re
from functools import cache
from typing import Any, Final

# Haemoglobin in mmol/L is reported per haem-carrying monomer (molar mass ~16.1 kg/mol), as in
# Dutch and Scandinavian laboratories: 1 g/dL = 0.6206 mmol/L (Jordan; Kratz, as tabulated by
# medicalalgorithms.com "Hemoglobin unit conversion"), so mmol/L x 1/0.6206 = g/dL.
HB_MMOL_PER_L_TO_G_DL: Final = 1 / 0.6206

# Printed spellings -> UCUM: the micro sign, powers of ten with ^, body surface without braces.
_SPELLINGS: Final = (
    ("µ", "u"),
    ("μ", "u"),  # Greek mu, as some systems type it
    ("10^", "10*"),
    ("/1.73m2", "/{1.73_m2}"),
    ("/1.73.m2", "/{1.73_m2}"),
    ("/1.73 m2", "/{1.73_m2}"),
    ("/100mL", "/dL"),  # "g/100mL" is not UCUM (a factor needs its operator): it means g/dL
)
_ANNOTATION = re.compile(r"\{[^}]*\}")


class UnitError(ValueError):
    """The unit is absent, not UCUM, or of another dimension than the target."""


def ucum_code(unit: str) -> str:
    """The UCUM code for a unit as EHRs print it (`µmol/L` -> `umol/L`)."""
    code = unit.strip()
    for printed, ucum in _SPELLINGS:
        code = code.replace(printed, ucum)
    return code


@cache
def _registry() -> Any:
    """pint with every UCUM unit, built once per process (it takes a few seconds)."""
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


@cache
def factor(unit: str, target: str) -> float:
    """What one `unit` is in `target`; UnitError when UCUM cannot convert one into the other."""
    code, goal = ucum_code(unit), ucum_code(target)
    if code == goal:
        return 1.0
    if _per_body_surface(code) != _per_body_surface(goal):
        raise UnitError(f'unit "{unit}" cannot be converted to {target} (per 1.73 m² differs)')
    from pint.errors import DimensionalityError
    from ucumvert import InvalidUcumError

    registry = _registry()
    try:
        # A ratio, not .to(): UCUM factors ("/(2.mm2)") are part of the quantity, not its unit.
        ratio = registry.from_ucum(code) / registry.from_ucum(goal)
        return float(ratio.to("dimensionless").magnitude)
    except InvalidUcumError:
        raise UnitError(f'unit "{unit}" cannot be converted to {target} (not UCUM)') from None
    except DimensionalityError:
        raise UnitError(f'unit "{unit}" cannot be converted to {target}') from None


def _per_body_surface(code: str) -> bool:
    return any("1.73" in a for a in _ANNOTATION.findall(code))


def convert(value: float, unit: str | None, target: str, *, hemoglobin: bool = False) -> float:
    """`value` in `unit` expressed in `target`; UnitError when UCUM gives no conversion."""
    if unit is None or not unit.strip():
        raise UnitError(f"no unit given; netlm needs {target}")
    if hemoglobin and target == "g/dL" and ucum_code(unit) == "mmol/L":
        return value * HB_MMOL_PER_L_TO_G_DL
    return value * factor(unit, target)
