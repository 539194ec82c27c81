"""McCabe-Thiele diagram of one section (matplotlib, Agg; imported only when a plot is asked for).

Same conventions as :mod:`sx_model.plotting`: the function returns the Figure and writes it to ``path``
when one is given (atomically, through :func:`sx_model.plotting.save_figure`).
"""
from __future__ import annotations

import math

import numpy as np

from .plotting import _finish, _pyplot


def _staircase(equilibrium, operating):
    """Polyline of a staircase: operating point, equilibrium point, next operating point, ... (the
    equilibrium point of a stage shares its x with the operating point before it and its y with the
    operating point after it)."""
    pts = [operating[0]]
    for k, point in enumerate(equilibrium):
        pts.append(point)
        if k + 1 < len(operating):
            pts.append(operating[k + 1])
    return np.array(pts)


def plot_mccabe_thiele(mt, path=None, units="g/L", ax=None):
    """Isotherm, operating line, the simulated staircase with stage numbers and, for each target, the
    stepped staircase (dashed), concentrations of the component in ``units`` (g/L or mol/L).

    ``mt`` is a :class:`~sx_model.studies.mccabe_thiele.McCabeThiele`. Returns the Figure."""
    plt = _pyplot()
    k = mt._scale(units)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 5.5))
    else:
        fig = ax.figure
    iso = mt.isotherm * k
    label = "isotherm (model)" if mt.isotherm_kind == "model" else "isotherm (at the simulated stage states)"
    ax.plot(iso[:, 0], iso[:, 1], color="tab:blue", linewidth=1.8, label=label)
    op = mt.operating * k
    xs = np.array([op[:, 0].min(), op[:, 0].max()])
    slope = mt.slope
    ax.plot(xs, op[0, 1] + slope * (xs - op[0, 0]), color="black", linewidth=1.2,
            label=f"operating line, A/O = {slope:.4g} (O/A = {1 / slope:.4g})")
    stairs = _staircase(mt.equilibrium * k, op)
    ax.plot(stairs[:, 0], stairs[:, 1], color="tab:red", linewidth=1.0, label="simulated stages")
    ax.plot(mt.equilibrium[:, 0] * k, mt.equilibrium[:, 1] * k, "o", color="tab:red", markersize=3.5)
    many = len(mt.stages) > 30
    for j, (x, y) in enumerate(mt.equilibrium * k):
        if not many or j % max(1, len(mt.stages) // 15) == 0 or j == len(mt.stages) - 1:
            ax.annotate(str(mt.stages[j]), (x, y), textcoords="offset points", xytext=(-4, 5), fontsize=7,
                        color="tab:red", ha="right")
    colours = ("tab:green", "tab:purple", "tab:brown")
    for n, step in enumerate(mt.steps):
        if not len(step.equilibrium):
            continue
        line = _staircase(step.equilibrium * k, step.operating * k)
        text = (f"target {step.target}: {step.stages:.2f} stages" if step.reached
                else f"target {step.target}: not reached")
        ax.plot(line[:, 0], line[:, 1], linestyle="--", linewidth=1.0, color=colours[n % len(colours)],
                label=text)
        r, x0, y0 = step.operating_line
        ends = np.array([line[:, 0].min(), line[:, 0].max()])
        ax.plot(ends, (y0 + r * (ends / k - x0)) * k, linestyle=":", linewidth=0.8,
                color=colours[n % len(colours)])
    pinch = mt.pinch
    if pinch is not None and math.isfinite(pinch.organic_per_aqueous):
        px, py = pinch.at_mol_per_m3
        ax.plot([px * k], [py * k], marker="*", markersize=10, color="tab:orange", linestyle="none",
                label=f"pinch: {pinch.limit} {pinch.organic_per_aqueous:.4g}")
    ax.set_xlim(left=0.0)
    ax.set_ylim(bottom=0.0)
    comp = mt.component
    title = (f"{mt.name}\n{mt.section} section, stages {mt.stages[0]}..{mt.stages[-1]} "
             f"(converged {mt.converged}, closure {mt.mass_balance_error:.1e})")
    return _finish(fig, [(ax, f"aqueous {comp} x [{units}]", f"organic {comp} y [{units}]", title)], path,
                   legend_size=7)
