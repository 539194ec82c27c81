"""Readers and writers of the ``equilibrium`` section: one entry per model of the equilibrium registry.

Each :class:`ModelSpec` names the keys a model accepts, a ``read`` that turns the mapping into the
model object (SI floats, every check that needs only the input) and a ``write`` that turns a model
back into a mapping that ``read`` accepts (for :func:`sx_model.config.to_config`). Adding a model is
one class in :mod:`sx_model.equilibrium`, one line in its ``REGISTRY`` and one entry in :data:`SPECS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..constants import PER_LITRE
from ..errors import ConfigError
import numpy as np

from . import checks as v
from . import chemistry as chem


@dataclass(frozen=True)
class ModelSpec:
    """How one equilibrium model is read from and written to a config."""

    keys: frozenset
    read: Callable          # (mapping, components, key, section_names, charges) -> model
    write: Callable         # model -> mapping (without "model")


#: Bounds of dimensionless model constants (far outside anything measured; beyond them the numbers
#: only produce overflow): D, separation factors, log10 K and pH-correlation intercepts, slopes.
MAX_D = 1e9
BETA_RANGE = (1e-12, 1e12)
LOG10_K_RANGE = (-40.0, 40.0)
MAX_SLOPE = 6.0


def _beta(raw, sub):
    return v.number(raw, sub, minimum=BETA_RANGE[0], maximum=BETA_RANGE[1],
                    what=f"a separation factor from {BETA_RANGE[0]:g} to {BETA_RANGE[1]:g} [-]")


def _log10(raw, sub, what="log10 K"):
    low, high = LOG10_K_RANGE
    return v.number(raw, sub, minimum=low, maximum=high, what=f"{what} (a number from {low:g} to {high:g})")


def si_text(value, unit):
    """An SI float written back with its unit (repr keeps every digit)."""
    return f"{float(value)!r} {unit}"


def _section_name(name, key, section_names):
    """A per-section key must name a section of the cascade."""
    if name not in section_names:
        raise ConfigError(v.join(key, name), f"no section {name!r} in this cascade; sections: "
                                            f"{', '.join(section_names)}")


# -- constant_d -------------------------------------------------------------------------------------

def read_d(raw, sub):
    return v.number(raw, sub, minimum=0.0, maximum=MAX_D, what=f"a distribution ratio D from 0 to {MAX_D:g} [-]")


def _read_constant_d(mapping, components, key, section_names, charges):
    from ..equilibrium.constant_d import ConstantD

    if "distribution" not in mapping:
        raise ConfigError(v.join(key, "distribution"), "required for model constant_d: a mapping "
                                                        "component -> distribution ratio D [-]")
    dist = v.component_values(mapping["distribution"], v.join(key, "distribution"), components,
                              read=read_d)
    base = [dist[c] for c in components]
    by_section = {}
    sub = v.join(key, "distribution_by_section")
    for name, values in v.mapping(mapping.get("distribution_by_section") or {}, sub).items():
        _section_name(name, sub, section_names)
        given = v.component_values(values, v.join(sub, name), components, read=read_d,
                                   require_all=False)
        by_section[name] = [given.get(c, base[k]) for k, c in enumerate(components)]
    return ConstantD(components, base, by_section)


def _write_constant_d(model):
    out = {"distribution": dict(zip(model.components, model.base.tolist()))}
    if model.by_section:
        out["distribution_by_section"] = {k: dict(zip(model.components, val.tolist()))
                                          for k, val in model.by_section.items()}
    return out


# -- separation_factor ------------------------------------------------------------------------------

def _read_separation_factor(mapping, components, key, section_names, charges):
    from ..equilibrium.separation_factor import DEFAULT_HALF_LOADING, SeparationFactor

    for name in ("separation_factors", "capacity"):
        if name not in mapping:
            raise ConfigError(v.join(key, name), "required for model separation_factor")
    for name in ("wash", "strip"):
        if name in section_names:
            raise ConfigError(f"sections.{name}", f"the separation_factor model describes extraction "
                                                  f"and scrub only; model a {name} section with "
                                                  "constant_d (distribution_by_section) or mass_action")
    not_trivalent = [c for c, z in zip(components, charges) if z != 3]
    if not_trivalent:
        raise ConfigError("components", f"{not_trivalent[0]} (charge {charges[components.index(not_trivalent[0])]}) "
                                        "in a separation_factor cascade; expected trivalent rare earths only "
                                        "(the model exchanges 3 H+ per metal), or the mass_action model")
    beta = v.component_values(mapping["separation_factors"], v.join(key, "separation_factors"),
                              components, read=_beta)
    capacity = v.quantity(mapping["capacity"], "concentration", v.join(key, "capacity"), positive=True)
    half = DEFAULT_HALF_LOADING
    if "half_loading" in mapping:
        half = v.quantity(mapping["half_loading"], "concentration", v.join(key, "half_loading"),
                          positive=True)
    enthalpy, t_ref = chem.read_enthalpies(mapping, key, components)
    return SeparationFactor(components, [beta[c] for c in components], capacity, half, enthalpy, t_ref)


def _write_separation_factor(model):
    out = {"separation_factors": dict(zip(model.components, model.separation_factors.tolist())),
           "capacity": si_text(model.capacity, "mol/m**3"), "half_loading": si_text(model.half_loading, "mol/m**3")}
    return out | chem.write_enthalpies(model)


# -- cation exchange: mass_action, ph_correlation and dosage_correlation ----------------------------

def _read_ph_validity(mapping, key, default):
    if "ph_validity" not in mapping:
        return default
    sub = v.join(key, "ph_validity")
    raw = mapping["ph_validity"]
    if not isinstance(raw, list) or len(raw) != 2:
        raise ConfigError(sub, f"{raw!r}; expected [low, high] pH")
    low = v.number(raw[0], f"{sub}[0]", what="a pH")
    high = v.number(raw[1], f"{sub}[1]", what="a pH")
    if not low < high:
        raise ConfigError(sub, f"{raw!r}; expected low < high")
    return (low, high)


def _cation_exchange(cls, mapping, key, components, charges, system, intercept, sources, common,
                     ph_slope, extractant_order, **extra):
    """The model from per-component constants and the shared options of :mod:`.chemistry`."""
    validity = _read_ph_validity(mapping, key, system.ph_validity if system is not None else (0.0, 6.0))
    return cls(components, charges, intercept, ph_slope, extractant_order, ph_validity=validity,
               sources=sources, system=system.key if system is not None else None,
               **common["kwargs"], **extra)


def _system(mapping, key):
    from . import systems

    if "system" not in mapping:
        return None
    return systems.get(mapping["system"], v.join(key, "system"))


def _from_system(system, components, what):
    """({component: value}, {component: source}) of a named system's ``log_k`` or ``ph_correlation``."""
    values, sources = {}, {}
    for comp in components if system is not None else ():
        found = getattr(system, what)(comp)
        if found is not None:
            values[comp], sources[comp] = found
    return values, sources


