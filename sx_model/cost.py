"""Cost of a mixer-settler cascade: capital by stage count and size, solvent inventory, reagents.

Pure functions on SI floats. Every default in :data:`DEFAULTS` carries its source or is marked as an
assumption; a config's ``cost:`` section overrides any of them (values with units).

Capital: each stage is a mixer (volume = total flow x residence time) and a settler (area = total flow
/ specific settler flow, volume = area x depth). Installed cost per stage follows the six-tenths rule
from a reference stage (Peters, Timmerhaus and West, Plant Design and Economics for Chemical Engineers,
5th ed., McGraw-Hill 2003, ch. 6), annualised with the capital recovery factor
i (1 + i)^L / ((1 + i)^L - 1).
"""
from __future__ import annotations

from dataclasses import dataclass

from .constants import HCL, NAOH, SECONDS_PER_HOUR

#: name -> (default in SI, kind for unit parsing, source or "assumption: ...")
DEFAULTS = {
    "mixer_residence_time": (180.0, "time", "assumption: mixer-settler mixing times are a few minutes (3 min taken)"),
    "settler_specific_flow": (4.0 / 3600.0, "specific_flow",
                              "assumption: 4 m^3/(m^2 h), within the 3-6 m^3/(m^2 h) of SX settler design"),
    "settler_depth": (1.0, "length", "assumption: 1 m of dispersion + both phases"),
    "reference_stage_volume": (1.0, "volume", "assumption: 1 m^3 total mixer + settler volume"),
    "reference_stage_cost": (30000.0, "money", "assumption: 30 000 USD installed for a 1 m^3 stage"),
    "scale_exponent": (0.6, "number", "six-tenths rule (Peters, Timmerhaus and West 2003)"),
    "interest_rate": (0.08, "number", "assumption: 8 %/yr"),
    "lifetime": (15.0, "years", "assumption: 15 yr"),
    "operating_hours": (8000.0, "hours", "assumption: 8000 h/yr"),
    "extractant_concentration": (1500.0, "concentration", "configs: 1.5 mol/L P507 (about 50 vol%)"),
    "extractant_molar_mass": (0.3064, "molar_mass", "P507, C16H35O3P (derived from the formula)"),
    "extractant_price": (5.0, "price_per_kg", "assumption: 5 USD/kg P507"),
    "diluent_density": (800.0, "mass_concentration", "kerosene about 0.8 kg/L (reference handbook value)"),
    "diluent_price": (1.0, "price_per_kg", "assumption: 1 USD/kg kerosene"),
    "acid_price": (0.25, "price_per_kg", "assumption: 0.25 USD/kg HCl (as 100 %)"),
    "base_price": (0.45, "price_per_kg", "assumption: 0.45 USD/kg NaOH (as 100 %)"),
    "entrainment": (50e-6, "number", "assumption: 50 ppm of organic lost with the aqueous"),
    "mixer_power": (1000.0, "power_density", "assumption: 1 kW per m^3 of mixer"),
    "electricity_price": (0.1 / 3.6e6, "price_per_energy", "assumption: 0.10 USD/kWh"),
    "labour_per_stage": (1000.0 / (8000.0 * 3600.0), "money_rate", "assumption: 1000 USD/yr per stage"),
}



def default_parameters() -> dict:
    """Every cost parameter at its default (SI)."""
    return {name: default for name, (default, _, _) in DEFAULTS.items()}


def capital_recovery_factor(rate, years):
    """Capital recovery factor i (1 + i)^L / ((1 + i)^L - 1) [1/yr]; 1/L at i = 0."""
    if rate == 0:
        return 1.0 / years
    growth = (1.0 + rate) ** years
    return rate * growth / (growth - 1.0)


def stage_volumes(total_flow, p):
    """(mixer, settler) volume of one stage [m^3] for the total (aqueous + organic) flow [m^3/s]."""
    mixer = total_flow * p["mixer_residence_time"]
    settler = total_flow / p["settler_specific_flow"] * p["settler_depth"]
    return mixer, settler


