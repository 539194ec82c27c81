"""The small unit registry (sx_model/data/units.txt) agrees with pint's full default registry on every
unit it defines, and anything else falls back to the full registry."""
from __future__ import annotations

import pint
import pytest

from sx_model.config.units import full_registry, registry, to_si

SI = {"[length]": "m", "[time]": "s", "[mass]": "kg", "[substance]": "mol", "[temperature]": "K",
      "[currency]": "USD"}


def _si_unit(quantity):
    return " * ".join(f"{SI[d]} ** {p}" for d, p in quantity.dimensionality.items()) or "dimensionless"


def test_every_unit_of_the_small_registry_equals_pints_default():
    small = registry()
    default = pint.UnitRegistry(cache_folder=None)
    default.define("USD = [currency]")
    checked = 0
    for name in small._units:
        if name in ("M", "molar", "mM", "millimolar", "ppm_w", "ppm_wt", "USD"):
            continue                            # sx_model's own abbreviations, defined in both registries
        a, b = small.Quantity(1.0, name), default.Quantity(1.0, name)
        target = _si_unit(a)
        assert a.to(target).magnitude == b.to(target).magnitude, name
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("text,kind", [("2 L/min", "flow"), ("1.5 m^3/h", "flow"), ("0.2 mol/L", "concentration"),
                                       ("5 mmol/L", "concentration"), ("0.3 M", "concentration"),
                                       ("25 g/L", "mass_concentration"), ("3 min", "time"),
                                       ("0.1 USD/kWh", "price_per_energy"), ("1 kW/m^3", "power_density"),
                                       ("-21.93 kJ/mol", "molar_energy"), ("306 g/mol", "molar_mass"),
                                       ("15 year", "years"), ("8000 h", "hours"), ("3 m^3/(m^2 h)", "specific_flow")])
def test_common_config_values_convert_as_pints_full_registry_does(text, kind):
    from sx_model.config.units import SI_UNITS

    value = to_si(text, kind, "key")
    expected = full_registry().Quantity(text.replace("^", "**")).to(SI_UNITS[kind][1]).magnitude
    assert value == pytest.approx(expected, rel=1e-15)


def test_units_the_small_registry_lacks_come_from_the_full_one():
    assert to_si("2 gal/min", "flow", "k") == pytest.approx(2 * 3.785411784e-3 / 60, rel=1e-14)
    assert to_si("5 USD/lb", "price_per_kg", "k") == pytest.approx(5 / 0.45359237, rel=1e-14)