def _separation_factor_constants(mapping, key, components, system):
    """log10 K (and sources) from separation factors on the scale of a reference constant."""
    beta, beta_source = {}, {}
    if system is not None:
        for el, entry in (system.data.get("separation_factors") or {}).items():
            beta[el], beta_source[el] = float(entry["value"]), system.key
    if "separation_factors" in mapping:
        # with a system, the config's values replace the system's on the same scale (relative to the
        # system's reference element, as `sx-model systems NAME` lists them)
        given = v.component_values(mapping["separation_factors"], v.join(key, "separation_factors"),
                                   components, require_all=False, read=_beta)
        for el, b in given.items():
            beta[el], beta_source[el] = b, "config"
    if "reference" in mapping:
        ref_key = v.join(key, "reference")
        ref = v.mapping(mapping["reference"], ref_key)
        v.check_keys(ref, ref_key, {"element", "log10_k"}, required=("element", "log10_k"))
        ref_el, ref_source = ref["element"], "config"
        ref_k = _log10(ref["log10_k"], v.join(ref_key, "log10_k"))
    elif system is not None and system.data.get("log_k_reference"):
        ref_data = system.data["log_k_reference"]
        ref_el, ref_k, ref_source = ref_data["element"], float(ref_data["value"]), system.key
    else:
        raise ConfigError(v.join(key, "reference"), "required with separation_factors: "
                                                    "{element, log10_k}, the constant that fixes the "
                                                    "scale of the factors")
    if ref_el not in beta:
        raise ConfigError(v.join(key, "reference.element"),
                          f"{ref_el!r}; expected an element with a separation factor "
                          f"({', '.join(beta) or 'none given'})")
    log_k, sources = {}, {}
    for comp in components:
        if comp in beta:
            log_k[comp] = ref_k + math.log10(beta[comp] / beta[ref_el])
            sources[comp] = (f"separation factor {comp}/{ref_el} ({beta_source[comp]}), "
                             f"reference log10 K_{ref_el} ({ref_source})")
    return log_k, sources


