"""Operating windows: over what range of each input do the targets still hold?

A design that meets its targets at the nominal flows may sit on a cliff: in a separation-factor cascade
near the material-balance edge, a few per cent less organic can move the front between the sections and
ruin a product. For each chosen input (default: the organic flow and the scrub acid), the window is the
interval around the nominal value in which every target holds with the other inputs at nominal: found by
stepping out from the nominal value (0.25 %, 0.5 %, 1 %, 2 %, 5 %, 10 %, 20 % ... up to ``span``) until a
target fails, then bisecting to ``tol``. A solve that fails counts as a target missed. The distance to
the cliff is the smaller of the two distances from the nominal value to the window's edges.

:func:`window_map` solves a grid over two inputs for the window plot (targets met or not, and the
worst margin to the targets at each point).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, SxModelError
from .executors import SerialExecutor

STEPS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


@dataclass
class InputWindow:
    path: str
    nominal: float
    unit: str
    low: float | None           # lowest value where the targets hold [SI] (None: below the search)
    high: float | None          # highest value (None: beyond the search)
    span: float

    @property
    def low_fraction(self):
        return None if self.low is None else self.low / self.nominal - 1.0

    @property
    def high_fraction(self):
        return None if self.high is None else self.high / self.nominal - 1.0

    @property
    def cliff(self):
        """Smallest relative change of this input that breaks a target (``span`` or more if none
        was found within the search)."""
        sides = [abs(f) for f in (self.low_fraction, self.high_fraction) if f is not None]
        return min(sides) if sides else math.inf


@dataclass
class WindowResult:
    name: str
    targets: dict
    met_at_nominal: bool
    windows: list
    solves: int = 0
    elapsed_s: float = 0.0
    grid: dict = field(default_factory=dict)       # from window_map, for the plot

    @property
    def cliff(self):
        """(input, relative distance) of the nearest cliff over all inputs."""
        if not self.windows:
            return None, math.inf
        w = min(self.windows, key=lambda w: w.cliff)
        return w.path, w.cliff

    def to_dict(self):
        return {"name": self.name, "targets": {k: {"purity": p, "recovery": r} for k, (p, r) in self.targets.items()},
                "met_at_nominal": self.met_at_nominal, "solves": self.solves, "elapsed_s": self.elapsed_s,
                "nearest_cliff": {"input": self.cliff[0],
                                  "relative_distance": None if math.isinf(self.cliff[1]) else self.cliff[1]},
                "inputs": [{"path": w.path, "nominal": w.nominal, "unit": w.unit, "low": w.low, "high": w.high,
                            "low_fraction": w.low_fraction, "high_fraction": w.high_fraction,
                            "searched_fraction": w.span} for w in self.windows]}

    def rows(self):
        return self.to_dict()["inputs"]

    def to_csv(self):
        from ..results import tidy_csv

        return tidy_csv(self.rows())

    def table(self):
        shown = ", ".join(f"{k} purity >= {p:g}" + (f", recovery >= {r:g}" if r is not None else "")
                          for k, (p, r) in self.targets.items())
        lines = [f"{self.name}: operating window for {shown} ({self.solves} solves, {self.elapsed_s:.2f} s)"]
        if not self.met_at_nominal:
            lines.append("the targets are NOT met at the nominal inputs: there is no window around them")
            return "\n".join(lines)
        lines.append(f"{'input':<40} {'nominal':>14} {'low':>14} {'high':>14} {'window':>22}")
        for w in self.windows:
            lo = "beyond search" if w.low is None else f"{w.low:.6g}"
            hi = "beyond search" if w.high is None else f"{w.high:.6g}"
            lf = f"<{-w.span:+.1%}" if w.low is None else f"{w.low_fraction:+.2%}"
            hf = f">{w.span:+.1%}" if w.high is None else f"{w.high_fraction:+.2%}"
            lines.append(f"{w.path:<40} {w.nominal:>14.6g} {lo:>14} {hi:>14} {lf + ' .. ' + hf:>22}"
                         + (f"  [{w.unit}]" if w.unit else ""))
        path, distance = self.cliff
        if math.isinf(distance):
            lines.append("no cliff within the searched ranges")
        else:
            lines.append(f"nearest cliff: {path} changed by {distance:.2%} breaks a target")
        return "\n".join(lines)

    def plot(self, path=None):
        from ..plotting import window_plot

        return window_plot(self, path)


def meets(result, targets) -> bool:
    """Whether a result meets every (purity, recovery) target of ``targets`` (product -> pair)."""
    for product, (purity, recovery) in targets.items():
        p = result.products[product]
        if p.purity is None or p.purity < purity:
            return False
        if recovery is not None and (p.recovery is None or p.recovery < recovery):
            return False
    return True


def margin(result, targets) -> float:
    """Worst margin to the targets (min over products of purity - target and recovery - target)."""
    worst = math.inf
    for product, (purity, recovery) in targets.items():
        p = result.products[product]
        worst = min(worst, (p.purity if p.purity is not None else -1.0) - purity)
        if recovery is not None:
            worst = min(worst, (p.recovery if p.recovery is not None else -1.0) - recovery)
    return worst


def default_window_inputs(cascade) -> list:
    """The organic flow and, where there is one, the scrub acid (else the scrub flow)."""
    names = {i.name: i for i in cascade.circuit.inlets}
    out = ["streams.organic.flow"]
    if "scrub" in names:
        out.append("streams.scrub.acid" if names["scrub"].acid > 0 else "streams.scrub.flow")
    return out


def check_targets(cascade, targets):
    if not targets:
        raise ConfigError("--target", "no target given; expected PRODUCT=purity[,recovery]")
    for product in targets:
        if product not in cascade.product_keys:
            raise ConfigError("--target", f"no keyed product {product!r}; expected one of "
                                          f"{', '.join(cascade.product_keys)}")


def operating_window(cascade, targets: dict, inputs=None, *, span: float = 0.2, tol: float = 1e-5,
                     executor=None) -> WindowResult:
    """The operating window of ``cascade`` for ``targets`` (product -> (purity, recovery or None)) over
    each of ``inputs`` (dotted config paths; default :func:`default_window_inputs`), searched up to
    +-``span`` (relative) and located to ``tol`` (relative)."""
    from .sensitivity import continuous_inputs

    check_targets(cascade, targets)
    if not (isinstance(span, (int, float)) and 0 < span <= 10):
        raise ConfigError("--span", f"{span!r}; expected a relative span from 0 to 10 (1000 %)")
    if not (isinstance(tol, (int, float)) and 1e-9 <= tol < span):
        raise ConfigError("--tol", f"{tol!r}; expected a relative tolerance from 1e-9 to the span")
    inputs, values, applies = continuous_inputs(
        cascade, default_window_inputs(cascade) if inputs is None else inputs)
    executor = executor or SerialExecutor()
    start = time.perf_counter()
    count = [0]

    def ok_at(apply, value, unit):
        count[0] += 1
        try:
            edited = apply(cascade, f"{value!r} {unit}" if unit else value)
        except ConfigError:
            return False
        outcome = executor.solve(edited)
        return not isinstance(outcome, SxModelError) and meets(outcome, targets)

    nominal = executor.solve(cascade)
    count[0] += 1
    if isinstance(nominal, SxModelError):
        raise nominal
    met = meets(nominal, targets)
    windows = []
    for path, (value, unit), apply in zip(inputs, values, applies):
        if not met:
            windows.append(InputWindow(path, value, unit, None, None, span))
            continue
        edges = []
        for direction in (-1.0, 1.0):
            good, bad = 0.0, None
            for step in (s for s in STEPS if s <= span):
                if ok_at(apply, value * (1.0 + direction * step), unit):
                    good = step
                else:
                    bad = step
                    break
            if bad is None:
                edges.append(None)
                continue
            while bad - good > tol:
                mid = 0.5 * (good + bad)
                if ok_at(apply, value * (1.0 + direction * mid), unit):
                    good = mid
                else:
                    bad = mid
            edges.append(value * (1.0 + direction * good))
        windows.append(InputWindow(path, value, unit, edges[0], edges[1], span))
    return WindowResult(name=cascade.name, targets=dict(targets), met_at_nominal=met, windows=windows,
                        solves=count[0], elapsed_s=time.perf_counter() - start)


def check_points(points):
    """Grid points per axis of a window map: 3 to 201 (ConfigError otherwise)."""
    if isinstance(points, bool) or not isinstance(points, int) or not 3 <= points <= 201:
        raise ConfigError("--points", f"{points!r}; expected a whole number from 3 to 201")


def window_map(cascade, targets, window: WindowResult, *, points: int = 21, executor=None) -> dict:
    """Solve a ``points`` x ``points`` grid over the first two inputs of ``window`` (each over the
    found window widened by half its width, or +-span where no edge was found) and store, in
    ``window.grid``, the worst margin to the targets at each point (NaN where a solve failed)."""
    from ..config.edits import variable
    from .sweep import sweep

    if len(window.windows) < 2:
        raise ConfigError("--input", "the window map needs two inputs")
    check_points(points)
    axes = []
    for w in window.windows[:2]:
        low = w.low if w.low is not None else w.nominal * (1 - w.span)
        high = w.high if w.high is not None else w.nominal * (1 + w.span)
        pad = 0.5 * max(high - low, 0.01 * abs(w.nominal))
        axes.append(np.linspace(max(low - pad, 1e-12 * abs(w.nominal)), high + pad, points))
    items = []
    for w, axis in zip(window.windows[:2], axes):
        values = [f"{float(v)!r} {w.unit}" if w.unit else float(v) for v in axis]
        items.append((w.path, values, variable(w.path, cascade)))
    result = sweep(cascade, items, executor=executor, progress=False)
    grid = np.full((points, points), np.nan)
    for k, outcome in zip(result.indices, result.results):
        if outcome is not None:
            grid[k // points, k % points] = margin(outcome, targets)
    window.grid = {"x": axes[0], "y": axes[1], "margin": grid.T, "x_path": window.windows[0].path,
                   "y_path": window.windows[1].path, "units": (window.windows[0].unit, window.windows[1].unit),
                   "nominal": (window.windows[0].nominal, window.windows[1].nominal)}
    window.solves += points * points
    return window.grid
