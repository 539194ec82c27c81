"""From a solved state to a :class:`~sx_model.results.SteadyResult`: the one post-processing step.

Products (purity, recovery, metal and oxide output), reagents, operating guards and cost are all
computed here, from the cascade and the converged concentrations; the reagent accounting and the
operating limits are asked of the model (:meth:`~sx_model.equilibrium.base.EquilibriumModel.reagent_flows`,
:meth:`~sx_model.equilibrium.base.EquilibriumModel.operating_limits`).
"""
from __future__ import annotations

import numpy as np

from .circuit import AQUEOUS, ORGANIC
from .constants import H2SO4, HCL, NAOH, SECONDS_PER_HOUR
from .errors import ConvergenceError
from .results import ProductResult, SteadyResult


def products(cascade, flows, x, y) -> dict:
    """Name -> :class:`ProductResult` for every outlet."""
    comps = tuple(cascade.components)
    circuit = cascade.circuit
    feeds = cascade.feed_totals()
    molar = np.asarray(circuit.molar_masses, dtype=float)
    oxide = np.asarray(circuit.oxide_masses, dtype=float)
    out = {}
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
        out[outlet.name] = ProductResult(
            name=outlet.name, phase=outlet.phase, stage=outlet.stage + 1, flow_m3_per_s=float(flow),
            concentration_mol_per_m3={c: float(v) for c, v in zip(comps, conc)},
            composition={c: float(v) for c, v in zip(comps, composition)}, key=key,
            purity=purity, recovery=recovery,
            metal_kg_per_h=float(flow * conc @ molar * SECONDS_PER_HOUR),
            oxide_kg_per_h=float(flow * conc @ oxide * SECONDS_PER_HOUR))
    return out


def build_steady_result(cascade, flows, x, y, *, closure, iterations, residual_norm, method,
                        solve_time, stage_data=None, model_reagents=None) -> SteadyResult:
    """Assemble the result of a converged solve (products, reagents, guards, cost)."""
    comps = tuple(cascade.components)
    circuit = cascade.circuit
    prods = products(cascade, flows, x, y)
    stage_data = dict(stage_data or {})
    check_plausible(cascade, x, y, prods, stage_data)
    acid = sum(i.flow * max(i.acid, 0.0) for i in circuit.inlets if i.phase == AQUEOUS)   # mol/s H+
    keyed_oxide = sum(p.oxide_kg_per_h for p in prods.values() if p.key)
    warnings = list(cascade.warnings) + stage_warnings(cascade, stage_data)
    info = model_reagents or {}
    base = float(info.get("base_mol_per_s", 0.0))
    if info.get("proton_balance"):
        reagents = acidity_reagents(cascade, flows, stage_data, acid, info, keyed_oxide)
    else:
        reagents = simple_reagents(acid, base, info, keyed_oxide)
    cost = None
    if cascade.cost_parameters is not None:
        from .cost import cascade_cost

        cost = cascade_cost(np.asarray(flows["aqueous"]), np.asarray(flows["organic"]), acid, base,
                            keyed_oxide, cascade.cost_parameters,
                            acid_kg_per_mol=info.get("acid_kg_per_mol", HCL))
    summary = metal_summary(cascade, flows, x, y, prods)
    from .flowsheet import breakdown

    by_cascade = breakdown(cascade, flows, prods, info)
    return SteadyResult(
        name=cascade.name, converged=True, iterations=int(iterations), method=method,
        residual_norm=float(residual_norm),
        mass_balance={c: float(v) for c, v in zip(comps, closure)},
        mass_balance_error=float(np.max(closure)) if closure.size else 0.0,
        components=comps, sections=[_section_entry(s, flows) for s in circuit.sections],
        aqueous=x, organic=y, aqueous_flow=np.asarray(flows["aqueous"], dtype=float),
        organic_flow=np.asarray(flows["organic"], dtype=float), products=prods, warnings=warnings,
        model=cascade.model.describe(), solve_time_s=solve_time, cost=cost, reagents=reagents,
        stage_data=stage_data, molar_masses=dict(zip(comps, map(float, circuit.molar_masses))),
        oxide_masses=dict(zip(comps, map(float, circuit.oxide_masses))),
        feed_stages=[(i.name, i.phase, i.stage + 1) for i in circuit.inlets
                     if i.name not in ("organic", "scrub", "wash", "strip")],
        metal_summary=summary, cascades=by_cascade)


