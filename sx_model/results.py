"""Result objects: plain data (numpy arrays and floats in SI) with JSON/CSV export and plots."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

from .circuit import AQUEOUS
from .elements import element

SECONDS_PER_HOUR = 3600.0


@dataclass
class ProductResult:
    """One product (outlet) stream.

    Attributes
    ----------
    name : str
    phase : str
        ``aqueous`` or ``organic``.
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


def build_steady_result(cascade, flows, x, y, *, closure, iterations, residual_norm, method,
                        solve_time, stage_data=None, model_reagents=None) -> SteadyResult:
    """Assemble a :class:`SteadyResult` from a solved state (used by the solvers)."""
    comps = tuple(cascade.components)
    circuit = cascade.circuit
    feeds = cascade.feed_totals()
    molar = np.array([element(c).molar_mass for c in comps])
    oxide = np.array([element(c).oxide_mass_per_mol_metal for c in comps])
    products = {}
    for outlet in circuit.outlets:
        conc = (x if outlet.phase == AQUEOUS else y)[outlet.stage]
        flow = outlet.fraction * flows[outlet.phase][outlet.stage]
        total = float(conc.sum())
        composition = conc / total if total > 0 else np.zeros_like(conc)
        key = list(cascade.product_keys.get(outlet.name, ()))
        purity = recovery = None
        if key:
            idx = [comps.index(k) for k in key]
            purity = float(composition[idx].sum())
            fed = float(feeds[idx].sum())
            recovery = float(flow * conc[idx].sum() / fed) if fed > 0 else None
        products[outlet.name] = ProductResult(
            name=outlet.name, phase=outlet.phase, stage=outlet.stage + 1, flow_m3_per_s=float(flow),
            concentration_mol_per_m3={c: float(v) for c, v in zip(comps, conc)},
            composition={c: float(v) for c, v in zip(comps, composition)}, key=key,
            purity=purity, recovery=recovery,
            metal_kg_per_h=float(flow * conc @ molar * SECONDS_PER_HOUR),
            oxide_kg_per_h=float(flow * conc @ oxide * SECONDS_PER_HOUR))
    sections = [{"name": s.name, "first_stage": s.first + 1, "stages": s.stages}
                for s in circuit.sections]
    warnings = list(getattr(cascade, "warnings", []) or [])
    stage_data = dict(stage_data or {})
    acid = sum(i.flow * i.acid for i in circuit.inlets if i.phase == AQUEOUS)   # mol/s H+
    keyed_oxide = sum(p.oxide_kg_per_h for p in products.values() if p.key)
    warnings += _stage_warnings(cascade, stage_data)
    if model_reagents is not None:
        base = model_reagents["base_mol_per_s"]
        reagents = _reagents(cascade, products, flows, stage_data, acid, model_reagents, keyed_oxide)
    else:
        capacity = getattr(cascade.model, "capacity", None)
        fresh = sum(i.flow for i in circuit.inlets if i.name == "organic")
        base = 3.0 * capacity * fresh if capacity else 0.0                    # mol/s NaOH
        reagents = {"acid_mol_per_h": acid * SECONDS_PER_HOUR,
                    "acid_kg_per_h_as_HCl": acid * HCL_KG_PER_MOL * SECONDS_PER_HOUR,
                    "saponification_base_mol_per_h": base * SECONDS_PER_HOUR,
                    "saponification_base_kg_per_h_as_NaOH": base * NAOH_KG_PER_MOL * SECONDS_PER_HOUR}
        if keyed_oxide > 0:
            reagents["acid_kg_HCl_per_kg_REO"] = reagents["acid_kg_per_h_as_HCl"] / keyed_oxide
            reagents["base_kg_per_kg_REO"] = reagents["saponification_base_kg_per_h_as_NaOH"] / keyed_oxide
    cost = None
    if cascade.cost_parameters is not None:
        from .cost import cascade_cost

        cost = cascade_cost(np.asarray(flows["aqueous"]), np.asarray(flows["organic"]), acid, base,
                            keyed_oxide, cascade.cost_parameters)
    result = SteadyResult(
        name=cascade.name, converged=True, iterations=int(iterations), method=method,
        residual_norm=float(residual_norm),
        mass_balance={c: float(v) for c, v in zip(comps, closure)},
        mass_balance_error=float(np.max(closure)) if closure.size else 0.0,
        components=comps, sections=sections, aqueous=x, organic=y,
        aqueous_flow=np.asarray(flows["aqueous"], dtype=float),
        organic_flow=np.asarray(flows["organic"], dtype=float),
        products=products, warnings=warnings, model=cascade.model.describe(), solve_time_s=solve_time,
        cost=cost, reagents=reagents, stage_data=stage_data)
    return result


