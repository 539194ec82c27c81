"""The options every cation-exchange model shares: aqueous medium, extractant, stoichiometry, apparent
slopes and temperature dependence (``equilibrium`` keys; see docs/config.md).

Each reader checks its values and returns SI floats; :func:`read_common` gathers them into the keyword
arguments of :class:`~sx_model.equilibrium.cation_exchange.CationExchange` and :func:`write_common`
writes them back.
"""
from __future__ import annotations

import math

import numpy as np

from ..constants import BASES
from ..errors import ConfigError
from ..equilibrium.media import KA2_FUNCTIONS, MEDIA, SULFATE_KA2, Medium
from . import checks as v

#: Keys of ``equilibrium`` read here (besides each model's own constants).
COMMON_KEYS = frozenset({"system", "extractant", "medium", "stoichiometry", "ph_slope", "extractant_order",
                         "enthalpy", "reference_temperature", "ph_validity"})
EXTRACTANT_KEYS = frozenset({"name", "concentration", "volume_percent", "molar_mass", "density",
                             "association", "saponification", "base", "max_load_per_volume_percent"})
MEDIUM_KEYS = frozenset({"name", "log10_ka2", "enthalpy", "temperature", "ka2"})
ASSOCIATION = {"monomer": 1, "dimer": 2}
#: Largest (HA)_k units per metal, slope or order accepted [-].
MAX_ORDER = 12.0
#: Largest |Delta H| of extraction accepted [J/mol].
MAX_ENTHALPY = 500e3


def read_medium(mapping, key, system=None) -> Medium:
    """``medium: chloride | sulfate | nitrate`` or ``{name, log10_ka2, enthalpy, temperature}``."""
    default = system.data.get("medium", "chloride") if system is not None else "chloride"
    raw = mapping.get("medium", default)
    sub = v.join(key, "medium")
    if isinstance(raw, str):
        raw = {"name": raw}
    body = v.mapping(raw, sub)
    v.check_keys(body, sub, MEDIUM_KEYS, required=("name",))
    name = body["name"]
    if not isinstance(name, str) or name not in MEDIA:
        raise ConfigError(v.join(sub, "name") if "medium" in mapping and not isinstance(mapping["medium"], str)
                          else sub, f"unknown medium {name!r}; expected one of {', '.join(MEDIA)}")
    if name != "sulfate":
        for extra in ("log10_ka2", "enthalpy", "temperature", "ka2"):
            if extra in body:
                raise ConfigError(v.join(sub, extra), f"{extra} applies to the sulfate medium only "
                                                      f"(HSO4- dissociation); {name} is fully dissociated")
        return Medium(name)
    function = body.get("ka2", "van_t_hoff")
    if function not in KA2_FUNCTIONS:
        raise ConfigError(v.join(sub, "ka2"), f"{function!r}; expected one of {', '.join(KA2_FUNCTIONS)}")
    if function == "clegg1994":
        given = [k for k in ("log10_ka2", "enthalpy", "temperature") if k in body]
        if given:
            raise ConfigError(v.join(sub, given[0]), "not used with ka2: clegg1994 (the function gives K_a2 at "
                                                     "every temperature)")
        return Medium("sulfate", ka2_function="clegg1994")
    log_k = v.number(body.get("log10_ka2", SULFATE_KA2["log10_k"]), v.join(sub, "log10_ka2"),
                     minimum=-6.0, maximum=2.0, what="log10 K_a2 of HSO4- in mol/L (-1.99 at 25 C)")
    enthalpy = SULFATE_KA2["enthalpy_j_per_mol"]
    if "enthalpy" in body:
        enthalpy = _enthalpy(body["enthalpy"], v.join(sub, "enthalpy"))
    temperature = SULFATE_KA2["temperature_k"]
    if "temperature" in body:
        from .layout import read_temperature

        temperature = read_temperature(body["temperature"], v.join(sub, "temperature"))
    return Medium("sulfate", log_k, enthalpy, temperature)