def _read_mass_action(mapping, components, key, section_names, charges):
    from ..equilibrium.cation_exchange import MassAction

    system = _system(mapping, key)
    log_k, sources = _from_system(system, components, "log_k")
    if "separation_factors" in mapping or "reference" in mapping:
        more_k, more_sources = _separation_factor_constants(mapping, key, components, system)
        log_k.update(more_k)
        sources.update(more_sources)
    if "log10_k" in mapping:
        given = v.component_values(mapping["log10_k"], v.join(key, "log10_k"), components,
                                   require_all=False,
                                   read=_log10)
        for comp, value in given.items():
            log_k[comp], sources[comp] = value, "config"
    missing = [c for c in components if c not in log_k]
    if missing:
        if system is not None:
            covered = " ".join(system.coverage()["log_k"]) or "none"
            hint = (f"system {system.key!r} has no sourced constant for it (it covers {covered}); give "
                    f"log10_k.{missing[0]} (e.g. fitted with `sx-model fit`) or separation_factors.{missing[0]} "
                    f"on the system's scale (see `sx-model systems {system.key}`)")
        else:
            hint = "give log10_k, separation_factors + reference, or a system"
        raise ConfigError(f"{v.join(key, 'log10_k')}.{missing[0]}", f"log10 K missing for {missing[0]}; {hint}")
    common = chem.read_common(mapping, key, components, charges, system)
    kw = common["kwargs"]
    # ideal mass action: the pH slope is the protons released, the order the extractant units bound
    slope = [common["ph_slope"].get(c, kw["protons"][i]) for i, c in enumerate(components)]
    order = [common["extractant_order"].get(c, kw["stoichiometry"][i]) for i, c in enumerate(components)]
    return _cation_exchange(MassAction, mapping, key, components, charges, system,
                            [log_k[c] for c in components], sources, common, slope, order)


CORRELATION_KEYS = frozenset({"slope", "intercept", "extractant_order", "at"})


def _read_correlation(body, ckey):
    body = v.mapping(body, ckey)
    v.check_keys(body, ckey, CORRELATION_KEYS, required=("slope", "intercept"))
    entry = {"slope": v.number(body["slope"], v.join(ckey, "slope"), minimum=0.0, maximum=MAX_SLOPE,
                               what=f"a slope d log10 D / d pH from 0 to {MAX_SLOPE:g}"),
             "intercept": _log10(body["intercept"], v.join(ckey, "intercept"), "log10 D at pH 0"),
             "extractant_order": v.number(body.get("extractant_order", 0.0),
                                          v.join(ckey, "extractant_order"), minimum=-MAX_SLOPE,
                                          maximum=MAX_SLOPE,
                                          what=f"an order from {-MAX_SLOPE:g} to {MAX_SLOPE:g}")}
    if "at" in body:
        entry["at"] = v.quantity(body["at"], "concentration", v.join(ckey, "at"), positive=True)
    return entry


