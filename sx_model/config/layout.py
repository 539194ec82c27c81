"""Config mapping -> :class:`~sx_model.cascade.Cascade`: sections, streams, products, solvent loop.

Every dimensional value is a string with units, parsed by pint and converted to SI floats here; every
problem is reported as one :class:`ConfigError` naming the key, the value and what was expected.
See ``docs/config.md`` for the format.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..cascade import Cascade, operating_warnings
from ..circuit import (AQUEOUS, ORGANIC, Circuit, Inlet, Outlet, Section, anchor_of, aqueous_breaks,
                       countercurrent_links, feed_anchor)
from ..errors import ConfigError
from . import checks as v
from .chemistry import medium_warning
from .models import read_model

TOP_KEYS = frozenset({"name", "description", "components", "equilibrium", "sections", "streams",
                      "products", "notes", "cost", "uncertainty"})
SECTION_ORDER = ("extraction", "scrub", "wash", "strip")
#: Range accepted for sections.<name>.mixer_o_a (phase ratio in the mixers) [-].
MIXER_O_A = (0.01, 100.0)
SECTION_KEYS = frozenset({"stages", "efficiency", "temperature", "mixer_o_a"})
#: Temperatures a section may have [K]: liquid water at ambient pressure.
TEMPERATURE_RANGE = (273.15, 373.15)
#: Reserved stream names and where they enter: (phase, section whose stage, "first" or "last").
RESERVED_STREAMS = {
    "organic": (ORGANIC, "extraction", "first"),
    "scrub": (AQUEOUS, "scrub", "last"),
    "wash": (AQUEOUS, "wash", "last"),
    "strip": (AQUEOUS, "strip", "last"),
}
STREAM_KEYS = frozenset({"flow", "concentration", "acid", "base", "ph", "sulfate", "phase", "stage"})
#: Ways to give a liquor's free acid (one per stream).
ACIDITY_KEYS = ("acid", "base", "ph")
#: Extra keys of the organic stream: closed loop through the strip section.
ORGANIC_KEYS = frozenset({"recycle", "bleed"})
PRODUCT_KEYS = frozenset({"key", "outlet", "phase", "stage", "fraction"})


def build_cascade(data: Mapping) -> Cascade:
    """Validate a config mapping and build the cascade; every check that needs only the input runs
    here (including the model's own, through :meth:`Cascade.check`), so a cascade that loads is one
    the solver accepts."""
    v.mapping(data, "")
    v.check_keys(data, "", TOP_KEYS, required=("components", "equilibrium", "sections", "streams"))
    name = v.text(data.get("name", "cascade"), "name")
    components, table = _read_components(data["components"])
    sections = _read_sections(data["sections"])
    by_name = {s.name: s for s in sections}
    charges = tuple(table[c].charge for c in components)
    model = read_model(data["equilibrium"], components, [s.name for s in sections], charges)
    streams = v.mapping(data["streams"], "streams")
    loop = _read_loop(streams, by_name)
    inlets = _read_inlets(streams, components, by_name, loop, getattr(model, "medium", None), charges)
    if loop[0] and model.internal_count:
        strip = next((i for i in inlets if i.name == "strip"), None)
        if strip is not None and strip.acid <= 0 and loop[1] == 0.0:
            raise ConfigError("streams.strip.acid", f"{strip.acid:g} mol/m^3: a closed organic loop "
                                                    "with acidity-driven extraction needs acid in the "
                                                    "strip liquor (else the metal extracted can never "
                                                    "leave the loop); expected e.g. '6 mol/L'")
    links, anchors, end_outlets = _layout(by_name, loop)
    products = data.get("products")
    outlets, keys = _read_products({} if products is None else products, components, end_outlets, by_name)
    circuit = Circuit(components=components, sections=sections, inlets=inlets, outlets=outlets,
                      links=links, flow_anchors=anchors, charges=charges,
                      molar_masses=tuple(table[c].molar_mass for c in components),
                      oxide_masses=tuple(table[c].oxide_mass_per_mol_metal for c in components))
    cascade = Cascade(name=name, circuit=circuit, model=model, product_keys=keys)
    cascade.warnings = operating_warnings(circuit) + medium_warning(model)
    if "cost" in data:
        cascade.cost_parameters = _read_cost(data["cost"])
    cascade.check()
    _check_strip_liquor(cascade)
    return cascade


#: O/A of the vanishing batch contact that gives the organic in equilibrium with a liquor as it enters [-].
_PROBE_O_A = 1e-6


def _check_strip_liquor(cascade):
    """Refuse a strip liquor that cannot strip the key metal of a single-key (copper) cascade: the
    organic in equilibrium with the strip liquor as it enters is a lower bound of the stripped organic
    (in the strip the aqueous only gains metal and loses acid), and the organic in equilibrium with the
    richest feed as it enters (barren organic, the other metals left out) an upper bound of the loaded
    organic (in extraction the aqueous only loses metal and gains acid); if the first is not below the
    second, no metal can go round the loop."""
    circuit = cascade.circuit
    strip = circuit.section("strip")
    keys = {tuple(k) for k in cascade.product_keys.values() if k}
    if strip is None or len(keys) != 1 or len(next(iter(keys))) != 1:
        return
    key = next(iter(keys))[0]
    k = circuit.components.index(key)
    liquor = next((i for i in circuit.inlets if i.name == "strip"), None)
    extraction = circuit.section("extraction")
    feeds = [i for i in circuit.inlets if i.phase == AQUEOUS and extraction.first <= i.stage <= extraction.last
             and i.concentration[k] > 0]
    others = np.delete(liquor.concentration, k) if liquor is not None else np.zeros(0)
    if liquor is None or not feeds or np.any(others > 0):
        return
    bounds = [_equilibrium_organic(cascade, i, k, extraction) for i in feeds]
    stripped = _equilibrium_organic(cascade, liquor, k, strip)
    if stripped is None or any(b is None for b in bounds):
        return                 # a model that cannot say (constant D, several isotherm keys ...)
    loaded = max(bounds)
    if stripped < loaded:
        return
    molar = circuit.molar_masses[k]
    raise ConfigError("streams.strip", f"the strip liquor ({liquor.concentration[k] * molar:.4g} g/L {key}, "
                                       f"acid {liquor.acid / 1000:.4g} mol/L) holds the organic at "
                                       f"{stripped * molar:.4g} g/L {key} at equilibrium, not below the "
                                       f"{loaded * molar:.4g} g/L the feed can load it to, so it cannot "
                                       f"strip; expected a liquor with more acid or less {key}")


def _equilibrium_organic(cascade, inlet, k, section):
    """Key metal [mol/m^3] of a barren organic in equilibrium with ``inlet`` (key metal only) as it
    enters ``section``; None where the model has no way to say."""
    model = cascade.model
    if hasattr(model, "key_isotherm"):
        if model.key != cascade.components[k]:
            return None
        y, _ = model.key_isotherm(np.array([inlet.concentration[k]]), section.name)
        return float(y[0])
    if not (hasattr(model, "saponification") and model.internal_count == 1):
        return None
    from ..batch import batch_contact

    only = np.zeros(len(cascade.components))
    only[k] = inlet.concentration[k]
    charges = np.asarray(cascade.circuit.charges, dtype=float)
    sulfate = inlet.sulfate
    if sulfate is None and getattr(model.medium, "speciated", False):
        sulfate = 0.5 * (inlet.acid + float(charges @ inlet.concentration))
    try:
        result = batch_contact(model, only, acid=inlet.acid, o_a=_PROBE_O_A, temperature=section.temperature,
                               **({"sulfate": sulfate} if sulfate is not None else {}))
    except Exception:           # a contact the batch solver cannot settle: leave it to the solver
        return None
    if not bool(np.all(result.converged)):
        return None
    return float(np.asarray(result.organic).reshape(-1, len(cascade.components))[0, k])


def _read_components(raw):
    """``components`` -> (tuple of symbols, element table)."""
    from ..elements import elements

    if not isinstance(raw, list) or not raw:
        raise ConfigError("components", f"{raw!r}; expected a non-empty list of element symbols such as "
                                        "[Pr, Nd]")
    known = elements()
    components = []
    for k, sym in enumerate(raw):
        if not isinstance(sym, str) or sym not in known:
            raise ConfigError(f"components[{k}]", f"unknown element {sym!r}; expected one of "
                                                  f"{', '.join(known)}")
        if sym in components:
            raise ConfigError(f"components[{k}]", f"{sym!r} is listed twice")
        components.append(sym)
    return tuple(components), known


def max_stages() -> int:
    """Most stages a cascade may have in all (``SX_MODEL_MAX_STAGES`` overrides the default)."""
    from .files import limit

    return limit("max_stages")


def _read_sections(raw):
    sections_raw = v.mapping(raw, "sections")
    v.check_keys(sections_raw, "sections", SECTION_ORDER, required=("extraction",))
    sections, first = [], 0
    for sec_name in SECTION_ORDER:
        if sec_name not in sections_raw:
            continue
        key = f"sections.{sec_name}"
        body = v.mapping(sections_raw[sec_name], key)
        v.check_keys(body, key, SECTION_KEYS, required=("stages",))
        minimum = 1 if sec_name == "extraction" else 0
        most = max_stages()
        stages = v.integer(body["stages"], f"{key}.stages", minimum=minimum,
                           what=f"a whole number of stages >= {minimum}")
        if first + stages > most:
            raise ConfigError(f"{key}.stages", f"{stages} brings the cascade to {first + stages} stages; "
                                               f"expected at most {most} in all (SX_MODEL_MAX_STAGES "
                                               "raises the limit)")
        efficiency = 1.0
        if "efficiency" in body:
            efficiency = v.number(body["efficiency"], f"{key}.efficiency", exclusive_minimum=0.0,
                                  maximum=1.0, what="a Murphree stage efficiency in (0, 1]")
        temperature = 298.15
        if "temperature" in body:
            temperature = read_temperature(body["temperature"], f"{key}.temperature")
        mixer = None
        if "mixer_o_a" in body:
            mixer = v.number(body["mixer_o_a"], f"{key}.mixer_o_a", minimum=MIXER_O_A[0], maximum=MIXER_O_A[1],
                             what=f"an O/A held in the mixers by internal recycle, {MIXER_O_A[0]:g} to "
                                  f"{MIXER_O_A[1]:g}")
        if stages == 0:
            continue
        sections.append(Section(sec_name, first, stages, efficiency, temperature, mixer))
        first += stages
    return sections


def read_temperature(value, key) -> float:
    """A liquid-phase temperature [K] (0..100 degC)."""
    kelvin = v.quantity(value, "temperature", key)
    low, high = TEMPERATURE_RANGE
    if not low < kelvin <= high:
        raise ConfigError(key, f"{value!r} ({kelvin - 273.15:.4g} degC); expected a temperature of the "
                               "liquids between 0 and 100 degC")
    return kelvin


def _read_inlets(streams, components, by_name, loop, medium=None, charges=()):
    recycle, bleed, circulating = loop
    total = sum(s.stages for s in by_name.values())
    inlets = []
    for stream_name, body in streams.items():
        if stream_name == "organic" and isinstance(body, Mapping):
            body = {k: val for k, val in body.items() if k not in ORGANIC_KEYS}
        inlet = _read_stream(stream_name, body, components, by_name, total, medium, charges)
        if stream_name == "organic" and recycle:
            if bleed == 0.0:
                continue              # closed loop: no make-up, the anchor fixes the circulating flow
            inlet.flow = bleed * circulating
        inlets.append(inlet)
    for sec_name in ("scrub", "wash", "strip"):
        if sec_name in by_name and sec_name not in streams:
            raise ConfigError(f"streams.{sec_name}", f"required when sections.{sec_name} has stages: "
                                                     "the liquor entering the last stage of that section")
    if not any(inlet.concentration.sum() > 0 for inlet in inlets):
        raise ConfigError("streams", "no stream carries any of the components; expected at least one "
                                     "feed with a concentration")
    return inlets


def _layout(by_name, loop):
    """Links, flow anchors and end outlets of the battery (extraction, scrub, strip in series)."""
    recycle, bleed, circulating = loop
    last = max(s.last for s in by_name.values())
    total = last + 1
    final = next(s for s in by_name.values() if s.last == last).name
    breaks = aqueous_breaks(by_name)
    links = countercurrent_links(total, breaks)
    anchors = {}
    end = {"raffinate": Outlet("raffinate", AQUEOUS, 0, role="raffinate", anchor=("extraction", "first"))}
    if "wash" in by_name:
        end["wash_liquor"] = Outlet("wash_liquor", AQUEOUS, by_name["wash"].first, role="wash_liquor",
                                    anchor=("wash", "first"))
    if "strip" in by_name:
        end["strip_liquor"] = Outlet("strip_liquor", AQUEOUS, by_name["strip"].first, role="strip_liquor",
                                     anchor=("strip", "first"))
        if recycle:
            links[ORGANIC][last] = 0          # stripped organic back to stage 1
            anchors[ORGANIC] = (0, circulating)
            if bleed > 0:
                end["organic_bleed"] = Outlet("organic_bleed", ORGANIC, last, bleed, role="organic_bleed",
                                              anchor=("strip", "last"))
        else:
            end["stripped_organic"] = Outlet("stripped_organic", ORGANIC, last, role="stripped_organic",
                                             anchor=("strip", "last"))
    else:
        end["loaded_organic"] = Outlet("loaded_organic", ORGANIC, last, role="loaded_organic",
                                       anchor=(final, "last"))
    return links, anchors, end


def _read_loop(streams, sections):
    """``streams.organic.recycle`` / ``bleed``: (recycle, bleed fraction, circulating flow [m^3/s])."""
    if "organic" not in streams:
        raise ConfigError("streams.organic", "required: the organic (solvent) stream entering stage 1")
    body = streams["organic"]
    if not isinstance(body, Mapping) or not ({"recycle", "bleed"} & set(body)):
        return False, 0.0, 0.0
    recycle = body.get("recycle", False)
    if not isinstance(recycle, bool):
        raise ConfigError("streams.organic.recycle", f"{recycle!r}; expected true or false")
    if "bleed" in body and not recycle:
        raise ConfigError("streams.organic.bleed", "a bleed needs recycle: true")
    if recycle and "strip" not in sections:
        raise ConfigError("streams.organic.recycle", "true needs a strip section: the organic is "
                                                     "recycled from the last strip stage to stage 1")
    bleed = 0.0
    if "bleed" in body:
        bleed = v.number(body["bleed"], "streams.organic.bleed", minimum=0.0, exclusive_maximum=1.0,
                         what="the fraction of the stripped organic bled (0 <= bleed < 1)")
    flow = v.quantity(body["flow"], "flow", "streams.organic.flow", positive=True) if "flow" in body \
        else None
    if flow is None:
        raise ConfigError("streams.organic.flow", "required: the circulating organic flow")
    return recycle, bleed, flow


def _read_cost(raw):
    """The ``cost:`` section: any parameter of sx_model.cost.DEFAULTS, with units; the rest default."""
    from ..cost import DEFAULTS, default_parameters

    raw = v.mapping(raw if raw is not None else {}, "cost")
    v.check_keys(raw, "cost", DEFAULTS)
    params = default_parameters()
    for name, value in raw.items():
        kind = DEFAULTS[name][1]
        key = f"cost.{name}"
        if kind == "number":
            params[name] = v.number(value, key, minimum=0.0, what="a non-negative number")
        else:
            params[name] = v.quantity(value, kind, key, positive=True)
    if params["scale_exponent"] > 1.5:
        raise ConfigError("cost.scale_exponent", f"{params['scale_exponent']:g}; expected about 0.6")
    return params


def _concentrations(raw, key, components) -> np.ndarray:
    """Concentrations of the components [mol/m^3] from ``{El: value}``: a molar concentration
    (``0.2 mol/L``), a mass concentration of the element (``25 g/L``) or of its oxide, the oxide
    formula written after the unit (``95 g/L Nd2O3``, the way plants report REO)."""
    given = v.component_values(raw, key, components, read=concentration, require_all=False)
    return np.array([given.get(c, 0.0) for c in components])


def concentration(value, sub) -> float:
    """One concentration [mol/m^3 of element] (see :func:`_concentrations`); ``sub`` ends with the
    element symbol."""
    from ..elements import element
    from .units import parse_quantity, registry

    symbol = sub.rsplit(".", 1)[-1]
    info = element(symbol)
    text, per_mole = value, info.molar_mass
    if isinstance(value, str) and value.split() and value.split()[-1] == info.oxide:
        text, per_mole = value[:value.rindex(info.oxide)], info.oxide_mass_per_mol_metal
        if not text.strip():
            raise ConfigError(sub, f"{value!r} has no number; expected e.g. '95 g/L {info.oxide}'")
    q = parse_quantity(text, sub)
    ureg = registry()
    if q.dimensionality == ureg.get_dimensionality("[substance] / [length] ** 3") and per_mole == info.molar_mass:
        si = float(q.to("mol/m**3").magnitude)
    elif q.dimensionality == ureg.get_dimensionality("[mass] / [length] ** 3"):
        si = float(q.to("kg/m**3").magnitude) / per_mole
    else:
        raise ConfigError(sub, f"{value!r} has dimension {q.dimensionality}; expected a concentration such "
                               f"as '0.2 mol/L', '25 g/L' (mass of element) or '30 g/L {info.oxide}' (as oxide)")
    if not np.isfinite(si) or si < 0:
        raise ConfigError(sub, f"{value!r} must be a finite, non-negative concentration")
    return si


def _read_stream(stream_name, body, components, sections, total, medium=None, charges=()) -> Inlet:
    key = f"streams.{stream_name}"
    body = v.mapping(body, key)
    v.check_keys(body, key, STREAM_KEYS, required=("flow",))
    flow = v.quantity(body["flow"], "flow", f"{key}.flow", positive=True)
    conc = (_concentrations(body["concentration"], f"{key}.concentration", components)
            if "concentration" in body else np.zeros(len(components)))
    if stream_name in RESERVED_STREAMS:
        phase, sec_name, end = RESERVED_STREAMS[stream_name]
        for fixed in ("phase", "stage"):
            if fixed in body:
                raise ConfigError(f"{key}.{fixed}", f"the {stream_name} stream's {fixed} is fixed by the "
                                                    f"cascade layout; remove this key")
        if sec_name not in sections:
            raise ConfigError(key, f"a {stream_name} stream needs a {sec_name} section; add "
                                   f"sections.{sec_name}.stages or remove this stream")
        sec = sections[sec_name]
        inlet = Inlet(stream_name, phase, sec.first if end == "first" else sec.last, flow, conc,
                      anchor=(sec_name, end))
        return _with_acidity(inlet, body, key, medium, sections, charges)
    # a feed
    phase = _phase(body.get("phase", AQUEOUS), f"{key}.phase")
    if "concentration" not in body:
        raise ConfigError(f"{key}.concentration", "required for a feed: a mapping component -> "
                                                  "concentration such as {Nd: 0.3 mol/L}")
    if "stage" in body:
        stage = _stage(body["stage"], f"{key}.stage", total)
        inlet = Inlet(stream_name, phase, stage, flow, conc, anchor=anchor_of(sections, stage),
                      explicit=True)
    else:
        anchor = feed_anchor(sections, phase)
        sec = sections[anchor[0]]
        inlet = Inlet(stream_name, phase, sec.first if anchor[1] == "first" else sec.last, flow, conc,
                      anchor=anchor)
    return _with_acidity(inlet, body, key, medium, sections, charges)


def _with_acidity(inlet, body, key, medium, sections, charges) -> Inlet:
    """The stream's free acid (``acid``, ``base`` or ``ph``) and, in sulfate medium, its total
    ``sulfate``, as the proton total the models balance (see :mod:`sx_model.equilibrium.media`)."""
    from ..equilibrium.media import CHLORIDE

    medium = medium or CHLORIDE
    given = [k for k in ACIDITY_KEYS if k in body]
    if inlet.phase == ORGANIC:
        for k in given + (["sulfate"] if "sulfate" in body else []):
            raise ConfigError(f"{key}.{k}", f"{k} is an aqueous property; an organic stream has none")
        return inlet
    if len(given) > 1:
        raise ConfigError(f"{key}.{given[1]}", f"give one of {', '.join(ACIDITY_KEYS)} for a stream, "
                                               f"not both {given[0]} and {given[1]}")
    sulfate = None
    if "sulfate" in body:
        if not medium.speciated:
            raise ConfigError(f"{key}.sulfate", f"the medium is {medium.name}; total sulfate is a key of "
                                                "sulfate liquors (equilibrium.medium: sulfate)")
        sulfate = v.quantity(body["sulfate"], "concentration", f"{key}.sulfate", nonnegative=True)
    acid = 0.0
    if "acid" in body:
        acid = v.quantity(body["acid"], "concentration", f"{key}.acid", nonnegative=True)
    elif "base" in body:
        acid = -v.quantity(body["base"], "concentration", f"{key}.base", nonnegative=True)
    elif "ph" in body:
        ph = v.number(body["ph"], f"{key}.ph", minimum=-1.0, maximum=14.0,
                      what="a pH between -1 and 14")
        temperature = next((s.temperature for s in sections.values()
                            if s.first <= inlet.stage <= s.last), 298.15)
        charge = float(np.asarray(charges, dtype=float) @ inlet.concentration)
        acid = float(medium.acid_at_ph(ph, charge, temperature, sulfate))
    if medium.speciated and sulfate is None:
        charge = float(np.asarray(charges, dtype=float) @ inlet.concentration)
        if medium.stream_sulfate(acid, charge) < 0:
            raise ConfigError(key, f"the liquor carries more free base ({-acid / 1000:.4g} mol/L) than "
                                   "its metal sulfates give sulfate; expected a base below the metal "
                                   "charge, or its total sulfate (key sulfate)")
    return replace(inlet, acid=acid, sulfate=sulfate)


def _phase(value, key):
    if value not in (AQUEOUS, ORGANIC):
        raise ConfigError(key, f"{value!r}; expected 'aqueous' or 'organic'")
    return value


def _stage(value, key, total) -> int:
    """A 1-based stage number in the config -> 0-based index."""
    stage = v.integer(value, key, what=f"a stage number from 1 to {total}")
    if not 1 <= stage <= total:
        raise ConfigError(key, f"{stage} is outside the cascade; expected a stage number from 1 to {total}")
    return stage - 1


def _key_list(body, key, components):
    key_list = body.get("key", [])
    if isinstance(key_list, str):
        key_list = [key_list]
    if not isinstance(key_list, list):
        raise ConfigError(f"{key}.key", f"{key_list!r}; expected a list of component symbols")
    for k, sym in enumerate(key_list):
        if sym not in components:
            raise ConfigError(f"{key}.key[{k}]", f"{sym!r} is not one of the components "
                                                 f"({', '.join(components)})")
    return tuple(key_list)


def _side_draw(prod_name, body, key, end_outlets, sections, total):
    if "stage" not in body or "phase" not in body:
        raise ConfigError(key, f"{prod_name!r} is not an outlet of this cascade ({', '.join(end_outlets)}); "
                               "a side draw needs phase, stage and fraction")
    phase = _phase(body["phase"], f"{key}.phase")
    stage = _stage(body["stage"], f"{key}.stage", total)
    if "fraction" not in body:
        raise ConfigError(f"{key}.fraction", "required for a side draw: the fraction (0..1) of the stage's "
                                             "outflow of that phase taken off")
    fraction = v.number(body["fraction"], f"{key}.fraction", exclusive_minimum=0.0, exclusive_maximum=1.0,
                        what="the fraction of the stage's outflow drawn, between 0 and 1")
    return Outlet(prod_name, phase, stage, fraction, anchor=anchor_of(sections, stage))


def _read_products(raw, components, end_outlets, sections):
    raw = v.mapping(raw, "products")
    total = sum(s.stages for s in sections.values())
    keys, outlets, renamed = {}, dict(end_outlets), {}
    for prod_name, body in raw.items():
        key = f"products.{prod_name}"
        body = v.mapping(body if body is not None else {}, key)
        v.check_keys(body, key, PRODUCT_KEYS)
        keys[prod_name] = _key_list(body, key, components)
        if "outlet" in body:
            target = body["outlet"]
            if target not in end_outlets:
                raise ConfigError(f"{key}.outlet", f"{target!r}; expected one of {', '.join(end_outlets)}")
            if target in renamed:
                raise ConfigError(f"{key}.outlet", f"{target!r} is already named {renamed[target]!r}")
            renamed[target] = prod_name
            outlets[prod_name] = replace(outlets.pop(target), name=prod_name)
        elif prod_name in end_outlets:
            for bad in ("phase", "stage", "fraction"):
                if bad in body:
                    raise ConfigError(f"{key}.{bad}", f"{prod_name} is an end outlet of the cascade; "
                                                      f"its {bad} is fixed")
        else:
            outlets[prod_name] = _side_draw(prod_name, body, key, end_outlets, sections, total)
    # side draws at an end outlet's stage reduce what leaves there; check fractions stay below 1
    drawn = {}
    for outlet in outlets.values():
        if outlet.fraction < 1.0:
            slot = (outlet.phase, outlet.stage)
            drawn[slot] = drawn.get(slot, 0.0) + outlet.fraction
            if drawn[slot] >= 1.0:
                raise ConfigError(f"products.{outlet.name}.fraction", "side draws from one stage and "
                                                                      "phase add up to 1 or more")
    # end outlets take what side draws leave
    result = [replace(o, fraction=1.0 - drawn.get((o.phase, o.stage), 0.0)) if o.fraction == 1.0 else o
              for o in outlets.values()]
    return result, keys
