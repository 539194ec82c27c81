"""Sensitivities of a converged cascade: d(output)/d(input) from the converged Jacobian.

At a steady state F(u, p) = 0 the implicit function theorem gives the change of the state with an
input p without re-solving: du/dp = -J^-1 dF/dp, with J = dF/du the Jacobian the solver already
builds. Every output g (a product's purity and recovery, the cost per kg) then changes by
dg/dp = dg/dp|_u + dg/du du/dp. Here:

- dF/dp is a central difference of the residual at the converged state held fixed (the physical
  state: concentrations and internal unknowns), with the input changed by +-h (relative 1e-6): one pair
  of residual evaluations per input, no solve. Rows are scaled differently for p + h and p - h (by each
  component's inflow), but at F = 0 the scale drops out of the central difference to second order.
- J is factored once; all inputs share the factorisation (one triangular solve pair per input).
- dg/dp is a central difference of the post-processing along the tangent (p +- h, u +- h du/dp), which
  covers both the direct dependence (outlet flows, reagent use) and the state's.

Inputs are dotted config paths (``streams.organic.flow``, ``equilibrium.separation_factors.Nd``,
``sections.extraction.efficiency`` ...), edited as ``--vary`` edits them; by default every numeric
input of the chemistry, the streams and the sections except stage counts and feed positions (integers:
no derivative). Results carry both the derivative (per SI unit of the input) and the elasticity
(p/g dg/dp: the % change of the output per % change of the input), which compares inputs of any unit.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, ConvergenceError
from ..results import key_outputs

#: Relative step of the central differences [-].
STEP = 1e-6
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$")
#: Config sections whose numeric leaves are inputs by default, and leaves that are not.
_DEFAULT_ROOTS = ("equilibrium", "streams", "sections")
_NOT_INPUTS = ("stages", "stage")


@dataclass
class Sensitivity:
    """Derivatives of every output with respect to every input at one converged state.

    ``derivative[i, j]`` is d(output i)/d(input j) per SI unit of the input (the unit in ``units``);
    ``elasticity[i, j]`` = (p_j / g_i) d g_i / d p_j.
    """

    name: str
    inputs: list
    values: list                 # input values [SI]
    units: list                  # their SI units (text)
    outputs: list
    output_values: list
    derivative: np.ndarray
    elasticity: np.ndarray
    converged: bool = True
    mass_balance_error: float = 0.0
    method: list = field(default_factory=list)       # "central" or "forward"/"backward" per input

    def rows(self):
        """One row per (output, input) pair."""
        out = []
        for i, g in enumerate(self.outputs):
            for j, p in enumerate(self.inputs):
                out.append({"output": g, "output_value": self.output_values[i], "input": p,
                            "input_value": self.values[j], "input_unit": self.units[j],
                            "derivative": float(self.derivative[i, j]),
                            "elasticity": float(self.elasticity[i, j]), "difference": self.method[j]})
        return out

    def to_dict(self):
        return {"name": self.name, "converged": self.converged, "mass_balance_error": self.mass_balance_error,
                "step": STEP, "inputs": [{"path": p, "value": v, "unit": u, "difference": m}
                                         for p, v, u, m in zip(self.inputs, self.values, self.units, self.method)],
                "outputs": dict(zip(self.outputs, self.output_values)), "rows": self.rows()}

    def to_csv(self):
        from ..results import tidy_csv

        return tidy_csv(self.rows())

    def table(self):
        """Elasticities, one line per input (largest effect first), one column per output."""
        order = np.argsort(-np.nanmax(np.abs(self.elasticity), axis=0)) if self.inputs else []
        width = max([len(p) for p in self.inputs] + [5])
        heads = [g if len(g) <= 22 else g[:21] + "~" for g in self.outputs]
        lines = [f"{self.name}: converged, mass balance closed to {self.mass_balance_error:.1e}",
                 "elasticity (% change of the output per % change of the input):",
                 f"{'input':<{width}}  " + "  ".join(f"{h:>22}" for h in heads)]
        for j in order:
            lines.append(f"{self.inputs[j]:<{width}}  "
                         + "  ".join(f"{self.elasticity[i, j]:>22.4g}" for i in range(len(self.outputs))))
        lines.append("outputs at the base point: " + ", ".join(f"{g} = {v:.8g}" for g, v in
                                                               zip(self.outputs, self.output_values)))
        return "\n".join(lines)

    def tornado(self, output=None):
        from ..plotting import tornado_plot

        return tornado_plot(self, output)


def default_inputs(cascade) -> list:
    """Every numeric input of the chemistry, streams and sections (no stage counts or positions)."""
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key) in _NOT_INPUTS:
                    continue
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, bool) or node is None:
            return
        elif isinstance(node, (int, float)) or _QUANTITY.match(str(node)):
            value, _ = _number(node)
            if value is not None and value != 0.0 and math.isfinite(value):
                found.append(path)

    config = cascade.to_config()
    for root in _DEFAULT_ROOTS:
        if root in config:
            walk(config[root], root)
    return found


def _number(node):
    if isinstance(node, bool):
        return None, ""
    if isinstance(node, (int, float)):
        return float(node), ""
    match = _QUANTITY.match(str(node))
    if not match:
        return None, ""
    return float(match.group(1)), match.group(2).strip()


def continuous_inputs(cascade, paths):
    """(paths, [(value, unit)], [apply]) for dotted paths of continuous inputs of ``cascade`` (each
    named once; values in the cascade's SI config; ``apply(cascade, value)`` edits one)."""
    from ..config.edits import variable

    paths = list(paths)
    if len(set(paths)) != len(paths):
        raise ConfigError("--input", "an input is named twice; expected each once")
    return paths, [_input_value(cascade, p) for p in paths], [variable(p, cascade) for p in paths]


def _input_value(cascade, path):
    """(value, unit) of a config path in the cascade's SI config (ConfigError if it has none)."""
    node = cascade.to_config()
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError("--input", f"{path!r}: the config has no such key")
        node = node[key]
    if path.split(".")[-1] in ("stages", "stage") or (isinstance(node, int) and not isinstance(node, bool)
                                                        and path.endswith(("stages", "stage"))):
        raise ConfigError("--input", f"{path!r} is a whole number (a stage count or position); expected a "
                                     "continuous input (use sweep for stage counts)")
    value, unit = _number(node)
    if value is None or not math.isfinite(value):
        raise ConfigError("--input", f"{path!r} = {node!r}; expected a numeric input")
    return value, unit


def sensitivity(cascade, inputs=None, *, result=None, step: float = STEP, options=None) -> Sensitivity:
    """Derivatives of every product's purity and recovery (and the cost per kg, if the cascade has a
    cost model) with respect to ``inputs`` (dotted config paths; default :func:`default_inputs`).

    ``result`` is the converged result of ``cascade`` (solved here if not given). Raises
    ConvergenceError if the cascade does not solve, ConfigError for an unknown or non-numeric input.
    """
    from ..solvers import steady
    from ..solvers.equations import Network, make_system

    if not (isinstance(step, float) and 0.0 < step < 1e-2):
        raise ConfigError("step", f"{step!r}; expected a relative step between 0 and 0.01")
    inputs, values, applies = continuous_inputs(cascade, default_inputs(cascade) if inputs is None else inputs)
    if result is None:
        result = steady.solve(cascade, options=options)

    base = _State(cascade, make_system, Network)
    u = base.system.pack(result.aqueous, result.organic)
    res, jac = base.system.residual(u)
    lu = steady._factor(jac)
    names, g0 = _outputs(cascade, *base.system.unpack(u))

    columns, methods, units = [], [], []
    perturbed = []
    for (value, unit), apply, path in zip(values, applies, inputs):
        h = step * abs(value)
        sides = {}
        for sign in (1.0, -1.0):
            try:
                edited = apply(cascade, f"{value + sign * h!r} {unit}".strip() if unit else value + sign * h)
                sides[sign] = _State(edited, make_system, Network)
            except ConfigError:
                sides[sign] = None            # outside the input's range: one-sided difference
        if sides[1.0] is None and sides[-1.0] is None:
            raise ConfigError(path, f"{value:g} {unit}: neither {value + h:g} nor {value - h:g} is accepted; "
                                    "no derivative can be taken")
        for state in sides.values():
            if state is not None and state.system.size != base.system.size:
                raise ConfigError(path, "changing it changes the structure of the cascade; expected a "
                                        "continuous input")
        hi = sides[1.0] or _Same(base, cascade)
        lo = sides[-1.0] or _Same(base, cascade)
        span = (h if sides[1.0] else 0.0) + (h if sides[-1.0] else 0.0)
        d_f = (hi.residual_at(u, base) - lo.residual_at(u, base)) / span
        columns.append(d_f)
        perturbed.append((hi, lo, span))
        methods.append("central" if span == 2 * h else ("forward" if sides[1.0] else "backward"))
        units.append(unit)
    if columns:
        du = -lu.solve(np.column_stack(columns))
        if du.ndim == 1:
            du = du[:, None]
    derivative = np.zeros((len(names), len(inputs)))
    for j, (hi, lo, span) in enumerate(perturbed):
        h = span if methods[j] != "central" else span / 2.0
        up = u + (h if hi.edited else 0.0) * du[:, j]
        down = u - (h if lo.edited else 0.0) * du[:, j]
        g_hi = _outputs(hi.cascade, *hi.system.unpack(hi.transfer(up, base)))[1]
        g_lo = _outputs(lo.cascade, *lo.system.unpack(lo.transfer(down, base)))[1]
        derivative[:, j] = (np.asarray(g_hi) - np.asarray(g_lo)) / span
    p = np.array([v for v, _ in values], dtype=float)
    g = np.asarray(g0, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        elasticity = np.where(g[:, None] != 0, derivative * p[None, :] / g[:, None], np.nan)
    return Sensitivity(name=cascade.name, inputs=inputs, values=[float(v) for v, _ in values], units=units,
                       outputs=names, output_values=[float(x) for x in g0], derivative=derivative,
                       elasticity=elasticity, converged=bool(result.converged),
                       mass_balance_error=float(result.mass_balance_error), method=methods)


class _State:
    """A cascade's residual system, to be evaluated at another system's state."""

    edited = True

    def __init__(self, cascade, make_system, network):
        self.cascade = cascade
        net = network(cascade)
        params = cascade.model.prepare(net.conditions)
        self.system = make_system(net, cascade.model, params, cascade.circuit.efficiency())

    def transfer(self, u, base):
        """The vector of this system holding the same physical state as ``u`` of ``base``
        (concentrations rescaled, internal unknowns as they are)."""
        factor = base.system.c_ref / self.system.c_ref
        out = np.array(u, dtype=float, copy=True)
        index = getattr(self.system, "concentration_index", None)
        if index is None:
            out *= factor
        else:
            out[index] *= factor
        return out

    def residual_at(self, u, base):
        return self.system.residual(self.transfer(u, base), with_jacobian=False)[0]


class _Same(_State):
    """The base point itself (one side of a one-sided difference)."""

    edited = False

    def __init__(self, base, cascade):
        self.cascade, self.system = cascade, base.system


def _outputs(cascade, x, y):
    """(names, values): purity and recovery of every keyed product, and the cost per kg of product."""
    from ..postprocess import build_steady_result
    from ..solvers.equations import Network

    net = Network(cascade)
    model = cascade.model
    params = model.prepare(net.conditions)
    try:
        stage_data = {k: np.asarray(v, dtype=float) for k, v in model.diagnostics(x, y, params).items()}
        result = build_steady_result(cascade, net.flows, x, y, closure=np.zeros(len(cascade.components)),
                                     iterations=0, residual_norm=0.0, method="", solve_time=0.0,
                                     stage_data=stage_data, model_reagents=model.reagent_flows(params))
    except ConvergenceError as exc:
        raise ConvergenceError(f"sensitivity of {cascade.name!r}: a state near the solution is not "
                               f"plausible ({exc}); the result sits on a bound") from None
    return key_outputs(result)