def _read_ph_correlation(mapping, components, key, section_names, charges):
    from ..equilibrium.cation_exchange import PhCorrelation

    system = _system(mapping, key)
    common = chem.read_common(mapping, key, components, charges, system)
    conc, association = common["kwargs"]["extractant"], common["kwargs"]["association"]
    entries, sources = _from_system(system, components, "ph_correlation")
    sub = v.join(key, "correlations")
    for comp, body in v.mapping(mapping.get("correlations") or {}, sub).items():
        ckey = v.join(sub, comp)
        if comp not in components:
            raise ConfigError(ckey, f"{comp!r} is not one of the components ({', '.join(components)})")
        entries[comp], sources[comp] = _read_correlation(body, ckey), "config"
    missing = [c for c in components if c not in entries]
    if missing:
        raise ConfigError(v.join(sub, missing[0]), f"no pH correlation for {missing[0]}; expected "
                                                   "{slope, intercept}")
    slope, intercept, order = [], [], []
    for comp in components:
        e = entries[comp]
        n_i = e.get("extractant_order", 0.0)
        slope.append(e["slope"])
        order.append(n_i)
        # log10 D = a pH + b + n log10(f / f_at) = b - a log10[H+] + n log10 f - n log10 f_at
        intercept.append(e["intercept"] - n_i * math.log10(e.get("at", conc) / association / PER_LITRE))
    return _cation_exchange(PhCorrelation, mapping, key, components, charges, system, intercept, sources,
                            common, slope, order)


DOSAGE_KEYS = frozenset({"m0", "m1", "b0", "b1"})


def _read_dosage_correlation(mapping, components, key, section_names, charges):
    from ..equilibrium.cation_exchange import DosageCorrelation

    system = _system(mapping, key)
    common = chem.read_common(mapping, key, components, charges, system)
    kw = common["kwargs"]
    for need in ("molar_mass", "density"):
        if kw[need] is None:
            raise ConfigError(v.join(key, f"extractant.{need}"),
                              "required for dosage_correlation (the dosage is the free extractant in "
                              f"volume percent); expected e.g. {'322.4 g/mol' if need == 'molar_mass' else '975.8 g/L'}")
    sub = v.join(key, "correlations")
    if "correlations" not in mapping:
        raise ConfigError(sub, "required for dosage_correlation: per component {m0, m1, b0, b1} or "
                               "{distribution}")
    body = v.mapping(mapping["correlations"], sub)
    a, m, b, n, sources = [], [], [], [], {}
    for comp in components:
        ckey = v.join(sub, comp)
        if comp not in body:
            raise ConfigError(ckey, f"no correlation for {comp}; expected {{m0, m1, b0, b1}} or "
                                    "{distribution: D}")
        entry = v.mapping(body[comp], ckey)
        if "distribution" in entry:
            v.check_keys(entry, ckey, {"distribution"})
            d = v.number(entry["distribution"], v.join(ckey, "distribution"), minimum=1e-12, maximum=MAX_D,
                         what=f"a distribution ratio from 1e-12 to {MAX_D:g}")
            a.append(0.0), m.append(0.0), b.append(math.log10(d)), n.append(0.0)
        else:
            v.check_keys(entry, ckey, DOSAGE_KEYS, required=tuple(sorted(DOSAGE_KEYS)))
            coeff = {k: v.number(entry[k], v.join(ckey, k), minimum=-40.0, maximum=40.0,
                                 what="a correlation coefficient from -40 to 40") for k in DOSAGE_KEYS}
            a.append(coeff["m0"]), m.append(coeff["m1"]), b.append(coeff["b0"]), n.append(coeff["b1"])
        sources[comp] = "config"
    for comp in body:
        if comp not in components:
            raise ConfigError(v.join(sub, comp), f"{comp!r} is not one of the components "
                                                 f"({', '.join(components)})")
    # dos = free HA [mol/m^3] x M / rho x 100 = kappa f with f the free (HA)_k
    kappa = kw["association"] * kw["molar_mass"] / kw["density"] * 100.0
    return _cation_exchange(DosageCorrelation, mapping, key, components, charges, system, b, sources,
                            common, a, n, dosage_slope=m, dosage_scale=kappa)


def _write_mass_action(model):
    out = {"log10_k": dict(zip(model.components, model.intercept.tolist())), **chem.write_common(model)}
    if not np.array_equal(model.ph_slope, model.protons):
        out["ph_slope"] = dict(zip(model.components, model.ph_slope.tolist()))
    if not np.array_equal(model.extractant_order, model.stoichiometry):
        out["extractant_order"] = dict(zip(model.components, model.extractant_order.tolist()))
    return out


def _write_ph_correlation(model):
    at = model.extractant / model.association / PER_LITRE
    correlations = {c: {"slope": float(a), "intercept": float(b + n * math.log10(at)),
                        "extractant_order": float(n), "at": si_text(model.extractant, "mol/m**3")}
                    for c, a, b, n in zip(model.components, model.ph_slope, model.intercept,
                                          model.extractant_order)}
    return {"correlations": correlations, **chem.write_common(model)}