def _enthalpy(raw, sub):
    value = v.quantity(raw, "molar_energy", sub)
    if abs(value) > MAX_ENTHALPY:
        raise ConfigError(sub, f"{raw!r}; expected a reaction enthalpy within +-{MAX_ENTHALPY / 1e3:g} kJ/mol")
    return value


def read_extractant(mapping, key, system=None) -> dict:
    """``extractant`` -> {extractant [mol/m^3 as HA], saponification, base, extractant_name,
    association, molar_mass [kg/mol] or None, density [kg/m^3] or None}.

    The concentration is given as ``concentration`` (mol/L as HA, or g/L with a molar mass) or as
    ``volume_percent`` of the organic with the extractant's ``density`` and ``molar_mass``."""
    sub = v.join(key, "extractant")
    if "extractant" not in mapping:
        raise ConfigError(sub, "required: {concentration: <mol/L of extractant as HA>, "
                               "saponification: <0..1>, base: NaOH | NH3}")
    body = v.mapping(mapping["extractant"], sub)
    v.check_keys(body, sub, EXTRACTANT_KEYS)
    molar_mass = None
    if "molar_mass" in body:
        molar_mass = v.quantity(body["molar_mass"], "molar_mass", v.join(sub, "molar_mass"), positive=True)
    elif system is not None and system.data.get("molar_mass_g_per_mol"):
        molar_mass = float(system.data["molar_mass_g_per_mol"]) / 1000.0
    density = None
    if "density" in body:
        density = v.quantity(body["density"], "mass_concentration", v.join(sub, "density"), positive=True)
    given = [k for k in ("concentration", "volume_percent") if k in body]
    if len(given) != 1:
        raise ConfigError(v.join(sub, "concentration"),
                          "give the extractant as one of concentration (mol/L as HA, or g/L with "
                          "molar_mass) or volume_percent (with density and molar_mass)"
                          if given else "required key is missing")
    volume_basis = None
    if "concentration" in body:
        conc = _extractant_concentration(body["concentration"], v.join(sub, "concentration"), molar_mass)
    else:
        pct = v.number(body["volume_percent"], v.join(sub, "volume_percent"), exclusive_minimum=0.0,
                       maximum=100.0, what="a volume percent of extractant in the organic, 0 < x <= 100")
        load = max_load(body, sub, system)
        if density is not None and molar_mass is not None:
            conc = pct / 100.0 * density / molar_mass
            volume_basis = {"percent_per_extractant": pct / conc}
        elif load is not None:
            # a reagent blend known by its maximum load: at full load every HA is bound, z * k HA
            # (nu = z units of (HA)_k, the default stoichiometry) per metal ion of charge z
            element, per_percent, charge = load
            association = _association(body, sub, system)
            conc = pct * per_percent * charge * association
            volume_basis = {"percent_per_extractant": pct / conc, "max_load_element": element,
                            "max_load_per_percent": per_percent}
        else:
            missing = "density" if density is None else "molar_mass"
            raise ConfigError(v.join(sub, missing), "required with volume_percent (the extractant's "
                                                    f"{missing.replace('_', ' ')}), or "
                                                    "max_load_per_volume_percent (or a system that has it)")
    sapon = 0.0
    if "saponification" in body:
        sapon = v.number(body["saponification"], v.join(sub, "saponification"), minimum=0.0, maximum=1.0,
                         what="a saponification degree (fraction of the extractant as its salt) "
                              "between 0 and 1")
    base = body.get("base", "NaOH")
    if not isinstance(base, str) or base not in BASES:
        raise ConfigError(v.join(sub, "base"), f"{base!r}; expected one of {', '.join(BASES)}")
    name = body.get("name", system.extractant if system is not None else None)
    if name is not None:
        name = v.text(name, v.join(sub, "name"))
    association = _association(body, sub, system)
    return {"extractant": conc, "saponification": sapon, "base": base, "extractant_name": name,
            "association": association, "molar_mass": molar_mass, "density": density,
            "volume_basis": volume_basis}


