"""Result objects: plain data (numpy arrays and floats in SI) with JSON/CSV export and plots.

They are filled in by :mod:`sx_model.postprocess`; nothing here computes physics.
"""
from __future__ import annotations

import csv
import io
import math
import json
from dataclasses import dataclass, field

import numpy as np



@dataclass
class ProductResult:
    """One product (outlet) stream.

    Attributes
    ----------
    name : str
        Product name (the outlet's name in the config).
    phase : str
        Phase it leaves in, ``aqueous`` or ``organic``.
    stage : int
        1-based stage it leaves from.
    flow_m3_per_s : float
        Volumetric flow [m^3/s].
    concentration_mol_per_m3 : dict
        Component -> concentration [mol/m^3].
    composition : dict
        Component -> mole fraction among the modeled metals [-].
    key : list of str
        Key components of this product (may be empty).
    purity : float or None
        Mole fraction of the key components among the metals [-]; None without a key.
    recovery : float or None
        Fraction of the key components fed to the cascade that leaves here [-]; None without a key.
    metal_kg_per_h : float
        Metal output [kg/h].
    oxide_kg_per_h : float
        Output as oxides (REO for rare earths) [kg/h].
    """

    name: str
    phase: str
    stage: int
    flow_m3_per_s: float
    concentration_mol_per_m3: dict
    composition: dict
    key: list
    purity: float | None
    recovery: float | None
    metal_kg_per_h: float
    oxide_kg_per_h: float

    def to_dict(self) -> dict:
        return {"phase": self.phase, "stage": self.stage, "flow_m3_per_s": self.flow_m3_per_s,
                "composition": self.composition,
                "concentration_mol_per_m3": self.concentration_mol_per_m3,
                "purity": self.purity, "recovery": self.recovery, "key": list(self.key),
                "metal_kg_per_h": self.metal_kg_per_h, "oxide_kg_per_h": self.oxide_kg_per_h}