def _section_kind(name: str) -> str:
    """``extraction`` for ``extraction`` and a flowsheet's ``<cascade>.extraction``, and so on."""
    return name.rsplit(".", 1)[-1]


def _organic_into(circuit, flows, y, stage):
    """Organic entering 0-based ``stage`` from other stages and inlets: (flow [m^3/s], load [mol/s] (C,))."""
    from .circuit import ORGANIC

    drawn = circuit.draw_fractions()[ORGANIC]
    flow, load = 0.0, np.zeros(y.shape[1])
    for j in np.flatnonzero(circuit.links[ORGANIC] == stage):
        f = (1.0 - drawn[j]) * flows[ORGANIC][j]
        flow, load = flow + f, load + f * y[j]
    for inlet in circuit.inlets:
        if inlet.phase == ORGANIC and inlet.stage == stage:
            flow, load = flow + inlet.flow, load + inlet.flow * inlet.concentration
    return flow, load


def _loaded_stage(circuit, kinds, strip):
    """The extraction stage whose organic goes on (through wash or scrub stages) to the strip, or,
    without a strip, the one extraction stage whose organic leaves the extraction stages; None if
    there is no single one."""
    from .circuit import ORGANIC

    links = circuit.links[ORGANIC]
    if strip is not None:
        stage, seen = strip.first, set()
        while stage not in seen:
            seen.add(stage)
            feeders = np.flatnonzero(links == stage)
            if feeders.size != 1:
                return None
            stage = int(feeders[0])
            if kinds[stage] == "extraction":
                return stage
        return None
    ends = [j for j in range(links.size) if kinds[j] == "extraction"
            and (links[j] < 0 or kinds[links[j]] != "extraction")]
    return ends[0] if len(ends) == 1 else None