def _association(body, sub, system) -> int:
    """k of (HA)_k: the ``association`` key, else the system's (``dimer``), else dimer."""
    if "association" in body:
        raw = body["association"]
        if raw not in ASSOCIATION:
            raise ConfigError(v.join(sub, "association"), f"{raw!r}; expected monomer (HA) or dimer "
                                                          "((HA)2 in aliphatic diluents)")
        return ASSOCIATION[raw]
    return 2 if (system is None or system.data.get("dimer", True)) else 1


#: Largest maximum load per volume percent accepted [mol/m^3 of metal per vol%] (10x any reagent).
MAX_LOAD_PER_PERCENT = 100.0


def max_load(body, sub, system=None):
    """(element, maximum load [mol/m^3 of metal per vol% of reagent], charge of the element) from
    ``max_load_per_volume_percent: {Cu: 0.52 g/L}`` or the system's ``max_load``, or None."""
    from ..elements import element as element_data
    from .units import to_si

    if "max_load_per_volume_percent" in body:
        lkey = v.join(sub, "max_load_per_volume_percent")
        given = v.mapping(body["max_load_per_volume_percent"], lkey)
        if len(given) != 1:
            raise ConfigError(lkey, f"{given!r}; expected one element and its maximum load per vol% of "
                                    "reagent, e.g. {Cu: 0.52 g/L}")
        (symbol, raw), = given.items()
        ekey = v.join(lkey, str(symbol))
        try:
            data = element_data(symbol)
        except (KeyError, ValueError, TypeError):
            raise ConfigError(ekey, f"{symbol!r} is not an element symbol") from None
        if isinstance(raw, str) and _is_mass_concentration(raw, ekey):
            value = to_si(raw, "mass_concentration", ekey) / data.molar_mass
        else:
            value = v.quantity(raw, "concentration", ekey, positive=True)
        if not 0.0 < value <= MAX_LOAD_PER_PERCENT:
            raise ConfigError(ekey, f"{raw!r}; expected a maximum load per vol% of reagent above 0 and at "
                                    f"most {MAX_LOAD_PER_PERCENT:g} mol/m^3 (about 6 g/L Cu)")
        return str(symbol), value, float(data.charge)
    entry = system.data.get("max_load") if system is not None else None
    if not entry:
        return None
    data = element_data(entry["element"])
    return entry["element"], float(entry["value"]) / data.molar_mass, float(data.charge)


def _is_mass_concentration(raw, sub) -> bool:
    from .units import parse_quantity, registry

    q = parse_quantity(raw, sub)
    return q.dimensionality == registry().get_dimensionality("[mass] / [length] ** 3")


def _extractant_concentration(raw, sub, molar_mass):
    from .units import parse_quantity, registry

    q = parse_quantity(raw, sub) if isinstance(raw, str) else None
    ureg = registry()
    if q is not None and q.dimensionality == ureg.get_dimensionality("[mass] / [length] ** 3"):
        if molar_mass is None:
            raise ConfigError(sub, f"{raw!r} is a mass concentration; give the extractant's molar_mass "
                                   "(or a system that has it), or mol/L")
        value = float(q.to("kg/m**3").magnitude) / molar_mass
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(sub, f"{raw!r} must be greater than zero")
        return value
    return v.quantity(raw, "concentration", sub, positive=True)


