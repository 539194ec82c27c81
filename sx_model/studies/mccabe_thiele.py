"""McCabe-Thiele construction of one section of a simulated cascade, for one component.

For a section (extraction, scrub or strip) and a component this study gives

- the **isotherm** y*(x) of the component, from the cascade's own equilibrium model at the section's
  conditions. Where the model makes y_i a function of x_i alone and the same in every stage of the
  section (``constant_d``, or one component without internal unknowns), the isotherm is exact
  (``kind="model"``). Where it depends on the other components or on the acidity of the stage
  (separation factors, mass action, pH correlations), it is the *stage-state* isotherm
  (``kind="stage states"``): the model evaluated along the simulated stage states, interpolated
  linearly between neighbouring stages (concentrations of every component and the model's internal
  unknowns such as ln [H+]), and beyond the section's ends along the end stage's own isotherm with the
  rest of that stage's state held. It passes through every simulated equilibrium point and holds the
  other components and the acidity where the simulation put them.
- the **operating line** from the component balance over the stages from the section's organic inlet
  to a plane between two stages (docs/theory.md, section 7.5). Stages are numbered along the organic flow
  (docs/config.md): the organic enters the section at its first stage a, the aqueous leaves it there;
  with y_in the organic entering stage a and x_a the aqueous leaving it, the balance over stages a..j
  with constant flows A (aqueous) and O (organic) is ``O (y_j - y_in) = A (x_{j+1} - x_a)``, a line of
  slope A/O through (x_a, y_in) and, by the balance of the whole section, through (x_in, y_out), the
  aqueous entering the last stage b and the organic leaving it.
- the **staircase** of the simulated cascade: equilibrium points (x_j, y_j) of every stage and the
  operating points (x_{j+1}, y_j) of the planes between them (n + 1 operating points for n stages).
- **stepping** for targets: the number of theoretical stages that brings the aqueous leaving the section
  (``aqueous``: the raffinate of an extraction section) or the organic leaving it (``organic``: the
  stripped organic of a strip section) to a target concentration at the simulated flows and inlet
  concentrations, stepping along the isotherm and the operating line (with the section's Murphree
  efficiency); real-valued by geometric interpolation in the last step, which is exact (the Kremser
  stage count) for a linear isotherm.
- the **pinch**: the limiting O/A at which the operating line touches the isotherm, for the target (or,
  without one, for the simulated outlet): a minimum O/A for a target on the aqueous outlet, a maximum
  O/A for one on the organic outlet.

Every result states whether the solve converged and its mass-balance closure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..circuit import AQUEOUS, ORGANIC
from ..errors import ConfigError

#: Section names a McCabe-Thiele diagram can be drawn for.
SECTIONS = ("extraction", "scrub", "wash", "strip")
#: Ends a target can be set on: the aqueous leaving the section (first stage) or the organic leaving it
#: (last stage).
ENDS = ("aqueous", "organic")
#: Relative tolerance within which the section's plane flows count as constant (straight line) [-].
FLOW_TOLERANCE = 1e-9
#: Most stages stepped for one target before it is reported as not reached [-].
MAX_STEPPED_STAGES = 2000
#: Points of the isotherm curve reported and drawn [-].
ISOTHERM_POINTS = 200
#: Grid points over which the pinch is searched before it is refined [-].
PINCH_GRID = 400


@dataclass
class Stepping:
    """Theoretical stages for one target, stepped along the isotherm and the operating line.

    Attributes
    ----------
    target : str
        What was given: ``aqueous``, ``organic`` or the product name that is that outlet.
    end : str
        ``aqueous`` (the aqueous leaving the section's first stage) or ``organic`` (the organic leaving
        its last stage).
    value_mol_per_m3 : float
        Target concentration of the component [mol/m^3].
    reached : bool
        False where the operating line touches the isotherm before the other end (a pinch) or more than
        :data:`MAX_STEPPED_STAGES` stages would be needed.
    stages : float
        Theoretical stages (real-valued; inf when not reached) [-].
    whole_stages : int or None
        Stages rounded up (None when not reached) [-].
    equilibrium : numpy.ndarray
        Stepped stage points (x, y) [mol/m^3], shape (k, 2), in stepping order.
    operating : numpy.ndarray
        Operating points (x, y) [mol/m^3], shape (k + 1, 2), the first at the target's end.
    operating_line : tuple
        (slope A/O [-], x, y [mol/m^3] of the point at the target's end) of the stepped line.
    note : str
    """

    target: str
    end: str
    value_mol_per_m3: float
    reached: bool
    stages: float
    whole_stages: int | None
    equilibrium: np.ndarray
    operating: np.ndarray
    operating_line: tuple
    note: str = ""

    def to_dict(self) -> dict:
        return {"target": self.target, "end": self.end, "value_mol_per_m3": self.value_mol_per_m3,
                "reached": self.reached, "stages": self.stages, "whole_stages": self.whole_stages,
                "equilibrium_mol_per_m3": self.equilibrium.tolist(),
                "operating_mol_per_m3": self.operating.tolist(),
                "operating_line": {"slope_aqueous_per_organic": self.operating_line[0],
                                   "through_mol_per_m3": [self.operating_line[1], self.operating_line[2]]},
                "note": self.note}


@dataclass
class Pinch:
    """Limiting flow ratio of a section: the operating line touching the isotherm.

    Attributes
    ----------
    limit : str
        ``minimum O/A`` (target on the aqueous outlet) or ``maximum O/A`` (on the organic outlet).
    end : str
        ``aqueous`` or ``organic``: the outlet whose concentration is held.
    value_mol_per_m3 : float
        That outlet concentration [mol/m^3] (a target, or the simulated one).
    organic_per_aqueous : float
        The limiting O/A [-] (nan where no flow ratio reaches the outlet concentration).
    at_mol_per_m3 : tuple
        (x, y) where the line touches the isotherm [mol/m^3].
    simulated_organic_per_aqueous : float
        The section's O/A in the simulated cascade [-].
    note : str
    """

    limit: str
    end: str
    value_mol_per_m3: float
    organic_per_aqueous: float
    at_mol_per_m3: tuple
    simulated_organic_per_aqueous: float
    note: str = ""

    def to_dict(self) -> dict:
        return {"limit": self.limit, "end": self.end, "value_mol_per_m3": self.value_mol_per_m3,
                "organic_per_aqueous": self.organic_per_aqueous, "at_mol_per_m3": list(self.at_mol_per_m3),
                "simulated_organic_per_aqueous": self.simulated_organic_per_aqueous, "note": self.note}


@dataclass
class McCabeThiele:
    """McCabe-Thiele construction of one section for one component (see the module docstring).

    Concentrations are in mol/m^3 (= mmol/L) of the component throughout; ``molar_mass`` [kg/mol]
    converts them to g/L for tables and plots.

    Attributes
    ----------
    name, section, component : str
    stages : list of int
        1-based stage numbers of the section, in organic-flow order.
    efficiency : float
        Murphree efficiency of the section's stages [-].
    converged : bool
    method : str
    residual_norm, mass_balance_error : float
        Of the underlying solve [-].
    molar_mass : float
        [kg/mol] of the component.
    isotherm_kind : str
        ``model`` or ``stage states`` (see the module docstring).
    isotherm_note : str
    isotherm : numpy.ndarray
        Points (x, y*) of the isotherm [mol/m^3], shape (P, 2): x increasing for a model isotherm,
        along the stages (first stage first) for a stage-state one.
    isotherm_check : float
        Largest difference between the model's y* at the simulated aqueous of each stage and the
        equilibrium organic the solve implies there (y_j itself at efficiency 1), relative to the
        largest y* (0 up to the solver's tolerance) [-].
    equilibrium : numpy.ndarray
        Simulated stage points (x_j, y_j) [mol/m^3], shape (n, 2).
    operating : numpy.ndarray
        Simulated operating points [mol/m^3], shape (n + 1, 2): (x_a, y_in), (x_{j+1}, y_j), (x_in, y_b).
    aqueous_flow, organic_flow : float
        Flows through the section [m^3/s] (at its first stage).
    straight : bool
        True when every plane of the section carries the same flows (no inlet or draw inside it), so
        the operating line is one straight line.
    balance_deviation : float
        Largest distance of a simulated operating point from the line, relative to the largest
        concentration of the diagram [-].
    balance : str
        The balance the line comes from, in words.
    direction : str
        ``extraction`` (the component passes into the organic in this section) or ``stripping``.
    steps : list of Stepping
    pinch : Pinch or None
    notes : list of str
    """

    name: str
    section: str
    component: str
    stages: list
    efficiency: float
    converged: bool
    method: str
    residual_norm: float
    mass_balance_error: float
    molar_mass: float
    isotherm_kind: str
    isotherm_note: str
    isotherm: np.ndarray
    isotherm_check: float
    equilibrium: np.ndarray
    operating: np.ndarray
    aqueous_flow: float
    organic_flow: float
    straight: bool
    balance_deviation: float
    balance: str
    direction: str
    steps: list = field(default_factory=list)
    pinch: Pinch | None = None
    notes: list = field(default_factory=list)

    @property
    def slope(self) -> float:
        """Slope of the operating line, A/O [-]."""
        return self.aqueous_flow / self.organic_flow

    def to_dict(self) -> dict:
        return {
            "name": self.name, "section": self.section, "component": self.component,
            "stages": list(self.stages), "efficiency": self.efficiency,
            "converged": bool(self.converged), "method": self.method, "residual_norm": self.residual_norm,
            "mass_balance_error": self.mass_balance_error, "molar_mass_kg_per_mol": self.molar_mass,
            "direction": self.direction,
            "isotherm": {"kind": self.isotherm_kind, "note": self.isotherm_note,
                         "check": self.isotherm_check, "points_mol_per_m3": self.isotherm.tolist()},
            "operating_line": {"slope_aqueous_per_organic": self.slope,
                               "organic_per_aqueous": 1.0 / self.slope,
                               "aqueous_flow_m3_per_s": self.aqueous_flow,
                               "organic_flow_m3_per_s": self.organic_flow,
                               "through_mol_per_m3": [self.operating[0].tolist(), self.operating[-1].tolist()],
                               "straight": self.straight, "balance_deviation": self.balance_deviation,
                               "balance": self.balance},
            "simulated_steps": {"equilibrium_mol_per_m3": self.equilibrium.tolist(),
                                "operating_mol_per_m3": self.operating.tolist()},
            "targets": [s.to_dict() for s in self.steps],
            "pinch": None if self.pinch is None else self.pinch.to_dict(),
            "notes": list(self.notes),
        }

    def rows(self) -> list:
        """Plain rows: the simulated equilibrium and operating points, the stepped points of each
        target and the isotherm, concentrations in mol/m^3."""
        rows = []
        for k, (x, y) in enumerate(self.equilibrium):
            rows.append({"series": "simulated", "kind": "equilibrium", "stage": self.stages[k],
                         "x_mol_per_m3": float(x), "y_mol_per_m3": float(y)})
        for k, (x, y) in enumerate(self.operating):
            rows.append({"series": "simulated", "kind": "operating", "stage": self.stages[0] - 1 + k,
                         "x_mol_per_m3": float(x), "y_mol_per_m3": float(y)})
        for s in self.steps:
            label = f"target {s.target}"
            for k, (x, y) in enumerate(s.equilibrium):
                rows.append({"series": label, "kind": "equilibrium", "stage": k + 1,
                             "x_mol_per_m3": float(x), "y_mol_per_m3": float(y)})
            for k, (x, y) in enumerate(s.operating):
                rows.append({"series": label, "kind": "operating", "stage": k,
                             "x_mol_per_m3": float(x), "y_mol_per_m3": float(y)})
        for x, y in self.isotherm:
            rows.append({"series": "isotherm", "kind": self.isotherm_kind, "stage": None,
                         "x_mol_per_m3": float(x), "y_mol_per_m3": float(y)})
        return rows

    def to_csv(self) -> str:
        from ..results import tidy_csv

        return tidy_csv(self.rows())

    def _scale(self, units):
        if units == "g/L":
            return self.molar_mass          # mol/m^3 * kg/mol = kg/m^3 = g/L
        if units == "mol/L":
            return 1e-3
        raise ValueError(f"units {units!r}; expected g/L or mol/L")

    def table(self, units: str = "g/L") -> str:
        """Text report; concentrations in ``units`` (``g/L`` or ``mol/L``) of the component."""
        k = self._scale(units)
        c = f"{units} {self.component}"
        lines = [f"{self.name}: McCabe-Thiele, {self.section} section (stages {self.stages[0]}.."
                 f"{self.stages[-1]}), component {self.component}",
                 f"solve: converged {self.converged} ({self.method}), mass-balance closure "
                 f"{self.mass_balance_error:.2e}",
                 f"isotherm: {self.isotherm_kind} ({self.isotherm_note}); check at the stages "
                 f"{self.isotherm_check:.1e}",
                 f"operating line: slope A/O = {self.slope:.6g} (O/A = {1 / self.slope:.6g}), through "
                 f"({self.operating[0][0] * k:.6g}, {self.operating[0][1] * k:.6g}) and "
                 f"({self.operating[-1][0] * k:.6g}, {self.operating[-1][1] * k:.6g}) {c}; "
                 f"{'straight' if self.straight else 'NOT straight (flows change inside the section)'}, "
                 f"largest deviation {self.balance_deviation:.1e}",
                 f"  {self.balance}",
                 f"direction: {self.direction}; Murphree efficiency {self.efficiency:g}",
                 "",
                 f"{'stage':>5}  {'x [' + c + ']':>16}  {'y [' + c + ']':>16}  {'y entering [' + c + ']':>21}"]
        for j, (x, y) in enumerate(self.equilibrium):
            lines.append(f"{self.stages[j]:>5}  {x * k:>16.6g}  {y * k:>16.6g}  {self.operating[j][1] * k:>21.6g}")
        for s in self.steps:
            lines.append("")
            where = "aqueous leaving stage %d" % self.stages[0] if s.end == "aqueous" else \
                "organic leaving stage %d" % self.stages[-1]
            if s.reached:
                lines.append(f"target {s.target} = {s.value_mol_per_m3 * k:.6g} {c} ({where}): "
                             f"{s.stages:.4f} theoretical stages -> {s.whole_stages} "
                             f"(section has {len(self.stages)})")
            else:
                lines.append(f"target {s.target} = {s.value_mol_per_m3 * k:.6g} {c} ({where}): not reached; "
                             f"{s.note}")
        if self.pinch is not None:
            p = self.pinch
            lines.append("")
            if math.isfinite(p.organic_per_aqueous):
                lines.append(f"{p.limit}: {p.organic_per_aqueous:.6g} for the {p.end} outlet at "
                             f"{p.value_mol_per_m3 * k:.6g} {c} (pinch at x = {p.at_mol_per_m3[0] * k:.6g}, "
                             f"y = {p.at_mol_per_m3[1] * k:.6g}); simulated O/A "
                             f"{p.simulated_organic_per_aqueous:.6g}")
            else:
                lines.append(f"{p.limit}: none; {p.note}")
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def plot(self, path=None, units: str = "g/L", ax=None):
        """McCabe-Thiele diagram; see :mod:`sx_model.plotting_mccabe`."""
        from ..plotting_mccabe import plot_mccabe_thiele

        return plot_mccabe_thiele(self, path=path, units=units, ax=ax)


# ----------------------------------------------------------------------------------------------
# the isotherm


class _Isotherm:
    """y*_i as a function of x_i for one section (see the module docstring)."""

    def __init__(self, model, params, x, w, stages, i):
        self.model, self.params = model, params
        self.x, self.w = x, w
        self.stages = list(stages)
        self.i = i
        path = x[self.stages, i]
        self.path = path
        self.kind = "model"
        self.monotone = bool(len(path) == 1 or np.all(np.diff(path) > 0) or np.all(np.diff(path) < 0))

    def _organic(self, X, W, row):
        if W is None:
            return float(self.model.equilibrium(X, self.params)[0][row, self.i])
        return float(self.model.equilibrium_internal(X, W, self.params)[0][row, self.i])

    def at_stage(self, j, xi):
        """Stage j's own isotherm: its state with x_i replaced by ``xi``."""
        X = self.x.copy()
        X[j, self.i] = max(float(xi), 0.0)
        return self._organic(X, self.w, j)

    def __call__(self, xi):
        xi = max(float(xi), 0.0)
        if self.kind == "model" or len(self.stages) == 1:
            return self.at_stage(self.stages[0], xi)
        p = self.path
        for k in range(len(p) - 1):          # the first interval, from the section's first stage
            if min(p[k], p[k + 1]) <= xi <= max(p[k], p[k + 1]) and p[k] != p[k + 1]:
                return self._between(k, (xi - p[k]) / (p[k + 1] - p[k]))
        low, high = int(np.argmin(p)), int(np.argmax(p))
        return self.at_stage(self.stages[low if xi < p[low] else high], xi)

    def _between(self, k, t):
        """y_i at fraction t of the way from the section's k-th stage to the next (state interpolated
        linearly; each stage's own parameters, blended by t so that the curve is continuous)."""
        j0, j1 = self.stages[k], self.stages[k + 1]
        state = (1.0 - t) * self.x[j0] + t * self.x[j1]
        ys = []
        for row in (j0, j1):
            X = self.x.copy()
            X[row] = state
            W = None
            if self.w is not None:
                W = self.w.copy()
                W[row] = (1.0 - t) * self.w[j0] + t * self.w[j1]
            ys.append(self._organic(X, W, row))
        return (1.0 - t) * ys[0] + t * ys[1]

    def curve(self, x_top, points):
        """Points (x, y*) to draw: the model curve from 0 to ``x_top``, or for stage states the path
        through the stages (in stage order) with each end stage's own isotherm beyond it."""
        if self.kind == "model" or len(self.stages) == 1:
            grid = np.linspace(0.0, x_top, points)
            return np.column_stack([grid, [self.at_stage(self.stages[0], v) for v in grid]])
        p = self.path
        per = max(2, points // max(len(p) - 1, 1))
        out = []
        first, last = (0, len(p) - 1)
        lead = np.linspace(0.0, p[first], per) if p[first] < p[last] else np.linspace(x_top, p[first], per)
        out += [(v, self.at_stage(self.stages[first], v)) for v in lead[:-1]]
        for k in range(len(p) - 1):
            for t in np.linspace(0.0, 1.0, per)[:-1]:
                out.append(((1.0 - t) * p[k] + t * p[k + 1], self._between(k, t)))
        tail = np.linspace(p[last], x_top, per) if p[first] < p[last] else np.linspace(p[last], 0.0, per)
        out += [(v, self.at_stage(self.stages[last], v)) for v in tail]
        return np.array(out)


def _build_isotherm(cascade, result, stages, i):
    model = cascade.model
    params = model.prepare(cascade.conditions())
    x = np.maximum(np.asarray(result.aqueous, dtype=float), 0.0)
    w = model.internal_start(x, params) if model.internal_count else None
    iso = _Isotherm(model, params, x, w, stages, i)
    single = model.linear or (len(cascade.components) == 1 and not model.internal_count)
    if single and len(stages) > 1:
        top = max(float(np.max(x[stages, i])), 1e-12)
        probes = np.array([0.25, 0.5, 1.0, 1.5]) * top
        ref = np.array([iso.at_stage(stages[0], v) for v in probes])
        for j in stages[1:]:
            other = np.array([iso.at_stage(j, v) for v in probes])
            if np.max(np.abs(other - ref)) > 1e-9 * max(np.max(np.abs(ref)), 1e-300):
                single = False
                break
    if single:
        iso.kind = "model"
        note = (f"the {model.name} model's y*({cascade.components[i]}), a function of this component's "
                "aqueous concentration alone, the same in every stage of the section")
    else:
        iso.kind = "stage states"
        reason = "the acidity of the stage" if model.internal_count else "the other components"
        if len(cascade.components) > 1 and model.internal_count:
            reason = "the other components and the acidity of the stage"
        note = (f"the {model.name} model along the simulated stage states (y* depends on {reason}; "
                "interpolated linearly between stages, the end stages' own isotherms beyond)")
    return iso, note


# ----------------------------------------------------------------------------------------------
# the study


def mccabe_thiele(cascade, section: str = "extraction", component: str | None = None, targets=None, *,
                  result=None, points: int = ISOTHERM_POINTS) -> McCabeThiele:
    """McCabe-Thiele construction of one section of ``cascade`` for one component.

    Parameters
    ----------
    cascade : Cascade
        The cascade (a config path or mapping is read with :func:`sx_model.load_config`).
    section : str
        ``extraction``, ``scrub``, ``wash`` or ``strip``.
    component : str, optional
        Default: the only component, else the single key of the product the section's organic or
        aqueous outlet belongs to (the loaded organic, strip liquor or raffinate).
    targets : mapping, optional
        ``{end: concentration [mol/m^3]}``: ``aqueous`` (leaving the section's first stage), ``organic``
        (leaving its last stage), or a product name that is one of those outlets (``raffinate``,
        ``loaded_organic``, ``stripped_organic``, ``strip_liquor``).
    result : SteadyResult, optional
        The solved cascade (solved here when not given).
    points : int
        Points of the isotherm curve.

    Raises
    ------
    ConfigError
        Key ``section``, ``component`` or ``target`` for a section or component the cascade has not got
        or a target that is not an outlet of the section or lies beyond its inlet.
    ConvergenceError
        When the cascade does not solve.
    """
    from ..cascade import Cascade

    if not isinstance(cascade, Cascade):
        if hasattr(cascade, "aqueous") and hasattr(cascade, "products"):
            raise TypeError("mccabe_thiele needs the Cascade (its model and layout); pass the solved "
                            "result as result=")
        from ..config import load_config

        cascade = load_config(cascade)
    circuit = cascade.circuit
    if section not in SECTIONS:
        raise ConfigError("section", f"{section!r}; expected one of {', '.join(SECTIONS)}")
    sec = circuit.section(section)
    if sec is None:
        raise ConfigError("section", f"{section!r}: this cascade has no {section} section; it has "
                                     f"{', '.join(s.name for s in circuit.sections)}")
    stages = list(range(sec.first, sec.last + 1))
    i = _component(cascade, sec, component)
    if result is None:
        from ..solvers.steady import solve

        result = solve(cascade)
    x = np.asarray(result.aqueous, dtype=float)
    y = np.asarray(result.organic, dtype=float)
    a, b = sec.first, sec.last

    # flows and the operating points of the simulation
    flows = {AQUEOUS: np.asarray(result.aqueous_flow, dtype=float),
             ORGANIC: np.asarray(result.organic_flow, dtype=float)}
    drawn = circuit.draw_fractions()
    y_in = _entering(circuit, flows, y, ORGANIC, a, i)
    x_in = _entering(circuit, flows, x, AQUEOUS, b, i)
    A, O = float(flows[AQUEOUS][a]), float(flows[ORGANIC][a])
    plane_aq = [flows[AQUEOUS][j + 1] * (1.0 - drawn[AQUEOUS][j + 1]) for j in range(a, b)]
    plane_org = [flows[ORGANIC][j] * (1.0 - drawn[ORGANIC][j]) for j in range(a, b)]
    # volumes are conserved: the aqueous entering the last stage is its outflow, likewise the organic
    straight = all(abs(v - A) <= FLOW_TOLERANCE * A for v in plane_aq + [flows[AQUEOUS][b]]) and \
        all(abs(v - O) <= FLOW_TOLERANCE * O for v in plane_org + [flows[ORGANIC][b]])
    equilibrium = np.column_stack([x[stages, i], y[stages, i]])
    operating = np.array([[x[a, i], y_in]] + [[x[j + 1, i], y[j, i]] for j in range(a, b)] + [[x_in, y[b, i]]])
    r = A / O
    scale = max(float(np.max(np.abs(equilibrium))), float(np.max(np.abs(operating))), 1e-300)
    line = operating[0, 1] + r * (operating[:, 0] - operating[0, 0])
    deviation = float(np.max(np.abs(line - operating[:, 1]))) / scale
    n1 = a + 1
    balance = (f"component balance over stages {n1}..j (organic enters stage {n1}, aqueous leaves it): "
               f"O (y_j - y_in) = A (x_(j+1) - x_{n1}), so y = y_in + (A/O) (x - x_{n1}) with "
               f"A = {A:.6g} m^3/s, O = {O:.6g} m^3/s")
    direction = "extraction" if y[b, i] >= y_in else "stripping"

    iso, iso_note = _build_isotherm(cascade, result, stages, i)
    efficiency = float(sec.efficiency)
    # the model at the simulated aqueous against the equilibrium organic the solve implies
    # (y* = y_in + (y_j - y_in) / E with y_in the organic entering the stage)
    y_model = np.array([iso.at_stage(j, x[j, i]) for j in stages])
    y_implied = operating[:-1, 1] + (equilibrium[:, 1] - operating[:-1, 1]) / efficiency
    iso_check = float(np.max(np.abs(y_implied - y_model))) / max(float(np.max(np.abs(y_model))), 1e-300)
    notes = []
    if efficiency < 1.0:
        notes.append(f"Murphree efficiency {efficiency:g}: the simulated stage points lie between the "
                     "operating line and the isotherm, y_j = y_in,j + E (y*(x_j) - y_in,j)")
    if not straight:
        notes.append("the flows change inside the section (an inlet or a draw between its stages): the "
                     "operating line is straight only between them; stepping and the pinch use the flows "
                     f"at stage {n1}")
    if not iso.monotone and iso.kind != "model":
        notes.append(f"the aqueous {cascade.components[i]} profile is not monotone in the section, so the "
                     "stage-state isotherm is not a function of x: it is drawn along the stages, and no "
                     "stepping or pinch is given")

    x_hi = max(float(np.max(equilibrium[:, 0])), float(np.max(operating[:, 0])))
    isotherm = iso.curve(1.05 * x_hi if x_hi > 0 else 1.0, max(int(points), 2))

    ctx = _Context(iso, efficiency, r, x_in, y_in, x[a, i], y[b, i])
    defined = iso.kind == "model" or iso.monotone
    undefined = "the stage-state isotherm is not a function of x (the aqueous profile is not monotone)"
    steps = []
    for name, value in _targets(cascade, sec, targets).items():
        end = _end_of(cascade, sec, name)
        if defined:
            steps.append(ctx.step(name, end, value))
        else:
            steps.append(Stepping(name, end, value, False, math.inf, None, np.zeros((0, 2)), np.zeros((0, 2)),
                                  (r, math.nan, math.nan), undefined))
    if iso.kind != "model" and defined:
        notes.append("stepping and the pinch on a stage-state isotherm hold the other components and the "
                     "acidity where the simulation put them (beyond the section's ends: the end stage's); "
                     "far from the simulated outlet they are not a prediction: re-run the cascade instead")
    end = steps[0].end if steps else ("aqueous" if direction == "extraction" else "organic")
    value = steps[0].value_mol_per_m3 if steps else (x[a, i] if end == "aqueous" else y[b, i])
    if defined:
        pinch = ctx.pinch(end, value)
    else:
        pinch = Pinch("minimum O/A" if end == "aqueous" else "maximum O/A", end, value, math.nan,
                      (math.nan, math.nan), 1.0 / r, undefined)

    return McCabeThiele(
        name=cascade.name, section=section, component=cascade.components[i],
        stages=[j + 1 for j in stages], efficiency=efficiency, converged=bool(result.converged),
        method=result.method, residual_norm=float(result.residual_norm),
        mass_balance_error=float(result.mass_balance_error), molar_mass=float(circuit.molar_masses[i]),
        isotherm_kind=iso.kind, isotherm_note=iso_note, isotherm=isotherm, isotherm_check=iso_check,
        equilibrium=equilibrium, operating=operating, aqueous_flow=A, organic_flow=O, straight=straight,
        balance_deviation=deviation, balance=balance, direction=direction, steps=steps, pinch=pinch,
        notes=notes)


def _component(cascade, sec, component):
    comps = cascade.components
    if component is not None:
        if component not in comps:
            raise ConfigError("component", f"{component!r} is not a component of this cascade; expected one "
                                           f"of {', '.join(comps)}")
        return comps.index(component)
    if len(comps) == 1:
        return 0
    # the single key of a product leaving the section (organic side first)
    for phase, stage in ((ORGANIC, sec.last), (AQUEOUS, sec.first)):
        for outlet in cascade.circuit.outlets:
            key = cascade.product_keys.get(outlet.name, ())
            if outlet.phase == phase and outlet.stage == stage and len(key) == 1:
                return comps.index(key[0])
    raise ConfigError("component", f"none given and the {sec.name} section has no product with a single "
                                   f"key component; expected one of {', '.join(comps)}")


def _entering(circuit, flows, conc, phase, stage, i):
    """Mixed concentration of component i in ``phase`` entering ``stage`` (links and inlets)."""
    T = circuit.transfer_matrix(phase)
    load = float((T @ (flows[phase] * conc[:, i]))[stage])
    volume = float((T @ flows[phase])[stage])
    for inlet in circuit.inlets:
        if inlet.phase == phase and inlet.stage == stage:
            load += inlet.flow * float(inlet.concentration[i])
            volume += inlet.flow
    return load / volume if volume > 0 else 0.0


def _outlet_ends(cascade, sec) -> dict:
    """Product names that are the section's outlets -> end."""
    out = {}
    for outlet in cascade.circuit.outlets:
        if outlet.fraction != 1.0:
            continue
        if outlet.phase == AQUEOUS and outlet.stage == sec.first:
            out[outlet.name] = "aqueous"
        elif outlet.phase == ORGANIC and outlet.stage == sec.last:
            out[outlet.name] = "organic"
    return out


def _end_of(cascade, sec, name):
    if name in ENDS:
        return name
    ends = _outlet_ends(cascade, sec)
    if name in ends:
        return ends[name]
    allowed = list(ENDS) + sorted(ends)
    raise ConfigError("target", f"{name!r} is not an outlet of the {sec.name} section; expected one of "
                                f"{', '.join(allowed)}")


def _targets(cascade, sec, targets) -> dict:
    out = {}
    for name, value in dict(targets or {}).items():
        _end_of(cascade, sec, name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError("target", f"{name}={value!r}; expected a concentration in mol/m^3") from None
        if not math.isfinite(number) or number < 0:
            raise ConfigError("target", f"{name}={value!r}; expected a finite concentration >= 0")
        out[name] = number
    ends = [_end_of(cascade, sec, n) for n in out]
    if len(set(ends)) != len(ends):
        raise ConfigError("target", "two targets on the same outlet; expected one per outlet")
    return out


class _Context:
    """Stepping and pinch at the simulated flows and inlet concentrations of one section."""

    def __init__(self, f, efficiency, r, x_in, y_in, x_out, y_out):
        self.f, self.E, self.r = f, efficiency, r
        self.x_in, self.y_in = x_in, y_in           # aqueous entering the last stage, organic the first
        self.x_out, self.y_out = x_out, y_out       # simulated outlets (for messages)

    # -- stepping ----------------------------------------------------------------------------------
    def step(self, name, end, value) -> Stepping:
        r = self.r
        if end == "aqueous":
            x0, y0 = value, self.y_in
            goal = self.x_in
            if value == self.x_in:
                raise ConfigError("target", f"{name}={value:.6g} mol/m^3 equals the aqueous entering the "
                                            "section; expected a concentration the section changes")
        else:
            x0, y0 = self.x_in, value
            goal = self.x_in + (self.y_in - value) / r
            if value == self.y_in:
                raise ConfigError("target", f"{name}={value:.6g} mol/m^3 equals the organic entering the "
                                            "section; expected a concentration the section changes")
        if end == "aqueous" and not (value - self.x_in) * (self.x_out - self.x_in) > 0:
            side = "below" if self.x_out < self.x_in else "above"
            raise ConfigError("target", f"{name}={value:.6g} mol/m^3 is not {side} the aqueous entering the "
                                        f"section ({self.x_in:.6g} mol/m^3); expected a value {side} it, "
                                        "the way the section moves it")
        if end == "organic" and not (value - self.y_in) * (self.y_out - self.y_in) > 0:
            side = "below" if self.y_out < self.y_in else "above"
            raise ConfigError("target", f"{name}={value:.6g} mol/m^3 is not {side} the organic entering the "
                                        f"section ({self.y_in:.6g} mol/m^3); expected a value {side} it, "
                                        "the way the section moves it")
        line = (r, x0, y0)
        sign = 1.0 if goal > x0 else -1.0
        ops = [(x0, y0)]
        eqs = []
        crossed = None
        note = ""
        extra = None
        state = (x0, y0)
        for k in range(1, MAX_STEPPED_STAGES + 2):
            nxt = self._one(end, state, line)
            if nxt is None:
                note = "the operating line meets the isotherm before the other end of the section (pinch)"
                break
            (xe, ye), (xo, yo) = nxt
            if crossed is not None:
                extra = xo
                break
            eqs.append((xe, ye))
            ops.append((xo, yo))
            progress = (xo - ops[-2][0]) * sign
            if (xo - goal) * sign >= 0:
                crossed = k
                state = (xo, yo)
                continue
            if not progress > 1e-14 * max(abs(goal), abs(x0), 1e-300):
                note = "the operating line meets the isotherm before the other end of the section (pinch)"
                break
            state = (xo, yo)
        else:
            note = f"more than {MAX_STEPPED_STAGES} stages"
        if crossed is None:
            return Stepping(name, end, value, False, math.inf, None, np.array(eqs).reshape(-1, 2),
                            np.array(ops).reshape(-1, 2), line, note or "not reached")
        X = [p[0] for p in ops]
        k = crossed
        d, delta = goal - X[k - 1], X[k] - X[k - 1]
        if k >= 2:
            ratio = delta / (X[k - 1] - X[k - 2])
        elif extra is not None:
            ratio = (extra - X[k]) / delta
        else:
            ratio = 1.0
        theta = _fraction(d, delta, ratio)
        stages = (k - 1) + theta
        whole = int(math.ceil(stages - 1e-9))
        return Stepping(name, end, value, True, float(stages), max(whole, 1), np.array(eqs), np.array(ops),
                        line, "")

    def _one(self, end, state, line):
        """One stage from the operating point ``state``: (equilibrium point, next operating point)."""
        r, x0, y0 = line
        E = self.E
        if end == "aqueous":
            x, y_prev = state
            ye = y_prev + E * (self.f(x) - y_prev)
            return (x, ye), (x0 + (ye - y0) / r, ye)
        # organic end: the stage's organic outflow y is known; find its aqueous x from the Murphree
        # relation with the organic entering it on the operating line
        _, y = state

        def g(xv):
            return (1.0 - E) * (y0 + r * (xv - x0)) + E * self.f(xv) - y

        xe = _root(g)
        if xe is None:
            return None
        return (xe, y), (xe, y0 + r * (xe - x0))

    # -- pinch -------------------------------------------------------------------------------------
    def pinch(self, end, value) -> Pinch:
        f, r_sim = self.f, self.r
        if end == "aqueous":
            # r <= (f(x) - y_in) / (x - x_t) for every x between the target and the aqueous inlet
            x0, y0, x_end = value, self.y_in, self.x_in
            limit = "minimum O/A"
        else:
            x0, y0 = self.x_in, value
            x_end = _root(lambda xv: f(xv) - self.y_in)
            limit = "maximum O/A"
            if x_end is None:
                return Pinch(limit, end, value, math.nan, (math.nan, math.nan), 1.0 / r_sim,
                             "the isotherm never reaches the organic entering the section")
        if x_end == x0:
            return Pinch(limit, end, value, math.nan, (math.nan, math.nan), 1.0 / r_sim,
                         "the outlet concentration equals the inlet's")

        def h(xv):
            return (f(xv) - y0) / (xv - x0)

        if end == "aqueous":
            xv, rv = _extremum(h, x0, x_end, minimum=True)
            if not rv > 0:
                return Pinch(limit, end, value, math.nan, (xv, f(xv)), 1.0 / r_sim,
                             "no flow ratio reaches this outlet concentration: the isotherm there is not "
                             "beyond the organic entering the section")
            return Pinch(limit, end, value, 1.0 / rv, (xv, f(xv)), 1.0 / r_sim)

        # organic end: the smallest r with r >= h(x) for x between x_in and where the line meets y_in
        def excess(rv):
            x_meet = x0 + (self.y_in - y0) / rv
            if (x_meet - x0) * (x_end - x0) > 0 and abs(x_meet - x0) > abs(x_end - x0):
                x_meet = x_end
            return _extremum(h, x0, x_meet, minimum=False)[1] - rv

        lo = abs(self.y_in - y0) / abs(x_end - x0)       # the line through the far pinch at x_end
        if excess(lo) <= 0:
            rv = lo
        else:
            hi = lo
            for _ in range(200):
                hi *= 2.0
                if excess(hi) <= 0:
                    break
            else:
                return Pinch(limit, end, value, math.nan, (math.nan, math.nan), 1.0 / r_sim,
                             "no flow ratio reaches this outlet concentration")
            from scipy.optimize import brentq

            rv = brentq(excess, lo, hi, xtol=1e-300, rtol=1e-13, maxiter=200)
        x_meet = x0 + (self.y_in - y0) / rv
        xv, _ = _extremum(h, x0, x_meet, minimum=False)
        return Pinch(limit, end, value, 1.0 / rv, (xv, f(xv)), 1.0 / r_sim)


def _fraction(d, delta, ratio):
    """Fraction of the last step: the steps near the end form a geometric series of ratio ``ratio``
    (exact for a linear isotherm, where the ratio is the extraction or stripping factor)."""
    if delta == 0:
        return 1.0
    q = d / delta
    if not (math.isfinite(ratio) and ratio > 0) or abs(ratio - 1.0) < 1e-9:
        return min(max(q, 0.0), 1.0)
    theta = math.log1p(q * (ratio - 1.0)) / math.log(ratio)
    return min(max(theta, 0.0), 1.0)


def _root(g):
    """x >= 0 with g(x) = 0 for an increasing g, or None."""
    from scipy.optimize import brentq

    g0 = g(0.0)
    if g0 == 0:
        return 0.0
    if g0 > 0:
        return None
    hi = 1.0
    value = g(hi)
    for _ in range(400):
        if value >= 0:
            break
        hi *= 2.0
        value = g(hi)
        if not math.isfinite(value):
            return None
    else:
        return None
    return brentq(g, 0.0, hi, xtol=1e-300, rtol=1e-15, maxiter=500)


def _extremum(h, x0, x1, minimum=True):
    """(x, h(x)) of the smallest (largest) h over the interval from x0 (excluded) to x1 (included):
    a grid, the far end exactly, then a bounded refinement around the best grid point."""
    from scipy.optimize import minimize_scalar

    sign = 1.0 if minimum else -1.0
    grid = x0 + (x1 - x0) * np.linspace(0.0, 1.0, PINCH_GRID + 1)[1:]
    values = np.array([sign * h(v) for v in grid])
    k = int(np.argmin(values))
    best_x, best = float(grid[k]), float(values[k])
    if k < len(grid) - 1:
        lo = grid[k - 1] if k > 0 else x0 + (x1 - x0) * 1e-9
        hi = grid[k + 1]
        lo, hi = min(lo, hi), max(lo, hi)
        res = minimize_scalar(lambda v: sign * h(v), bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-12 * max(abs(hi), 1e-300)})
        if res.success and res.fun < best:
            best_x, best = float(res.x), float(res.fun)
    return best_x, sign * best
