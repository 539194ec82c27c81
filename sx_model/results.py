"""Result objects: plain data (numpy arrays and floats in SI) with JSON/CSV export and plots.

They are filled in by :mod:`sx_model.postprocess`; nothing here computes physics.
"""
from __future__ import annotations

import csv
import io
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
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def to_csv(self) -> str:
        """Stage profile as CSV: stage, section, flows, then aqueous and organic concentrations."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        comps = list(self.components)
        extra = [k for k in self.stage_data if k != "proton_mol_per_m3"]
        writer.writerow(["stage", "section", "aqueous_flow_m3_per_s", "organic_flow_m3_per_s"]
                        + [f"aqueous_{c}_mol_per_m3" for c in comps]
                        + [f"organic_{c}_mol_per_m3" for c in comps] + extra)
        for j in range(self.stages):
            writer.writerow([j + 1, self.section_of(j + 1), repr(float(self.aqueous_flow[j])),
                             repr(float(self.organic_flow[j]))]
                            + [repr(float(v)) for v in self.aqueous[j]]
                            + [repr(float(v)) for v in self.organic[j]]
                            + [repr(float(self.stage_data[k][j])) for k in extra])
        return buf.getvalue()

    def products_csv(self) -> str:
        """Products as CSV: one row per product."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        comps = list(self.components)
        writer.writerow(["product", "phase", "stage", "flow_m3_per_s", "key", "purity", "recovery",
                         "metal_kg_per_h", "oxide_kg_per_h"] + [f"x_{c}" for c in comps])
        for name, p in self.products.items():
            writer.writerow([name, p.phase, p.stage, repr(p.flow_m3_per_s), "+".join(p.key),
                             "" if p.purity is None else repr(p.purity),
                             "" if p.recovery is None else repr(p.recovery),
                             repr(p.metal_kg_per_h), repr(p.oxide_kg_per_h)]
                            + [repr(p.composition[c]) for c in comps])
        return buf.getvalue()

    def plot(self, path=None, ax=None):
        """Stage concentration profiles of both phases (log scale); see :mod:`sx_model.plotting`."""
        from .plotting import plot_profiles

        return plot_profiles(self, path=path, ax=ax)
