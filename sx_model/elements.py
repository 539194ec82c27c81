"""Element data (molar masses, ionic charges, oxide formulas), read from ``data/elements.yaml``.

Every value in the data file carries its source; see that file.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Element:
    """One element as used in SX liquors.

    Attributes
    ----------
    symbol : str
    molar_mass : float
        [kg/mol]
    charge : int
        Charge of the aqueous ion [-].
    oxide : str
        Oxide formula in which the element is reported (``Pr6O11``).
    oxide_mass_per_mol_metal : float
        Mass of oxide per mole of metal [kg/mol].
    group : str
    """

    symbol: str
    name: str
    atomic_number: int
    molar_mass: float
    charge: int
    oxide: str
    oxide_mass_per_mol_metal: float
    group: str

    @property
    def is_ree(self) -> bool:
        return self.group.endswith("ree")


_FORMULA = re.compile(r"^([A-Z][a-z]?)(\d*)O(\d*)$")


@functools.lru_cache(maxsize=1)
def elements() -> dict[str, Element]:
    """Return all known elements keyed by symbol."""
    import yaml

    text = resources.files("sx_model").joinpath("data/elements.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    oxygen = float(data["oxygen_molar_mass"]["value"]) * 1e-3
    table = {}
    for symbol, entry in data["elements"].items():
        molar_mass = float(entry["molar_mass"]) * 1e-3
        match = _FORMULA.match(entry["oxide"])
        if not match or match.group(1) != symbol:
            raise ValueError(f"elements.yaml: bad oxide formula {entry['oxide']!r} for {symbol}")
        metal_atoms = int(match.group(2) or 1)
        oxygen_atoms = int(match.group(3) or 1)
        oxide_per_metal = molar_mass + oxygen * oxygen_atoms / metal_atoms
        table[symbol] = Element(symbol, entry["name"], int(entry["atomic_number"]), molar_mass,
                                int(entry["charge"]), entry["oxide"], oxide_per_metal, entry["group"])
    return table


def element(symbol: str) -> Element:
    """Return one element; raises KeyError listing the valid symbols."""
    table = elements()
    try:
        return table[symbol]
    except KeyError:
        raise KeyError(f"unknown element {symbol!r}; known: {', '.join(table)}") from None
