"""Cascade -> config mapping (the inverse of :func:`sx_model.config.load_config`).

Values are written in SI units with every digit (``repr``), so a cascade read back is the same to the
last bit wherever pint's conversion to SI is exact (it is for the SI units written here).
"""
from __future__ import annotations

from ..circuit import AQUEOUS, ORGANIC
from .layout import RESERVED_STREAMS
from .models import si_text as _si
from .models import write_model


def to_config(cascade) -> dict:
    """A config mapping for ``cascade`` (see module docstring)."""
    circuit = cascade.circuit
    if circuit.layout_fixed:
        from ..errors import ConfigError

        raise ConfigError("flowsheet", "a joined flowsheet has no single cascade config to write or edit; "
                                       "vary inputs, sensitivities, windows and --write work on its cascades' "
                                       "own configs")
    out = {"name": cascade.name, "components": list(circuit.components),
           "equilibrium": write_model(cascade.model),
           "sections": {s.name: _section(s) for s in circuit.sections},
           "streams": _streams(circuit), "products": _products(cascade)}
    if cascade.cost_parameters is not None:
        out["cost"] = _cost(cascade.cost_parameters)
    return out


def _section(section):
    out = {"stages": section.stages}
    if section.efficiency < 1:
        out["efficiency"] = section.efficiency
    if section.temperature != 298.15:
        out["temperature"] = _si(section.temperature, "K")
    if section.mixer_o_a is not None:
        out["mixer_o_a"] = section.mixer_o_a
    return out


def _streams(circuit):
    streams = {}
    for inlet in circuit.inlets:
        body = {"flow": _si(inlet.flow, "m**3/s")}
        if inlet.concentration.any() or inlet.name not in RESERVED_STREAMS:
            body["concentration"] = {c: _si(x, "mol/m**3")
                                     for c, x in zip(circuit.components, inlet.concentration) if x > 0}
        if inlet.acid > 0:
            body["acid"] = _si(inlet.acid, "mol/m**3")
        elif inlet.acid < 0:
            body["base"] = _si(-inlet.acid, "mol/m**3")
        if inlet.sulfate is not None:
            body["sulfate"] = _si(inlet.sulfate, "mol/m**3")
        if inlet.name not in RESERVED_STREAMS:
            if inlet.phase != AQUEOUS:
                body["phase"] = inlet.phase
            if inlet.explicit:
                body["stage"] = inlet.stage + 1
        streams[inlet.name] = body
    if circuit.recycle:
        bleed = next((o.fraction for o in circuit.outlets if o.role == "organic_bleed"), 0.0)
        organic = streams.setdefault("organic", {})
        organic["flow"] = _si(circuit.flow_anchors[ORGANIC][1], "m**3/s")
        organic["recycle"] = True
        if bleed > 0:
            organic["bleed"] = bleed
    return streams


def _products(cascade):
    products = {}
    for outlet in cascade.circuit.outlets:
        if outlet.name not in cascade.product_keys and outlet.role == outlet.name:
            continue        # an end outlet under its own name, no key: nothing to say
        body = {"key": list(cascade.product_keys.get(outlet.name, ()))}
        if outlet.role and outlet.role != outlet.name:
            body["outlet"] = outlet.role
        elif not outlet.role:
            body |= {"phase": outlet.phase, "stage": outlet.stage + 1, "fraction": outlet.fraction}
        products[outlet.name] = body
    return products


def _cost(params):
    from ..cost import DEFAULTS
    from .units import SI_UNITS

    out = {}
    for name, value in params.items():
        kind = DEFAULTS[name][1]
        out[name] = float(value) if kind == "number" else _si(value, SI_UNITS[kind][1])
    return out