def read_stoichiometry(mapping, key, components, charges, association, medium) -> tuple:
    """(nu, p) per component: (HA)_k units bound and H+ released per metal ion (defaults z)."""
    nu = np.asarray(charges, dtype=float).copy()
    p = nu.copy()
    sub = v.join(key, "stoichiometry")
    raw = mapping.get("stoichiometry") or {}
    for comp, body in v.mapping(raw, sub).items():
        ckey = v.join(sub, comp)
        if comp not in components:
            raise ConfigError(ckey, f"{comp!r} is not one of the components ({', '.join(components)})")
        body = v.mapping(body, ckey)
        v.check_keys(body, ckey, {"extractant", "protons"})
        i = components.index(comp)
        z = float(charges[i])
        if "extractant" in body:
            nu[i] = v.number(body["extractant"], v.join(ckey, "extractant"), exclusive_minimum=0.0,
                             maximum=MAX_ORDER, what=f"extractant units bound per {comp} ion, "
                                                     f"0 < nu <= {MAX_ORDER:g}")
        if "protons" in body:
            raw_p = body["protons"]
            if isinstance(raw_p, bool) or not isinstance(raw_p, int):
                raise ConfigError(v.join(ckey, "protons"), f"{raw_p!r}; expected a whole number of H+ "
                                                           f"released per {comp} ion (0..{z:g})")
            p[i] = float(raw_p)
        where = v.join(ckey, "protons") if "protons" in body else ckey
        if not 0 <= p[i] <= z:
            raise ConfigError(where, f"{comp}{'+' * int(z)} releasing {p[i]:g} H+ cannot balance: a cation "
                                     f"of charge {z:g} exchanges at most {z:g} protons")
        if p[i] > nu[i] * association + 1e-12:
            raise ConfigError(where, f"{p[i]:g} H+ from {nu[i]:g} (HA){'2' if association == 2 else ''} "
                                     f"per {comp} cannot balance: each HA gives at most one proton; "
                                     f"expected extractant >= {p[i] / association:g}")
        if p[i] < z and medium.speciated:
            raise ConfigError(where, f"{comp} releasing {p[i]:g} of {z:g} H+ takes sulfate into the organic, "
                                     "which the sulfate balance does not follow; expected protons equal "
                                     "to the charge in sulfate media")
    return nu, p


def _per_component(mapping, name, key, components, read):
    sub = v.join(key, name)
    out = {}
    for comp, raw in v.mapping(mapping.get(name) or {}, sub).items():
        ckey = v.join(sub, comp)
        if comp not in components:
            raise ConfigError(ckey, f"{comp!r} is not one of the components ({', '.join(components)})")
        out[comp] = read(raw, ckey)
    return out


def _from_system_table(system, name, components) -> dict:
    """{component: value} of a system's per-element table ``name`` ({El: {value, source, tag}})."""
    table = (system.data.get(name) or {}) if system is not None else {}
    return {c: float(table[c]["value"]) for c in components
            if isinstance(table.get(c), dict) and "value" in table[c]}


def read_common(mapping, key, components, charges, system) -> dict:
    """Keyword arguments of the cation-exchange engine shared by its models (see module docstring);
    ``ph_slope`` and ``extractant_order`` come back as {component: value} for the model to place."""
    medium = read_medium(mapping, key, system)
    extractant = read_extractant(mapping, key, system)
    nu, p = read_stoichiometry(mapping, key, components, charges, extractant["association"], medium)
    slopes = _per_component(mapping, "ph_slope", key, components,
                            lambda raw, k: v.number(raw, k, minimum=0.0, maximum=MAX_ORDER,
                                                    what=f"an apparent slope d log10 D / d pH from 0 to "
                                                         f"{MAX_ORDER:g}"))
    orders = _per_component(mapping, "extractant_order", key, components,
                            lambda raw, k: v.number(raw, k, minimum=-MAX_ORDER, maximum=MAX_ORDER,
                                                    what=f"an apparent extractant order from "
                                                         f"{-MAX_ORDER:g} to {MAX_ORDER:g}"))
    enthalpy, t_ref = read_enthalpies(mapping, key, components)
    # a system (e.g. one written by sx-model fit) may carry apparent slopes, orders and enthalpies;
    # the config's own values win
    slopes = _from_system_table(system, "ph_slope", components) | slopes
    orders = _from_system_table(system, "extractant_order", components) | orders
    given = _per_component(mapping, "enthalpy", key, components, _enthalpy)
    for comp, value in _from_system_table(system, "enthalpy_kj_per_mol", components).items():
        if comp not in given:
            enthalpy[components.index(comp)] = 1000.0 * value
    out = {k: extractant[k] for k in ("extractant", "saponification", "base", "extractant_name",
                                      "association")}
    out.update(medium=medium, stoichiometry=nu.tolist(), protons=p.tolist(),
               molar_mass=extractant["molar_mass"], density=extractant["density"],
               volume_basis=extractant["volume_basis"], enthalpy=enthalpy, reference_temperature=t_ref)
    return {"kwargs": out, "ph_slope": slopes, "extractant_order": orders}