def metal_summary(cascade, flows, x, y, prods) -> dict | None:
    """Plant figures of a single-key cascade or flowsheet (copper SX) in g/L of the key metal, or None.

    Applies when every keyed product has the same single key component and there is at least one
    aqueous raffinate (``raffinate``, or ``<cascade>.raffinate`` in a flowsheet): the raffinate (all
    raffinates mixed, and each one when there are several), loaded organic (leaving the extraction stage
    whose organic goes on to the strip: the last extraction stage of a plain cascade), stripped organic
    (leaving the last strip stage) and net transfer, in g/L; net transfer per vol% of reagent and
    percent of the maximum load where the model knows them; recovery (metal fed with the aqueous
    outside the wash and strip sections minus metal in the raffinates, over metal fed); acid generated
    by extraction as H2SO4 (one H2SO4, two H+, per Cu2+ extracted, i.e. z/2 per metal of charge z);
    for a wash section, what it takes off the organic (every component, kg/h and as a fraction of what
    the organic brought in) and the key metal lost to the wash liquor."""
    keys = {tuple(p.key) for p in prods.values() if p.key}
    raffinates = {name: p for name, p in prods.items()
                  if name.rsplit(".", 1)[-1] == "raffinate" and p.phase == AQUEOUS}
    if len(keys) != 1 or len(next(iter(keys))) != 1 or not raffinates:
        return None
    key = next(iter(keys))[0]
    circuit = cascade.circuit
    comps = list(cascade.components)
    k = comps.index(key)
    molar = float(circuit.molar_masses[k])                      # kg/mol = g/mmol: mol/m^3 x molar = g/L
    molars = np.asarray(circuit.molar_masses, dtype=float)
    charge = float(circuit.charges[k])
    kinds = [_section_kind(circuit.sections[s].name) for s in circuit.section_of_stage()]
    strips = [s for s in circuit.sections if _section_kind(s.name) == "strip"]
    strip = strips[0] if len(strips) == 1 else None
    fed = sum(i.flow * i.concentration[k] for i in circuit.inlets
              if i.phase == AQUEOUS and kinds[i.stage] not in ("strip", "wash"))
    raffinate_flow = sum(p.flow_m3_per_s for p in raffinates.values())
    left = sum(p.flow_m3_per_s * p.concentration_mol_per_m3[key] for p in raffinates.values())
    out = {"key": key, "raffinate_g_per_L": left / raffinate_flow * molar if raffinate_flow > 0 else 0.0}
    if len(raffinates) > 1:
        out["raffinates_g_per_L"] = {name: p.concentration_mol_per_m3[key] * molar
                                     for name, p in raffinates.items()}
    loaded_stage = _loaded_stage(circuit, kinds, strip)
    loaded = None
    if loaded_stage is not None:
        loaded = float(y[loaded_stage, k])
        out["loaded_organic_g_per_L"] = loaded * molar
        out["loaded_organic_stage"] = loaded_stage + 1
        if len(comps) > 1:
            out["loaded_organic_composition_g_per_L"] = {c: float(v) for c, v in
                                                         zip(comps, y[loaded_stage] * molars)}
    if strip is not None:
        stripped = float(y[strip.first + strip.stages - 1, k])
        out["stripped_organic_g_per_L"] = stripped * molar
        if loaded is not None:
            out["net_transfer_g_per_L"] = (loaded - stripped) * molar
        if len(comps) > 1:
            flow_in, into = _organic_into(circuit, flows, y, strip.first)
            out["strip_feed_organic_composition_g_per_L"] = {c: float(v) for c, v in
                                                             zip(comps, into / flow_in * molars)}
    volume = getattr(cascade.model, "volume_percent", None)
    if volume is None and hasattr(cascade.model, "parts"):
        volumes = {getattr(p.model, "volume_percent", None) for p in cascade.model.parts}
        volume = volumes.pop() if len(volumes) == 1 else None
    if volume and "net_transfer_g_per_L" in out:
        out["volume_percent"] = volume
        out["net_transfer_g_per_L_per_volume_percent"] = out["net_transfer_g_per_L"] / volume
    if loaded:
        only_key = np.zeros(len(comps))
        only_key[k] = loaded
        model = cascade.model
        if hasattr(model, "parts"):
            model = next(p.model for p in model.parts if p.first <= loaded_stage < p.first + p.stages)
        used = model.capacity_used(only_key)
        if used:
            out["max_load_g_per_L"] = loaded * molar / used
            out["percent_of_max_load"] = 100.0 * used
    out["recovery"] = (fed - left) / fed if fed > 0 else None
    extracted = fed - left                                     # mol/s of metal moved to the organic
    out["acid_generated_kg_per_h_as_H2SO4"] = extracted * charge / 2.0 * H2SO4 * SECONDS_PER_HOUR
    out["metal_extracted_kg_per_h"] = extracted * molar * SECONDS_PER_HOUR
    washes = [s for s in circuit.sections if _section_kind(s.name) == "wash"]
    if washes:
        out["wash"] = {s.name: _wash_figures(circuit, flows, y, s, comps, molars, k) for s in washes}
    return out


def _wash_figures(circuit, flows, y, wash, comps, molars, k) -> dict:
    """What a wash section takes off the organic: per component kg/h and as a fraction of what the
    organic brought into it; the key metal's loss over what the organic brought in."""
    from .circuit import ORGANIC

    last = wash.first + wash.stages - 1
    _, into = _organic_into(circuit, flows, y, wash.first)
    leaving = flows[ORGANIC][last] * y[last]
    removed = into - leaving                                  # mol/s moved to the wash liquor
    hours = SECONDS_PER_HOUR
    return {"removed_kg_per_h": {c: float(r * m * hours) for c, r, m in zip(comps, removed, molars)},
            "removed_fraction": {c: (float(r / i) if i > 0 else None)
                                 for c, r, i in zip(comps, removed, into)},
            "key_lost_kg_per_h": float(removed[k] * molars[k] * hours),
            "key_lost_fraction": float(removed[k] / into[k]) if into[k] > 0 else None}