def stage_cost(volume, p):
    """Installed cost of one stage by the six-tenths rule [USD]."""
    return p["reference_stage_cost"] * (volume / p["reference_stage_volume"]) ** p["scale_exponent"]


def organic_price_per_m3(p):
    """Price of one m^3 of organic (extractant + diluent) [USD/m^3]."""
    extractant_kg = p["extractant_concentration"] * p["extractant_molar_mass"]      # kg/m^3
    extractant_volume = extractant_kg / 950.0    # P507 density about 0.95 kg/L (reference value)
    diluent_kg = max(0.0, 1.0 - extractant_volume) * p["diluent_density"]
    return extractant_kg * p["extractant_price"] + diluent_kg * p["diluent_price"]


@dataclass
class CostBreakdown:
    """Annual cost items [USD/yr], their total, and per kg of oxide product [USD/kg]."""

    items: dict
    total_per_year: float
    product_oxide_kg_per_year: float
    per_kg_product: float
    capital_installed: float
    solvent_inventory_m3: float
    acid_kg_per_h: float
    base_kg_per_h: float

    def to_dict(self):
        return {"items_usd_per_year": self.items, "total_usd_per_year": self.total_per_year,
                "product_oxide_kg_per_year": self.product_oxide_kg_per_year,
                "usd_per_kg_product": self.per_kg_product, "capital_installed_usd": self.capital_installed,
                "solvent_inventory_m3": self.solvent_inventory_m3, "acid_kg_per_h": self.acid_kg_per_h,
                "base_kg_per_h": self.base_kg_per_h}


def cascade_cost(aqueous_flow, organic_flow, acid_mol_per_s, base_mol_per_s, product_oxide_kg_per_h, p,
                 acid_kg_per_mol=None):
    """Cost of a cascade from its stage flows.

    Parameters
    ----------
    aqueous_flow, organic_flow : sequence of float
        Outflow of each stage [m^3/s].
    acid_mol_per_s : float
        Acid fed (scrub and strip liquors) as H+ [mol/s].
    base_mol_per_s : float
        Base used to saponify the organic (as NaOH) [mol/s].
    product_oxide_kg_per_h : float
        Oxide output of the keyed products [kg/h].
    p : dict
        Parameters (:data:`DEFAULTS` overridden by the config).
    acid_kg_per_mol : float or None
        Mass of the medium's acid per mol of H+ it supplies [kg/mol] (None: HCl).
    """
    hours = p["operating_hours"]
    seconds = hours * SECONDS_PER_HOUR
    capital = mixer_total = solvent = 0.0
    for aq, org in zip(aqueous_flow, organic_flow):
        total = aq + org
        mixer, settler = stage_volumes(total, p)
        capital += stage_cost(mixer + settler, p)
        mixer_total += mixer
        solvent += (mixer + settler) * org / total
    crf = capital_recovery_factor(p["interest_rate"], p["lifetime"])
    organic_price = organic_price_per_m3(p)
    aqueous_out = aqueous_flow[0]
    acid_kg_h = acid_mol_per_s * (HCL if acid_kg_per_mol is None else acid_kg_per_mol) * SECONDS_PER_HOUR
    base_kg_h = base_mol_per_s * NAOH * SECONDS_PER_HOUR
    items = {
        "capital": capital * crf,
        "solvent_inventory": solvent * organic_price * crf,
        "acid": acid_kg_h * hours * p["acid_price"],
        "base": base_kg_h * hours * p["base_price"],
        "solvent_losses": p["entrainment"] * aqueous_out * seconds * organic_price,
        "mixer_power": p["mixer_power"] * mixer_total * seconds * p["electricity_price"],
        "labour": p["labour_per_stage"] * len(aqueous_flow) * seconds,
    }
    total = sum(items.values())
    product = product_oxide_kg_per_h * hours
    return CostBreakdown(items=items, total_per_year=total, product_oxide_kg_per_year=product,
                         per_kg_product=total / product if product > 0 else float("inf"),
                         capital_installed=capital, solvent_inventory_m3=solvent,
                         acid_kg_per_h=acid_kg_h, base_kg_per_h=base_kg_h)
