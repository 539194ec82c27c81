"""A measured equilibrium isotherm of one key component: y = f(x) from tabulated points.

For plants that only have equilibrium points of one component (copper, usually) measured at plant pH,
the way copper SX circuits are designed by McCabe-Thiele: the organic concentration in equilibrium
with the aqueous is interpolated in the points (piecewise cubic Hermite, PCHIP: Fritsch and Carlson,
SIAM J. Numer. Anal. 17 (1980) 238; shape preserving, so a monotone table gives a monotone isotherm
with a continuous slope). Other components have a constant distribution ratio, or none (D = 0).

Extrapolation: the origin is part of every isotherm (no aqueous metal, no organic metal); between the
origin and the first point, when the table does not start at x = 0, the point (0, 0) is added before
interpolating. Beyond the last point the organic stays at the last point's value (the organic cannot
load past the highest measured point: for an extraction isotherm that is the maximum load). Each
section may have its own isotherm (extraction at plant pH, strip at spent-electrolyte acidity).
"""
from __future__ import annotations

import numpy as np

from .base import EquilibriumModel


class Isotherm(EquilibriumModel):
    """Tabulated isotherm of one key component; constant D for the others.

    Parameters
    ----------
    components : sequence of str
    key : str
        The component the isotherm describes.
    points : sequence of (float, float)
        (aqueous, organic) equilibrium points of ``key`` [mol/m^3], x strictly increasing from >= 0,
        y non-decreasing, y of the last point > 0.
    distribution : sequence of float, optional
        Constant D of every component (the key's entry is ignored) [-]; default 0.
    by_section : dict, optional
        Section name -> points, overriding ``points`` in that section.
    ph_range : (float, float) or None
        pH range over which the points were measured (informational, checked at reading).
    operating_ph : float or None
        pH at which the plant operates (checked against ``ph_range`` at reading).
    volume_percent, max_load : float or None
        Reagent in the organic [vol%] and its maximum load of the key [mol/m^3] (for the metal summary).
    """

    name = "isotherm"

    def __init__(self, components, key, points, distribution=None, by_section=None, ph_range=None,
                 operating_ph=None, volume_percent=None, max_load=None):
        self.components = tuple(components)
        self.key = key
        self.key_index = self.components.index(key)
        self.points = _as_points(points)
        c = len(self.components)
        self.base = np.zeros(c) if distribution is None else np.asarray(distribution, dtype=float).copy()
        self.base[self.key_index] = 0.0
        self.by_section = {name: _as_points(p) for name, p in (by_section or {}).items()}
        self.ph_range = None if ph_range is None else (float(ph_range[0]), float(ph_range[1]))
        self.operating_ph = None if operating_ph is None else float(operating_ph)
        self.volume_percent = None if volume_percent is None else float(volume_percent)
        self.max_load = None if max_load is None else float(max_load)
        self._curves = {}

    def parameters(self):
        return {"components": self.components, "key": self.key, "points": self.points.tolist(),
                "distribution": self.base.tolist(),
                "by_section": {k: p.tolist() for k, p in self.by_section.items()},
                "ph_range": self.ph_range, "operating_ph": self.operating_ph,
                "volume_percent": self.volume_percent, "max_load": self.max_load}

    def describe(self):
        out = {"model": self.name, "key": self.key, "points_mol_per_m3": self.points.tolist(),
               "distribution": dict(zip(self.components, self.base.tolist()))}
        if self.by_section:
            out["points_by_section_mol_per_m3"] = {k: p.tolist() for k, p in self.by_section.items()}
        for name in ("ph_range", "operating_ph", "volume_percent", "max_load"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    # -- the curve -------------------------------------------------------------------------------------
    def _curve(self, section):
        points = self.by_section.get(section, self.points)
        tag = section if section in self.by_section else None
        if tag not in self._curves:
            from scipy.interpolate import PchipInterpolator

            if points[0, 0] > 0.0:
                points = np.vstack([[0.0, 0.0], points])
            spline = PchipInterpolator(points[:, 0], points[:, 1], extrapolate=False)
            self._curves[tag] = (spline, spline.derivative(), float(points[-1, 0]), float(points[-1, 1]))
        return self._curves[tag]

    def key_isotherm(self, x, section):
        """(y, dy/dx) of the key component for aqueous ``x`` [mol/m^3] in ``section``."""
        spline, slope, x_last, y_last = self._curve(section)
        x = np.asarray(x, dtype=float)
        inside = x <= x_last
        xc = np.clip(x, 0.0, x_last)
        y = np.where(inside, spline(xc), y_last)
        # PCHIP keeps monotone data monotone; the max only removes round-off below zero at flat ends
        dy = np.where(inside, np.maximum(slope(xc), 0.0), 0.0)
        return y, dy

    # -- model interface -------------------------------------------------------------------------------
    def prepare(self, conditions):
        sections = tuple(conditions.section)
        return {"sections": sections,
                "groups": {name: np.flatnonzero(np.asarray([s == name for s in sections]))
                           for name in dict.fromkeys(sections)},
                "distribution": np.tile(self.base, (len(sections), 1))}

    def equilibrium(self, x, params):
        x = np.asarray(x, dtype=float)
        n, c = x.shape
        k = self.key_index
        d = params["distribution"]
        y = d * x
        jac = d[:, :, None] * np.eye(c)[None, :, :]
        for section, rows in params["groups"].items():
            yk, dyk = self.key_isotherm(x[rows, k], section)
            y[rows, k] = yk
            jac[rows, k, k] = dyk
        return y, jac

    def distribution_guess(self, x_reference, params):
        guess = params["distribution"].copy()
        # a reference composition (C,) for every stage, or one per stage (N, C)
        x_reference = np.broadcast_to(np.asarray(x_reference, dtype=float), guess.shape)
        k = self.key_index
        for section, rows in params["groups"].items():
            xk = np.maximum(x_reference[rows, k], 1e-9)
            guess[rows, k] = self.key_isotherm(xk, section)[0] / xk
        return np.maximum(guess, 1e-12)

    def capacity_used(self, concentration):
        if self.max_load is None:
            return None
        return float(np.asarray(concentration, dtype=float)[self.key_index] / self.max_load)


def _as_points(points) -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError("isotherm points must be (aqueous, organic) pairs")
    return arr