#: Slack of the plausibility checks [-] (round-off of converged states is far below it).
PLAUSIBLE_SLACK = 1e-7


def check_plausible(cascade, x, y, prods, stage_data):
    """Refuse a physically impossible state as a solver failure, never a result: finite
    non-negative concentrations, purity and recovery within [0, 1], organic loading within capacity,
    pH within the range where the model holds."""
    problems = []
    scale = max(float(np.max(np.abs(x), initial=0.0)), float(np.max(np.abs(y), initial=0.0)), 1e-300)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        problems.append("concentrations that are not finite")
    elif min(float(x.min(initial=0.0)), float(y.min(initial=0.0))) < -PLAUSIBLE_SLACK * scale:
        problems.append("negative concentrations")
    for name, p in prods.items():
        for what, value in (("purity", p.purity), ("recovery", p.recovery)):
            if value is not None and not (-PLAUSIBLE_SLACK <= value <= 1.0 + PLAUSIBLE_SLACK):
                problems.append(f"{name} {what} {value:.6g} outside 0..1")
    limits = cascade.model.operating_limits()
    load = stage_data.get("loading_fraction")
    if load is not None and cascade.model.internal_count and np.max(load) > 1.0 + PLAUSIBLE_SLACK:
        j = int(np.argmax(load))
        problems.append(f"stage {j + 1} organic loaded to {100 * load[j]:.4g} % of capacity")
    ph = stage_data.get("ph")
    if ph is not None and "ph_admissible" in limits and np.max(ph) > limits["ph_admissible"]:
        j = int(np.argmax(ph))
        problems.append(f"stage {j + 1} at pH {ph[j]:.3g}, beyond pH {limits['ph_admissible']:g} where "
                        "the metals precipitate and the model does not hold")
    if problems:
        raise ConvergenceError(f"steady state of {cascade.name!r} is not physically plausible: "
                               + "; ".join(problems[:3]), residual_norm=float("nan"),
                               best_iterate={"aqueous": x, "organic": y},
                               diagnostics={"implausible": problems})


def simple_reagents(acid, base, info, keyed_oxide) -> dict:
    """Acid fed (as HCl) and saponification base (as NaOH) [mol/h, kg/h], and per kg of keyed REO."""
    base_molar = info.get("base_kg_per_mol", NAOH)
    out = {"acid_mol_per_h": acid * SECONDS_PER_HOUR,
           "acid_kg_per_h_as_HCl": acid * HCL * SECONDS_PER_HOUR,
           "saponification_base_mol_per_h": base * SECONDS_PER_HOUR,
           "saponification_base_kg_per_h_as_NaOH": base * base_molar * SECONDS_PER_HOUR}
    if keyed_oxide > 0:
        out["acid_kg_HCl_per_kg_REO"] = out["acid_kg_per_h_as_HCl"] / keyed_oxide
        out["base_kg_per_kg_REO"] = out["saponification_base_kg_per_h_as_NaOH"] / keyed_oxide
    return out