#: Molar masses of reagents [kg/mol] (CIAAW 2021 atomic weights: H 1.008, Cl 35.45, Na 22.990, O 15.999).
HCL_KG_PER_MOL = 0.036458
NAOH_KG_PER_MOL = 0.039997
#: Organic loading above which a stage is flagged [-] (fraction of capacity).
LOADING_WARNING = 0.95


def _reagents(cascade, products, flows, stage_data, acid, info, keyed_oxide):
    """Acid and base use of an acidity-driven cascade [mol/h, kg/h] and per kg of keyed REO product."""
    hours = SECONDS_PER_HOUR
    base = info["base_mol_per_s"]
    leaving = {}
    protons = stage_data.get("proton_mol_per_m3")
    for outlet in cascade.circuit.outlets:
        if outlet.phase == AQUEOUS and protons is not None:
            flow = outlet.fraction * flows[AQUEOUS][outlet.stage]
            leaving[outlet.name] = float(flow * protons[outlet.stage])
    acid_out = sum(leaving.values())
    out = {"acid_fed_mol_per_h": acid * hours,
           "acid_fed_kg_per_h_as_HCl": acid * HCL_KG_PER_MOL * hours,
           "free_acid_leaving_mol_per_h": {k: val * hours for k, val in leaving.items()},
           "acid_consumed_mol_per_h": (acid - acid_out) * hours,
           "acid_consumed_kg_per_h_as_HCl": (acid - acid_out) * HCL_KG_PER_MOL * hours,
           "base": info["base"],
           "base_mol_per_h": base * hours,
           f"base_kg_per_h_as_{info['base']}": base * info["base_kg_per_mol"] * hours,
           "neutral_salt": info["salt"],
           f"neutral_salt_in_raffinate_kg_per_h_as_{info['salt']}": base * info["salt_kg_per_mol"] * hours,
           # keep the names the cost model and older results use
           "acid_mol_per_h": acid * hours,
           "saponification_base_mol_per_h": base * hours}
    if keyed_oxide > 0:
        out["acid_fed_kg_HCl_per_kg_REO"] = acid * HCL_KG_PER_MOL * hours / keyed_oxide
        out["acid_consumed_kg_HCl_per_kg_REO"] = (acid - acid_out) * HCL_KG_PER_MOL * hours / keyed_oxide
        out[f"base_kg_{info['base']}_per_kg_REO"] = base * info["base_kg_per_mol"] * hours / keyed_oxide
    if "loading_fraction" in stage_data:
        out["max_loading_fraction"] = float(np.max(stage_data["loading_fraction"]))
    return out


def _stage_warnings(cascade, stage_data):
    """Operating guards on the solved state: organic loading near capacity, pH outside the data's range."""
    warnings = []
    load = stage_data.get("loading_fraction")
    # (the separation_factor model saturates the organic by assumption: nothing to warn about)
    if load is not None and getattr(cascade.model, "internal_count", 0):
        high = np.flatnonzero(load > LOADING_WARNING)
        if high.size:
            warnings.append(f"organic loaded above {100 * LOADING_WARNING:.0f} % of capacity in "
                            f"{high.size} stage(s) (stage {high[0] + 1}: {100 * load[high[0]]:.1f} %)")
    ph = stage_data.get("ph")
    validity = getattr(cascade.model, "ph_validity", None)
    if ph is not None and validity is not None:
        low, high_ph = validity
        # strip stages run far below any extraction data on purpose (D ~ 0 there); not flagged
        strip = cascade.circuit.section("strip")
        checked = np.ones(ph.size, dtype=bool)
        if strip is not None:
            checked[strip.first:strip.first + strip.stages] = False
        outside = np.flatnonzero(checked & ((ph < low) | (ph > high_ph)))
        if outside.size:
            j = int(outside[np.argmax(np.abs(ph[outside] - 0.5 * (low + high_ph)))])
            warnings.append(f"equilibrium pH leaves the model's validity range {low:g}..{high_ph:g} in "
                            f"{outside.size} stage(s) (stage {j + 1}: pH {ph[j]:.2f})")
    return warnings
