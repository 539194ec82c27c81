"""The one pint unit registry of sx_model and the helpers that turn config strings into SI floats.

pint lives only here and in :mod:`sx_model.config`; everything downstream works on plain floats in SI
(mol/m^3, m^3/s, s, kg).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..errors import ConfigError

_UNITS_FILE = Path(__file__).resolve().parent.parent / "data" / "units.txt"

#: Dimensions accepted by :func:`to_si`, with the SI unit each is converted to.
SI_UNITS = {
    "flow": ("[length] ** 3 / [time]", "m**3/s"),
    "concentration": ("[substance] / [length] ** 3", "mol/m**3"),
    "mass_concentration": ("[mass] / [length] ** 3", "kg/m**3"),
    "time": ("[time]", "s"),
    "volume": ("[length] ** 3", "m**3"),
    "length": ("[length]", "m"),
    "area": ("[length] ** 2", "m**2"),
    "mass": ("[mass]", "kg"),
    "amount_rate": ("[substance] / [time]", "mol/s"),
    "power": ("[mass] * [length] ** 2 / [time] ** 3", "W"),
    "specific_flow": ("[length] / [time]", "m/s"),
    "money": ("[currency]", "USD"),
    "price_per_kg": ("[currency] / [mass]", "USD/kg"),
    "price_per_energy": ("[currency] / ([mass] * [length] ** 2 / [time] ** 2)", "USD/J"),
    "money_rate": ("[currency] / [time]", "USD/s"),
    "power_density": ("[mass] / [length] / [time] ** 3", "W/m**3"),
    "molar_mass": ("[mass] / [substance]", "kg/mol"),
    "years": ("[time]", "year"),
    "hours": ("[time]", "hour"),
    "temperature": ("[temperature]", "K"),
    "molar_energy": ("[mass] * [length] ** 2 / [time] ** 2 / [substance]", "J/mol"),
}

_EXPECTED_EXAMPLE = {
    "flow": "a volumetric flow such as '2 L/min' or '1.5 m^3/h'",
    "concentration": "a concentration such as '0.2 mol/L'",
    "time": "a time such as '3 min'",
    "volume": "a volume such as '2 m^3'",
    "length": "a length such as '1 m'",
    "area": "an area such as '2 m^2'",
    "mass": "a mass such as '10 kg'",
    "amount_rate": "an amount rate such as '1 mol/h'",
    "power": "a power such as '0.5 kW'",
    "specific_flow": "a specific flow such as '3 m^3/(m^2 h)'",
    "money": "an amount of money such as '30000 USD'",
    "price_per_kg": "a price such as '5 USD/kg'",
    "price_per_energy": "a price such as '0.1 USD/kWh'",
    "money_rate": "a cost rate such as '1000 USD/year'",
    "power_density": "a power per volume such as '1 kW/m^3'",
    "molar_mass": "a molar mass such as '306 g/mol'",
    "years": "a time such as '15 year'",
    "hours": "a time such as '8000 h'",
    "mass_concentration": "a density such as '0.8 kg/L'",
    "temperature": "a temperature such as '40 degC' or '313.15 K'",
    "molar_energy": "an enthalpy such as '-20 kJ/mol'",
}


@functools.lru_cache(maxsize=1)
def registry():
    """Return the application-wide :class:`pint.UnitRegistry` (created on first use).

    It holds the units configs use (``sx_model/data/units.txt``, each with the definition it has in
    pint's default registry) and builds in milliseconds; :func:`parse_quantity` looks any other unit up
    in :func:`full_registry`.
    """
    import pint

    ureg = pint.UnitRegistry(str(_UNITS_FILE), cache_folder=None)
    _customary(ureg)
    return ureg


@functools.lru_cache(maxsize=1)
def full_registry():
    """pint's default registry with sx_model's additions (built only for a unit :func:`registry` lacks;
    it takes about 0.3 s)."""
    import pint

    ureg = pint.UnitRegistry(cache_folder=None)
    _customary(ureg)
    ureg.define("USD = [currency]")
    return ureg


def _customary(ureg):
    """Customary SX abbreviations."""
    ureg.define("M = mol / L = molar")
    ureg.define("mM = mmol / L = millimolar")
    ureg.define("ppm_w = 1e-6 = ppm_wt")


_NUMBER_START = re.compile(r"^\s*[-+]?(\d|\.\d)")
#: What a value with units may look like before pint sees it: a number (exponent of at most three
#: digits), then a unit expression of names, small integer powers and * / ( ); at most
#: :data:`MAX_QUANTITY_CHARS` characters. Anything else (``9**9**9 L/min``, expressions, very long
#: strings) is refused without being evaluated.
_SAFE_QUANTITY = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?"
                            r"(?:[A-Za-z_\u00b5\u03bc\u00b0%][A-Za-z0-9_\u00b5\u03bc\u00b0%]*"
                            r"(?:\s*(?:\*\*|\^)\s*-?\d{1,2})?|[*/()\s])*$")
MAX_QUANTITY_CHARS = 80
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def parse_quantity(value, key: str):
    """Parse a config value into a pint Quantity.

    A bare number (or a numeric string) is rejected: every dimensional value must carry units.
    """
    if isinstance(value, bool) or isinstance(value, (int, float)) or (
            isinstance(value, str) and _NUMBER.match(value)):
        raise ConfigError(key, f"{value!r} has no unit; expected a value with units such as '2 L/min'")
    if not isinstance(value, str):
        raise ConfigError(key, f"{value!r} is not a quantity; expected a string with units such as '2 L/min'")
    if len(value) > MAX_QUANTITY_CHARS:
        raise ConfigError(key, f"{value[:30]!r}... is {len(value)} characters long; expected a number "
                               "followed by units such as '2 L/min'")
    if not _SAFE_QUANTITY.match(value):
        raise ConfigError(key, f"cannot read {value!r} as a quantity; expected a number followed by "
                               "units such as '2 L/min'")
    ureg = registry()
    text = value.replace("^", "**")
    try:
        try:
            quantity = ureg.Quantity(text)
        except _undefined():
            ureg = full_registry()
            quantity = ureg.Quantity(text)
    except Exception as exc:   # pint raises many kinds (tokenize errors, ZeroDivisionError, ...)
        raise ConfigError(key, f"cannot read {value!r} as a quantity ({type(exc).__name__}); "
                               "expected a number followed by units such as '2 L/min'") from None
    if not isinstance(quantity, ureg.Quantity):
        raise ConfigError(key, f"{value!r} has no unit; expected a value with units")
    if not _NUMBER_START.match(text):
        raise ConfigError(key, f"{value!r} has no number; expected a number followed by units such as "
                               "'2 L/min'")
    if quantity.dimensionless and not quantity.unitless:
        return quantity
    if quantity.unitless:
        raise ConfigError(key, f"{value!r} has no unit; expected a value with units")
    return quantity


def _undefined():
    import pint

    return pint.errors.UndefinedUnitError


def to_si(value, kind: str, key: str) -> float:
    """Convert a config value with units to a float in the SI unit of ``kind`` (see :data:`SI_UNITS`)."""
    dimension, unit = SI_UNITS[kind]
    if kind == "temperature":
        return temperature_si(value, key)
    quantity = parse_quantity(value, key)
    ureg = registry()
    if quantity.dimensionality != ureg.get_dimensionality(dimension):
        expected = _EXPECTED_EXAMPLE.get(kind, kind)
        raise ConfigError(key, f"{value!r} has dimension {quantity.dimensionality}; expected {expected}")
    magnitude = float(quantity.to(unit).magnitude)
    return magnitude


_TEMPERATURE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?)\s*"
                          r"(degC|degF|K|kelvin|celsius|degree_Celsius|\u00b0C)\s*$")


def temperature_si(value, key: str) -> float:
    """A temperature such as ``'40 degC'`` or ``'313.15 K'`` -> kelvin (offset units read as such)."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ConfigError(key, f"{value!r} has no unit; expected a temperature such as '40 degC'")
    match = _TEMPERATURE.match(value) if isinstance(value, str) and len(value) <= MAX_QUANTITY_CHARS else None
    if match is None:
        raise ConfigError(key, f"cannot read {value!r} as a temperature; expected e.g. '40 degC' or "
                               "'313.15 K'")
    unit = {"\u00b0C": "degC", "celsius": "degC", "degree_Celsius": "degC"}.get(match.group(2), match.group(2))
    return float(registry().Quantity(float(match.group(1)), unit).to("K").magnitude)


def format_si(value: float, unit: str) -> str:
    """Format an SI value as a short string in ``unit`` (used by the edges only)."""
    ureg = registry()
    return f"{ureg.Quantity(value, _si_unit_for(unit)).to(unit).magnitude:.6g} {unit}"


def _si_unit_for(unit: str) -> str:
    ureg = registry()
    dim = ureg.Quantity(1, unit).dimensionality
    for dimension, si in SI_UNITS.values():
        if ureg.get_dimensionality(dimension) == dim:
            return si
    raise ValueError(f"no SI unit known for {unit}")