def acidity_reagents(cascade, flows, stage_data, acid, info, keyed_oxide) -> dict:
    """Acid and base use of an acidity-driven cascade [mol/h, kg/h] and per kg of keyed REO product.

    Acid is counted as H+ (the proton total of the liquors) and weighed as the medium's acid (HCl,
    H2SO4 at 2 H+ per molecule, HNO3); base carried by liquors is reported apart from saponification."""
    hours = SECONDS_PER_HOUR
    base = info["base_mol_per_s"]
    name, molar = info.get("acid", "HCl"), info.get("acid_kg_per_mol", HCL)
    leaving = {}
    protons = stage_data.get("acid_mol_per_m3", stage_data.get("proton_mol_per_m3"))
    for outlet in cascade.circuit.outlets:
        if outlet.phase == AQUEOUS and protons is not None:
            flow = outlet.fraction * flows[AQUEOUS][outlet.stage]
            leaving[outlet.name] = float(flow * protons[outlet.stage])
    liquor_base = sum(i.flow * max(-i.acid, 0.0) for i in cascade.circuit.inlets if i.phase == AQUEOUS)
    consumed = acid - liquor_base - sum(leaving.values())
    out = {"acid": name,
           "acid_fed_mol_per_h": acid * hours,
           f"acid_fed_kg_per_h_as_{name}": acid * molar * hours,
           "free_acid_leaving_mol_per_h": {k: val * hours for k, val in leaving.items()},
           "acid_consumed_mol_per_h": consumed * hours,
           f"acid_consumed_kg_per_h_as_{name}": consumed * molar * hours,
           "base": info["base"],
           "base_mol_per_h": base * hours,
           f"base_kg_per_h_as_{info['base']}": base * info["base_kg_per_mol"] * hours,
           "neutral_salt": info["salt"],
           f"neutral_salt_in_raffinate_kg_per_h_as_{info['salt']}": base * info["salt_kg_per_mol"] * hours,
           # the names the cost model and the simple accounting use
           "acid_mol_per_h": acid * hours,
           "saponification_base_mol_per_h": base * hours}
    if liquor_base > 0:
        out["base_in_liquors_mol_per_h"] = liquor_base * hours
    if keyed_oxide > 0:
        out[f"acid_fed_kg_{name}_per_kg_REO"] = acid * molar * hours / keyed_oxide
        out[f"acid_consumed_kg_{name}_per_kg_REO"] = consumed * molar * hours / keyed_oxide
        out[f"base_kg_{info['base']}_per_kg_REO"] = base * info["base_kg_per_mol"] * hours / keyed_oxide
    if "loading_fraction" in stage_data:
        out["max_loading_fraction"] = float(np.max(stage_data["loading_fraction"]))
    return out


def stage_warnings(cascade, stage_data) -> list:
    """Operating guards on the solved state, from the model's limits: organic loading near capacity,
    pH outside the range of the data behind the model (strip stages, run far below any extraction
    data on purpose, are not checked for pH)."""
    limits = cascade.model.operating_limits()
    warnings = []
    load = stage_data.get("loading_fraction")
    if load is not None and "loading_fraction" in limits:
        top = limits["loading_fraction"]
        high = np.flatnonzero(load > top)
        if high.size:
            warnings.append(f"organic loaded above {100 * top:.0f} % of capacity in "
                            f"{high.size} stage(s) (stage {high[0] + 1}: {100 * load[high[0]]:.1f} %)")
    ph = stage_data.get("ph")
    if ph is not None and "ph" in limits:
        low, high_ph = limits["ph"]
        checked = np.ones(ph.size, dtype=bool)
        for sec in cascade.circuit.sections:
            if _section_kind(sec.name) == "strip":
                checked[sec.first:sec.first + sec.stages] = False
        outside = np.flatnonzero(checked & ((ph < low) | (ph > high_ph)))
        if outside.size:
            j = int(outside[np.argmax(np.abs(ph[outside] - 0.5 * (low + high_ph)))])
            warnings.append(f"equilibrium pH leaves the model's validity range {low:g}..{high_ph:g} in "
                            f"{outside.size} stage(s) (stage {j + 1}: pH {ph[j]:.2f})")
    return warnings


def _section_entry(section, flows) -> dict:
    """A section of the result: name, first stage (1-based), stages and, with a mixer O/A, the
    internal recycle that holds it at the section's first stage."""
    from .cascade import mixer_recycle

    entry = {"name": section.name, "first_stage": section.first + 1, "stages": section.stages}
    recycle = mixer_recycle(section, float(flows[AQUEOUS][section.first]), float(flows[ORGANIC][section.first]))
    if recycle is not None:
        entry.update(recycle)
    return entry
