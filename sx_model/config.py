"""YAML configs in, :class:`~sx_model.cascade.Cascade` out (the input edge of the package).

Every dimensional value is a string with units, parsed by pint and converted to SI floats here; every
problem is reported as one :class:`ConfigError` naming the key, the value and what was expected.
See ``docs/config.md`` for the format.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping

import numpy as np

from . import _validate as v
from .cascade import Cascade
from .circuit import AQUEOUS, ORGANIC, Circuit, Inlet, Outlet, Section, countercurrent_links
from .errors import ConfigError

TOP_KEYS = frozenset({"name", "description", "components", "equilibrium", "sections", "streams",
                      "products", "notes", "cost"})
SECTION_ORDER = ("extraction", "scrub", "strip")
SECTION_KEYS = frozenset({"stages", "efficiency"})
#: Reserved stream names and where they enter: (phase, section whose stage, "first" or "last").
RESERVED_STREAMS = {
    "organic": (ORGANIC, "extraction", "first"),
    "scrub": (AQUEOUS, "scrub", "last"),
    "strip": (AQUEOUS, "strip", "last"),
}
STREAM_KEYS = frozenset({"flow", "concentration", "acid", "phase", "stage"})
#: Extra keys of the organic stream: closed loop through the strip section.
ORGANIC_KEYS = frozenset({"recycle", "bleed"})
PRODUCT_KEYS = frozenset({"key", "outlet", "phase", "stage", "fraction"})
#: O/A range outside which a warning is issued [-] (usual mixer-settler practice).
OA_RANGE = (0.1, 10.0)


def read_yaml(path) -> dict:
    """Read a YAML file into a mapping, turning every failure into a one-line ConfigError."""
    import yaml

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{path}: YAML syntax error{where}: {problem}") from None
    if not isinstance(data, Mapping):
        raise ConfigError("", f"{path}: expected a YAML mapping at the top level, got "
                              f"{type(data).__name__}")
    return data


def load_config(source) -> Cascade:
    """Build a :class:`Cascade` from a YAML file path or an already-parsed mapping.

    Raises
    ------
    ConfigError
        On any invalid input, naming the key, the value and what was expected.
    """
    if isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
    else:
        data = read_yaml(source)
    return build_cascade(data)


def build_cascade(data: Mapping) -> Cascade:
    """Validate a config mapping and build the cascade."""
    from .elements import elements
    from .equilibrium import REGISTRY, model_class

    v.mapping(data, "")
    v.check_keys(data, "", TOP_KEYS, required=("components", "equilibrium", "sections", "streams"))
    name = v.text(data.get("name", "cascade"), "name")

    # components
    raw_components = data["components"]
    if not isinstance(raw_components, list) or not raw_components:
        raise ConfigError("components", f"{raw_components!r}; expected a non-empty list of element "
                                        "symbols such as [Pr, Nd]")
    known = elements()
    components = []
    for k, sym in enumerate(raw_components):
        if not isinstance(sym, str) or sym not in known:
            raise ConfigError(f"components[{k}]", f"unknown element {sym!r}; expected one of "
                                                  f"{', '.join(known)}")
        if sym in components:
            raise ConfigError(f"components[{k}]", f"{sym!r} is listed twice")
        components.append(sym)
    components = tuple(components)

    # sections
    sections_raw = v.mapping(data["sections"], "sections")
    v.check_keys(sections_raw, "sections", SECTION_ORDER, required=("extraction",))
    sections, first = [], 0
    for sec_name in SECTION_ORDER:
        if sec_name not in sections_raw:
            continue
        key = f"sections.{sec_name}"
        body = v.mapping(sections_raw[sec_name], key)
        v.check_keys(body, key, SECTION_KEYS, required=("stages",))
        minimum = 1 if sec_name == "extraction" else 0
        stages = v.integer(body["stages"], f"{key}.stages", minimum=minimum,
                           what=f"a whole number of stages >= {minimum}")
        efficiency = 1.0
        if "efficiency" in body:
            efficiency = v.number(body["efficiency"], f"{key}.efficiency", exclusive_minimum=0.0,
                                  maximum=1.0, what="a Murphree stage efficiency in (0, 1]")
        if stages == 0:
            continue
        sections.append(Section(sec_name, first, stages, efficiency))
        first += stages
    total = first
    by_name = {s.name: s for s in sections}

    # equilibrium model
    eq = v.mapping(data["equilibrium"], "equilibrium")
    if "model" not in eq:
        raise ConfigError("equilibrium.model", f"required; one of {', '.join(REGISTRY)}")
    model_name = eq["model"]
    if not isinstance(model_name, str) or model_name not in REGISTRY:
        raise ConfigError("equilibrium.model", f"unknown model {model_name!r}; expected one of "
                                               f"{', '.join(REGISTRY)}")
    cls = model_class(model_name)
    v.check_keys(eq, "equilibrium", cls.config_keys | {"model"})
    model = cls.from_config(eq, components, "equilibrium", [s.name for s in sections])

    # streams
    streams = v.mapping(data["streams"], "streams")
    recycle, bleed, circulating = _read_loop(streams, by_name)
    inlets = []
    for stream_name, body in streams.items():
        if stream_name == "organic" and isinstance(body, Mapping):
            body = {k: val for k, val in body.items() if k not in ORGANIC_KEYS}
        inlet = _read_stream(stream_name, body, components, by_name, total)
        if stream_name == "organic" and recycle:
            if bleed == 0.0:
                continue              # closed loop: no make-up, the anchor fixes the circulating flow
            inlet.flow = bleed * circulating
        inlets.append(inlet)
    for sec_name, stream_name in (("scrub", "scrub"), ("strip", "strip")):
        if sec_name in by_name and stream_name not in streams:
            raise ConfigError(f"streams.{stream_name}", f"required when sections.{sec_name} has stages: "
                                                        "the liquor entering the last stage of that section")
    if recycle and model.internal_count:
        strip = next((i for i in inlets if i.name == "strip"), None)
        if strip is not None and strip.acid <= 0 and bleed == 0.0:
            raise ConfigError("streams.strip.acid", f"{strip.acid:g} mol/m^3: a closed organic loop "
                                                    "with acidity-driven extraction needs acid in the "
                                                    "strip liquor (else the metal extracted can never "
                                                    "leave the loop); expected e.g. '6 mol/L'")
    if not any(inlet.concentration.sum() > 0 for inlet in inlets):
        raise ConfigError("streams", "no stream carries any of the components; expected at least one "
                                     "feed with a concentration")

    # outlets and products
    breaks = [by_name["strip"].first] if "strip" in by_name else []
    links = countercurrent_links(total, breaks)
    end_outlets = {"raffinate": Outlet("raffinate", AQUEOUS, 0)}
    anchors = {}
    if "strip" in by_name:
        end_outlets["strip_liquor"] = Outlet("strip_liquor", AQUEOUS, by_name["strip"].first)
        if recycle:
            links[ORGANIC][total - 1] = 0          # stripped organic back to stage 1
            anchors[ORGANIC] = (0, circulating)
            if bleed > 0:
                end_outlets["organic_bleed"] = Outlet("organic_bleed", ORGANIC, total - 1, bleed)
        else:
            end_outlets["stripped_organic"] = Outlet("stripped_organic", ORGANIC, total - 1)
    else:
        end_outlets["loaded_organic"] = Outlet("loaded_organic", ORGANIC, total - 1)
    outlets, keys = _read_products(data.get("products") or {}, components, end_outlets, total)
    circuit = Circuit(components=components, sections=sections, inlets=inlets, outlets=outlets,
                      links=links, flow_anchors=anchors)
    cascade = Cascade(name=name, circuit=circuit, model=model, product_keys=keys,
                      config=copy.deepcopy(dict(data)))
    cascade.warnings = _operating_warnings(circuit)
    if "cost" in data:
        cascade.cost_parameters = _read_cost(data["cost"])
    return cascade


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
    from .cost import DEFAULTS

    raw = v.mapping(raw if raw is not None else {}, "cost")
    v.check_keys(raw, "cost", DEFAULTS)
    params = {name: default for name, (default, _, _) in DEFAULTS.items()}
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
    from .elements import element

    def read(value, sub):
        quantity_key = sub
        from .units import parse_quantity, registry

        q = parse_quantity(value, quantity_key)
        ureg = registry()
        symbol = sub.rsplit(".", 1)[-1]
        if q.dimensionality == ureg.get_dimensionality("[substance] / [length] ** 3"):
            si = float(q.to("mol/m**3").magnitude)
        elif q.dimensionality == ureg.get_dimensionality("[mass] / [length] ** 3"):
            si = float(q.to("kg/m**3").magnitude) / element(symbol).molar_mass
        else:
            raise ConfigError(sub, f"{value!r} has dimension {q.dimensionality}; expected a "
                                   "concentration such as '0.2 mol/L' or '25 g/L' (mass of element)")
        if not np.isfinite(si) or si < 0:
            raise ConfigError(sub, f"{value!r} must be a finite, non-negative concentration")
        return si

    given = v.component_values(raw, key, components, read=read, require_all=False)
    return np.array([given.get(c, 0.0) for c in components])


def _read_stream(stream_name, body, components, sections, total) -> Inlet:
    key = f"streams.{stream_name}"
    body = v.mapping(body, key)
    v.check_keys(body, key, STREAM_KEYS, required=("flow",))
    flow = v.quantity(body["flow"], "flow", f"{key}.flow", positive=True)
    conc = (_concentrations(body["concentration"], f"{key}.concentration", components)
            if "concentration" in body else np.zeros(len(components)))
    acid = v.quantity(body["acid"], "concentration", f"{key}.acid", nonnegative=True) \
        if "acid" in body else 0.0
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
        stage = sec.first if end == "first" else sec.last
        if phase == ORGANIC and acid:
            raise ConfigError(f"{key}.acid", "acid is an aqueous property; the organic stream has none")
        return Inlet(stream_name, phase, stage, flow, conc, acid)
    # a feed
    phase = body.get("phase", AQUEOUS)
    if phase not in (AQUEOUS, ORGANIC):
        raise ConfigError(f"{key}.phase", f"{phase!r}; expected 'aqueous' or 'organic'")
    if "concentration" not in body:
        raise ConfigError(f"{key}.concentration", "required for a feed: a mapping component -> "
                                                  "concentration such as {Nd: 0.3 mol/L}")
    if "stage" in body:
        stage = v.integer(body["stage"], f"{key}.stage", what=f"a stage number from 1 to {total}")
        if not 1 <= stage <= total:
            raise ConfigError(f"{key}.stage", f"{stage} is outside the cascade; expected a stage "
                                              f"number from 1 to {total}")
        stage -= 1
    else:
        ext = sections["extraction"]
        stage = ext.last if phase == AQUEOUS else min(ext.last + 1, total - 1)
    if phase == ORGANIC and acid:
        raise ConfigError(f"{key}.acid", "acid is an aqueous property; an organic feed has none")
    return Inlet(stream_name, phase, stage, flow, conc, acid)


def _read_products(raw, components, end_outlets, total):
    raw = v.mapping(raw, "products")
    keys = {}
    outlets = dict(end_outlets)
    renamed = {}
    for prod_name, body in raw.items():
        key = f"products.{prod_name}"
        body = v.mapping(body if body is not None else {}, key)
        v.check_keys(body, key, PRODUCT_KEYS)
        key_list = body.get("key", [])
        if isinstance(key_list, str):
            key_list = [key_list]
        if not isinstance(key_list, list):
            raise ConfigError(f"{key}.key", f"{key_list!r}; expected a list of component symbols")
        for k, sym in enumerate(key_list):
            if sym not in components:
                raise ConfigError(f"{key}.key[{k}]", f"{sym!r} is not one of the components "
                                                     f"({', '.join(components)})")
        if "outlet" in body:
            target = body["outlet"]
            if target not in end_outlets:
                raise ConfigError(f"{key}.outlet", f"{target!r}; expected one of "
                                                   f"{', '.join(end_outlets)}")
            if target in renamed:
                raise ConfigError(f"{key}.outlet", f"{target!r} is already named {renamed[target]!r}")
            renamed[target] = prod_name
            old = outlets.pop(target)
            outlets[prod_name] = Outlet(prod_name, old.phase, old.stage, old.fraction)
        elif prod_name in end_outlets:
            for bad in ("phase", "stage", "fraction"):
                if bad in body:
                    raise ConfigError(f"{key}.{bad}", f"{prod_name} is an end outlet of the cascade; "
                                                      f"its {bad} is fixed")
        else:
            if "stage" not in body or "phase" not in body:
                raise ConfigError(key, f"{prod_name!r} is not an outlet of this cascade "
                                       f"({', '.join(end_outlets)}); a side draw needs phase, stage and "
                                       "fraction")
            phase = body["phase"]
            if phase not in (AQUEOUS, ORGANIC):
                raise ConfigError(f"{key}.phase", f"{phase!r}; expected 'aqueous' or 'organic'")
            stage = v.integer(body["stage"], f"{key}.stage", what=f"a stage number from 1 to {total}")
            if not 1 <= stage <= total:
                raise ConfigError(f"{key}.stage", f"{stage} is outside the cascade; expected a stage "
                                                  f"number from 1 to {total}")
            fraction = v.number(body.get("fraction", None) if "fraction" in body else None,
                                f"{key}.fraction", exclusive_minimum=0.0, exclusive_maximum=1.0,
                                what="the fraction of the stage's outflow drawn, between 0 and 1") \
                if "fraction" in body else None
            if fraction is None:
                raise ConfigError(f"{key}.fraction", "required for a side draw: the fraction (0..1) of "
                                                     "the stage's outflow of that phase taken off")
            outlets[prod_name] = Outlet(prod_name, phase, stage - 1, fraction)
        keys[prod_name] = tuple(key_list)
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
    result = []
    for outlet in outlets.values():
        if outlet.fraction == 1.0:
            taken = drawn.get((outlet.phase, outlet.stage), 0.0)
            outlet = Outlet(outlet.name, outlet.phase, outlet.stage, 1.0 - taken)
        result.append(outlet)
    return result, keys


def _operating_warnings(circuit: Circuit) -> list:
    warnings = []
    try:
        flows = circuit.phase_flows()
    except Exception:   # flows are checked (with a proper error) by the solver
        return warnings
    for sec in circuit.sections:
        j = sec.first
        aq, org = flows[AQUEOUS][j], flows[ORGANIC][j]
        if aq > 0 and org > 0:
            ratio = org / aq
            if not OA_RANGE[0] <= ratio <= OA_RANGE[1]:
                warnings.append(f"O/A in the {sec.name} section is {ratio:.3g}, outside the usual "
                                f"{OA_RANGE[0]:g}..{OA_RANGE[1]:g} of mixer-settlers")
    return warnings