@dataclass
class SteadyResult:
    """Steady state of a cascade.

    Attributes
    ----------
    name : str
    converged : bool
        Always True for a returned result (a failed solve raises ConvergenceError).
    iterations : int
    method : str
        ``linear``, ``newton`` or ``newton+pseudo-transient``.
    residual_norm : float
        Final scaled residual (max norm) [-].
    mass_balance : dict
        Component -> relative closure |in - out| / in [-].
    mass_balance_error : float
        Largest relative closure over components [-].
    components : tuple of str
    sections : list of dict
        ``{name, first_stage, stages}`` with 1-based first_stage.
    aqueous, organic : numpy.ndarray
        Concentrations leaving each stage [mol/m^3], shape (N, C).
    aqueous_flow, organic_flow : numpy.ndarray
        Volumetric outflows of each stage [m^3/s], shape (N,).
    products : dict
        Name -> ProductResult.
    warnings : list of str
    model : dict
        Description of the equilibrium model.
    solve_time_s : float
        Wall time of the solve [s].
    cost : CostBreakdown or None
        Annual cost breakdown when the config has a ``cost:`` section.
    reagents : dict
        Acid fed with the liquors (as HCl) and base used for saponification (NaOH or NH3), in mol/h and
        kg/h; for acidity-driven models also the free acid leaving, acid consumed, neutral salt in the
        raffinate and all of it per kg of REO (oxide) in keyed products.
    stage_data : dict
        Per-stage model outputs, arrays (N,): ``ph``, ``loading_fraction`` (organic loading as a
        fraction of capacity), ``free_extractant_mol_per_m3`` (acidity-driven models); may be empty.
    molar_masses, oxide_masses : dict
        Component -> molar mass of the element and oxide mass per mole of element [kg/mol] (for
        plant units).
    feed_stages : list of (str, str, int)
        (stream name, phase, 1-based stage) of every feed (the streams other than organic, scrub
        and strip).
    metal_summary : dict or None
        For a single-key cascade (copper SX): raffinate, loaded and stripped organic, net transfer
        in g/L of the key metal, net transfer per vol% and percent of maximum load where known,
        recovery and acid generated as kg/h H2SO4 (see :func:`sx_model.postprocess.metal_summary`).
    """

    name: str
    converged: bool
    iterations: int
    method: str
    residual_norm: float
    mass_balance: dict
    mass_balance_error: float
    components: tuple
    sections: list
    aqueous: np.ndarray
    organic: np.ndarray
    aqueous_flow: np.ndarray
    organic_flow: np.ndarray
    products: dict
    warnings: list = field(default_factory=list)
    model: dict = field(default_factory=dict)
    solve_time_s: float = 0.0
    cost: object = None
    reagents: dict = field(default_factory=dict)
    stage_data: dict = field(default_factory=dict)
    molar_masses: dict = field(default_factory=dict)
    oxide_masses: dict = field(default_factory=dict)
    feed_stages: list = field(default_factory=list)
    metal_summary: dict | None = None
    cascades: dict | None = None        # a flowsheet's breakdown by cascade (sx_model.flowsheet.breakdown)

    @property
    def stages(self) -> int:
        return int(self.aqueous.shape[0])

    def section_of(self, stage: int) -> str:
        """Section name of a 1-based stage."""
        for sec in self.sections:
            if sec["first_stage"] <= stage < sec["first_stage"] + sec["stages"]:
                return sec["name"]
        raise IndexError(stage)

    def to_dict(self) -> dict:
        """Plain, JSON-ready dict (the contract of ``sx-model run --format json``)."""
        comps = list(self.components)
        stage_sections = [self.section_of(j + 1) for j in range(self.stages)]
        return {
            "name": self.name,
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "method": self.method,
            "residual_norm": float(self.residual_norm),
            "mass_balance_error": float(self.mass_balance_error),
            "mass_balance": {k: float(v) for k, v in self.mass_balance.items()},
            "stages": self.stages,
            "components": comps,
            "sections": self.sections,
            "model": self.model,
            "products": {name: p.to_dict() for name, p in self.products.items()},
            "profiles": {
                "stage": list(range(1, self.stages + 1)),
                "section": stage_sections,
                "aqueous_flow_m3_per_s": self.aqueous_flow.tolist(),
                "organic_flow_m3_per_s": self.organic_flow.tolist(),
                "aqueous_mol_per_m3": {c: self.aqueous[:, i].tolist() for i, c in enumerate(comps)},
                "organic_mol_per_m3": {c: self.organic[:, i].tolist() for i, c in enumerate(comps)},
                **{k: np.asarray(val).tolist() for k, val in self.stage_data.items()
                   if k != "proton_mol_per_m3"},
            },
            "ph": self.stage_data["ph"].tolist() if "ph" in self.stage_data else None,
            "warnings": list(self.warnings),
            "solve_time_s": float(self.solve_time_s),
            "reagents": dict(self.reagents),
            "cost": None if self.cost is None else self.cost.to_dict(),
            **({"metal_summary": dict(self.metal_summary)} if self.metal_summary else {}),
            **({"cascades": self.cascades} if self.cascades else {}),
        }

    def to_json(self, **kwargs) -> str:
        """Strict JSON (non-finite numbers, which JSON cannot hold, written as null)."""
        return json.dumps(finite(self.to_dict()), allow_nan=False, **kwargs)

    def profile_rows(self, units: str = "si") -> list:
        """Stage profile as plain rows (dicts): stage, section, flows, concentrations of both phases
        (SI: m^3/s and mol/m^3; ``units="plant"``: L/min and g/L of element) and the model's per-stage
        outputs."""
        comps = list(self.components)
        plant = _check_units(units) == "plant"
        flow_unit, conc_unit = ("L_per_min", "g_per_L") if plant else ("m3_per_s", "mol_per_m3")
        flow_factor = 60000.0 if plant else 1.0
        mass = np.array([self.molar_masses.get(c, np.nan) for c in comps]) if plant else np.ones(len(comps))
        extra = [k for k in self.stage_data if k != "proton_mol_per_m3"]
        rows = []
        for j in range(self.stages):
            row = {"stage": j + 1, "section": self.section_of(j + 1),
                   f"aqueous_flow_{flow_unit}": float(self.aqueous_flow[j]) * flow_factor,
                   f"organic_flow_{flow_unit}": float(self.organic_flow[j]) * flow_factor}
            row.update({f"aqueous_{c}_{conc_unit}": float(v) for c, v in zip(comps, self.aqueous[j] * mass)})
            row.update({f"organic_{c}_{conc_unit}": float(v) for c, v in zip(comps, self.organic[j] * mass)})
            row.update({k: float(self.stage_data[k][j]) for k in extra})
            rows.append(row)
        return rows

    def product_rows(self, units: str = "si") -> list:
        """One plain row (dict) per product; ``units="plant"`` adds m^3/h, L/min, g/L REO and the
        purity on an oxide (REO) mass basis."""
        plant = _check_units(units) == "plant"
        rows = []
        for name, p in self.products.items():
            row = {"product": name, "phase": p.phase, "stage": p.stage, "key": "+".join(p.key),
                   "purity": p.purity, "recovery": p.recovery, "flow_m3_per_s": p.flow_m3_per_s,
                   "metal_kg_per_h": p.metal_kg_per_h, "oxide_kg_per_h": p.oxide_kg_per_h}
            row.update({f"x_{c}": p.composition[c] for c in self.components})
            if plant:
                oxide = {c: p.concentration_mol_per_m3[c] * self.oxide_masses.get(c, np.nan)
                         for c in self.components}
                total = sum(oxide.values())
                row.update(flow_m3_per_h=p.flow_m3_per_s * 3600.0, flow_L_per_min=p.flow_m3_per_s * 60000.0,
                           reo_g_per_L=total,
                           purity_reo_mass=(sum(oxide[c] for c in p.key) / total) if p.key and total > 0
                           else None)
            rows.append(row)
        return rows

    def to_csv(self, units: str = "si") -> str:
        """Stage profile as a tidy CSV (one header, plain numbers; see :meth:`profile_rows`)."""
        return tidy_csv(self.profile_rows(units))

    def products_csv(self, units: str = "si") -> str:
        """Products as a tidy CSV, one row per product (see :meth:`product_rows`)."""
        return tidy_csv(self.product_rows(units))

    def to_frame(self, units: str = "si"):
        """Stage profile as a pandas DataFrame indexed by stage (pandas: ``pip install sx_model[tables]``)."""
        return _pandas().DataFrame(self.profile_rows(units)).set_index("stage")

    def products_frame(self, units: str = "si"):
        """Products as a pandas DataFrame indexed by product name."""
        return _pandas().DataFrame(self.product_rows(units)).set_index("product")

    def plot(self, path=None, ax=None):
        """Stage concentration profiles of both phases (log scale); see :mod:`sx_model.plotting`."""
        from .plotting import plot_profiles

        return plot_profiles(self, path=path, ax=ax)