def _write_dosage_correlation(model):
    correlations = {}
    for c, a, m, b, n in zip(model.components, model.ph_slope, model.dosage_slope, model.intercept,
                             model.extractant_order):
        if a == 0 and m == 0 and n == 0:
            correlations[c] = {"distribution": float(10.0 ** b)}
        else:
            correlations[c] = {"m0": float(a), "m1": float(m), "b0": float(b), "b1": float(n)}
    return {"correlations": correlations, **chem.write_common(model)}


# -- isotherm -----------------------------------------------------------------------------------------

ISOTHERM_KEYS = frozenset({"key", "unit", "points", "points_by_section", "distribution", "ph_range",
                           "operating_ph", "volume_percent", "max_load"})
ISOTHERM_UNITS = {"g/L": "mass", "mol/L": "molar"}


def _isotherm_points(raw, sub, scale):
    """(aqueous, organic) pairs [mol/m^3]: at least 2, non-negative, aqueous strictly increasing,
    organic non-decreasing and not all zero."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise ConfigError(sub, f"{raw!r}; expected at least 2 (aqueous, organic) points, e.g. "
                               "[[0.1, 1.5], [0.5, 4.0], [2.0, 6.2]]")
    out = []
    for k, pair in enumerate(raw):
        pkey = f"{sub}[{k}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(pkey, f"{pair!r}; expected an (aqueous, organic) pair [x, y]")
        x, y = (v.number(val, f"{pkey}[{i}]", minimum=0.0, what="a concentration >= 0 in the "
                                                                 "isotherm's unit")
                for i, val in enumerate(pair))
        if out and not x > out[-1][0]:
            raise ConfigError(pkey, f"aqueous {x:g} after {out[-1][0]:g}; expected the points in strictly "
                                    "increasing aqueous concentration")
        if out and y < out[-1][1]:
            raise ConfigError(pkey, f"organic {y:g} after {out[-1][1]:g}; expected an isotherm that does "
                                    "not decrease (organic non-decreasing with the aqueous)")
        out.append((x, y))
    if out[-1][1] <= 0.0:
        raise ConfigError(sub, "every organic value is zero; expected an isotherm that loads the organic")
    return [(x * scale, y * scale) for x, y in out]


def _read_isotherm(mapping, components, key, section_names, charges):
    from ..elements import element
    from ..equilibrium.isotherm import Isotherm

    for name in ("key", "points"):
        if name not in mapping:
            raise ConfigError(v.join(key, name), "required for model isotherm: the key component and its "
                                                 "(aqueous, organic) equilibrium points")
    comp = mapping["key"]
    if comp not in components:
        raise ConfigError(v.join(key, "key"), f"{comp!r}; expected one of the components "
                                              f"({', '.join(components)})")
    unit = mapping.get("unit", "g/L")
    if unit not in ISOTHERM_UNITS:
        raise ConfigError(v.join(key, "unit"), f"{unit!r}; expected one of {', '.join(ISOTHERM_UNITS)}")
    # g/L of the key element -> mol/m^3; mol/L -> mol/m^3
    scale = 1.0 / element(comp).molar_mass if unit == "g/L" else 1000.0
    points = _isotherm_points(mapping["points"], v.join(key, "points"), scale)
    by_section = {}
    sub = v.join(key, "points_by_section")
    for name, raw in v.mapping(mapping.get("points_by_section") or {}, sub).items():
        _section_name(name, sub, section_names)
        by_section[name] = _isotherm_points(raw, v.join(sub, name), scale)
    dist = v.component_values(mapping.get("distribution") or {}, v.join(key, "distribution"), components,
                              read=read_d, require_all=False)
    if comp in dist:
        raise ConfigError(v.join(key, f"distribution.{comp}"), f"{comp} is the isotherm's key component; "
                                                               "its equilibrium is the points")
    ph_range = _read_ph_validity({"ph_validity": mapping["ph_range"]}, key, None) if "ph_range" in mapping \
        else None
    operating = None
    if "operating_ph" in mapping:
        operating = v.number(mapping["operating_ph"], v.join(key, "operating_ph"), minimum=-2.0,
                             maximum=14.0, what="a pH")
        if ph_range is not None and not ph_range[0] <= operating <= ph_range[1]:
            raise ConfigError(v.join(key, "operating_ph"),
                              f"{operating:g} is outside the isotherm's pH range {ph_range[0]:g}..{ph_range[1]:g} "
                              "(ph_range): points measured at another pH do not describe this plant")
    volume = None
    if "volume_percent" in mapping:
        volume = v.number(mapping["volume_percent"], v.join(key, "volume_percent"), exclusive_minimum=0.0,
                          maximum=100.0, what="a volume percent of reagent in the organic, 0 < x <= 100")
    max_load = None
    if "max_load" in mapping:
        raw = mapping["max_load"]
        mkey = v.join(key, "max_load")
        max_load = (v.quantity(raw, "mass_concentration", mkey, positive=True) / element(comp).molar_mass
                    if chem._is_mass_concentration(raw, mkey) else v.quantity(raw, "concentration", mkey,
                                                                               positive=True))
    return Isotherm(components, comp, points, [dist.get(c, 0.0) for c in components], by_section,
                    ph_range, operating, volume, max_load)


def _write_isotherm(model):
    out = {"key": model.key, "unit": "mol/L",
           "points": [[x / 1000.0, y / 1000.0] for x, y in model.points.tolist()]}
    others = {c: d for c, d in zip(model.components, model.base.tolist()) if c != model.key}
    if others:
        out["distribution"] = others
    if model.by_section:
        out["points_by_section"] = {k: [[x / 1000.0, y / 1000.0] for x, y in p.tolist()]
                                    for k, p in model.by_section.items()}
    if model.ph_range is not None:
        out["ph_range"] = list(model.ph_range)
    if model.operating_ph is not None:
        out["operating_ph"] = model.operating_ph
    if model.volume_percent is not None:
        out["volume_percent"] = model.volume_percent
    if model.max_load is not None:
        out["max_load"] = si_text(model.max_load, "mol/m**3")
    return out


#: Model name (as in :data:`sx_model.equilibrium.REGISTRY`) -> how it is read and written.
SPECS = {
    "constant_d": ModelSpec(frozenset({"distribution", "distribution_by_section"}),
                            _read_constant_d, _write_constant_d),
    "separation_factor": ModelSpec(frozenset({"separation_factors", "capacity", "half_loading", "enthalpy",
                                              "reference_temperature"}),
                                   _read_separation_factor, _write_separation_factor),
    "mass_action": ModelSpec(chem.COMMON_KEYS | {"log10_k", "separation_factors", "reference"},
                             _read_mass_action, _write_mass_action),
    "ph_correlation": ModelSpec((chem.COMMON_KEYS - {"ph_slope", "extractant_order"}) | {"correlations"},
                                _read_ph_correlation, _write_ph_correlation),
    "dosage_correlation": ModelSpec((chem.COMMON_KEYS - {"ph_slope", "extractant_order"})
                                    | {"correlations"},
                                    _read_dosage_correlation, _write_dosage_correlation),
    "isotherm": ModelSpec(ISOTHERM_KEYS, _read_isotherm, _write_isotherm),
}


def read_model(eq, components, section_names, charges):
    """The ``equilibrium`` mapping -> model object (ConfigError naming the key on bad input)."""
    from ..equilibrium import REGISTRY

    eq = v.mapping(eq, "equilibrium")
    if "model" not in eq:
        raise ConfigError("equilibrium.model", f"required; one of {', '.join(REGISTRY)}")
    name = eq["model"]
    if not isinstance(name, str) or name not in REGISTRY:
        raise ConfigError("equilibrium.model", f"unknown model {name!r}; expected one of "
                                               f"{', '.join(REGISTRY)}")
    spec = SPECS[name]
    v.check_keys(eq, "equilibrium", spec.keys | {"model"})
    return spec.read(eq, components, "equilibrium", section_names, charges)


def write_model(model) -> dict:
    """The ``equilibrium`` mapping of a model object (what :func:`read_model` reads back)."""
    return {"model": model.name, **SPECS[model.name].write(model)}