def read_enthalpies(mapping, key, components):
    """(Delta H per component [J/mol], default 0; reference temperature [K], default 25 C) from
    ``enthalpy`` and ``reference_temperature``."""
    given = _per_component(mapping, "enthalpy", key, components, _enthalpy)
    t_ref = 298.15
    if "reference_temperature" in mapping:
        from .layout import read_temperature

        t_ref = read_temperature(mapping["reference_temperature"], v.join(key, "reference_temperature"))
    return [given.get(c, 0.0) for c in components], t_ref


def write_enthalpies(model) -> dict:
    """``enthalpy`` and ``reference_temperature`` of a model (only when some enthalpy is not zero)."""
    if not np.any(model.enthalpy):
        return {}
    return {"enthalpy": {c: f"{h!r} J/mol" for c, h in zip(model.components, model.enthalpy.tolist())},
            "reference_temperature": f"{model.reference_temperature!r} K"}


def medium_warning(model) -> list:
    """A warning when the constants of the system a model names were measured in another medium than
    the cascade's liquors."""
    from . import systems

    medium = getattr(model, "medium", None)
    if medium is None or not getattr(model, "system", None):
        return []
    system = systems.get(model.system, "equilibrium.system")
    measured = system.data.get("medium")
    if measured and measured != medium.name:
        return [f"constants of system {system.key!r} were measured in {measured} media; this cascade's "
                f"liquors are {medium.name} (anion complexation and activity differ: check them against "
                f"{medium.name} data)"]
    return []


def write_common(model) -> dict:
    """The shared keys of a cation-exchange model (what :func:`read_common` reads back)."""
    out = {"extractant": {"concentration": f"{model.extractant!r} mol/m**3",
                          "saponification": model.saponification, "base": model.base,
                          "association": "dimer" if model.association == 2 else "monomer"},
           "ph_validity": list(model.ph_validity)}
    if model.extractant_name is not None:
        out["extractant"]["name"] = model.extractant_name
    if model.molar_mass is not None:
        out["extractant"]["molar_mass"] = f"{model.molar_mass!r} kg/mol"
    if model.density is not None:
        out["extractant"]["density"] = f"{model.density!r} kg/m**3"
    basis = getattr(model, "volume_basis", None)
    if basis is not None and (model.density is not None and model.molar_mass is not None
                              or "max_load_element" in basis):
        # given as a volume percent: written back the same way (the concentration follows from it)
        del out["extractant"]["concentration"]
        out["extractant"]["volume_percent"] = model.volume_percent
        if "max_load_element" in basis:
            out["extractant"]["max_load_per_volume_percent"] = {
                basis["max_load_element"]: f"{basis['max_load_per_percent']!r} mol/m**3"}
    medium = model.medium
    if medium.speciated and medium.ka2_function == "clegg1994":
        out["medium"] = {"name": medium.name, "ka2": "clegg1994"}
    elif medium.speciated:
        out["medium"] = {"name": medium.name, "log10_ka2": medium.log10_ka2,
                         "enthalpy": f"{medium.ka2_enthalpy!r} J/mol",
                         "temperature": f"{medium.ka2_temperature!r} K"}
    else:
        out["medium"] = medium.name
    z = model.charges
    changed = [i for i in range(len(z)) if model.stoichiometry[i] != z[i] or model.protons[i] != z[i]]
    if changed:
        out["stoichiometry"] = {model.components[i]: {"extractant": float(model.stoichiometry[i]),
                                                      "protons": int(model.protons[i])} for i in changed}
    return out | write_enthalpies(model)
