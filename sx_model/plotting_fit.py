"""Plots of a fit of constants to shake-out tests (matplotlib, Agg; imported only when asked for).

Same conventions as :mod:`sx_model.plotting`: the function returns the Figure and writes it to ``path``
when one is given.
"""
from __future__ import annotations

import numpy as np

from .plotting import _finish, _pyplot

MARKERS = {"log10 x": "o", "log10 y": "s", "log10 D": "D", "pH": "^"}


def plot_fit(result, path=None):
    """Left: residuals (fitted - measured, log10 units or pH) against the equilibrium pH of each test,
    one marker per measured quantity, held-out rows open. Right: fitted against measured with the line
    of equality. ``result`` is a :class:`~sx_model.studies.fit.FitResult`. Returns the Figure."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.6))
    rows = result.residuals
    quantities = [q for q in MARKERS if any(r["quantity"] == q for r in rows)]
    colours = dict(zip(quantities, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    for q in quantities:
        for which, filled in (("fit", True), ("holdout", False)):
            sel = [r for r in rows if r["quantity"] == q and r["set"] == which]
            if not sel:
                continue
            ph = np.array([r["ph"] for r in sel])
            res = np.array([r["residual"] for r in sel])
            meas = np.array([r["measured"] for r in sel])
            fitted = np.array([r["fitted"] for r in sel])
            style = dict(marker=MARKERS[q], linestyle="none", markersize=5,
                         color=colours[q], markerfacecolor=colours[q] if filled else "none")
            label = q + ("" if which == "fit" else " (held out)")
            left.plot(ph, res, label=label, **style)
            right.plot(meas, fitted, label=label, **style)
    left.axhline(0.0, color="0.3", linewidth=0.8)
    lo = min(min(r["measured"] for r in rows), min(r["fitted"] for r in rows))
    hi = max(max(r["measured"] for r in rows), max(r["fitted"] for r in rows))
    pad = 0.05 * (hi - lo or 1.0)
    right.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", linewidth=0.8)
    names = ", ".join(p.path.split(".", 1)[1] for p in result.parameters)
    _finish(fig, [(left, "equilibrium pH (fitted)", "residual, fitted - measured",
                   f"residuals ({result.observations} observations, s = {result.residual_sd:.3g})"),
                  (right, "measured (log10 or pH)", "fitted", f"fit of {names}")], path)
    return fig