UNITS = ("si", "plant")


def _check_units(units):
    if units not in UNITS:
        raise ValueError(f"units {units!r}; expected one of {', '.join(UNITS)}")
    return units


def key_outputs(result):
    """(names, values) of a result's headline figures: purity and recovery of every keyed product
    (``raffinate.purity``, ...) and, with a cost model, ``cost.per_kg_product``."""
    names, values = [], []
    for product in result.products.values():
        if product.key:
            names += [f"{product.name}.purity", f"{product.name}.recovery"]
            values += [product.purity, product.recovery if product.recovery is not None else math.nan]
    if result.cost is not None:
        names.append("cost.per_kg_product")
        values.append(float(result.cost.per_kg_product))
    return names, values


def tidy_csv(rows) -> str:
    """Rows (dicts) as CSV: one header (the union of the rows' keys, in order of appearance), plain
    numbers (floats with every digit), empty cells for None and missing keys."""
    buf = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buf, fieldnames=fields, restval="", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else repr(v) if isinstance(v, float) else v
                             for k, v in row.items()})
    return buf.getvalue()


def finite(value):
    """JSON-safe copy of plain data: non-finite floats become None (JSON has no Infinity or NaN),
    tuples and numpy arrays lists, keys text."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if hasattr(value, "tolist"):
        return finite(value.tolist())
    return value


def _pandas():
    try:
        import pandas
    except ImportError:
        from .errors import SxModelError

        raise SxModelError("tables need pandas, an optional extra: pip install 'sx_model[tables]'") from None
    return pandas
